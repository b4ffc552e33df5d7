"""Writing a new layer blob: tar producer → diff_id hash → compressor → blob file.

The tar bytes are hashed (the diff_id) on their way into the compressor,
which writes straight into a blob temp file in the layout, so neither the
tar nor the compressed blob is ever held in memory.  The layer descriptor
carries the uncompressed size annotation the Go umoci writes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass

from umoci.cas.dir import DirStore
from umoci.compress import CODECS, Codec, codec_for_media_type, layer_media_type, open_compressor
from umoci.compress.streams import ByteWriter
from umoci.errors import LayerError, UsageError
from umoci.oci import mediatypes
from umoci.oci.models import Descriptor, Manifest
from umoci.oci.timefmt import source_date_epoch

UNCOMPRESSED_SIZE_ANNOTATION = "ci.umo.uncompressed_blob_size"
COMPRESS_CHOICES = ("auto", *CODECS)


@dataclass(frozen=True)
class NewLayer:
    descriptor: Descriptor
    diff_id: str


class _DiffIdSink:
    """Hash and count the uncompressed tar, then pass it to the compressor."""

    def __init__(self, downstream: ByteWriter) -> None:
        self._downstream = downstream
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes, /) -> int:
        self.hash.update(data)
        self.size += len(data)
        self._downstream.write(data)
        return len(data)


def choose_codec(compress: str, manifest: Manifest) -> Codec:
    """``--compress``: a codec by name, or ``auto`` = the newest compressed layer's (else gzip)."""
    if compress == "auto":
        for layer in reversed(manifest.layers):
            try:
                codec = codec_for_media_type(layer.media_type)
            except LayerError:  # foreign layer types simply do not count
                continue
            if codec.name != "none":
                return codec
        return CODECS["gzip"]
    try:
        return CODECS[compress]
    except KeyError:
        raise UsageError(
            f"unknown --compress value {compress!r}: want one of {', '.join(COMPRESS_CHOICES)}"
        ) from None


def media_type_for(codec: Codec, manifest_media_type: str) -> str:
    # A Docker schema 2 manifest may only list Docker layer types.
    if manifest_media_type == mediatypes.DOCKER_MANIFEST and codec.name == "gzip":
        return mediatypes.DOCKER_LAYER_GZIP
    return layer_media_type(codec)


def write_layer(
    store: DirStore,
    codec: Codec,
    media_type: str,
    produce: Callable[[ByteWriter], object],
) -> NewLayer:
    """Run *produce* (which writes a tar stream) into a new compressed layer blob."""
    writer = store.blob_writer()
    with writer:
        compressor = open_compressor(codec, writer, threads=min(4, os.cpu_count() or 1))
        sink = _DiffIdSink(compressor)
        produce(sink)
        compressor.close()
        descriptor = writer.commit(
            media_type, annotations={UNCOMPRESSED_SIZE_ANNOTATION: str(sink.size)}
        )
    return NewLayer(descriptor, f"sha256:{sink.hash.hexdigest()}")


def clamp_time() -> int | None:
    """``SOURCE_DATE_EPOCH`` in seconds: file times newer than it are clamped to it."""
    sde = source_date_epoch()
    return None if sde is None else sde.unix_ns // 1_000_000_000
