"""Layer generation: trees of every entry kind in, tar streams out, read back by every reader.

Readers: our own :class:`~umoci.layer.tarstream.TarReader` (exact fields,
nanoseconds, binary xattrs), Python's ``tarfile``, GNU tar and bsdtar
(extracting and comparing trees), our extractor, and the Go umoci
(``goumoci`` tests: it unpacks our layers, and with whole-second mtimes our
repack layer is byte-identical to its own).
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import io
import json
import logging
import os
import shutil
import socket
import stat
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from umoci.errors import LayerError, UnsafePathError
from umoci.idmap import IdMap
from umoci.layer import rootless_xattr
from umoci.layer.extract import apply_layer
from umoci.layer.generate import (
    ChangeKind,
    GenerateOptions,
    generate_insert_layer,
    generate_layer,
    generate_whiteout_layer,
    minimal_whiteouts,
    plan_changes,
)
from umoci.layer.tarstream import EntryKind, TarHeader, TarReader
from umoci.layer.tarwrite import TarEntry, TarWriter, encode_header, format_pax_time

IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="devices, chown and trusted xattrs need root")

ADDED, MODIFIED, DELETED = ChangeKind.ADDED, ChangeKind.MODIFIED, ChangeKind.DELETED
#: Xattrs our generator leaves out on purpose (and GNU tar may not restore).
SKIPPED_XATTRS = {"trusted.overlay.opaque", "user.empty", "security.selinux"}
T0 = 1_600_000_000_123_456_789


# -- helpers --------------------------------------------------------------------------------------


def all_paths(root: Path) -> list[str]:
    """Every path below root (not root itself), relative, sorted by bytes."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            out.append(os.path.relpath(os.path.join(dirpath, name), root))
    return sorted(out, key=os.fsencode)


def everything(root: Path) -> list[tuple[str, ChangeKind]]:
    return [(".", MODIFIED)] + [(p, ADDED) for p in all_paths(root)]


def gen(
    root: Path,
    changes: list[tuple[str, ChangeKind]],
    *,
    mask_paths: tuple[str, ...] = (),
    **opts: Any,
) -> bytes:
    sink = io.BytesIO()
    generate_layer(root, changes, sink, GenerateOptions(**opts), mask_paths=mask_paths)
    return sink.getvalue()


def read(data: bytes) -> list[tuple[TarHeader, bytes]]:
    """Headers and data of every entry, with our own parser."""
    reader = TarReader(io.BytesIO(data))
    out = []
    while (hdr := reader.next()) is not None:
        out.append((hdr, b"".join(bytes(c) for c in reader.chunks())))
    return out


def names(data: bytes) -> list[str]:
    return [h.name for h, _ in read(data)]


def set_xattr(path: Path, name: str, value: bytes) -> None:
    os.setxattr(path, name, value, follow_symlinks=False)


def xattrs_of(path: Path) -> dict[str, bytes]:
    try:
        keys = os.listxattr(path, follow_symlinks=False)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return {}
        raise
    return {k: os.getxattr(path, k, follow_symlinks=False) for k in keys if k not in SKIPPED_XATTRS}


def set_times(root: Path) -> None:
    """Give every entry a distinct sub-second mtime (after all children exist)."""
    for i, rel in enumerate(reversed(all_paths(root))):
        ns = T0 + i * 1_000_000_007
        os.utime(root / rel, ns=(ns, ns), follow_symlinks=False)
    os.utime(root, ns=(T0, T0))


