"""Escape attempts through ``umoci unpack``: nothing outside the rootfs may change.

Every test puts a sentinel tree next to the bundle (``outside/`` and
``file``) and snapshots everything but the bundle before and after.  The
symlinks aim at the sentinel both relatively (``../../outside``: from the
rootfs that *is* the sentinel) and by its absolute host path, so a resolver
that followed a link on the host would hit it.  Escapes that can be confined
(resolved as if the rootfs were ``/``) succeed, and the test checks where the
entry landed; the rest are refused with no bundle left behind.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from imagekit import (
    Image,
    T,
    check_bundle_files,
    image_of,
    make_sentinel,
    snapshot_outside,
    unpack_fails,
    unpack_ok,
)


class Escape:
    """The sentinel, the bundle next to it, and the before snapshot."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.outside = make_sentinel(base)
        self.bundle = base / "bundle"
        self.before: dict[str, object] = {}

    def image(self, *layers: list) -> Image:
        """Write the image (next to the bundle, so it is guarded too), then snapshot."""
        image = image_of(self.base / "image", *layers)
        self.before = snapshot_outside(self.base, self.bundle)
        return image

    @property
    def targets(self) -> list[str]:
        """Symlink targets that point at the sentinel from the rootfs's top directory."""
        host = str(self.outside)
        return ["../../outside", "/../../outside", host, "/../../../../.." + host, "../../.."]

    def unchanged(self) -> None:
        assert self.before
        assert snapshot_outside(self.base, self.bundle) == self.before
        assert (self.outside / "file").read_bytes() == b"host content"

    def bundle_intact(self, image: Image) -> None:
        check_bundle_files(self.bundle, image)
        config = json.loads((self.bundle / "config.json").read_bytes())
        assert config["root"]["path"] == "rootfs"


@pytest.fixture
def esc(tmp_path: Path) -> Escape:
    return Escape(tmp_path / "base")


def unpack_confined(
    esc: Escape, capsys: pytest.CaptureFixture[str], *layers: list, flags: tuple[str, ...] = ()
) -> Path:
    image = esc.image(*layers)
    rootfs = unpack_ok(capsys, image, esc.bundle, *flags)
    esc.unchanged()
    esc.bundle_intact(image)
    return rootfs


def unpack_refused(esc: Escape, capsys: pytest.CaptureFixture[str], *layers: list) -> str:
    image = esc.image(*layers)
    message = unpack_fails(capsys, image, esc.bundle)
    esc.unchanged()
    return message


@pytest.mark.parametrize(
    "prefix", ["..", "../..", "/..", "/../../..", "a/../../..", "./../outside/.."]
)
def test_dotdot_components_stay_inside(
    esc: Escape, capsys: pytest.CaptureFixture[str], prefix: str
) -> None:
    rootfs = unpack_confined(
        esc,
        capsys,
        [
            T.reg(f"{prefix}/file", b"container"),
            T.reg(f"{prefix}/outside/file", b"container"),
            T.dir(f"{prefix}/newdir"),
            T.sym(f"{prefix}/config.json", "/etc/shadow"),
        ],
    )
    assert (rootfs / "file").read_bytes() == b"container"
    assert (rootfs / "outside/file").read_bytes() == b"container"
    assert os.readlink(rootfs / "config.json") == "/etc/shadow"


@pytest.mark.parametrize("keep_dirlinks", [False, True], ids=["plain", "keep-dirlinks"])
@pytest.mark.parametrize("which", range(5))
def test_writes_through_an_escaping_symlink_stay_inside(
    esc: Escape, capsys: pytest.CaptureFixture[str], which: int, keep_dirlinks: bool
) -> None:
    target = esc.targets[which]
    flags = ("--keep-dirlinks",) if keep_dirlinks else ()
    unpack_confined(
        esc,
        capsys,
        [T.sym("link", target)],
        [
            T.reg("link/file", b"container"),
            T.reg("link/sub/deep", b"container"),
            T.dir("link/newdir"),
            T.fifo("link/fifo"),
            T.hard("link/hard", "link/file"),
            T.sym("link/etc", "/"),
            T.reg("link/etc/passwd", b"container"),
        ],
        flags=flags,
    )


