"""No layer can create, change or delete anything outside the rootfs."""

from __future__ import annotations

import os

import pytest
from layerkit import env_fixture, t_fixture  # noqa: F401 (fixtures)

from umoci.errors import LayerError, UnsafePathError

ESCAPING_LINK_TARGETS = [
    "/",
    "/..",
    "/../",
    "/../../../../../../../..",
    "/./.././.././.././../",
    "..",
    "../..",
    "../../outside",
    "/../outside",
    "../outside",
]


@pytest.mark.parametrize("prefix", ["..", "/..", "../../..", "a/../../..", "/../../etc/.."])
def test_dotdot_names(env, t, prefix):
    before = env.snapshot_outside()
    env.apply([t.reg(f"{prefix}/file", b"container"), t.reg(f"{prefix}/outside/file", b"c")])
    assert (env.rootfs / "file").read_bytes() == b"container"
    assert env.snapshot_outside() == before


@pytest.mark.parametrize("target", ESCAPING_LINK_TARGETS)
def test_write_through_escaping_symlink(env, t, target):
    before = env.snapshot_outside()
    env.apply(
        [
            t.sym("link", target),
            t.reg("link/file", b"container"),
            t.reg("link/sub/deep", b"container"),
            t.dir("link/newdir"),
        ]
    )
    assert env.snapshot_outside() == before
    assert (env.base / "file").read_bytes() == b"host file next to rootfs"


@pytest.mark.parametrize("target", ESCAPING_LINK_TARGETS)
def test_overwrite_through_escaping_symlink_final_component(env, t, target):
    # A file entry whose own name is an escaping symlink replaces the link.
    before = env.snapshot_outside()
    env.apply([t.sym("link", target), t.reg("link", b"container")])
    assert (env.rootfs / "link").read_bytes() == b"container"
    assert env.snapshot_outside() == before


def test_symlink_chain(env, t):
    before = env.snapshot_outside()
    env.apply(
        [
            t.sym("a", "b/../c"),
            t.dir("b"),
            t.sym("c", "/d/.."),
            t.sym("d", "../../../outside"),
            t.reg("a/x", b"x"),
            t.reg("a/sub/y", b"y"),
        ]
    )
    assert env.snapshot_outside() == before
    # a -> b/../c -> c -> /d/.. -> (d = /outside) -> / : the rootfs itself.
    assert (env.rootfs / "x").read_bytes() == b"x"
    assert (env.rootfs / "sub/y").read_bytes() == b"y"


def test_symlink_loop_is_an_error(env, t):
    before = env.snapshot_outside()
    with pytest.raises(LayerError, match="unpack entry loop/x"):
        env.apply([t.sym("loop", "loop2"), t.sym("loop2", "loop"), t.reg("loop/x", b"")])
    assert env.snapshot_outside() == before


@pytest.mark.parametrize("name", [".", "/.", "./", "/", "a/.."])
def test_root_cannot_become_a_symlink(env, t, name):
    # CVE-2021-29136: a symlink named "." would redirect every later entry.
    before = env.snapshot_outside()
    with pytest.raises(UnsafePathError, match="root directory"):
        env.apply([t.sym(name, "/../outside"), t.reg("file", b"x")])
    assert env.snapshot_outside() == before
    assert not (env.rootfs / "file").exists()
    assert env.rootfs.is_dir()
    assert not env.rootfs.is_symlink()


def test_root_cannot_become_a_file(env, t):
    with pytest.raises(UnsafePathError):
        env.apply([t.reg("./", b"x")])


def test_symlink_named_dot_inside_a_directory(env, t):
    before = env.snapshot_outside()
    env.apply([t.dir("d"), t.sym("d/.", "/../outside"), t.reg("d/file", b"x")])
    # "d/." is "d": the link replaces d, and d/file lands inside the rootfs.
    assert env.snapshot_outside() == before


def test_symlink_swapped_in_mid_layer(env, t):
    before = env.snapshot_outside()
    env.apply(
        [
            t.dir("a"),
            t.reg("a/one", b"1"),
            t.sym("a", "/../../outside"),  # replaces the directory a
            t.reg("a/two", b"2"),
            t.reg("a/sub/deep", b"3"),
        ]
    )
    assert env.snapshot_outside() == before
    assert (env.rootfs / "outside/two").read_bytes() == b"2"


def test_symlink_swapped_in_by_a_later_layer(env, t):
    before = env.snapshot_outside()
    env.apply_layers(
        [
            [t.dir("etc"), t.reg("etc/passwd", b"p")],
            [t.sym("etc", "../../outside")],
            [t.reg("etc/passwd", b"evil"), t.wh("etc/.wh.file")],
        ]
    )
    assert env.snapshot_outside() == before
    assert (env.rootfs / "outside/passwd").read_bytes() == b"evil"


def test_symlink_to_itself_through_root_is_a_loop(env, t):
    # /etc -> ../../etc is /etc again inside the rootfs: a loop, not an escape.
    before = env.snapshot_outside()
    with pytest.raises(LayerError, match="Too many levels of symbolic links"):
        env.apply([t.sym("etc", "../../etc"), t.reg("etc/passwd", b"evil")])
    assert env.snapshot_outside() == before


@pytest.mark.parametrize("target", ["../file", "/../file", "../outside/file", "link/file"])
def test_hardlink_to_outside(env, t, target):
    before = env.snapshot_outside()
    with pytest.raises(LayerError):
        env.apply([t.sym("link", "/.."), t.hard("h", target)])
    assert env.snapshot_outside() == before
    # Nothing outside gained a link.
    assert (env.base / "file").lstat().st_nlink == 1
    assert (env.outside / "file").lstat().st_nlink == 1


def test_hardlink_through_symlink_resolves_inside(env, t):
    before = env.snapshot_outside()
    env.apply([t.reg("file", b"inside"), t.sym("up", "/../.."), t.hard("h", "up/file")])
    assert (env.rootfs / "h").read_bytes() == b"inside"
    assert env.snapshot_outside() == before


def test_hardlink_to_escaping_symlink_links_the_symlink(env, t):
    before = env.snapshot_outside()
    env.apply([t.sym("evil", "/../file"), t.hard("h", "evil"), t.reg("h2", b"x")])
    assert os.readlink(env.rootfs / "h") == "/../file"
    assert (env.rootfs / "h").lstat().st_ino == (env.rootfs / "evil").lstat().st_ino
    assert env.snapshot_outside() == before


def test_device_through_symlink(env, t):
    before = env.snapshot_outside()
    env.apply([t.sym("dev", "/../outside"), t.fifo("dev/fifo")])
    assert env.snapshot_outside() == before


def test_absolute_symlink_in_subdirectory(env, t):
    before = env.snapshot_outside()
    env.apply(
        [
            t.dir("usr/lib"),
            t.sym("usr/lib/conf", "/etc"),
            t.reg("usr/lib/conf/app.conf", b"conf"),
            t.sym("usr/lib/up", "/../../../../etc"),
            t.reg("usr/lib/up/passwd", b"evil"),
        ]
    )
    assert (env.rootfs / "etc/app.conf").read_bytes() == b"conf"
    assert (env.rootfs / "etc/passwd").read_bytes() == b"evil"
    assert not (env.rootfs / "usr/lib/etc").exists()
    assert env.snapshot_outside() == before