def build_tree(root: Path) -> None:
    """Every kind of entry, with the metadata that is hard to get right."""
    root.mkdir(exist_ok=True)
    (root / "d").mkdir(mode=0o750)
    (root / "d/file").write_bytes(b"hello\n")
    os.chmod(root / "d/file", 0o4755)
    os.link(root / "d/file", root / "d/hardlink")
    (root / "e").mkdir()
    os.link(root / "d/file", root / "e/hardlink2")
    (root / "d/empty").write_bytes(b"")
    (root / "big").write_bytes(os.urandom(3 * 1024 * 1024 + 123))
    (root / "sgid").write_bytes(b"x")
    os.chmod(root / "sgid", 0o2711)
    (root / "sticky").mkdir()
    os.chmod(root / "sticky", 0o1777)
    os.symlink("../big", root / "d/rel-link")
    os.symlink("/" + "t" * 150, root / "d/long-link")
    os.mkfifo(root / "fifo", 0o640)
    (root / "ünïcödé").mkdir()
    (root / "ünïcödé/文件").write_bytes(b"unicode")
    deep = root / ("a" * 60) / ("b" * 60) / ("c" * 60)
    deep.mkdir(parents=True)
    (deep / ("f" * 90)).write_bytes(b"deep")  # a path of more than 255 bytes
    (root / ("n" * 120)).write_bytes(b"long base name")
    set_xattr(root / "d/file", "user.comment", b"text value")
    set_xattr(root / "d", "user.binary", b"\x00\xff\x80 bytes")
    set_xattr(root / "sgid", "user.empty", b"")
    set_xattr(root / "sgid", "trusted.overlay.opaque", b"y")  # host-specific: left out
    if IS_ROOT:
        os.mknod(root / "chr", 0o620 | stat.S_IFCHR, os.makedev(1, 3))
        os.mknod(root / "blk", 0o660 | stat.S_IFBLK, os.makedev(7, 200))
        os.chown(root / "d/empty", 1234, 5678)
        os.chown(root / "sgid", 3_000_000, 3_000_001)  # too big for octal: PAX
        os.chown(root / "d/rel-link", 42, 43, follow_symlinks=False)
        os.chmod(root / "sgid", 0o2711)  # chown cleared it
        set_xattr(
            root / "big", "security.capability", bytes.fromhex("0100000200200000" + "00" * 12)
        )
        set_xattr(root / "e", "trusted.note", b"trusted")
        set_xattr(root / "d/rel-link", "trusted.on-link", b"link xattr")
    set_times(root)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    build_tree(root)
    return root


def compare_trees(src: Path, dst: Path, *, check_xattrs: bool = True) -> None:
    """Same entries, kinds, modes, owners, mtimes, contents, targets, devices, xattrs, links."""
    assert all_paths(dst) == all_paths(src)
    src_groups: dict[int, set[str]] = {}
    dst_groups: dict[int, set[str]] = {}
    for rel in all_paths(src):
        a, b = os.lstat(src / rel), os.lstat(dst / rel)
        what = f"{rel}: "
        assert stat.S_IFMT(a.st_mode) == stat.S_IFMT(b.st_mode), what + "kind"
        assert stat.S_IMODE(a.st_mode) == stat.S_IMODE(b.st_mode), what + "mode"
        assert (a.st_uid, a.st_gid) == (b.st_uid, b.st_gid), what + "owner"
        assert a.st_mtime_ns == b.st_mtime_ns, what + "mtime"
        if stat.S_ISREG(a.st_mode):
            assert (src / rel).read_bytes() == (dst / rel).read_bytes(), what + "content"
            src_groups.setdefault(a.st_ino, set()).add(rel)
            dst_groups.setdefault(b.st_ino, set()).add(rel)
        elif stat.S_ISLNK(a.st_mode):
            assert os.readlink(src / rel) == os.readlink(dst / rel), what + "target"
        elif stat.S_ISCHR(a.st_mode) or stat.S_ISBLK(a.st_mode):
            assert a.st_rdev == b.st_rdev, what + "device"
        if check_xattrs:
            assert xattrs_of(src / rel) == xattrs_of(dst / rel), what + "xattrs"
    assert sorted(map(sorted, src_groups.values())) == sorted(map(sorted, dst_groups.values()))


def gnu_extract(layer: bytes, out: Path) -> None:
    tar = tool("tar")
    run(
        tar,
        "--xattrs",
        "--xattrs-include=*",
        "--numeric-owner",
        "-xpf",
        "-",
        "-C",
        out,
        stdin=layer,
    )


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path is not None, f"{name} is not installed (scripts/test installs it)"
    return path


def run(*argv: str | Path, stdin: bytes | None = None) -> bytes:
    proc = subprocess.run(argv, input=stdin, capture_output=True, check=False)
    assert proc.returncode == 0, f"{argv}: {proc.stderr.decode(errors='replace')}"
    return proc.stdout


# -- the archive as read back ---------------------------------------------------------------------


