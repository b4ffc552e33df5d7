"""Small stream helpers shared by the codecs and the layer code.

The layer pipeline is ``raw blob -> decompressor -> HashingReader -> tar
parser``.  Everything here works on plain ``read(n) -> bytes`` objects so the
pieces compose without ``io`` class hierarchies (and without extra copies:
``io.RawIOBase.read`` would copy every chunk once more through ``readinto``).
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import threading
from collections.abc import Callable

from umoci.closing import Closing

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import Protocol, TypeVar

    _T = TypeVar("_T")
else:
    Protocol = object  # the protocols below only type annotations

#: Chunk size used when streaming (reading, hashing, draining).  Large enough
#: to amortise Python call overhead, small enough to keep memory flat.
CHUNK_SIZE = 1 << 20


class ByteReader(Protocol):
    """Anything with ``read(n) -> bytes`` (files, sockets, our decompressors)."""

    def read(self, size: int = -1, /) -> bytes: ...


class ByteWriter(Protocol):
    """Anything with ``write(data) -> int`` (files, BytesIO, our compressors)."""

    def write(self, data: bytes, /) -> int | None: ...


def drain(stream: ByteReader, chunk_size: int = CHUNK_SIZE) -> int:
    """Read ``stream`` to EOF, discarding the data; return how many bytes that was."""
    total = 0
    while True:
        data = stream.read(chunk_size)
        if not data:
            return total
        total += len(data)


class HashingReader:
    """Pass reads through while hashing them: the layer ``diff_id`` is computed here.

    The digest covers every byte handed out, so callers must read the stream
    to its very end (:meth:`drain`) before asking for :meth:`digest`: tar
    writers may leave padding after the end-of-archive blocks, and the
    ``diff_id`` is defined over the whole uncompressed stream.
    """

    def __init__(self, raw: ByteReader, algorithm: str = "sha256") -> None:
        self._raw = raw
        self._algorithm = algorithm
        self._hash = hashlib.new(algorithm)
        #: Number of bytes read through this wrapper so far.
        self.bytes_read = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._raw.read(size)
        if data:
            self._hash.update(data)
            self.bytes_read += len(data)
        return data

    def drain(self) -> int:
        """Read (and hash) the rest of the stream; return the number of bytes drained."""
        return drain(self)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def digest(self) -> str:
        """The OCI digest string (``sha256:<hex>``) of everything read so far."""
        return f"{self._algorithm}:{self._hash.hexdigest()}"


def put_unless_stopped(into: queue.Queue[_T], item: _T, stop: threading.Event) -> None:
    """``into.put(item)``, giving up once ``stop`` is set (a consumer that left)."""
    while not stop.is_set():
        try:
            into.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


class Prefetcher(Closing):
    """Read ``source`` ahead in a background thread, so it overlaps with the consumer.

    Unpacking has two kinds of work: producing the tar stream (reading the
    blob, checking its digest, decompressing, hashing the diff_id -- all
    in C code that releases the GIL) and creating files from it (Python
    code and system calls).  With two cores they can run side by side.  At
    most ``depth`` chunks wait in the queue, so memory stays bounded.

    The producer reads ``source`` to its end and then calls ``finish`` (for
    example to verify a digest); any exception in it is raised to the
    consumer by the next :meth:`read`.  :meth:`close` stops the thread.
    """

    def __init__(
        self,
        source: ByteReader,
        *,
        finish: Callable[[], object] | None = None,
        chunk_size: int = CHUNK_SIZE,
        depth: int = 4,
    ) -> None:
        self._source = source
        self._finish = finish
        self._chunk_size = chunk_size
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._buf = b""
        self._pos = 0
        self._eof = False
        self._thread = threading.Thread(target=self._produce, name="umoci-prefetch", daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        try:
            while not self._stop.is_set():
                data = self._source.read(self._chunk_size)
                if not data:
                    if self._finish is not None:
                        self._finish()
                    self._put(None)
                    return
                self._put(data)
        except BaseException as err:  # handed to the consumer, not lost in the thread
            self._put(err)

    def _put(self, item: bytes | BaseException | None) -> None:
        put_unless_stopped(self._queue, item, self._stop)

    def read(self, size: int = -1, /) -> bytes:
        if self._pos >= len(self._buf):
            if self._eof:
                return b""
            item = self._queue.get()
            if item is None or isinstance(item, BaseException):
                self._eof = True
                self._thread.join()
                if item is not None:
                    raise item
                return b""
            self._buf, self._pos = item, 0
        if size < 0 or size >= len(self._buf) - self._pos:
            data = self._buf[self._pos :] if self._pos else self._buf
            self._buf, self._pos = b"", 0
            return data
        data = self._buf[self._pos : self._pos + size]
        self._pos += size
        return data

    def close(self) -> None:
        """Stop the producer (if still running) and wait for it."""
        self._stop.set()
        while self._thread.is_alive():
            # Empty the queue so a producer blocked on a full one can see the stop.
            with contextlib.suppress(queue.Empty):
                while True:
                    self._queue.get_nowait()
            self._thread.join(timeout=0.1)
