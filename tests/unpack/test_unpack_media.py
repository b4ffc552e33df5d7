"""Layer media types through ``umoci unpack``: OCI, nondistributable, zstd, Docker schema 2."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import zstandard
from imagekit import (
    ALL_LAYER_TYPES,
    DOCKER_FOREIGN_GZIP,
    DOCKER_GZIP,
    ND_ZSTD,
    OCI_GZIP,
    OCI_TAR,
    OCI_ZSTD,
    Layer,
    T,
    build_tar,
    check_bundle_files,
    tree,
    unpack_fails,
    unpack_ok,
    write_image,
)


def content() -> list:
    return [
        T.dir("etc"),
        T.reg("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
        T.reg("big", bytes(range(256)) * 1024),
        T.sym("link", "etc/passwd"),
        T.hard("hard", "big"),
    ]


def expect_content(rootfs: Path) -> None:
    assert (rootfs / "etc/passwd").read_bytes().startswith(b"root:")
    assert (rootfs / "big").read_bytes() == bytes(range(256)) * 1024
    assert (rootfs / "link").readlink() == Path("etc/passwd")
    assert (rootfs / "hard").stat().st_ino == (rootfs / "big").stat().st_ino


@pytest.mark.parametrize("media_type", ALL_LAYER_TYPES)
def test_every_layer_media_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], media_type: str
) -> None:
    image = write_image(tmp_path / "image", [Layer(build_tar(content()), media_type)])
    expect_content(unpack_ok(capsys, image, tmp_path / "bundle"))
    check_bundle_files(tmp_path / "bundle", image)


def test_media_types_mixed_in_one_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layers = [
        Layer(build_tar(content()), OCI_TAR),
        Layer(build_tar([T.reg("etc/gz", b"gz")]), OCI_GZIP),
        Layer(build_tar([T.reg("etc/zst", b"zst"), T.wh(".wh.link")]), OCI_ZSTD),
        Layer(build_tar([T.reg("etc/nd", b"nd")]), ND_ZSTD),
    ]
    rootfs = unpack_ok(capsys, write_image(tmp_path / "image", layers), tmp_path / "bundle")
    assert sorted(p.name for p in (rootfs / "etc").iterdir()) == ["gz", "nd", "passwd", "zst"]
    assert not (rootfs / "link").exists()


@pytest.mark.parametrize("media_type", [DOCKER_GZIP, DOCKER_FOREIGN_GZIP])
def test_docker_schema2_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], media_type: str
) -> None:
    config = {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin", "A=b"], "User": "root", "WorkingDir": "/etc"}
    image = write_image(
        tmp_path / "image",
        [
            Layer(build_tar(content()), media_type),
            Layer(build_tar([T.reg("x", b"x")]), DOCKER_GZIP),
        ],
        config=config,
        docker=True,
    )
    bundle = tmp_path / "bundle"
    rootfs = unpack_ok(capsys, image, bundle)
    expect_content(rootfs)
    assert (rootfs / "x").read_bytes() == b"x"
    check_bundle_files(bundle, image)
    process = json.loads((bundle / "config.json").read_bytes())["process"]
    assert process["args"] == ["/bin/sh"]
    assert process["cwd"] == "/etc"
    assert "A=b" in process["env"]
    walk = json.loads((bundle / "umoci.json").read_bytes())["from_descriptor_path"]
    assert walk["descriptor_walk"][-1]["digest"] == image.manifest_digest
    assert walk["descriptor_walk"][-1]["mediaType"] == (
        "application/vnd.docker.distribution.manifest.v2+json"
    )


@pytest.mark.parametrize(
    "trailer",
    [b"\0" * 1024, b"\0", b"\0" * 5000, b"garbage after the stream", b"\n"],
    ids=["1k-nul", "1-nul", "5k-nul", "text", "newline"],
)
@pytest.mark.parametrize("media_type", [OCI_GZIP, DOCKER_GZIP])
def test_trailing_bytes_after_gzip_are_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], trailer: bytes, media_type: str
) -> None:
    tar = build_tar(content())
    blob = gzip.compress(tar, mtime=0) + trailer
    image = write_image(tmp_path / "image", [Layer(tar, media_type, blob=blob)])
    expect_content(unpack_ok(capsys, image, tmp_path / "bundle"))
    # The trailer is part of the blob and so of its digest: changing it is caught.
    path = image.blob_path(image.layer_digests[0])
    path.write_bytes(blob[:-1] + bytes([blob[-1] ^ 0xFF]))
    message = unpack_fails(capsys, image, tmp_path / "bundle2")
    assert image.layer_digests[0] in message


def test_trailing_nuls_after_zstd_are_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tar = build_tar(content())
    blob = zstandard.ZstdCompressor().compress(tar) + b"\0" * 512
    image = write_image(tmp_path / "image", [Layer(tar, OCI_ZSTD, blob=blob)])
    expect_content(unpack_ok(capsys, image, tmp_path / "bundle"))


@pytest.mark.parametrize("media_type", [OCI_TAR, OCI_GZIP, OCI_ZSTD])
def test_empty_layers(tmp_path: Path, capsys: pytest.CaptureFixture[str], media_type: str) -> None:
    # A zero-byte tar and one holding only the end-of-archive blocks.
    layers = [Layer(b"", media_type), Layer(build_tar([]), media_type)]
    rootfs = unpack_ok(capsys, write_image(tmp_path / "image", layers), tmp_path / "bundle")
    assert list(rootfs.iterdir()) == []


def test_uncompressed_data_after_the_tar_end_is_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The diff_id covers the whole uncompressed stream, padding included.
    tar = build_tar(content()) + b"\0" * 10240
    image = write_image(tmp_path / "image", [Layer(tar, OCI_GZIP)])
    expect_content(unpack_ok(capsys, image, tmp_path / "bundle"))


def test_same_content_any_compression_same_tree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tar = build_tar(content())
    trees = []
    for i, media_type in enumerate(ALL_LAYER_TYPES):
        image = write_image(tmp_path / f"image{i}", [Layer(tar, media_type)])
        trees.append(tree(unpack_ok(capsys, image, tmp_path / f"bundle{i}"), mtimes=False))
    assert all(t == trees[0] for t in trees)