def test_every_field_reads_back_exactly(tree: Path) -> None:
    entries = {h.name: (h, data) for h, data in read(gen(tree, everything(tree)))}
    assert next(iter(entries)) == "."
    for rel in all_paths(tree):
        st = os.lstat(tree / rel)
        name = rel + "/" if stat.S_ISDIR(st.st_mode) else rel
        hdr, data = entries.pop(name)
        assert hdr.mode == stat.S_IMODE(st.st_mode), rel
        assert (hdr.uid, hdr.gid) == (st.st_uid, st.st_gid), rel
        assert hdr.mtime_ns == st.st_mtime_ns, rel
        assert hdr.atime_ns is None  # the Go umoci writes no atime either
        assert hdr.uname == hdr.gname == ""
        assert hdr.xattrs == xattrs_of(tree / rel)
        if hdr.kind is EntryKind.REG:
            assert data == (tree / rel).read_bytes()
        elif hdr.kind is EntryKind.SYMLINK:
            assert hdr.linkname == os.readlink(tree / rel)
        elif hdr.kind in (EntryKind.CHAR, EntryKind.BLOCK):
            assert (hdr.devmajor, hdr.devminor) == (os.major(st.st_rdev), os.minor(st.st_rdev))
    assert list(entries) == ["."]


def test_hardlinks_point_at_the_first_name_written(tree: Path) -> None:
    headers = {h.name: h for h, _ in read(gen(tree, everything(tree)))}
    assert headers["d/file"].kind is EntryKind.REG
    for name in ("d/hardlink", "e/hardlink2"):
        assert headers[name].kind is EntryKind.HARDLINK
        assert headers[name].linkname == "d/file"
        assert headers[name].size == 0
        assert headers[name].mode == 0o4755  # a hardlink keeps the metadata, like Go's


def test_hardlink_whose_first_name_is_not_in_the_layer_is_a_file(tree: Path) -> None:
    (hdr, data), *_ = read(gen(tree, [("d/hardlink", MODIFIED)]))
    assert (hdr.name, hdr.kind, data) == ("d/hardlink", EntryKind.REG, b"hello\n")


