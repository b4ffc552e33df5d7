"""A repack that fails leaves the layout and the bundle as they were.

Each failure must exit 1 with one stderr line, leave ``index.json`` (and so
every tag) byte for byte as before, leave no ``.umoci-*`` temporary
directory in the layout, and leave the bundle's mtree and ``umoci.json``
alone even with ``--refresh-bundle``.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from repackkit import Unpacked, fail, layers, layout_state, ok, tags

from umoci import mtree

Capsys = pytest.CaptureFixture[str]


def blob_names(layout: Path) -> set[str]:
    return {p.name for p in (layout / "blobs/sha256").iterdir()}


def bundle_state(bundle: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in bundle.iterdir() if p.is_file()}


def changed_bundle(capsys: Capsys, tmp_path: Path) -> Unpacked:
    img = Unpacked.make(capsys, tmp_path)
    (img.rootfs / "etc/hostname").write_bytes(b"changed\n")
    # Incompressible, so the layer takes several blob writes; seeded, so
    # every run writes the same number of bytes.
    (img.rootfs / "big").write_bytes(random.Random(0).randbytes(3 << 20))
    shutil.rmtree(img.rootfs / "opt/tree")
    return img


def repack_fails(capsys: Capsys, img: Unpacked, *, new_blobs: bool = False) -> str:
    """Run a repack that must fail, and check it changed nothing it should not."""
    before, blobs, bundle = (
        layout_state(img.layout),
        blob_names(img.layout),
        bundle_state(img.bundle),
    )
    err = fail(capsys, "repack", "--refresh-bundle", "--image", f"{img.layout}:t", img.bundle)
    assert layout_state(img.layout) == before
    assert bundle_state(img.bundle) == bundle
    if not new_blobs:
        assert blob_names(img.layout) == blobs
    return err


# -- a broken bundle ------------------------------------------------------------------------


def _whiteout_name_in_rootfs(img: Unpacked) -> None:
    (img.rootfs / "etc/.wh.foo").write_bytes(b"a file no layer can hold")


def _corrupt_mtree(img: Unpacked) -> None:
    (spec,) = img.bundle.glob("*.mtree")
    spec.write_bytes(b"this is /set not an mtree\n\x00\xff=\n")


def _missing_mtree(img: Unpacked) -> None:
    (spec,) = img.bundle.glob("*.mtree")
    spec.unlink()


def _missing_umoci_json(img: Unpacked) -> None:
    (img.bundle / "umoci.json").unlink()


def _corrupt_umoci_json(img: Unpacked) -> None:
    (img.bundle / "umoci.json").write_text('{"umoci_version": "2", "from_descriptor_path": 7}')


def _umoci_json_names_a_missing_manifest(img: Unpacked) -> None:
    path = img.bundle / "umoci.json"
    text = path.read_text()
    digest = tags(img.layout)["t"]
    path.write_text(text.replace(digest, "sha256:" + "0" * 64))
    (spec,) = img.bundle.glob("*.mtree")
    spec.rename(img.bundle / f"sha256_{'0' * 64}.mtree")


def _missing_rootfs(img: Unpacked) -> None:
    shutil.rmtree(img.rootfs)


BROKEN_BUNDLES = [
    (_whiteout_name_in_rootfs, ".wh.foo"),
    (_corrupt_mtree, "mtree"),
    (_missing_mtree, "mtree"),
    (_missing_umoci_json, "umoci.json"),
    (_corrupt_umoci_json, "umoci.json"),
    (_umoci_json_names_a_missing_manifest, "0000000000"),
    (_missing_rootfs, "rootfs"),
]


@pytest.mark.parametrize(
    ("breakage", "mentions"), BROKEN_BUNDLES, ids=lambda v: getattr(v, "__name__", "")
)
def test_broken_bundle(
    capsys: Capsys, tmp_path: Path, breakage: Callable[[Unpacked], None], mentions: str
) -> None:
    img = changed_bundle(capsys, tmp_path)
    breakage(img)
    err = repack_fails(capsys, img)
    assert err.startswith("umoci: repack: ")
    assert mentions in err


def test_file_vanishing_between_diff_and_archive(
    capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    img = changed_bundle(capsys, tmp_path)
    real_walk = mtree.walk

    def walk_then_delete(*args: Any, **kwargs: Any) -> mtree.Spec:
        spec = real_walk(*args, **kwargs)
        (img.rootfs / "etc/hostname").unlink()
        return spec

    monkeypatch.setattr(mtree, "walk", walk_then_delete)  # as bundle_repack calls it
    err = repack_fails(capsys, img)
    assert "etc/hostname" in err


# -- a full disk ----------------------------------------------------------------------------


class _Disk:
    """Files opened with ``os.fdopen`` inside the layout share a byte budget."""

    def __init__(self, layout: Path, budget: int | None) -> None:
        self.layout = os.path.realpath(layout)
        self.budget = budget
        self.written = 0
        self.index_bytes = 0
        self._fdopen = os.fdopen

    def fdopen(self, fd: int, *args: Any, **kwargs: Any) -> Any:
        f = self._fdopen(fd, *args, **kwargs)
        path = os.readlink(f"/proc/self/fd/{fd}")
        if not path.startswith(self.layout + "/"):
            return f
        return _LimitedFile(f, self, os.path.basename(path).startswith("index.json"))


class _LimitedFile:
    """A file whose writes fail with ENOSPC once the disk's budget is spent."""

    def __init__(self, f: Any, disk: _Disk, is_index: bool) -> None:
        self._f, self._disk, self._is_index = f, disk, is_index

    def write(self, data: Any) -> int:
        size = len(data)
        disk = self._disk
        if disk.budget is not None and disk.written + size > disk.budget:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        disk.written += size
        if self._is_index:
            disk.index_bytes += size
        result: int = self._f.write(data)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)

    def __enter__(self) -> _LimitedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._f.close()


def bytes_a_repack_writes(
    capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, int]:
    """(all bytes, index.json bytes) a successful repack of :func:`changed_bundle` writes."""
    img = changed_bundle(capsys, tmp_path / "measure")
    disk = _Disk(img.layout, None)
    with monkeypatch.context() as m:
        m.setattr(os, "fdopen", disk.fdopen)
        img.repack(capsys)
    assert len(layers(img.layout, "t")) == 2
    assert disk.index_bytes > 0
    return disk.written, disk.index_bytes


@pytest.mark.parametrize("where", ["first-byte", "mid-layer", "config-or-manifest", "index.json"])
def test_disk_full(
    capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # same JSON sizes every run
    total, index = bytes_a_repack_writes(capsys, tmp_path, monkeypatch)
    budget = {
        "first-byte": 0,
        "mid-layer": (3 << 20) // 2,
        "config-or-manifest": total - index - 100,
        "index.json": total - 1,
    }[where]
    img = changed_bundle(capsys, tmp_path / "full")
    monkeypatch.setattr(os, "fdopen", _Disk(img.layout, budget).fdopen)
    err = repack_fails(capsys, img, new_blobs=where in ("config-or-manifest", "index.json"))
    monkeypatch.undo()
    assert "No space left on device" in err
    # Once there is room again, the same bundle repacks fine.
    img.repack(capsys)
    assert len(layers(img.layout, "t")) == 2
    ok(capsys, "unpack", "--image", f"{img.layout}:t", tmp_path / "check")
    assert (tmp_path / "check/rootfs/etc/hostname").read_bytes() == b"changed\n"
