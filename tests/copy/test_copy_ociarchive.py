"""``oci-archive:``: layouts in tar archives, written atomically and read without extracting."""

from __future__ import annotations

import bz2
import gzip
import io
import itertools
import lzma
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import zstandard
from copykit import (
    blob_path,
    copy_fails,
    entry,
    manifest,
    read_blob,
    tar_member,
    tar_names,
    tree,
    two_layer_image,
    umoci_ok,
)

from multikit import three_platforms


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return two_layer_image(tmp_path, tmp_path / "src", "v1")


def test_round_trip_keeps_every_byte(source: Path, tmp_path: Path) -> None:
    archive = tmp_path / "image.tar"
    umoci_ok("copy", f"oci:{source}:v1", f"oci-archive:{archive}:v1")
    names = tar_names(archive)
    assert names[0] == "oci-layout"
    assert names[-1] == "index.json"
    digest = entry(source, "v1")["digest"]
    assert f"blobs/sha256/{digest[7:]}" in names
    back = tmp_path / "back"
    umoci_ok("copy", f"oci-archive:{archive}:v1", f"oci:{back}:v1")
    assert entry(back, "v1")["digest"] == digest
    plain = tmp_path / "plain"
    umoci_ok("copy", f"oci:{source}:v1", f"oci:{plain}:v1")
    assert tree(back / "blobs") == tree(plain / "blobs")


