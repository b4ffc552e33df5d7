"""Small stream helpers shared by the codecs and the layer code.

The layer pipeline is ``raw blob -> decompressor -> HashingReader -> tar
parser``.  Everything here works on plain ``read(n) -> bytes`` objects so the
pieces compose without ``io`` class hierarchies (and without extra copies:
``io.RawIOBase.read`` would copy every chunk once more through ``readinto``).
"""

from __future__ import annotations

import hashlib
from typing import Protocol

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
