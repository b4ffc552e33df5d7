"""Codec registry, round trips, reproducibility, trailing garbage, truncation."""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import os

import pytest
import zstandard
from isal import igzip_threaded

from umoci.compress import (
    CODECS,
    LAYER_MEDIA_TYPES,
    HashingReader,
    codec_for_media_type,
    drain,
    layer_media_type,
    open_compressor,
    open_decompressor,
)
from umoci.compress._gzip import GzipWriter, _FixHeader
from umoci.errors import LayerError

DATA = os.urandom(200_000) + b"compressible " * 300_000 + os.urandom(1000)


def compress(codec: str, data: bytes = DATA, step: int = 65536, **kw) -> bytes:
    out = io.BytesIO()
    with open_compressor(codec, out, **kw) as w:
        for i in range(0, len(data), step):
            w.write(data[i : i + step])
    return out.getvalue()


def decompress(media_type: str, blob: bytes, size: int = 65536) -> bytes:
    reader = open_decompressor(media_type, io.BytesIO(blob))
    parts = []
    while chunk := reader.read(size):
        assert len(chunk) <= size
        parts.append(chunk)
    return b"".join(parts)


def test_registry():
    assert set(CODECS) == {"none", "gzip", "zstd"}
    expected = {
        "application/vnd.oci.image.layer.v1.tar": "none",
        "application/vnd.oci.image.layer.v1.tar+gzip": "gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd": "zstd",
        "application/vnd.oci.image.layer.nondistributable.v1.tar": "none",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": "gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": "zstd",
        "application/vnd.docker.image.rootfs.diff.tar.gzip": "gzip",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": "gzip",
    }
    assert {k: v.name for k, v in LAYER_MEDIA_TYPES.items()} == expected
    assert layer_media_type("zstd") == "application/vnd.oci.image.layer.v1.tar+zstd"
    assert layer_media_type("none", nondistributable=True) == (
        "application/vnd.oci.image.layer.nondistributable.v1.tar"
    )
    with pytest.raises(LayerError, match="unsupported layer media type"):
        codec_for_media_type("application/vnd.oci.image.config.v1+json")
    with pytest.raises(LayerError, match="unknown compression"):
        open_compressor("bzip2", io.BytesIO())


@pytest.mark.parametrize("media_type", sorted(LAYER_MEDIA_TYPES))
def test_roundtrip_every_media_type(media_type):
    blob = compress(codec_for_media_type(media_type).name)
    assert decompress(media_type, blob) == DATA


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_output_is_reproducible(codec):
    reference = compress(codec, step=1 << 20, threads=1)
    assert compress(codec, step=777, threads=3) == reference
    assert compress(codec, step=len(DATA), threads=2) == reference


def _threaded_gzip(data: bytes, level: int, chunk: int) -> bytes:
    """What igzip_threaded itself writes for ``data`` in ``chunk`` blocks (header corrected)."""
    out = io.BytesIO()
    with igzip_threaded.open(
        _FixHeader(out), "wb", compresslevel=level, threads=1, block_size=chunk
    ) as gz:
        for i in range(0, len(data), chunk):
            gz.write(data[i : i + chunk])
    return out.getvalue()


