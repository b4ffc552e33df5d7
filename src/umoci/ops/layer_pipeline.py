"""All of an image's layers read, verified and parsed in background threads.

Unpacking has two kinds of work.  Producing entries: reading each blob,
checking its digest, decompressing, hashing the diff_id, parsing tar headers
and (for the bundle's mtree) hashing every regular file's data.  Applying
them: system calls and the Python around them.  The first kind runs here,
ahead of the second: per layer a :class:`~umoci.compress.streams.Prefetcher`
thread reads, verifies, decompresses and hashes the diff_id, and one
producer thread parses headers and hashes files; the caller's thread
applies, through :class:`LayerEntries` (the
:class:`~umoci.layer.tarstream.TarReader` interface the extractor reads
from).

The producer goes through the layers in order and does not stop at a layer's
end: while layer N is still being applied it already decompresses, verifies
and parses layer N+1, as far as the bounded queue lets it (``depth`` batches
of at most ~1 MiB of data or 512 entries each), so memory stays flat
whatever the layer sizes.  Nothing about the order of application changes:
the consumer sees exactly the entries of layer 1, then an end of layer once
layer 1's blob digest, size and diff_id were verified, then layer 2's, and so
on.  An error found ahead (a bad digest in layer 3) is raised only when the
consumer reaches that point of the stream, so every earlier layer is applied
exactly as before.  ``read_ahead=False`` makes the producer wait at each
layer boundary until the consumer got there (tests compare the two).

Why batches: one queue hand-off costs a few microseconds of Python and a
lock round trip, more than applying a small entry's header; a batch per
~512 entries makes that cost vanish.  Why hash files here: sha256 in C
releases the interpreter lock, so it runs beside the consumer's system
calls instead of on the consumer's critical path.  What this does not
buy: the tar parsing is Python, so it shares one interpreter lock with the
consumer; for layers of tiny files the two mostly take turns (measured on
200,000 files: the consumer's own Python time fell by ~1 s and it waited
~2 s for the lock or for batches, about what parsing costs).
"""

from __future__ import annotations

import hashlib
import queue
import threading

from umoci import progress
from umoci.closing import Closing
from umoci.compress import HashingReader, open_decompressor
from umoci.compress.streams import Prefetcher, put_unless_stopped
from umoci.errors import LayerError
from umoci.layer.tarstream import EntryKind, TarHeader, TarReader
from umoci.structs import dataclass

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import Any

    from umoci.cas.dir import DirStore
    from umoci.oci.models import Descriptor

#: Default number of batches in flight (each at most ~1 MiB of file data).
DEFAULT_DEPTH = 16
_BATCH_BYTES = 1 << 20
_BATCH_ENTRIES = 512
_EMPTY_SHA256 = hashlib.sha256().hexdigest()


@dataclass(frozen=True)
class _LayerEnd:
    """The producer's word that a layer was read to its end and verified."""

    entries: int
    trailing: int  # bytes after the tar archive


class _FileEnd(str):
    """The sha256 (hex, or "" when not hashing) that closes a regular file's data."""

    __slots__ = ()


