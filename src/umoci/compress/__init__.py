"""Layer compression: one registry of codecs, keyed by name and by media type.

::

    open_decompressor(media_type, raw)  -> reader of the uncompressed tar
    open_compressor(codec, raw)         -> writer producing the compressed blob
    codec_for_media_type(media_type)    -> Codec (name, media-type suffix, ...)
    layer_media_type(codec, ...)        -> the OCI media type for new layers

Readers return at most ``n`` bytes per ``read(n)`` (memory stays flat even
for compression bombs), raise :class:`~umoci.errors.LayerError` on truncated
or corrupt data, and skip (with a warning) trailing garbage after the last
compressed frame.  Writers cut their input into fixed-size chunks so the
compressed bytes are reproducible whatever the caller's write pattern.  The
registry is a plain dict, as in httpx: adding a codec is one entry.

Internal: this package and its modules are not part of the public API, which is
:mod:`umoci.api`; they may change in any release.
"""

from __future__ import annotations

from collections.abc import Callable

from umoci.compress._gzip import GzipReader, GzipWriter
from umoci.compress._writer import ChunkedWriter, PlainWriter
from umoci.compress._zstd import ZstdReader, ZstdWriter
from umoci.compress.streams import CHUNK_SIZE, ByteReader, ByteWriter, HashingReader, drain
from umoci.errors import LayerError
from umoci.structs import dataclass

__all__ = [
    "CHUNK_SIZE",
    "CODECS",
    "LAYER_MEDIA_TYPES",
    "ByteReader",
    "ByteWriter",
    "ChunkedWriter",
    "Codec",
    "HashingReader",
    "codec_for_media_type",
    "drain",
    "layer_media_type",
    "open_compressor",
    "open_decompressor",
]


class _PlainReader:
    """Uncompressed layers: hand reads straight through."""

    def __init__(self, raw: ByteReader) -> None:
        self._raw = raw
        self.trailing_bytes = 0

    def read(self, size: int = -1, /) -> bytes:
        return self._raw.read(CHUNK_SIZE if size < 0 else size)


def _plain_writer(
    raw: ByteWriter, *, level: int | None = None, threads: int | None = None
) -> ChunkedWriter:
    del level, threads  # nothing to tune
    return PlainWriter(raw)


@dataclass(frozen=True)
class Codec:
    """One compression format.

    ``media_suffix`` is what follows ``...layer.v1.tar`` in the OCI media type
    (``""``, ``"+gzip"``, ``"+zstd"``).
    """

    name: str
    media_suffix: str
    reader: Callable[[ByteReader], ByteReader]
    writer: Callable[..., ChunkedWriter]


NONE = Codec("none", "", _PlainReader, _plain_writer)
GZIP = Codec("gzip", "+gzip", GzipReader, GzipWriter)
ZSTD = Codec("zstd", "+zstd", ZstdReader, ZstdWriter)

#: Codecs by the name ``repack --compress`` uses.
CODECS: dict[str, Codec] = {c.name: c for c in (NONE, GZIP, ZSTD)}

_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
_OCI_LAYER_NONDIST = "application/vnd.oci.image.layer.nondistributable.v1.tar"

#: Every layer media type we can read, and its codec.
LAYER_MEDIA_TYPES: dict[str, Codec] = {
    **{_OCI_LAYER + c.media_suffix: c for c in CODECS.values()},
    **{_OCI_LAYER_NONDIST + c.media_suffix: c for c in CODECS.values()},
    # Docker schema 2 layers (always gzip; "foreign" is Docker's nondistributable).
    "application/vnd.docker.image.rootfs.diff.tar.gzip": GZIP,
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": GZIP,
}


def codec_for_media_type(media_type: str) -> Codec:
    """The codec of a layer media type; LayerError if it is not a layer we know."""
    try:
        return LAYER_MEDIA_TYPES[media_type]
    except KeyError:
        raise LayerError(f"unsupported layer media type: {media_type}") from None


def layer_media_type(codec: str | Codec, *, nondistributable: bool = False) -> str:
    """The OCI media type for a new layer compressed with ``codec``."""
    c = _codec(codec)
    return (_OCI_LAYER_NONDIST if nondistributable else _OCI_LAYER) + c.media_suffix


def open_decompressor(media_type: str, raw: ByteReader) -> ByteReader:
    """A reader of the uncompressed tar stream inside a layer blob.

    ``raw`` should already be capped at the descriptor's size: trailing bytes
    after the compressed stream are read (to check and discard them) up to
    its EOF.
    """
    return codec_for_media_type(media_type).reader(raw)


def open_compressor(
    codec: str | Codec,
    raw: ByteWriter,
    *,
    level: int | None = None,
    threads: int | None = None,
) -> ChunkedWriter:
    """A writer that compresses into ``raw``; call ``close()`` to finish the stream.

    ``close()`` does not close ``raw``.  ``threads`` only changes speed, never
    the output bytes.
    """
    return _codec(codec).writer(raw, level=level, threads=threads)


def _codec(codec: str | Codec) -> Codec:
    if isinstance(codec, Codec):
        return codec
    try:
        return CODECS[codec]
    except KeyError:
        raise LayerError(
            f"unknown compression {codec!r}: want one of {', '.join(CODECS)}"
        ) from None
