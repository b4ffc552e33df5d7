"""Byte-for-byte agreement with the bundle vector the Go umoci 0.6 wrote (tests/vectors/bundle)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from conftest import VECTORS as ALL_VECTORS
from umoci.idmap import IdMap
from umoci.oci.models import Descriptor, ImageConfig
from umoci.runtime import (
    config_bytes,
    parse_umoci_json,
    read_bundle_meta,
    rootfs_opener,
    runtime_config,
    umoci_json,
    write_bundle_meta,
    write_config,
)

VECTORS = ALL_VECTORS / "bundle"

# `umoci unpack --rootless` run as root maps container 0 to host 0.
ROOTLESS_MAP = (IdMap(0, 0, 1),)


def _blob(digest: str) -> Any:
    algorithm, hexdigest = digest.split(":", 1)
    return json.loads((VECTORS / "image" / "blobs" / algorithm / hexdigest).read_bytes())


@pytest.fixture
def manifest_descriptor() -> Descriptor:
    index = json.loads((VECTORS / "image" / "index.json").read_bytes())
    return Descriptor.from_json(index["manifests"][0])


@pytest.fixture
def image_config(manifest_descriptor: Descriptor) -> ImageConfig:
    manifest = _blob(manifest_descriptor.digest)
    return ImageConfig.from_json(_blob(manifest["config"]["digest"]))


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    # The vector's rootfs has no /etc at all.
    root = tmp_path / "rootfs"
    root.mkdir()
    return root


def test_config_json_rootful(image_config: Any, rootfs: Path, tmp_path: Path) -> None:
    spec = runtime_config(image_config, rootfs_opener=rootfs_opener(str(rootfs)))
    expected = (VECTORS / "config.json").read_bytes()
    assert config_bytes(spec) == expected
    out = tmp_path / "config.json"
    write_config(str(out), spec)
    assert out.read_bytes() == expected


def test_config_json_rootless(image_config: Any, rootfs: Path) -> None:
    spec = runtime_config(
        image_config,
        rootfs_opener=rootfs_opener(str(rootfs)),
        rootless=True,
        uid_maps=ROOTLESS_MAP,
        gid_maps=ROOTLESS_MAP,
        # The vector host's /etc/resolv.conf mount had no locked flags.
        mount_flags=lambda path: [],
    )
    assert config_bytes(spec) == (VECTORS / "config-rootless.json").read_bytes()


def test_umoci_json_rootful(manifest_descriptor: Descriptor, tmp_path: Path) -> None:
    data = umoci_json([manifest_descriptor], rootless=False, uid_maps=(), gid_maps=())
    expected = (VECTORS / "umoci.json").read_bytes()
    assert data == expected
    meta = parse_umoci_json(expected)
    assert meta.to_json() == expected
    write_bundle_meta(str(tmp_path), meta)
    assert (tmp_path / "umoci.json").read_bytes() == expected
    assert read_bundle_meta(str(tmp_path)) == meta


def test_umoci_json_rootless(manifest_descriptor: Descriptor) -> None:
    data = umoci_json(
        [manifest_descriptor], rootless=True, uid_maps=ROOTLESS_MAP, gid_maps=ROOTLESS_MAP
    )
    expected = (VECTORS / "umoci-rootless.json").read_bytes()
    assert data == expected
    meta = parse_umoci_json(expected)
    assert meta.rootless
    assert meta.uid_maps == ROOTLESS_MAP
    assert meta.gid_maps == ROOTLESS_MAP
    assert meta.to_json() == expected


def test_written_config_mode_follows_umask(image_config: Any, tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        out = tmp_path / "config.json"
        write_config(str(out), runtime_config(image_config, rootfs_opener=None, root_path="rootfs"))
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # no temp file left
