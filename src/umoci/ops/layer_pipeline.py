"""All of an image's layers read, verified and parsed ahead of the extractor.

Unpacking has two kinds of work.  Producing entries: reading each blob,
checking its digest, decompressing, hashing the diff_id, parsing tar headers
and (for the bundle's mtree) hashing every regular file's data.  Applying
them: system calls and the Python around them.  :class:`BatchProducer` does
the first kind, ahead of the second: per layer a
:class:`~umoci.compress.streams.Prefetcher` thread reads, verifies,
decompresses and hashes the diff_id, while the producer parses headers and
hashes files.  It hands its work on in batches, and the caller's thread
applies them through :class:`LayerEntries` (the
:class:`~umoci.layer.tarstream.TarReader` interface the extractor reads
from).  Where the producer runs is the pipeline's business: in a thread of
this process (:class:`LayerPipeline`, here) or in a process of its own
(:class:`~umoci.ops.layer_process.ProcessPipeline`), which gives the tar
parsing a second interpreter lock.

The producer goes through the layers in order and does not stop at a layer's
end: while layer N is still being applied it already decompresses, verifies
and parses layer N+1, as far as the bounded hand-over lets it (batches of at
most ~1 MiB of data or 512 entries each), so memory stays flat whatever the
layer sizes.  Nothing about the order of application changes: the consumer
sees exactly the entries of layer 1, then an end of layer once layer 1's
blob digest, size and diff_id were verified, then layer 2's, and so on.  An
error found ahead (a bad digest in layer 3) is raised only when the consumer
reaches that point of the stream, so every earlier layer is applied exactly
as before.  ``read_ahead=False`` makes the producer wait at each layer
boundary until the consumer got there (tests compare the two).

Why batches: one hand-off costs a few microseconds of Python and a lock
round trip (or a pipe write), more than applying a small entry's header; a
batch per ~512 entries makes that cost vanish.  Why hash files in the
producer: sha256 in C releases the interpreter lock, so it runs beside the
consumer's system calls instead of on the consumer's critical path.  What a
thread does not buy: the tar parsing is Python, so in a thread it shares
one interpreter lock with the consumer; for layers of tiny files the two
mostly take turns (measured on 200,000 files: the consumer's own Python
time fell by ~1 s and it waited ~2 s for the lock or for batches, about
what parsing costs).  That is why large unpacks move the producer into a
process of its own.
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
    from collections.abc import Callable, Iterator, Sequence
    from typing import Any, BinaryIO, Protocol

    from umoci.cas.dir import DirStore
    from umoci.oci.models import Descriptor

    class BatchSource(Protocol):
        """Where :class:`LayerEntries` gets the producer's batches from."""

        hash_files: bool

        def next_batch(self) -> list[Any]: ...

    class ByteCounter(Protocol):
        """What compressed bytes read are reported to (a progress line)."""

        def add(self, nbytes: int = 0, entries: int = 0) -> None: ...


#: Default number of batches in flight (each at most ~1 MiB of file data).
DEFAULT_DEPTH = 16
_BATCH_BYTES = 1 << 20
_BATCH_ENTRIES = 512
_EMPTY_SHA256 = hashlib.sha256().hexdigest()


@dataclass(frozen=True)
class LayerEnd:
    """The producer's word that a layer was read to its end and verified."""

    entries: int
    trailing: int  # bytes after the tar archive


class FileEnd(str):
    """The sha256 (hex, or "" when not hashing) that closes a regular file's data."""

    __slots__ = ()


@dataclass(frozen=True)
class LayerSource:
    """One layer as the producer reads it: how to open its blob, and what it must hash to."""

    open_blob: Callable[[], BinaryIO]
    media_type: str
    digest: str
    diff_id: str


