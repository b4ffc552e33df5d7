"""Whiteouts through ``umoci unpack``: plain and opaque, orderings, missing targets, bad names."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from imagekit import T, image_of, tree, unpack_fails, unpack_ok


def lower() -> list:
    return [
        T.dir("a"),
        T.reg("a/lower1", b"1"),
        T.dir("a/sub"),
        T.reg("a/sub/lower2", b"2"),
        T.sym("a/link", "sub"),
        T.reg("top", b"top"),
        T.dir("keep"),
        T.reg("keep/k", b"k"),
    ]


def unpack_layers(tmp_path: Path, capsys: pytest.CaptureFixture[str], *layers: list) -> Path:
    image = image_of(tmp_path / "image", *layers)
    rootfs = unpack_ok(capsys, image, tmp_path / "bundle")
    names = [p for p in tree(rootfs) if os.path.basename(p).startswith(".wh.")]
    assert names == [], "whiteout markers must never appear in the rootfs"
    return rootfs


def listing(rootfs: Path, sub: str = ".") -> list[str]:
    return sorted(os.listdir(rootfs / sub))


def test_plain_whiteouts_remove_files_dirs_and_links(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rootfs = unpack_layers(
        tmp_path, capsys, lower(), [T.wh(".wh.top"), T.wh("a/.wh.sub"), T.wh("a/.wh.link")]
    )
    assert listing(rootfs) == ["a", "keep"]
    assert listing(rootfs, "a") == ["lower1"]
    assert (rootfs / "keep/k").read_bytes() == b"k"


def test_whiteout_of_a_symlink_keeps_its_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rootfs = unpack_layers(tmp_path, capsys, lower(), [T.wh("a/.wh.link")])
    assert listing(rootfs, "a/sub") == ["lower2"]


def test_whiteout_then_recreate_in_a_later_layer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rootfs = unpack_layers(
        tmp_path,
        capsys,
        lower(),
        [T.wh("a/.wh.sub"), T.wh(".wh.top")],
        [T.dir("a/sub"), T.reg("a/sub/again", b"again"), T.sym("top", "a")],
    )
    assert listing(rootfs, "a/sub") == ["again"]
    assert os.readlink(rootfs / "top") == "a"


def test_whiteout_of_missing_paths_is_fine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rootfs = unpack_layers(
        tmp_path,
        capsys,
        lower(),
        [T.wh(".wh.nothing"), T.wh("no/such/dir/.wh.x"), T.wh("top/.wh.x"), T.wh("a/.wh.gone")],
    )
    assert listing(rootfs) == ["a", "keep", "top"]
    assert not (rootfs / "no").exists()


def test_whiteout_in_the_first_layer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rootfs = unpack_layers(tmp_path, capsys, [T.wh(".wh.x"), T.reg("y", b"y")])
    assert listing(rootfs) == ["y"]


def test_opaque_before_same_layer_additions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rootfs = unpack_layers(
        tmp_path,
        capsys,
        lower(),
        [T.dir("a"), T.wh("a/.wh..wh..opq"), T.reg("a/new", b"n"), T.reg("a/sub/new2", b"n2")],
    )
    assert listing(rootfs, "a") == ["new", "sub"]
    assert listing(rootfs, "a/sub") == ["new2"]
    assert listing(rootfs, "keep") == ["k"]


def test_opaque_after_same_layer_additions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rootfs = unpack_layers(
        tmp_path,
        capsys,
        lower(),
        [T.reg("a/new", b"n"), T.reg("a/sub/new2", b"n2"), T.wh("a/.wh..wh..opq")],
    )
    # The opaque marker hides the lower layers only, not what this layer added.
    assert listing(rootfs, "a") == ["new", "sub"]
    assert listing(rootfs, "a/sub") == ["new2"]


def test_opaque_keeps_the_directory_itself(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rootfs = unpack_layers(
        tmp_path, capsys, lower(), [T.dir("a", mode=0o700, mtime=42), T.wh("a/.wh..wh..opq")]
    )
    st = (rootfs / "a").lstat()
    assert listing(rootfs, "a") == []
    assert (oct(st.st_mode & 0o7777), st.st_mtime_ns) == (oct(0o700), 42 * 10**9)


def test_opaque_at_the_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rootfs = unpack_layers(tmp_path, capsys, lower(), [T.reg("new", b""), T.wh(".wh..wh..opq")])
    assert listing(rootfs) == ["new"]


def test_whiteout_after_same_layer_entry_does_not_remove_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rootfs = unpack_layers(
        tmp_path, capsys, lower(), [T.reg("top", b"new top"), T.wh(".wh.top"), T.wh(".wh.keep")]
    )
    assert (rootfs / "top").read_bytes() == b"new top"
    assert not (rootfs / "keep").exists()


def test_whiteout_keeps_the_parent_mtime(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rootfs = unpack_layers(
        tmp_path, capsys, [*lower(), T.dir("a", mtime=1234)], [T.wh("a/.wh.lower1")]
    )
    assert not (rootfs / "a/lower1").exists()
    assert (rootfs / "a").lstat().st_mtime_ns == 1234 * 10**9


@pytest.mark.parametrize("name", [".wh.", "a/.wh."])
def test_bare_whiteout_prefix_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    image = image_of(tmp_path / "image", lower(), [T.wh(name)])
    message = unpack_fails(capsys, image, tmp_path / "bundle")
    assert "whiteout" in message


@pytest.mark.parametrize("name", [".wh..", "a/.wh..", ".wh...", "a/.wh..."])
def test_whiteout_of_dot_names_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    image = image_of(tmp_path / "image", lower(), [T.wh(name)])
    unpack_fails(capsys, image, tmp_path / "bundle")