@pytest.mark.parametrize("which", range(5))
def test_same_layer_symlink_then_write(
    esc: Escape, capsys: pytest.CaptureFixture[str], which: int
) -> None:
    unpack_confined(
        esc,
        capsys,
        [T.dir("a"), T.sym("a/up", esc.targets[which]), T.reg("a/up/file", b"c")],
    )


@pytest.mark.parametrize("which", range(5))
def test_an_entry_named_like_an_escaping_symlink_replaces_it(
    esc: Escape, capsys: pytest.CaptureFixture[str], which: int
) -> None:
    rootfs = unpack_confined(
        esc, capsys, [T.sym("link", esc.targets[which])], [T.reg("link", b"container")]
    )
    assert (rootfs / "link").read_bytes() == b"container"


def test_absolute_symlink_resolves_against_the_rootfs(
    esc: Escape, capsys: pytest.CaptureFixture[str]
) -> None:
    host = str(esc.outside)
    rootfs = unpack_confined(esc, capsys, [T.sym("abs", host), T.reg("abs/file", b"c")])
    assert (rootfs / host.lstrip("/") / "file").read_bytes() == b"c"


def test_absolute_symlink_in_a_subdirectory_resolves_from_the_root(
    esc: Escape, capsys: pytest.CaptureFixture[str]
) -> None:
    rootfs = unpack_confined(
        esc,
        capsys,
        [T.dir("etc"), T.dir("usr"), T.dir("usr/lib"), T.sym("usr/lib/conf", "/etc")],
        [
            T.reg("usr/lib/conf/app.conf", b"conf"),
            T.sym("usr/lib/up", "/../../../../etc"),
            T.reg("usr/lib/up/passwd", b"evil"),
            T.hard("usr/lib/h", "usr/lib/conf/app.conf"),
        ],
    )
    assert (rootfs / "etc/app.conf").read_bytes() == b"conf"
    assert (rootfs / "etc/passwd").read_bytes() == b"evil"
    assert (rootfs / "usr/lib/h").stat().st_ino == (rootfs / "etc/app.conf").stat().st_ino
    assert not (rootfs / "usr/lib/etc").exists()


def test_symlink_chain(esc: Escape, capsys: pytest.CaptureFixture[str]) -> None:
    rootfs = unpack_confined(
        esc,
        capsys,
        [
            T.sym("a", "b/../c"),
            T.dir("b"),
            T.sym("c", "/d/.."),
            T.sym("d", "../../outside"),
            T.sym("e", "a/../../../" + str(esc.outside)),
        ],
        [T.reg("a/x", b"x"), T.reg("a/sub/y", b"y"), T.reg("e/z", b"z")],
    )
    # a -> b/../c -> c -> /d/.. -> (d is /outside) -> /: the rootfs itself.
    assert (rootfs / "x").read_bytes() == b"x"
    assert (rootfs / "sub/y").read_bytes() == b"y"


def test_symlink_to_the_bundle_directory(esc: Escape, capsys: pytest.CaptureFixture[str]) -> None:
    rootfs = unpack_confined(
        esc,
        capsys,
        [T.sym("bundle", ".."), T.sym("cfg", "../config.json")],
        [T.reg("bundle/config.json", b"evil"), T.reg("bundle/umoci.json", b"evil")],
    )
    assert (rootfs / "config.json").read_bytes() == b"evil"


def test_hardlink_through_a_symlink_resolves_inside(
    esc: Escape, capsys: pytest.CaptureFixture[str]
) -> None:
    rootfs = unpack_confined(
        esc,
        capsys,
        [T.reg("file", b"inside"), T.sym("up", "/../.."), T.hard("h", "up/file")],
    )
    assert (rootfs / "h").read_bytes() == b"inside"
    assert (rootfs / "h").stat().st_ino == (rootfs / "file").stat().st_ino