def member_data(tf: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    f = tf.extractfile(member)
    assert f is not None
    return f.read()


def test_python_tarfile_reads_it(tree: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(gen(tree, everything(tree)))) as tf:
        members = {m.name: m for m in tf.getmembers()}
        assert members["d/file"].mtime == pytest.approx(os.lstat(tree / "d/file").st_mtime)
        assert members["d/long-link"].linkname == "/" + "t" * 150
        assert members["ünïcödé/文件"].isfile()
        long_name = os.path.relpath(next((tree / ("a" * 60)).rglob("f" * 90)), tree)
        assert len(long_name.encode()) > 255
        assert member_data(tf, members[long_name]) == b"deep"
        assert members["d/hardlink"].islnk()
        assert members["d"].pax_headers["SCHILY.xattr.user.binary"].encode(
            "utf-8", "surrogateescape"
        ) == (b"\x00\xff\x80 bytes")
        assert member_data(tf, members["big"]) == (tree / "big").read_bytes()


def test_gnu_tar_extracts_the_same_tree(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "gnu"
    out.mkdir()
    layer = gen(tree, everything(tree))
    listing = run(tool("tar"), "-tvf", "-", stdin=layer).decode()
    assert "d/hardlink link to d/file" in listing
    gnu_extract(layer, out)
    compare_trees(tree, out)


def test_bsdtar_reads_it(tree: Path, tmp_path: Path) -> None:
    bsdtar = tool("bsdtar")
    layer = gen(tree, everything(tree))
    listing = run(bsdtar, "-tf", "-", stdin=layer).decode().split("\n")
    assert {
        p + "/" if (tree / p).is_dir() and not (tree / p).is_symlink() else p
        for p in all_paths(tree)
    } <= set(listing)
    out = tmp_path / "bsd"
    out.mkdir()
    run(bsdtar, "--xattrs", "--numeric-owner", "-xpf", "-", "-C", out, stdin=layer)
    compare_trees(tree, out, check_xattrs=False)


def test_our_extractor_rebuilds_the_tree(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "ours"
    out.mkdir()
    apply_layer(io.BytesIO(gen(tree, everything(tree))), out)
    compare_trees(tree, out)


def test_output_is_deterministic(tree: Path) -> None:
    first = gen(tree, everything(tree))
    for rel in all_paths(tree):  # reading changes atimes: they must not matter
        if (tree / rel).is_file() and not (tree / rel).is_symlink():
            (tree / rel).read_bytes()
    assert gen(tree, everything(tree)) == first
    assert len(first) % 512 == 0
    assert first.endswith(bytes(1024))


# -- times ----------------------------------------------------------------------------------------


def test_clamp_caps_mtimes_only_when_newer(tree: Path) -> None:
    clamp = T0 // 1_000_000_000 + 5
    headers = {h.name: h for h, _ in read(gen(tree, everything(tree), clamp_mtime=clamp))}
    for rel in all_paths(tree):
        st = os.lstat(tree / rel)
        hdr = headers.get(rel + "/") or headers[rel]
        assert hdr.mtime_ns == min(st.st_mtime_ns, clamp * 1_000_000_000), rel


def test_whole_seconds_round_like_go(tmp_path: Path) -> None:
    for name, ns in (("half", 10_500_000_000), ("below", 10_499_999_999), ("exact", 7_000_000_000)):
        (tmp_path / name).write_bytes(b"")
        os.utime(tmp_path / name, ns=(ns, ns))
    layer = gen(
        tmp_path, [("below", ADDED), ("exact", ADDED), ("half", ADDED)], subsecond_mtime=False
    )
    assert [h.mtime_ns for h, _ in read(layer)] == [10 * 10**9, 7 * 10**9, 11 * 10**9]
    assert len(layer) == 3 * 512 + 1024  # plain USTAR headers, no PAX


def test_pax_time_format() -> None:
    assert format_pax_time(1_500_000_000) == b"1.5"
    assert format_pax_time(-1_500_000_000) == b"-1.5"
    assert format_pax_time(T0) == b"1600000000.123456789"
    assert format_pax_time(5 * 10**9) == b"5"
    for ns in (-1_500_000_000, -1, 2**40 * 10**9 + 1):  # negative and beyond octal
        data = encode_header(TarEntry(name=b"f", kind=EntryKind.DIR, mtime_ns=ns)) + bytes(1024)
        assert read(data)[0][0].mtime_ns == ns


def test_xattrs_a_pax_record_cannot_carry_are_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "f").write_bytes(b"")
    set_xattr(tmp_path / "f", "user.a=b", b"1")
    set_xattr(tmp_path / "f", "user.empty", b"")
    set_xattr(tmp_path / "f", "user.ok", b"\n=\x00")
    with caplog.at_level(logging.WARNING, logger="umoci"):
        (hdr, _), *_ = read(gen(tmp_path, [("f", ADDED)]))
    assert hdr.xattrs == {"user.ok": b"\n=\x00"}
    assert "user.a=b" in caplog.text
    assert "user.empty" in caplog.text


# -- owners ---------------------------------------------------------------------------------------


@needs_root
def test_owners_are_mapped_into_the_container(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    os.chown(tmp_path / "f", 100_005, 100_007)
    maps = (IdMap(0, 100_000, 65536),)
    (hdr, _), *_ = read(gen(tmp_path, [("f", ADDED)], uid_maps=maps, gid_maps=maps))
    assert (hdr.uid, hdr.gid) == (5, 7)
    with pytest.raises(LayerError, match="host uid 100005 is not mapped"):
        gen(tmp_path, [("f", ADDED)], uid_maps=(IdMap(0, 1000, 1),))


def test_rootless_owner_comes_from_the_xattr_which_stays_out(tmp_path: Path) -> None:
    for name in ("owned", "noop-gid", "plain"):
        (tmp_path / name).write_bytes(b"")
        set_xattr(tmp_path / name, "user.other", b"kept")
    owned = rootless_xattr.encode(rootless_xattr.Resource(1000, 1001))
    set_xattr(tmp_path / "owned", rootless_xattr.XATTR_NAME, owned)
    value = rootless_xattr.owner_to_xattr(1000, 0)
    assert value is not None
    set_xattr(tmp_path / "noop-gid", rootless_xattr.XATTR_NAME, value)
    if IS_ROOT:
        os.chown(tmp_path / "plain", 1234, 1234)  # rootless ignores the host owner
    changes = [("noop-gid", ADDED), ("owned", ADDED), ("plain", ADDED)]
    owners = {
        h.name: (h.uid, h.gid, h.xattrs) for h, _ in read(gen(tmp_path, changes, rootless=True))
    }
    assert owners == {
        "noop-gid": (1000, 0, {"user.other": b"kept"}),
        "owned": (1000, 1001, {"user.other": b"kept"}),
        "plain": (0, 0, {"user.other": b"kept"}),
    }


def test_corrupt_rootless_xattr_is_a_layer_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    set_xattr(tmp_path / "f", rootless_xattr.XATTR_NAME, b"\x08")  # truncated varint
    with pytest.raises(LayerError, match="/f"):
        gen(tmp_path, [("f", ADDED)], rootless=True)


def test_rootless_xattr_outside_rootless_mode_is_kept_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "f").write_bytes(b"")
    set_xattr(tmp_path / "f", rootless_xattr.XATTR_NAME, b"\x08\x05")
    with caplog.at_level(logging.WARNING, logger="umoci"):
        (hdr, _), *_ = read(gen(tmp_path, [("f", ADDED)]))
    assert hdr.xattrs == {rootless_xattr.XATTR_NAME: b"\x08\x05"}
    assert "suspicious" in caplog.text


@contextlib.contextmanager
def as_nobody() -> Iterator[None]:
    """Run the body with effective ids 65534 (no capabilities), then become root again."""
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@needs_root
def test_rootless_user_reads_files_it_cannot_read(tmp_path: Path) -> None:
    """A real unprivileged run: 0000 files and directories are read, modes put back."""
    work = Path(tempfile.mkdtemp(prefix="umoci-gen-", dir="/tmp"))
    try:
        os.chmod(work, 0o755)
        root = work / "rootfs"
        (root / "locked").mkdir(parents=True)
        (root / "locked/secret").write_bytes(b"secret")
        (root / "unreadable").write_bytes(b"x" * 5000)
        set_xattr(root / "unreadable", "user.k", b"v")
        for path in (root, root / "locked", root / "locked/secret", root / "unreadable"):
            os.chown(path, 65534, 65534)
        modes = {"locked/secret": 0o000, "unreadable": 0o000, "locked": 0o000}
        for rel, mode in modes.items():
            os.chmod(root / rel, mode)
        changes = [("locked", ADDED), ("locked/secret", ADDED), ("unreadable", ADDED)]
        with as_nobody():
            layer = gen(root, changes, rootless=True)
        entries = {h.name: (h, d) for h, d in read(layer)}
        assert entries["locked/"][0].mode == 0
        assert entries["locked/secret"] == (entries["locked/secret"][0], b"secret")
        assert entries["unreadable"][1] == b"x" * 5000
        assert entries["unreadable"][0].mode == 0
        assert entries["unreadable"][0].xattrs == {"user.k": b"v"}
        for rel, mode in modes.items():
            assert stat.S_IMODE(os.lstat(root / rel).st_mode) == mode, rel
    finally:
        shutil.rmtree(work)


# -- changes: order, whiteouts, masks -------------------------------------------------------------


def test_whiteouts_are_minimal_and_in_path_order(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "z").write_bytes(b"z")
    changes = [
        ("z", ADDED),
        ("a/b/c", DELETED),
        ("a", DELETED),
        ("a/b", DELETED),
        ("x/y", DELETED),
        ("b", DELETED),
    ]
    layer = gen(tmp_path, changes)
    assert names(layer) == [".wh.a", ".wh.b", "x/.wh.y", "z"]
    for hdr, _ in read(layer)[:3]:
        fields = (hdr.kind, hdr.mode, hdr.uid, hdr.gid, hdr.size, hdr.mtime_ns)
        assert fields == (EntryKind.REG, 0, 0, 0, 0, 0)


def test_minimal_whiteouts_helper() -> None:
    assert minimal_whiteouts(["a/b", "a", "/c/d/", "./c/d/e", "ab", "a-b/c"]) == [
        b"a",
        b"a-b/c",
        b"ab",
        b"c/d",
    ]


def test_order_is_by_path_bytes(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a/x").write_bytes(b"")
    (tmp_path / "a-b").write_bytes(b"")
    layer = gen(tmp_path, [("a/x", ADDED), ("a-b", ADDED), ("a", ADDED)])
    assert names(layer) == ["a/", "a-b", "a/x"]


def test_modified_directory_is_its_header_only(tree: Path) -> None:
    assert names(gen(tree, [("d", MODIFIED)])) == ["d/"]


def test_mask_paths_drop_entries_and_whiteouts_at_and_below(tmp_path: Path) -> None:
    for d in ("vol", "vol/sub", "data", "datax", "keep"):
        (tmp_path / d).mkdir()
    changes = [
        ("vol", ADDED),
        ("vol/sub", ADDED),
        ("data/old", DELETED),
        ("datax", ADDED),
        ("keep", MODIFIED),
        ("keep/gone", DELETED),
    ]
    layer = gen(tmp_path, changes, mask_paths=("/vol", "data/"))
    assert names(layer) == ["datax/", "keep/", "keep/.wh.gone"]


def test_plan_rejects_bad_changes() -> None:
    with pytest.raises(LayerError, match="listed twice"):
        plan_changes([("a", ADDED), ("./a", DELETED)])
    with pytest.raises(LayerError, match="root"):
        plan_changes([(".", DELETED)])
    with pytest.raises(UnsafePathError):
        plan_changes([("a/../../etc", ADDED)])


# -- confinement and races ------------------------------------------------------------------------


def test_symlink_out_of_the_root_is_never_followed(tmp_path: Path) -> None:
    os.symlink("/etc", tmp_path / "link")
    sink = io.BytesIO()
    with pytest.raises(UnsafePathError, match="'link' is a symlink"):
        generate_layer(tmp_path, [("link/passwd", ADDED)], sink)
    assert sink.getvalue() == b""  # nothing written, let alone /etc/passwd


def test_symlink_inside_the_root_is_not_followed_either(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d/f").write_bytes(b"")
    os.symlink("d", tmp_path / "link")
    with pytest.raises(UnsafePathError):
        gen(tmp_path, [("link/f", ADDED)])
    # The symlink itself is archived as a symlink, of course.
    (hdr, _), *_ = read(gen(tmp_path, [("link", ADDED)]))
    assert (hdr.kind, hdr.linkname) == (EntryKind.SYMLINK, "d")


def test_no_whiteout_below_a_parent_that_is_no_longer_a_directory(tmp_path: Path) -> None:
    os.symlink("/etc", tmp_path / "was-dir")
    (tmp_path / "now-file").write_bytes(b"")
    changes = [
        ("was-dir", MODIFIED),
        ("was-dir/passwd", DELETED),
        ("now-file", MODIFIED),
        ("now-file/x", DELETED),
    ]
    assert names(gen(tmp_path, changes)) == ["now-file", "was-dir"]


def test_parent_that_is_a_file_is_a_layer_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(LayerError, match="not a directory") as info:
        gen(tmp_path, [("f/x", ADDED)])
    assert not isinstance(info.value, UnsafePathError)


def test_vanished_path_is_a_layer_error(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match="vanished"):
        gen(tmp_path, [("gone", ADDED)])
    with pytest.raises(LayerError):
        gen(tmp_path, [("gone/below", ADDED)])


@pytest.mark.parametrize("replacement", ["dir", "symlink", "fifo"])
def test_file_changing_type_while_read_is_a_layer_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replacement: str
) -> None:
    (tmp_path / "f").write_bytes(b"data")
    real_open = os.open

    def swapping_open(path: Any, flags: int, *args: Any, **kw: Any) -> int:
        if path in ("f", b"f") and flags & os.O_NONBLOCK:  # between lstat and open
            os.unlink(tmp_path / "f")
            if replacement == "dir":
                os.mkdir(tmp_path / "f")
            elif replacement == "symlink":
                os.symlink("/etc/passwd", tmp_path / "f")
            else:
                os.mkfifo(tmp_path / "f")
        return real_open(path, flags, *args, **kw)

    monkeypatch.setattr(os, "open", swapping_open)
    with pytest.raises(LayerError, match="/f"):
        gen(tmp_path, [("f", ADDED)])


def test_file_that_shrinks_or_grows_while_read(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"0123456789")
    fd = os.open(tmp_path / "f", os.O_RDONLY)
    try:
        with pytest.raises(LayerError, match="shrank"):
            TarWriter(io.BytesIO()).add_file(TarEntry(b"f", EntryKind.REG, size=11), fd)
        os.lseek(fd, 0, os.SEEK_SET)
        sink = io.BytesIO()
        with TarWriter(sink) as writer:  # grew: the archive keeps what the header promised
            writer.add_file(TarEntry(b"f", EntryKind.REG, size=4), fd)
        assert read(sink.getvalue())[0][1] == b"0123"
    finally:
        os.close(fd)


def test_streamed_file_must_hold_exactly_its_size() -> None:
    sink = io.BytesIO()
    with TarWriter(sink) as writer:
        writer.add_stream(TarEntry(b"s", EntryKind.REG, size=10), io.BytesIO(b"0123456789"))
    assert read(sink.getvalue())[0][1] == b"0123456789"
    for data, why in ((b"01234", "5 bytes short"), (b"0123456789!", "longer than 10 bytes")):
        with pytest.raises(LayerError, match=why):
            TarWriter(io.BytesIO()).add_stream(
                TarEntry(b"s", EntryKind.REG, size=10), io.BytesIO(data)
            )


def test_socket_is_skipped_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)  # AF_UNIX paths are short
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind("sock")
        (tmp_path / "f").write_bytes(b"")
        with caplog.at_level(logging.WARNING, logger="umoci"):
            assert names(gen(tmp_path, [("f", ADDED), ("sock", ADDED)])) == ["f"]
    assert "socket" in caplog.text


def test_names_that_look_like_whiteouts_are_refused(tmp_path: Path) -> None:
    (tmp_path / ".wh.file").write_bytes(b"")
    with pytest.raises(LayerError, match=r"\.wh\."):
        gen(tmp_path, [(".wh.file", ADDED)])


# -- insert ---------------------------------------------------------------------------------------


def insert(source: Path, target: str, *, opaque: bool = False, **opts: Any) -> bytes:
    sink = io.BytesIO()
    generate_insert_layer(source, target, sink, GenerateOptions(**opts), opaque=opaque)
    return sink.getvalue()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "a/f").write_bytes(b"f")
    (src / "a-b").write_bytes(b"ab")
    os.link(src / "a/f", src / "z-link")
    os.symlink("a/f", src / "sym")
    return src


def test_insert_directory_walks_like_go(source: Path) -> None:
    layer = insert(source, "/usr/share/x/")
    # Depth first, names sorted per directory: "a/" and its children before "a-b".
    assert names(layer) == [
        "usr/share/x/",
        "usr/share/x/a/",
        "usr/share/x/a/f",
        "usr/share/x/a-b",
        "usr/share/x/sym",
        "usr/share/x/z-link",
    ]
    headers = {h.name: h for h, _ in read(layer)}
    assert headers["usr/share/x/z-link"].kind is EntryKind.HARDLINK
    assert headers["usr/share/x/z-link"].linkname == "usr/share/x/a/f"


def test_insert_opaque_puts_the_marker_first(source: Path) -> None:
    assert names(insert(source, "/opt", opaque=True))[:2] == ["opt/.wh..wh..opq", "opt/"]


def test_insert_file_and_symlink(source: Path) -> None:
    (hdr, data), *_ = read(insert(source / "a-b", "/etc/thing"))
    assert (hdr.name, hdr.kind, data) == ("etc/thing", EntryKind.REG, b"ab")
    (hdr, _), *_ = read(insert(source / "sym", "/bin/sym"))
    assert (hdr.name, hdr.kind, hdr.linkname) == ("bin/sym", EntryKind.SYMLINK, "a/f")


def test_insert_targets(source: Path) -> None:
    assert names(insert(source / "a-b", "/x/../y"))[0] == "y"
    assert names(insert(source, "/"))[:2] == [".", "a/"]
    with pytest.raises(UnsafePathError):
        insert(source, "/../etc")
    with pytest.raises(LayerError, match="only a directory"):
        insert(source / "a-b", "/")
    with pytest.raises(LayerError):
        insert(source / "missing", "/x")


def test_insert_tree_round_trips_through_gnu_tar(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    layer = insert(tree, "/sub/dir")
    gnu_extract(layer, out)
    compare_trees(tree, out / "sub/dir")


def test_whiteout_layer() -> None:
    sink = io.BytesIO()
    stats = generate_whiteout_layer("/usr/bin/tool", sink)
    assert names(sink.getvalue()) == ["usr/bin/.wh.tool"]
    assert stats.entries == 1
    assert stats.size == len(sink.getvalue()) == 512 + 1024
    with pytest.raises(LayerError):
        generate_whiteout_layer("/", io.BytesIO())
    with pytest.raises(LayerError):
        generate_whiteout_layer("/x/.wh.y", io.BytesIO())


# -- the tar writer -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "pax"),
    [
        (b"n" * 100, False),  # fills the name field exactly
        (b"p" * 150 + b"/" + b"n" * 100, False),  # prefix + name
        (b"p" * 156 + b"/n", True),  # prefix too long
        (b"p/" + b"n" * 101, True),  # base name too long
        ("ünï".encode(), True),  # not ASCII
        (b"bad-\xff-utf8", True),  # not UTF-8 either: hdrcharset=BINARY
    ],
)
def test_names_use_ustar_fields_when_they_can(name: bytes, pax: bool) -> None:
    data = encode_header(TarEntry(name=name, kind=EntryKind.REG, mode=0o644)) + bytes(1024)
    assert (data[156:157] == b"x") is pax
    assert os.fsencode(read(data)[0][0].name) == name
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        assert tf.getnames() == [os.fsdecode(name)]
    assert run("tar", "--quoting-style=literal", "-tf", "-", stdin=data).rstrip(b"\n") == name


def test_big_numbers_go_to_pax() -> None:
    entry = TarEntry(b"f", EntryKind.DIR, uid=2**21, gid=2**32 - 2, mtime_ns=-(10**9))
    hdr = read(encode_header(entry) + bytes(1024))[0][0]
    assert (hdr.uid, hdr.gid, hdr.mtime_ns) == (2**21, 2**32 - 2, -(10**9))
    huge = encode_header(TarEntry(b"f", EntryKind.REG, size=2**33 + 1))
    assert b"size=8589934593\n" in huge
    big = TarReader(io.BytesIO(huge)).next()
    assert big is not None
    assert big.size == 2**33 + 1


def entry_from(hdr: TarHeader) -> TarEntry:
    return TarEntry(
        name=os.fsencode(hdr.name),
        kind=hdr.kind,
        mode=hdr.mode,
        uid=hdr.uid,
        gid=hdr.gid,
        mtime_ns=hdr.mtime_ns,
        size=hdr.size,
        xattrs={os.fsencode(k): v for k, v in hdr.xattrs.items()},
    )


def test_small_buffers_and_short_writes_give_the_same_bytes(tree: Path) -> None:
    class Dribble:
        """A raw sink that takes at most 1000 bytes per write."""

        def __init__(self) -> None:
            self.out = bytearray()

        def write(self, data: bytes) -> int:
            self.out += data[:1000]
            return min(len(data), 1000)

    expected = gen(tree, [("big", ADDED), ("d/file", ADDED), ("sgid", ADDED)])
    headers = [hdr for hdr, _ in read(expected)]
    for size in (1024, 1536, 4096 + 512):
        sink = Dribble()
        with TarWriter(sink, buffer_size=size) as writer:
            for hdr in headers:
                fd = os.open(tree / hdr.name, os.O_RDONLY)
                try:
                    writer.add_file(entry_from(hdr), fd)
                finally:
                    os.close(fd)
        assert bytes(sink.out) == expected, size


# -- the Go umoci ---------------------------------------------------------------------------------


@pytest.fixture
def go_bundle(tmp_path: Path) -> tuple[Path, Path]:
    umoci = tool("umoci")
    image = tmp_path / "image"
    run(umoci, "init", "--layout", image)
    run(umoci, "new", "--image", f"{image}:base")
    return image, tmp_path / "bundle"


def last_layer(image: Path, tag: str) -> bytes:
    index = json.loads((image / "index.json").read_text())
    refs = {m["annotations"]["org.opencontainers.image.ref.name"]: m for m in index["manifests"]}
    desc = refs[tag]
    manifest = json.loads((image / "blobs/sha256" / desc["digest"][7:]).read_bytes())
    blob = (image / "blobs/sha256" / manifest["layers"][-1]["digest"][7:]).read_bytes()
    return gzip.decompress(blob)


@pytest.mark.goumoci
@needs_root
def test_go_umoci_unpacks_our_layer(go_bundle: tuple[Path, Path], tree: Path) -> None:
    image, bundle = go_bundle
    layer = image.parent / "layer.tar"
    layer.write_bytes(gen(tree, everything(tree)))
    run("umoci", "raw", "add-layer", "--image", f"{image}:base", "--tag", "ours", layer)
    run("umoci", "unpack", "--image", f"{image}:ours", bundle)
    compare_trees(tree, bundle / "rootfs")


@pytest.mark.goumoci
@needs_root
def test_whole_second_layer_is_byte_identical_to_go_umoci_repack(
    go_bundle: tuple[Path, Path],
) -> None:
    image, bundle = go_bundle
    run("umoci", "unpack", "--image", f"{image}:base", bundle)
    rootfs = bundle / "rootfs"
    build_tree(rootfs)
    run("umoci", "repack", "--image", f"{image}:go", bundle)
    theirs = last_layer(image, "go")
    ours = gen(rootfs, everything(rootfs), subsecond_mtime=False)
    if ours != theirs:  # show the first entry that differs
        for (a, da), (b, db) in zip(read(ours), read(theirs), strict=False):
            assert (a, hashlib.sha256(da).hexdigest()) == (b, hashlib.sha256(db).hexdigest())
    assert ours == theirs
