"""Each entry kind, its metadata, names, and the replacement rules."""

from __future__ import annotations

import os
import stat
import tarfile

import pytest
from layerkit import env_fixture, t_fixture  # noqa: F401 (fixtures)

from umoci.idmap import IdMap
from umoci.layer.extract import ExtractOptions, clean_path


def test_clean_path():
    assert clean_path("/") == ""
    assert clean_path("./") == ""
    assert clean_path(".") == ""
    assert clean_path("") == ""
    assert clean_path("/etc/passwd") == "etc/passwd"
    assert clean_path("//etc//passwd/") == "etc/passwd"
    assert clean_path("../../etc") == "etc"
    assert clean_path("a/../../../b/./c") == "b/c"


def test_regular_file_dir_symlink(env, t):
    env.apply(
        [
            t.dir("etc", mode=0o750, uid=12, gid=34),
            t.reg("etc/passwd", b"root:x:0:0\n", mode=0o640, uid=56, gid=78),
            t.sym("etc/link", "passwd", uid=9, gid=10),
        ]
    )
    etc = env.rootfs / "etc"
    st = etc.lstat()
    assert stat.S_ISDIR(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o750
    assert (st.st_uid, st.st_gid) == (12, 34)
    f = etc / "passwd"
    assert f.read_bytes() == b"root:x:0:0\n"
    st = f.lstat()
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert (st.st_uid, st.st_gid) == (56, 78)
    assert st.st_mtime_ns == 1_600_000_000 * 10**9
    link = etc / "link"
    assert os.readlink(link) == "passwd"
    assert (link.lstat().st_uid, link.lstat().st_gid) == (9, 10)
    assert link.lstat().st_mtime_ns == 1_600_000_000 * 10**9


def test_special_modes(env, t):
    env.apply(
        [
            t.reg("suid", b"x", mode=0o4755),
            t.reg("sgid", b"x", mode=0o2711, uid=3, gid=4),
            t.dir("tmp", mode=0o1777),
        ]
    )
    assert stat.S_IMODE((env.rootfs / "suid").lstat().st_mode) == 0o4755
    # Mode is set after chown, which would otherwise clear the setgid bit.
    assert stat.S_IMODE((env.rootfs / "sgid").lstat().st_mode) == 0o2711
    assert stat.S_IMODE((env.rootfs / "tmp").lstat().st_mode) == 0o1777


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_devices_and_fifo(env, t):
    env.apply(
        [
            t.chr("dev/null", 1, 3, mode=0o666),
            t.blk("dev/loop9", 7, 9, mode=0o660, gid=6),
            t.fifo("run/fifo", mode=0o620),
        ]
    )
    null = (env.rootfs / "dev/null").lstat()
    assert stat.S_ISCHR(null.st_mode)
    assert (os.major(null.st_rdev), os.minor(null.st_rdev)) == (1, 3)
    assert stat.S_IMODE(null.st_mode) == 0o666
    loop = (env.rootfs / "dev/loop9").lstat()
    assert stat.S_ISBLK(loop.st_mode)
    assert (os.major(loop.st_rdev), os.minor(loop.st_rdev)) == (7, 9)
    assert loop.st_gid == 6
    fifo = (env.rootfs / "run/fifo").lstat()
    assert stat.S_ISFIFO(fifo.st_mode)
    assert stat.S_IMODE(fifo.st_mode) == 0o620


def test_hardlinks(env, t):
    env.apply(
        [
            t.reg("file", b"data", uid=5, gid=6),
            t.hard("hard", "file", uid=1337, gid=2020),
            t.sym("link", "../../../file"),
            t.hard("hard-to-link", "/../link", uid=1337),
        ]
    )
    f, h = (env.rootfs / "file").lstat(), (env.rootfs / "hard").lstat()
    assert f.st_ino == h.st_ino
    assert f.st_nlink == 2
    # Hardlinks carry no metadata of their own.
    assert (f.st_uid, f.st_gid) == (5, 6)
    link, hl = (env.rootfs / "link").lstat(), (env.rootfs / "hard-to-link").lstat()
    assert stat.S_ISLNK(hl.st_mode)
    assert hl.st_ino == link.st_ino
    assert os.readlink(env.rootfs / "hard-to-link") == "../../../file"


def test_hardlink_to_file_a_later_layer_replaces(env, t):
    env.apply_layers(
        [
            [t.reg("bin/tool", b"version 1")],
            [t.hard("bin/alias", "bin/tool"), t.reg("bin/tool", b"version 2")],
        ]
    )
    # The link was made to the inode on disk at that moment.
    assert (env.rootfs / "bin/alias").read_bytes() == b"version 1"
    assert (env.rootfs / "bin/tool").read_bytes() == b"version 2"
    assert (env.rootfs / "bin/alias").lstat().st_nlink == 1


def test_hardlink_missing_target_fails(env, t):
    from umoci.errors import LayerError

    with pytest.raises(LayerError, match="hardlink"):
        env.apply([t.hard("h", "nope")])


def test_long_names_gnu_and_pax(env, t):
    deep = "/".join(["d" * 60] * 5) + "/" + "f" * 200
    target = "t" * 300
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        env.apply([t.reg(deep, b"long"), t.sym("l" * 250, target)], fmt=fmt)
        assert (env.rootfs / deep).read_bytes() == b"long"
        assert os.readlink(env.rootfs / ("l" * 250)) == target


def test_non_ascii_and_odd_names(env, t):
    names = ["ünïcødé", "with space", "tab\tfile", "a#b*c", "new\nline"]
    env.apply([t.reg(n, n.encode()) for n in names])
    for n in names:
        assert (env.rootfs / n).read_bytes() == n.encode()


def test_subsecond_times(env, t):
    f = t.reg("f", b"x")
    f.info.pax_headers = {"mtime": "1577934245.123456789", "atime": "1577934000.5"}
    d = t.dir("d")
    d.info.pax_headers = {"mtime": "1577934245.000000001"}
    env.apply([d, t.reg("d/child", b"y"), f])
    st = (env.rootfs / "f").lstat()
    assert st.st_mtime_ns == 1577934245_123456789
    assert st.st_atime_ns == 1577934000_500000000
    # Directory times are applied after the children were written.
    st = (env.rootfs / "d").lstat()
    assert st.st_mtime_ns == 1577934245_000000001
    assert st.st_atime_ns == st.st_mtime_ns  # no atime in the archive: use mtime


def test_parent_dir_times_restored(env, t):
    env.apply([t.dir("d", mtime=1000), t.reg("d/a", b"")])
    env.apply([t.reg("d/b", b"")])
    assert (env.rootfs / "d").lstat().st_mtime_ns == 1000 * 10**9


def test_root_entries(env, t):
    for name in ("/", "./", "."):
        env.apply([t.dir(name, mode=0o711, mtime=4242), t.reg(f"{name}/file", b"x")])
        st = env.rootfs.lstat()
        assert stat.S_IMODE(st.st_mode) == 0o711
        assert st.st_mtime_ns == 4242 * 10**9
    assert (env.rootfs / "file").read_bytes() == b"x"


def test_absolute_names_are_relative_to_rootfs(env, t):
    env.apply([t.reg("/etc/passwd", b"container")])
    assert (env.rootfs / "etc/passwd").read_bytes() == b"container"
    assert (env.base / "etc/passwd").read_bytes() == b"host passwd"


def test_missing_parents_created(env, t):
    env.apply([t.reg("a/b/c/file", b"x")])
    assert (env.rootfs / "a/b/c/file").read_bytes() == b"x"
    assert stat.S_IMODE((env.rootfs / "a/b").lstat().st_mode) == 0o755


def test_parent_that_is_a_file_becomes_a_directory(env, t):
    env.apply([t.reg("a", b"file"), t.reg("a/b", b"child")])
    assert (env.rootfs / "a").is_dir()
    assert (env.rootfs / "a/b").read_bytes() == b"child"


def test_parent_symlink_to_file_is_replaced_not_its_target(env, t):
    env.apply([t.reg("target", b"keep me"), t.sym("a", "target"), t.reg("a/b", b"child")])
    assert (env.rootfs / "target").read_bytes() == b"keep me"
    assert (env.rootfs / "a").is_dir()
    assert not (env.rootfs / "a").is_symlink()


def test_dir_over_dir_keeps_contents_and_updates_metadata(env, t):
    env.apply_layers(
        [
            [t.dir("d", mode=0o755, uid=1), t.reg("d/old", b"old")],
            [t.dir("d", mode=0o700, uid=2)],
        ]
    )
    st = (env.rootfs / "d").lstat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o700, 2)
    assert (env.rootfs / "d/old").read_bytes() == b"old"