def test_hardlink_to_an_escaping_symlink_links_the_symlink(
    esc: Escape, capsys: pytest.CaptureFixture[str]
) -> None:
    rootfs = unpack_confined(
        esc, capsys, [T.sym("evil", "../../file"), T.hard("h", "evil"), T.reg("h2", b"x")]
    )
    assert os.readlink(rootfs / "h") == "../../file"
    assert (rootfs / "h").lstat().st_ino == (rootfs / "evil").lstat().st_ino


@pytest.mark.parametrize("which", range(5))
def test_whiteouts_through_symlinks_stay_inside(
    esc: Escape, capsys: pytest.CaptureFixture[str], which: int
) -> None:
    unpack_confined(
        esc,
        capsys,
        [T.sym("out", esc.targets[which]), T.dir("d"), T.sym("d/up", "../" + esc.targets[which])],
        [
            T.wh("out/.wh.file"),
            T.wh("out/.wh.sub"),
            T.wh("d/up/.wh.outside"),
            T.wh("out/sub/.wh..wh..opq"),
        ],
    )


def test_opaque_through_a_symlink_to_the_root(
    esc: Escape, capsys: pytest.CaptureFixture[str]
) -> None:
    lower = [T.dir("d"), T.reg("d/x", b""), T.sym("up", "../../../..")]
    rootfs = unpack_confined(esc, capsys, lower, [T.wh("up/.wh..wh..opq")])
    # "up" is the rootfs itself: its lower content is gone, the host's is not.
    assert os.listdir(rootfs) == []


@pytest.mark.parametrize("name", [".", "/.", "./", "/", "a/..", "./."])
def test_the_root_cannot_become_a_symlink(
    esc: Escape, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    # CVE-2021-29136: a symlink named "." would redirect every later entry.
    message = unpack_refused(
        esc, capsys, [T.sym(name, "../../outside"), T.reg("file", b"x"), T.reg("sub/y", b"y")]
    )
    assert "root" in message


@pytest.mark.parametrize("name", [".", "/."])
def test_the_root_cannot_become_a_symlink_in_a_later_layer(
    esc: Escape, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    unpack_refused(
        esc,
        capsys,
        [T.reg("base", b"b")],
        [T.sym(name, str(esc.outside))],
        [T.reg("file", b"x")],
    )


def test_the_root_cannot_become_a_file(esc: Escape, capsys: pytest.CaptureFixture[str]) -> None:
    unpack_refused(esc, capsys, [T.reg("./", b"x")])


@pytest.mark.parametrize("target", ["../file", "/../file", "../../file", "../outside/file"])
def test_hardlink_to_outside_is_refused(
    esc: Escape, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    unpack_refused(esc, capsys, [T.reg("x", b"x"), T.hard("h", target)])
    assert (esc.base / "file").lstat().st_nlink == 1
    assert (esc.outside / "file").lstat().st_nlink == 1


@pytest.mark.parametrize("target", ["link/file", "link/outside/file"])
def test_hardlink_through_an_escaping_symlink_is_refused(
    esc: Escape, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    # "link" resolves to the rootfs, where there is no such file to link to.
    unpack_refused(esc, capsys, [T.sym("link", "/../.."), T.hard("h", target)])
    assert (esc.outside / "file").lstat().st_nlink == 1


def test_symlink_loop_is_refused(esc: Escape, capsys: pytest.CaptureFixture[str]) -> None:
    unpack_refused(esc, capsys, [T.sym("loop", "loop2"), T.sym("loop2", "loop"), T.reg("loop/x")])


def test_failed_unpack_leaves_an_existing_bundle_dir_empty(
    esc: Escape, capsys: pytest.CaptureFixture[str]
) -> None:
    image = esc.image([T.reg("x", b"x"), T.sym(".", "/"), T.reg("y")])
    esc.bundle.mkdir()
    unpack_fails(capsys, image, esc.bundle)
    esc.unchanged()
