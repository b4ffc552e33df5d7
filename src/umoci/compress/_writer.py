"""The fixed-chunk writer every codec's compressor builds on.

Compressed output depends on how the input was cut into ``compress()`` calls
(igzip_threaded compresses each ``write`` as its own block, zstd flushes at
its own boundaries).  So that the same layer always compresses to the same
bytes, whatever the caller's write pattern, the codecs only ever see
``CHUNK_SIZE`` pieces (and one final short piece at :meth:`close`).
"""

from __future__ import annotations

import abc
from types import TracebackType

from umoci.compress.streams import CHUNK_SIZE, ByteWriter

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import Self


class ChunkedWriter(abc.ABC):
    """Buffer writes into exact ``chunk_size`` pieces for :meth:`_emit`.

    Subclasses implement ``_emit(chunk)`` and ``_finish()``.  ``close()``
    finishes the compressed stream but never closes the underlying file: the
    caller owns it (it usually still has to fsync and rename it).
    """

    def __init__(self, chunk_size: int = CHUNK_SIZE) -> None:
        self._chunk_size = chunk_size
        self._pending = bytearray()
        self._closed = False

    def write(self, data: bytes, /) -> int:
        if self._closed:
            raise ValueError("write to closed compressor")
        size = len(data)
        if size == self._chunk_size and not self._pending and type(data) is bytes:
            # A whole chunk, as the tar writer hands them over: as it is (an
            # immutable bytes object), not a copy through a memoryview.
            self._emit(data)
            return size
        view = memoryview(data)
        # Top up a partial chunk first, then hand whole chunks straight from
        # the caller's buffer (no copy), keeping only the tail.
        if self._pending:
            need = self._chunk_size - len(self._pending)
            self._pending += view[:need]
            view = view[need:]
            if len(self._pending) < self._chunk_size:
                return size
            self._emit(bytes(self._pending))
            self._pending.clear()
        while len(view) >= self._chunk_size:
            self._emit(bytes(view[: self._chunk_size]))
            view = view[self._chunk_size :]
        self._pending += view
        return size

    def close(self) -> None:
        """Compress what is buffered and write the stream trailer."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._pending:
                self._emit(bytes(self._pending))
                self._pending.clear()
        finally:
            self._finish()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abort()

    @abc.abstractmethod
    def _emit(self, chunk: bytes) -> None:
        """Compress and write one fixed-size chunk."""

    @abc.abstractmethod
    def _finish(self) -> None:
        """End the compressed stream."""

    def _abort(self) -> None:
        """Stop without producing a valid stream (default: finish anyway)."""
        self._closed = True
        self._finish()


class PlainWriter(ChunkedWriter):
    """The identity "codec" for uncompressed layers."""

    def __init__(self, raw: ByteWriter, chunk_size: int = CHUNK_SIZE) -> None:
        super().__init__(chunk_size)
        self._raw = raw

    def _emit(self, chunk: bytes) -> None:
        write_all(self._raw, chunk)

    def _finish(self) -> None:
        pass


def write_all(raw: ByteWriter, data: bytes) -> None:
    """Write all of ``data``: unbuffered files may accept fewer bytes than offered."""
    while data:
        n = raw.write(data)
        if n is None or n >= len(data):
            return
        data = data[n:]
