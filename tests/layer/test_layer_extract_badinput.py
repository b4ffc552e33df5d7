"""Broken or hostile archives fail with a LayerError and a clear message, never a hang."""

from __future__ import annotations

import io
import tarfile

import pytest
from layerkit import build_fixture, env_fixture, t_fixture  # noqa: F401 (fixtures)

from umoci.compress import HashingReader, open_decompressor
from umoci.errors import LayerError, UmociError
from umoci.layer.extract import LayerExtractor


def good_tar(t, build):
    return build([t.dir("d"), t.reg("d/f", b"x" * 3000), t.reg("g", b"y" * 10)])


def apply_bytes(env, data: bytes) -> int:
    return LayerExtractor(env.rootfs).apply(io.BytesIO(data))


def test_corrupt_header_checksum(env, t, build):
    data = bytearray(good_tar(t, build))
    # Corrupt the third header block (after the first entries).
    offset = data.index(b"g\0")
    data[offset + 100] ^= 0x55
    with pytest.raises(LayerError, match="bad checksum"):
        apply_bytes(env, bytes(data))


def test_truncated_in_file_data(env, t, build):
    data = good_tar(t, build)
    cut = data.index(b"x" * 100) + 1000
    with pytest.raises(LayerError, match="unexpected end of stream in file data"):
        apply_bytes(env, data[:cut])


def test_truncated_in_header(env, t, build):
    data = good_tar(t, build)
    cut = data.index(b"g\0") + 200
    with pytest.raises(LayerError, match="unexpected end of stream"):
        apply_bytes(env, data[:cut])


def test_missing_end_of_archive_is_accepted(env, t, build):
    data = good_tar(t, build)
    end = data.index(b"y" * 10) + 512
    assert apply_bytes(env, data[:end]) == 3


def test_garbage_is_not_a_tar(env):
    with pytest.raises(LayerError, match="corrupt header"):
        apply_bytes(env, b"this is not a tar archive" * 100)


def test_unknown_typeflag(env, t, build):
    e = t.reg("weird", b"")
    e.info.type = b"Z"

    with pytest.raises(LayerError, match="unknown typeflag 'Z'"):
        apply_bytes(env, build([e], fmt=tarfile.USTAR_FORMAT))


def test_nul_in_pax_path(env, t, build):
    e = t.reg("x", b"")
    e.info.pax_headers = {"path": "a\0b"}

    with pytest.raises(LayerError, match="NUL"):
        apply_bytes(env, build([e]))


@pytest.mark.parametrize("media", ["gzip", "zstd"])
def test_truncated_compressed_layer(env, t, build, media):
    from umoci.compress import layer_media_type, open_compressor

    out = io.BytesIO()
    with open_compressor(media, out) as w:
        w.write(good_tar(t, build))
    blob = out.getvalue()
    mt = layer_media_type(media)
    for cut in (len(blob) // 2, len(blob) - 3):
        with pytest.raises(LayerError):
            LayerExtractor(env.rootfs).apply(open_decompressor(mt, io.BytesIO(blob[:cut])))


def test_errors_are_umoci_errors_with_context(env, t, build):

    # A hardlink to a directory: the kernel refuses (EPERM).
    with pytest.raises(UmociError) as info:
        apply_bytes(env, build([t.dir("d"), t.hard("h", "d")]))
    assert str(info.value).startswith("unpack entry h: hardlink to d: ")


def test_diff_id_covers_trailing_bytes(env, t, build):
    import hashlib

    data = good_tar(t, build) + b"\0" * 4096 + b"junk"
    reader = HashingReader(io.BytesIO(data))
    LayerExtractor(env.rootfs).apply(reader)
    assert reader.digest() == "sha256:" + hashlib.sha256(data).hexdigest()