class BatchProducer:
    """Reads layers in order and hands their entries on in batches.

    A batch is a list of :class:`~umoci.layer.tarstream.TarHeader`, data
    chunks (``bytes``/``memoryview``), :class:`FileEnd`, :class:`LayerEnd`
    and, last of all when something failed, the exception.  ``deliver``
    receives each batch; ``stopped`` says the consumer left; ``wait_turn``
    (when given) is called before each layer and returns False to stop;
    ``counter`` is told the compressed bytes read.
    """

    def __init__(
        self,
        layers: Sequence[LayerSource],
        *,
        hash_files: bool,
        deliver: Callable[[list[Any]], None],
        stopped: Callable[[], bool],
        wait_turn: Callable[[], bool] | None = None,
        counter: ByteCounter | None = None,
    ) -> None:
        self._layers = layers
        self._hash_files = hash_files
        self._deliver = deliver
        self._stopped = stopped
        self._wait_turn = wait_turn
        self._counter = counter if counter is not None else progress.current()
        self._batch: list[Any] = []
        self._batch_bytes = 0

    def run(self) -> None:
        """Produce every layer; an exception is delivered, not raised."""
        try:
            for layer in self._layers:
                if self._wait_turn is not None and not self._wait_turn():
                    return
                if self._stopped():
                    return
                self._produce_layer(layer)
        except BaseException as err:  # handed to the consumer, not lost in the thread
            self._batch.append(err)
            self._flush()

    def _produce_layer(self, layer: LayerSource) -> None:
        hash_files = self._hash_files
        # Two threads here: the prefetcher reads, verifies and decompresses;
        # this one hashes the diff_id, parses and hashes files.  All but the
        # parsing is C that releases the GIL, so the two sha256 passes over
        # the uncompressed data run beside the inflating, not after it.
        with (
            layer.open_blob() as raw,
            Prefetcher(open_decompressor(layer.media_type, _Counted(raw, self._counter))) as stream,
        ):
            tar = TarReader(hashing := HashingReader(stream))
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
                    self._batch.append(FileEnd(digest.hexdigest() if digest is not None else ""))
                if len(self._batch) >= _BATCH_ENTRIES:
                    self._flush()
                if self._stopped():
                    return
            # Everything after the archive, then after the compressed
            # stream, is read too: both digests cover every byte.
            trailing = tar.drain()
            raw.drain()  # type: ignore[attr-defined]
        if hashing.digest() != layer.diff_id:
            raise LayerError(
                f"layer {layer.digest}: diff_id mismatch: uncompressed content hashes to "
                f"{hashing.digest()}, config says {layer.diff_id}"
            )
        self._batch.append(LayerEnd(tar.entries, trailing))
        self._flush()

    def _flush(self) -> None:
        batch, self._batch, self._batch_bytes = self._batch, [], 0
        self._deliver(batch)


def layer_sources(
    store: DirStore, layers: Sequence[Descriptor], diff_ids: Sequence[str]
) -> list[LayerSource]:
    """The layers of ``store`` as the producer reads them (each blob opened when its turn comes)."""
    if len(layers) != len(diff_ids):
        raise ValueError("one diff_id per layer")

    def opener(layer: Descriptor) -> Callable[[], BinaryIO]:
        return lambda: store.open_blob(layer)  # type: ignore[return-value]

    return [
        LayerSource(opener(layer), layer.media_type, layer.digest, diff_id)
        for layer, diff_id in zip(layers, diff_ids, strict=True)
    ]


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
        sources = layer_sources(store, layers, diff_ids)
        self.hash_files = hash_files
        self._count = len(sources)
        self._read_ahead = read_ahead
        self._queue: queue.Queue[list[Any]] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        # Without read-ahead, one permit per layer the consumer has reached.
        self._go = threading.Semaphore(0)
        self._reader = LayerEntries(self)
        self._next_layer = 0
        producer = BatchProducer(
            sources,
            hash_files=hash_files,
            deliver=lambda batch: put_unless_stopped(self._queue, batch, self._stop),
            stopped=self._stop.is_set,
            wait_turn=None if read_ahead else self._wait_turn,
        )
        self._thread = threading.Thread(target=producer.run, name="umoci-layers", daemon=True)
        self._thread.start()

    # -- consumer side -------------------------------------------------------------
    def layer(self) -> LayerEntries:
        """The reader for the next layer (call once per layer, in order)."""
        if self._next_layer >= self._count:
            raise IndexError("no more layers")
        self._next_layer += 1
        if not self._read_ahead:
            self._go.release()
        self._reader.start_layer()
        return self._reader

    def next_batch(self) -> list[Any]:
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
    def _wait_turn(self) -> bool:
        """Without read-ahead: wait until the consumer reached the next layer."""
        while not self._go.acquire(timeout=0.1):
            if self._stop.is_set():
                return False
        return True


class LayerEntries:
    """One layer's entries as the extractor reads them (``TarReader``'s interface).

    ``data_sha256`` is the sha256 of the last regular file once its
    :meth:`chunks` were read through (``None`` when the pipeline does not
    hash files).
    """

    def __init__(self, source: BatchSource) -> None:
        self._source = source
        self._items: list[Any] = []
        self._pos = 0
        self._in_data = False  # inside a regular file's data
        self._ended = True
        self._end: LayerEnd | None = None
        self.hashes_data = source.hash_files
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
            self._items, self._pos = self._source.next_batch(), 0
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
        if isinstance(item, LayerEnd):
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
            if isinstance(item, FileEnd):
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
    """Reports the compressed bytes read (to the progress line, or the process pipeline)."""

    def __init__(self, raw: Any, counter: ByteCounter) -> None:
        self._raw = raw
        self._counter = counter

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._raw.read(n)
        self._counter.add(len(data))
        return data