@pytest.mark.parametrize(
    ("first", "second", "check"),
    [
        ("dir", "reg", lambda p: p.read_bytes() == b"new"),
        ("reg", "dir", lambda p: p.is_dir() and not p.is_symlink()),
        ("sym", "reg", lambda p: not p.is_symlink() and p.read_bytes() == b"new"),
        ("reg", "sym", lambda p: os.readlink(p) == "elsewhere"),
        ("dir", "sym", lambda p: os.readlink(p) == "elsewhere"),
        ("sym", "dir", lambda p: p.is_dir() and not p.is_symlink()),
        ("reg", "reg", lambda p: p.read_bytes() == b"new"),
    ],
)
def test_type_replacement(env, t, first, second, check):
    make = {
        "dir": lambda: [t.dir("x"), t.reg("x/child", b"c")],
        "reg": lambda: [t.reg("x", b"new")],
        "sym": lambda: [t.sym("x", "elsewhere")],
    }
    env.apply_layers([make[first](), make[second]()])
    assert check(env.rootfs / "x")
    if second != "dir":
        assert not (env.rootfs / "x/child").exists()


def test_keep_dirlinks(env, t):
    layers = [
        [t.dir("usr/lib64"), t.reg("usr/lib64/libc.so", b"libc"), t.sym("lib64", "usr/lib64")],
        [t.dir("lib64"), t.reg("lib64/ld.so", b"ld")],
    ]
    env.apply_layers(layers, ExtractOptions(keep_dirlinks=True))
    assert os.readlink(env.rootfs / "lib64") == "usr/lib64"
    assert (env.rootfs / "usr/lib64/ld.so").read_bytes() == b"ld"
    assert (env.rootfs / "usr/lib64/libc.so").read_bytes() == b"libc"


