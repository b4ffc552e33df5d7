"""The bundle vector (made by the Go umoci 0.6): our unpack of its image gives its files.

The mtree must match apart from the four header lines that name the user,
machine, tree and date; config.json and umoci.json must match byte for
byte, and so must the rootless variants (the vector's were made as root,
so the rootless mapping is to 0:0).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from imagekit import umoci

from conftest import VECTORS, snapshot

pytestmark = pytest.mark.root

VECTOR = VECTORS / "bundle"
HEADER = ("#          user:", "#       machine:", "#          tree:", "#          date:")


def mtree_vector() -> Path:
    (path,) = VECTOR.glob("sha256_*.mtree")
    return path


def body(mtree: bytes) -> list[bytes]:
    lines = mtree.splitlines(keepends=True)
    assert [line.decode()[:16] for line in lines[:4]] == list(HEADER)
    return lines[4:]


def unpack_vector(
    capsys: pytest.CaptureFixture[str], bundle: Path, *flags: str
) -> tuple[Path, str]:
    image = VECTOR / "image"
    before = snapshot(image)
    res = umoci(capsys, "unpack", *flags, "--image", f"{image}:latest", bundle)
    assert res.status == 0, res.err
    assert snapshot(image) == before
    return bundle, res.err


def test_bundle_vector(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle, err = unpack_vector(capsys, tmp_path / "bundle")
    assert err == ""
    expected = mtree_vector()
    ours = bundle / expected.name
    assert body(ours.read_bytes()) == body(expected.read_bytes())
    assert (bundle / "config.json").read_bytes() == (VECTOR / "config.json").read_bytes()
    assert (bundle / "umoci.json").read_bytes() == (VECTOR / "umoci.json").read_bytes()
    tree_line = ours.read_bytes().splitlines()[2]
    assert tree_line.endswith(os.fsencode(bundle / "rootfs"))


def test_bundle_vector_rootless(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle, _ = unpack_vector(capsys, tmp_path / "bundle", "--rootless")
    assert (bundle / "config.json").read_bytes() == (VECTOR / "config-rootless.json").read_bytes()
    assert (bundle / "umoci.json").read_bytes() == (VECTOR / "umoci-rootless.json").read_bytes()
    # The 1000:1000 directory's owner is recorded, not applied.
    rootfs = bundle / "rootfs"
    owned = [
        p
        for p in rootfs.rglob("*")
        if "user.rootlesscontainers" in os.listxattr(p, follow_symlinks=False)
    ]
    assert len(owned) == 1
    assert os.getxattr(owned[0], "user.rootlesscontainers") == bytes.fromhex("08e80710e807")
    assert {(p.lstat().st_uid, p.lstat().st_gid) for p in rootfs.rglob("*")} == {(0, 0)}
    # The character device became an empty regular file.
    null = rootfs / "dir/null"
    assert null.is_file()
    assert null.stat().st_size == 0