def test_archives_are_reproducible(source: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "1.tar", tmp_path / "2.tar"
    umoci_ok("copy", f"oci:{source}:v1", f"oci-archive:{first}:v1")
    umoci_ok("copy", f"oci:{source}:v1", f"oci-archive:{second}:v1")
    assert first.read_bytes() == second.read_bytes()


def test_all_keeps_an_index_byte_identical(tmp_path: Path) -> None:
    """The acceptance test: oci: -> oci-archive: -> oci: with --all changes no byte."""
    multi = three_platforms(tmp_path)
    archive = tmp_path / "multi.tar"
    umoci_ok("copy", "--all", f"oci:{multi}:multi", f"oci-archive:{archive}:multi")
    back = tmp_path / "back"
    umoci_ok("copy", "--all", f"oci-archive:{archive}:multi", f"oci:{back}:multi")
    top = entry(multi, "multi")["digest"]
    assert entry(back, "multi")["digest"] == top
    children = read_blob(back, top)["manifests"]
    assert len(children) == 3
    for child in children:
        digest = child["digest"]
        for blob in (digest, read_blob(back, digest)["config"]["digest"]):
            assert (back / "blobs" / "sha256" / blob[7:]).read_bytes() == (
                multi / "blobs" / "sha256" / blob[7:]
            ).read_bytes()
    one = tmp_path / "one"
    umoci_ok("copy", "--platform", "linux/s390x", f"oci-archive:{archive}:multi", f"oci:{one}:s")
    assert entry(one, "s")["digest"] == entry(multi, "s390x")["digest"]


def test_an_existing_file_is_replaced_only_on_success(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """KIWI deletes FILE first because skopeo cannot overwrite it; we replace it atomically."""
    archive = tmp_path / "out.tar"
    archive.write_bytes(b"previous contents")
    umoci_ok("copy", f"oci:{source}:v1", f"oci-archive:{archive}:v1")
    assert "index.json" in tar_names(archive)
    before = archive.read_bytes()
    layer = source / "blobs" / "sha256" / manifest(source, "v1")["layers"][0]["digest"][7:]
    layer.write_bytes(layer.read_bytes()[:-1])  # a truncated blob in the source
    assert "digest mismatch" in copy_fails(capsys, f"oci:{source}:v1", f"oci-archive:{archive}:v2")
    assert archive.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["extra-v1", "out.tar", "src", "tree-v1"]
    missing = tmp_path / "missing.tar"
    copy_fails(capsys, f"oci:{source}:v1", f"oci-archive:{missing}:v1")
    assert not missing.exists()


def test_standard_input_and_output(source: Path, tmp_path: Path) -> None:
    umoci = [sys.executable, "-m", "umoci"]
    out = subprocess.run(
        [*umoci, "copy", f"oci:{source}:v1", "oci-archive:-:v1"],
        capture_output=True,
        check=True,
    ).stdout
    file = tmp_path / "file.tar"
    umoci_ok("copy", f"oci:{source}:v1", f"oci-archive:{file}:v1")
    assert out == file.read_bytes()
    back = tmp_path / "back"
    subprocess.run(
        [*umoci, "copy", "oci-archive:-", f"oci:{back}:from-stdin"], input=out, check=True
    )
    assert entry(back, "from-stdin")["digest"] == entry(source, "v1")["digest"]


def test_a_failed_copy_to_standard_output_stops_before_the_index(
    source: Path, tmp_path: Path
) -> None:
    """Streamed bytes cannot be taken back: what was sent is no archive any reader loads."""
    big = tmp_path / "big"
    big.write_bytes(os.urandom(3 << 20))  # more than the tar writer's buffer: it streams
    umoci_ok("insert", "--image", f"{source}:v1", big, "/big")
    layer = blob_path(source, manifest(source, "v1")["layers"][-1]["digest"])
    layer.write_bytes(layer.read_bytes()[:-1] + b"!")  # wrong only at its very end
    result = subprocess.run(
        [sys.executable, "-m", "umoci", "copy", f"oci:{source}:v1", "oci-archive:-:v1"],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 1
    assert b"digest mismatch" in result.stderr
    assert len(result.stdout) > 1 << 20  # the bad layer's bytes went out as they came
    assert b"index.json" not in result.stdout
    with (
        tarfile.open(fileobj=io.BytesIO(result.stdout)) as archive,
        pytest.raises(tarfile.ReadError),
    ):
        archive.getmembers()  # it stops short: no end-of-archive blocks either


@pytest.mark.parametrize(
    "compress",
    [gzip.compress, lzma.compress, zstandard.ZstdCompressor().compress],
    ids=["gzip", "xz", "zstd"],
)
def test_compressed_archives_are_read(source: Path, tmp_path: Path, compress: object) -> None:
    plain = tmp_path / "image.tar"
    umoci_ok("copy", f"oci:{source}:v1", f"oci-archive:{plain}:v1")
    packed = tmp_path / "image.tar.x"
    packed.write_bytes(compress(plain.read_bytes()))  # type: ignore[operator]
    back = tmp_path / "back"
    umoci_ok("copy", "--tmpdir", tmp_path, f"oci-archive:{packed}:v1", f"oci:{back}:v1")
    assert entry(back, "v1")["digest"] == entry(source, "v1")["digest"]
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["back", "extra-v1", "image.tar", "image.tar.x", "src", "tree-v1"]
    )  # the spooled copy is gone


def test_additional_tags_and_index(source: Path, tmp_path: Path) -> None:
    archive = tmp_path / "image.tar"
    umoci_ok("copy", "--additional-tag", "latest", f"oci:{source}:v1", f"oci-archive:{archive}:v1")
    index = index_json_of(archive)
    assert [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]] == [
        "v1",
        "latest",
    ]
    for tag in ("v1", "latest"):
        back = tmp_path / tag
        umoci_ok("copy", f"oci-archive:{archive}:{tag}", f"oci:{back}:x")
        assert entry(back, "x")["digest"] == entry(source, "v1")["digest"]


def index_json_of(archive: Path) -> dict[str, object]:
    import json

    value: dict[str, object] = json.loads(tar_member(archive, "index.json"))
    return value


def test_a_layout_archive_needs_its_oci_layout_file(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "dest"
    two_layer_image(tmp_path, dest, "keep")
    before = tree(dest)
    not_a_tar = tmp_path / "junk.tar"
    not_a_tar.write_bytes(os.urandom(2000))
    assert "junk.tar" in copy_fails(capsys, f"oci-archive:{not_a_tar}", f"oci:{dest}:keep")
    empty = tmp_path / "empty.tar"
    empty.write_bytes(bytes(1024))
    assert "no oci-layout" in copy_fails(capsys, f"oci-archive:{empty}", f"oci:{dest}:keep")
    assert "open" in copy_fails(capsys, f"oci-archive:{tmp_path / 'nope'}", f"oci:{dest}:keep")
    assert "is a directory" in copy_fails(capsys, f"oci-archive:{tmp_path}", f"oci:{dest}:keep")
    assert tree(dest) == before


@pytest.mark.parametrize("codec", ["xz", "bzip2"])
def test_multi_stream_archives_are_read_whole(source: Path, tmp_path: Path, codec: str) -> None:
    """pixz, pbzip2 and lbzip2 write several streams, which xz, bzip2 and GNU tar read as one."""
    compress = lzma.compress if codec == "xz" else bz2.compress
    plain = tmp_path / "image.tar"
    umoci_ok("copy", f"oci:{source}:v1", f"oci-archive:{plain}:v1")
    data = plain.read_bytes()
    cuts = [0, 10_000, len(data) // 2, len(data)]
    streams = [compress(data[a:b]) for a, b in itertools.pairwise(cuts)]
    packed = tmp_path / "image.tar.x"
    # xz allows NUL padding (a multiple of 4 bytes) between streams and after the last.
    packed.write_bytes((b"\0" * 8 if codec == "xz" else b"").join(streams) + b"\0" * 4)
    back = tmp_path / "back"
    umoci_ok("copy", f"oci-archive:{packed}:v1", f"oci:{back}:v1")
    assert entry(back, "v1")["digest"] == entry(source, "v1")["digest"]


@pytest.mark.parametrize("codec", ["xz", "bzip2"])
def test_damaged_xz_and_bzip2_archives_fail_in_one_line(
    source: Path, tmp_path: Path, codec: str, capsys: pytest.CaptureFixture[str]
) -> None:
    compress = lzma.compress if codec == "xz" else bz2.compress
    plain = tmp_path / "image.tar"
    umoci_ok("copy", f"oci:{source}:v1", f"oci-archive:{plain}:v1")
    packed = bytearray(compress(plain.read_bytes()))
    corrupt = tmp_path / "corrupt.tar.x"
    packed[len(packed) // 2] ^= 0xFF
    corrupt.write_bytes(packed)
    line = copy_fails(capsys, f"oci-archive:{corrupt}:v1", f"oci:{tmp_path / 'a'}:v1")
    assert f"corrupt.tar.x:v1: decompress {codec}: " in line
    cut = tmp_path / "cut.tar.x"
    cut.write_bytes(compress(plain.read_bytes())[:-100])
    line = copy_fails(capsys, f"oci-archive:{cut}:v1", f"oci:{tmp_path / 'a'}:v1")
    assert line.endswith(f"cut.tar.x:v1: decompress {codec}: unexpected end of stream")
    assert not (tmp_path / "a").exists()


def test_trailing_garbage_after_the_last_stream_is_skipped_with_a_warning(
    source: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """As gzip archives and layers are read: the archive ends where the last stream does."""
    plain = tmp_path / "image.tar"
    umoci_ok("copy", f"oci:{source}:v1", f"oci-archive:{plain}:v1")
    packed = tmp_path / "image.tar.xz"
    packed.write_bytes(lzma.compress(plain.read_bytes()) + b"garbage")
    umoci_ok("copy", f"oci-archive:{packed}:v1", f"oci:{tmp_path / 'back'}:v1")
    assert "ignoring 7 trailing bytes after the xz stream" in caplog.text