def test_without_keep_dirlinks_the_link_is_replaced(env, t):
    env.apply_layers(
        [
            [t.dir("usr/lib64"), t.sym("lib64", "usr/lib64")],
            [t.dir("lib64"), t.reg("lib64/ld.so", b"ld")],
        ]
    )
    assert not (env.rootfs / "lib64").is_symlink()
    assert (env.rootfs / "lib64/ld.so").read_bytes() == b"ld"
    assert not (env.rootfs / "usr/lib64/ld.so").exists()


def test_keep_dirlinks_absolute_link_stays_confined(env, t):
    before = env.snapshot_outside()
    env.apply_layers(
        [
            [t.sym("lib", "/../outside"), t.dir("outside")],
            [t.dir("lib"), t.reg("lib/x", b"x")],
        ],
        ExtractOptions(keep_dirlinks=True),
    )
    assert (env.rootfs / "outside/x").read_bytes() == b"x"
    assert env.snapshot_outside() == before


def test_keep_dirlinks_link_to_file_is_replaced(env, t):
    env.apply_layers(
        [[t.reg("f", b""), t.sym("d", "f")], [t.dir("d"), t.reg("d/x", b"x")]],
        ExtractOptions(keep_dirlinks=True),
    )
    assert (env.rootfs / "d").is_dir()
    assert not (env.rootfs / "d").is_symlink()


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_id_maps(env, t):
    maps = ExtractOptions(uid_maps=(IdMap(0, 100000, 65536),), gid_maps=(IdMap(0, 200000, 65536),))
    env.apply([t.reg("f", b"", uid=5, gid=7), t.dir("d", uid=0, gid=0)], maps)
    st = (env.rootfs / "f").lstat()
    assert (st.st_uid, st.st_gid) == (100005, 200007)
    st = (env.rootfs / "d").lstat()
    assert (st.st_uid, st.st_gid) == (100000, 200000)


def test_unmapped_id_fails(env, t):
    from umoci.errors import LayerError

    maps = ExtractOptions(uid_maps=(IdMap(0, 1000, 10),), gid_maps=(IdMap(0, 1000, 10),))
    with pytest.raises(LayerError, match="uid 50"):
        env.apply([t.reg("f", b"", uid=50)], maps)


def test_large_file_streams(env, t):
    # Bigger than the parser's chunk size, with an odd length (padding).
    data = os.urandom(3 * (1 << 20) + 517)
    env.apply([t.reg("big", data), t.reg("after", b"after")])
    assert (env.rootfs / "big").read_bytes() == data
    assert (env.rootfs / "after").read_bytes() == b"after"