@pytest.mark.parametrize("level", [0, 1, 2, 3])
@pytest.mark.parametrize("size", [0, 1, 1000, 4095, 4096, 4097, 20_000])
def test_one_block_gzip_is_igzip_threadeds_own_output(
    level: int, size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream of at most one block is compressed without threads, to the same bytes."""
    chunk = 4096
    data = (os.urandom(300) + b"compressible " * 2000)[:size]
    expected = _threaded_gzip(data, level, chunk)
    started = []
    real_writer = igzip_threaded._ThreadedGzipWriter
    monkeypatch.setattr(
        igzip_threaded,
        "_ThreadedGzipWriter",
        lambda *a, **kw: started.append(1) or real_writer(*a, **kw),
    )
    out = io.BytesIO()
    with GzipWriter(out, level=level, chunk_size=chunk) as w:
        for i in range(0, len(data), 1000):
            w.write(data[i : i + 1000])
    assert out.getvalue() == expected
    assert gzip.decompress(out.getvalue()) == data
    # Threads only from the second block on.
    assert bool(started) == (size > chunk)


def test_gzip_header_is_deterministic():
    blob = compress("gzip")
    assert blob[:10] == bytes([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF])
    assert gzip.decompress(blob) == DATA


def test_reads_other_producers():
    assert decompress(layer_media_type("gzip"), gzip.compress(DATA, mtime=123)) == DATA
    assert decompress(layer_media_type("zstd"), zstandard.compress(DATA)) == DATA
    # Concatenated members / frames are one stream.
    assert decompress(layer_media_type("gzip"), gzip.compress(b"a") + gzip.compress(b"b")) == b"ab"
    frames = zstandard.compress(b"a") + zstandard.compress(b"b")
    assert decompress(layer_media_type("zstd"), frames) == b"ab"


def test_zstd_skippable_frame():
    skippable = (0x184D2A53).to_bytes(4, "little") + (5).to_bytes(4, "little") + b"hello"
    blob = skippable + zstandard.compress(b"data") + skippable
    assert decompress(layer_media_type("zstd"), blob) == b"data"


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
@pytest.mark.parametrize(("garbage", "warns"), [(b"\0" * 1000, False), (b"junk\n" * 3, True)])
def test_trailing_garbage_tolerated(codec, garbage, warns, caplog):
    caplog.set_level(logging.DEBUG, logger="umoci")
    raw = io.BytesIO(compress(codec) + garbage)
    reader = open_decompressor(layer_media_type(codec), raw)
    assert drain(reader) == len(DATA)
    assert raw.read() == b""  # the garbage was consumed too
    assert reader.trailing_bytes == len(garbage)  # type: ignore[attr-defined]
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert bool(warned) == warns


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_truncated_stream_is_an_error(codec):
    blob = compress(codec)
    for cut in (1, 5, 10, 100, len(blob) // 2, len(blob) - 9, len(blob) - 1):
        with pytest.raises(LayerError, match=f"decompress {codec}"):
            decompress(layer_media_type(codec), blob[:cut])


def test_zstd_truncated_at_block_boundary():
    # zstandard alone reports a clean EOF here; the frame walker must not.
    blob = zstandard.ZstdCompressor(write_checksum=False).compress(os.urandom(300_000))
    # First block header right after the frame header; cut after that block.
    fhd = blob[4]
    header = 5 + (0 if fhd & 0x20 else 1) + [0, 1, 2, 4][fhd & 3] + [0, 2, 4, 8][fhd >> 6]
    block = int.from_bytes(blob[header : header + 3], "little")
    assert not block & 1  # not the last block
    cut = header + 3 + (block >> 3)
    with pytest.raises(LayerError, match="unexpected end"):
        decompress(layer_media_type("zstd"), blob[:cut])


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_corrupt_stream_is_an_error(codec):
    blob = bytearray(compress(codec))
    blob[len(blob) // 2] ^= 0xFF
    blob[len(blob) // 2 + 1] ^= 0xFF
    with pytest.raises(LayerError):
        decompress(layer_media_type(codec), bytes(blob))


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_output_bounded_per_read(codec):
    bomb = compress(codec, b"\0" * (64 << 20))
    reader = open_decompressor(layer_media_type(codec), io.BytesIO(bomb))
    assert len(reader.read(4096)) <= 4096
    assert len(reader.read()) <= 1 << 20  # "everything" still means one chunk


def test_hashing_reader():
    data = b"x" * 10_000 + b"trailing"
    reader = HashingReader(io.BytesIO(data))
    assert reader.read(100) == b"x" * 100
    assert reader.drain() == len(data) - 100
    assert reader.bytes_read == len(data)
    assert reader.digest() == "sha256:" + hashlib.sha256(data).hexdigest()


def test_compressor_close_keeps_file_open():
    out = io.BytesIO()
    for codec in CODECS:
        w = open_compressor(codec, out)
        w.write(b"abc")
        w.close()
        w.close()  # idempotent
        assert not out.closed
        with pytest.raises(ValueError, match="closed"):
            w.write(b"more")
