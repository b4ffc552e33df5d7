"""Writing a new layer blob: tar producer → diff_id hash → compressor → blob file.

The tar bytes are hashed (the diff_id) on their way into the compressor,
which writes straight into a blob temp file in the layout, so neither the
tar nor the compressed blob is ever held in memory.  The layer descriptor
carries the uncompressed size annotation the Go umoci writes.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections.abc import Callable

from umoci import progress
from umoci.cas.dir import DirStore
from umoci.compress import CODECS, Codec, codec_for_media_type, layer_media_type, open_compressor
from umoci.compress.streams import ByteWriter
from umoci.errors import LayerError
from umoci.oci import mediatypes
from umoci.oci.models import Descriptor, Manifest
from umoci.oci.timefmt import source_date_epoch
from umoci.ops.options import Compression
from umoci.structs import dataclass

UNCOMPRESSED_SIZE_ANNOTATION = "ci.umo.uncompressed_blob_size"
#: Pieces (1 MiB each from the tar writer) written but not yet hashed, at most.
_HASH_BACKLOG = 32


@dataclass(frozen=True)
class NewLayer:
    descriptor: Descriptor
    diff_id: str


class _DiffIdSink:
    """Hash and count the uncompressed tar, then pass it to the compressor.

    The sha256 runs in a helper thread (hashlib lets go of the GIL for
    large buffers), so hashing overlaps producing the next piece of tar
    instead of adding to it.  Pieces are hashed in the order written;
    :meth:`finish` waits for the hash to catch up.
    """

    def __init__(self, downstream: ByteWriter) -> None:
        self._downstream = downstream
        self._progress = progress.current()
        self.hash = hashlib.sha256()
        self.size = 0
        # Bounded, so a starved hash thread holds back the producer rather
        # than letting the tar pile up in memory.
        self._pending: queue.Queue[bytes | None] = queue.Queue(maxsize=_HASH_BACKLOG)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="diff-id", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        update = self.hash.update
        get = self._pending.get
        try:
            while (data := get()) is not None:
                update(data)
        except BaseException as e:  # (MemoryError): reported by finish()
            self._error = e
            while get() is not None:  # keep draining: write() must never block for good
                pass

    def write(self, data: bytes, /) -> int:
        # The helper reads the data later: it must not change meanwhile.
        piece = data if type(data) is bytes else bytes(data)
        self._pending.put(piece)
        self.size += len(piece)
        self._downstream.write(piece)
        self._progress.add(len(piece))
        return len(piece)

    def finish(self) -> str:
        """Wait for the hash to see every piece; the diff_id."""
        if self._thread.is_alive():
            self._pending.put(None)
            self._thread.join()
        if self._error is not None:
            raise LayerError(f"hash layer: {self._error!r}") from self._error
        return f"sha256:{self.hash.hexdigest()}"


def choose_codec(compress: Compression, manifest: Manifest) -> Codec:
    """The codec for a new layer: *compress*'s, or for ``AUTO`` the newest compressed layer's.

    ``AUTO`` falls back to gzip when no layer is compressed (or known).
    """
    if compress is not Compression.AUTO:
        return CODECS[compress.value]
    for layer in reversed(manifest.layers):
        try:
            codec = codec_for_media_type(layer.media_type)
        except LayerError:  # foreign layer types simply do not count
            continue
        if codec.name != "none":
            return codec
    return CODECS["gzip"]


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
    progress.current().start("new layer (uncompressed bytes)")
    with writer:
        compressor = open_compressor(codec, writer, threads=min(4, os.cpu_count() or 1))
        sink = _DiffIdSink(compressor)
        try:
            produce(sink)
        finally:
            diff_id = sink.finish()
        compressor.close()
        descriptor = writer.commit(
            media_type, annotations={UNCOMPRESSED_SIZE_ANNOTATION: str(sink.size)}
        )
    return NewLayer(descriptor, diff_id)


def clamp_time() -> int | None:
    """``SOURCE_DATE_EPOCH`` in seconds: file times newer than it are clamped to it."""
    sde = source_date_epoch()
    return None if sde is None else sde.unix_ns // 1_000_000_000