class LayerPipeline(Closing):
    """Read ``layers`` (with their ``diff_ids``) of ``store`` in a producer thread.

    Iterate with :meth:`layer` once per layer, in order: each call returns
    the reader for the next layer's entries.  ``hash_files`` makes the
    producer hash every regular file (``data_sha256`` after its chunks).
    """

    def __init__(
        self,
        store: DirStore,
        layers: Sequence[Descriptor],
        diff_ids: Sequence[str],
        *,
        hash_files: bool,
        read_ahead: bool = True,
        depth: int = DEFAULT_DEPTH,
    ) -> None:
        if len(layers) != len(diff_ids):
            raise ValueError("one diff_id per layer")
        self._store = store
        self._layers = list(zip(layers, diff_ids, strict=True))
        self._hash_files = hash_files
        self._read_ahead = read_ahead
        self._queue: queue.Queue[list[Any]] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        # Without read-ahead, one permit per layer the consumer has reached.
        self._go = threading.Semaphore(0)
        self._batch: list[Any] = []
        self._batch_bytes = 0
        self._line = progress.current()
        self._reader = LayerEntries(self)
        self._next_layer = 0
        self._thread = threading.Thread(target=self._produce, name="umoci-layers", daemon=True)
        self._thread.start()

    # -- consumer side -------------------------------------------------------------
    def layer(self) -> LayerEntries:
        """The reader for the next layer (call once per layer, in order)."""
        if self._next_layer >= len(self._layers):
            raise IndexError("no more layers")
        self._next_layer += 1
        if not self._read_ahead:
            self._go.release()
        self._reader.start_layer()
        return self._reader

    def _get(self) -> list[Any]:
        return self._queue.get()

    def close(self) -> None:
        """Stop the producer (if still running) and wait for it."""
        self._stop.set()
        self._go.release()
        while self._thread.is_alive():
            # Empty the queue so a producer blocked on a full one sees the stop.
            try:
                while True:
                    self._queue.get_nowait()
            except queue.Empty:
                pass
            self._thread.join(timeout=0.1)

    # -- producer side -------------------------------------------------------------
    def _produce(self) -> None:
        try:
            for layer, diff_id in self._layers:
                if not self._read_ahead:
                    while not self._go.acquire(timeout=0.1):
                        if self._stop.is_set():
                            return
                if self._stop.is_set():
                    return
                self._produce_layer(layer, diff_id)
        except BaseException as err:  # handed to the consumer, not lost in the thread
            self._batch.append(err)
            self._flush()

    def _produce_layer(self, layer: Descriptor, diff_id: str) -> None:
        hash_files = self._hash_files
        # Three threads in all: the prefetcher reads, verifies, decompresses
        # and hashes the diff_id; this one parses and hashes files; the
        # consumer applies.  All but the parsing is C that releases the GIL.
        with (
            self._store.open_blob(layer) as raw,
            Prefetcher(
                hashing := HashingReader(
                    open_decompressor(layer.media_type, _Counted(raw, self._line))
                )
            ) as stream,
        ):
            tar = TarReader(stream)
            while (hdr := tar.next()) is not None:
                self._batch.append(hdr)
                if hdr.kind is EntryKind.REG:
                    digest = hashlib.sha256() if hash_files else None
                    for chunk in tar.chunks():
                        if digest is not None:
                            digest.update(chunk)
                        self._batch.append(chunk)
                        self._batch_bytes += len(chunk)
                        if self._batch_bytes >= _BATCH_BYTES:
                            self._flush()
                    self._batch.append(_FileEnd(digest.hexdigest() if digest is not None else ""))
                if len(self._batch) >= _BATCH_ENTRIES:
                    self._flush()
                if self._stop.is_set():
                    return
            # Everything after the archive, then after the compressed
            # stream, is read too: both digests cover every byte.
            trailing = tar.drain()
            raw.drain()
        if hashing.digest() != diff_id:
            raise LayerError(
                f"layer {layer.digest}: diff_id mismatch: uncompressed content hashes to "
                f"{hashing.digest()}, config says {diff_id}"
            )
        self._batch.append(_LayerEnd(tar.entries, trailing))
        self._flush()

    def _flush(self) -> None:
        batch, self._batch, self._batch_bytes = self._batch, [], 0
        put_unless_stopped(self._queue, batch, self._stop)


class LayerEntries:
    """One layer's entries as the extractor reads them (``TarReader``'s interface).

    ``data_sha256`` is the sha256 of the last regular file once its
    :meth:`chunks` were read through (``None`` when the pipeline does not
    hash files).
    """

    def __init__(self, pipeline: LayerPipeline) -> None:
        self._pipeline = pipeline
        self._items: list[Any] = []
        self._pos = 0
        self._in_data = False  # inside a regular file's data
        self._ended = True
        self._end: _LayerEnd | None = None
        self.hashes_data = pipeline._hash_files
        self.data_sha256: str | None = None
        #: Entries returned so far in this layer.
        self.entries = 0

    def start_layer(self) -> None:
        if not self._ended:
            raise RuntimeError("the previous layer was not read to its end")
        self._ended = False
        self._end = None
        self.entries = 0

    def _item(self) -> Any:
        if self._pos >= len(self._items):
            self._items, self._pos = self._pipeline._get(), 0
        item = self._items[self._pos]
        self._pos += 1
        if isinstance(item, BaseException):
            self._items, self._pos = [item], 0  # raise it again on every later read
            raise item
        return item

    def next(self) -> TarHeader | None:
        """The next entry of this layer, or ``None`` at its (verified) end."""
        if self._ended:
            return None
        if self._in_data:
            for _ in self.chunks():
                pass
        item = self._item()
        if isinstance(item, _LayerEnd):
            self._ended = True
            self._end = item
            return None
        assert isinstance(item, TarHeader), item
        if item.kind is EntryKind.REG:
            self._in_data = True
            self.data_sha256 = None
        else:  # no data: what a fake (rootless) device file gets written
            self.data_sha256 = _EMPTY_SHA256 if self.hashes_data else None
        self.entries += 1
        return item

    def chunks(self) -> Iterator[bytes | memoryview]:
        """Yield the current regular file's data."""
        while self._in_data:
            item = self._item()
            if isinstance(item, _FileEnd):
                self._in_data = False
                self.data_sha256 = str(item) if self.hashes_data else None
                return
            yield item

    def drain(self) -> int:
        """After :meth:`next` returned ``None``: the bytes that followed the archive."""
        while self.next() is not None:
            pass
        return self._end.trailing if self._end is not None else 0


class _Counted:
    """Reports the compressed bytes read to the progress line."""

    def __init__(self, raw: Any, line: progress._Silent) -> None:
        self._raw = raw
        self._line = line

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._raw.read(n)
        self._line.add(len(data))
        return data
