"""Reproducible builds: the same tree and ``SOURCE_DATE_EPOCH`` give the same digests.

Each build starts from a fresh layout and its own copy of the source tree,
written in a different order, with different (newer than the epoch)
mtimes and different inode numbers; the layer, config and manifest
digests must still match byte for byte, for ``insert`` and for
``unpack`` + ``repack``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from repackkit import config, layers, ok, tags, top_entries

Capsys = pytest.CaptureFixture[str]

EPOCH = 1_650_000_000

FILES = {
    "bin/app": (b"#!/bin/sh\necho app\n", 0o755),
    "etc/app.conf": (b"key = value\n", 0o644),
    "etc/secret": (b"s3cret\n", 0o600),
    "share/doc/README": (b"read me\n", 0o644),
    "share/doc/ünïcode": (b"u\n", 0o644),
}
DIRS = {"bin": 0o755, "etc": 0o750, "share": 0o755, "share/doc": 0o755}


def make_tree(root: Path, *, reverse: bool, mtime: int) -> None:
    """The source tree, created in the given order and then stamped with ``mtime``."""
    root.mkdir(parents=True, exist_ok=True)
    for rel in sorted(DIRS):
        (root / rel).mkdir(exist_ok=True)
    for rel in sorted(FILES, reverse=reverse):
        data, mode = FILES[rel]
        (root / rel).write_bytes(data)
        os.chmod(root / rel, mode)
    os.link(root / "bin/app", root / "bin/app-alias")
    (root / "bin/sh").symlink_to("app")
    os.setxattr(root / "etc/app.conf", "user.origin", b"test")
    for rel, mode in DIRS.items():
        os.chmod(root / rel, mode)
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in [*filenames, *dirnames]:
            os.utime(Path(dirpath) / name, (mtime, mtime), follow_symlinks=False)
    os.utime(root, (mtime, mtime))


def insert_build(capsys: Capsys, work: Path, *, reverse: bool, mtime: int, compress: str) -> Path:
    layout = work / "image"
    make_tree(work / "src", reverse=reverse, mtime=mtime)
    ok(capsys, "init", "--layout", layout)
    ok(capsys, "new", "--image", f"{layout}:t")
    ok(capsys, "insert", "--compress", compress, "--image", f"{layout}:t", work / "src", "/opt/app")
    return layout


def repack_build(capsys: Capsys, work: Path, *, reverse: bool, mtime: int, compress: str) -> Path:
    layout, bundle = work / "image", work / "bundle"
    ok(capsys, "init", "--layout", layout)
    ok(capsys, "new", "--image", f"{layout}:t")
    ok(capsys, "unpack", "--image", f"{layout}:t", bundle)
    make_tree(bundle / "rootfs", reverse=reverse, mtime=mtime)
    ok(capsys, "repack", "--compress", compress, "--image", f"{layout}:t", bundle)
    return layout


@pytest.mark.parametrize("compress", ["gzip", "zstd", "none"])
@pytest.mark.parametrize("build", [insert_build, repack_build], ids=["insert", "repack"])
def test_independent_builds_are_identical(
    capsys: Capsys,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    build: Callable[..., Path],
    compress: str,
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
    one = build(capsys, tmp_path / "one", reverse=False, mtime=EPOCH + 100, compress=compress)
    two = build(capsys, tmp_path / "two", reverse=True, mtime=EPOCH + 99_999, compress=compress)
    assert len(layers(one, "t")) == 1
    assert tags(one) == tags(two)
    assert manifest_bytes(one) == manifest_bytes(two)
    assert layers(one, "t") == layers(two, "t")
    assert config(one, "t") == config(two, "t")
    assert config(one, "t")["created"] == "2022-04-15T05:20:00Z"
    # Every mtime in the layer was newer than the epoch: all clamped to it.
    assert {e.mtime for e in top_entries(one, "t")} == {EPOCH}


def manifest_bytes(layout: Path) -> bytes:
    digest = tags(layout)["t"].removeprefix("sha256:")
    return (layout / "blobs/sha256" / digest).read_bytes()


def test_older_mtimes_are_kept_newer_ones_clamped(
    capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
    src = tmp_path / "src"
    make_tree(src, reverse=False, mtime=EPOCH - 1000)
    os.utime(src / "etc/app.conf", (EPOCH + 5, EPOCH + 5))
    os.utime(src / "etc/secret", ns=(EPOCH * 10**9 - 1, EPOCH * 10**9 - 1))
    os.utime(src / "bin/app", ns=(EPOCH * 10**9 + 500_000_000,) * 2)
    os.utime(src / "share/doc/README", (EPOCH, EPOCH))
    layout = tmp_path / "image"
    ok(capsys, "init", "--layout", layout)
    ok(capsys, "new", "--image", f"{layout}:t")
    ok(capsys, "insert", "--image", f"{layout}:t", src, "/app")
    mtimes = {e.name: e.mtime for e in top_entries(layout, "t")}
    assert mtimes["app/etc/app.conf"] == EPOCH
    assert mtimes["app/etc/secret"] == pytest.approx(EPOCH - 1e-9, abs=1e-6)
    assert mtimes["app/bin/app"] == EPOCH  # half a second too new
    assert mtimes["app/share/doc/README"] == EPOCH
    assert mtimes["app/bin/sh"] == EPOCH - 1000


def test_without_source_date_epoch_mtimes_are_kept(
    capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    src = tmp_path / "src"
    make_tree(src, reverse=False, mtime=EPOCH + 12345)
    layout = tmp_path / "image"
    ok(capsys, "init", "--layout", layout)
    ok(capsys, "new", "--image", f"{layout}:t")
    ok(capsys, "insert", "--image", f"{layout}:t", src, "/app")
    assert {e.mtime for e in top_entries(layout, "t")} == {EPOCH + 12345}
