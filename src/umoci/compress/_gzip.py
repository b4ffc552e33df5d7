"""gzip layers through ISA-L (``isal``): the fastest deflate the Python world has.

Reading is our own member loop over ``igzip_lib.IgzipDecompressor`` rather
than ``igzip.open``: we need (a) output bounded per call so a gzip bomb cannot
balloon memory, (b) concatenated members (valid gzip, produced by parallel
compressors), and (c) to *tolerate* trailing garbage after the last member --
some image builders pad blobs with NULs, and the Go umoci accepts them too --
while still failing on a stream that simply stops early.
"""

from __future__ import annotations

import io
import os
import struct

from isal import igzip_lib

from umoci import log as umoci_log
from umoci.compress._writer import ChunkedWriter, write_all
from umoci.compress.magic import GZIP_MAGIC
from umoci.compress.streams import CHUNK_SIZE, ByteReader, ByteWriter, drain
from umoci.errors import LayerError

log = umoci_log.get()

# The isal stubs declare these loosely; give mypy their real shapes.
_ISAL_ERROR: type[Exception] = igzip_lib.IsalError  # type: ignore[assignment]
_ISAL_ERRORS = (_ISAL_ERROR, OSError, ValueError)

#: Raw bytes fed to the decompressor per read from the blob.
_INPUT_CHUNK = 256 * 1024
#: Blocks each compressor thread may have waiting, and done but not yet written.
_QUEUE_BLOCKS = 4
#: ISA-L's level 2 is its default: about zlib -6 ratio at several times the speed.
DEFAULT_LEVEL = 2


class GzipReader:
    """Decompress a gzip stream (one or more members) from ``raw``.

    ``read(n)`` returns at most ``n`` bytes (``n < 0`` means one chunk, not
    "everything": memory must stay flat).  After the last member any trailing
    bytes are read and discarded with a warning.  A stream that ends inside a
    member, or corrupt data, raises :class:`LayerError`.
    """

    def __init__(self, raw: ByteReader) -> None:
        self._raw = raw
        self._dec = igzip_lib.IgzipDecompressor(flag=igzip_lib.DECOMP_GZIP)
        self._carry = b""  # input read from raw but not yet given to _dec
        self._done = False
        #: Bytes of trailing garbage skipped after the last member.
        self.trailing_bytes = 0

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            size = CHUNK_SIZE
        if size == 0:
            return b""
        while not self._done:
            if self._dec.eof:
                self._next_member()
                continue
            data = b""
            if self._dec.needs_input:
                data = self._carry or self._raw.read(_INPUT_CHUNK)
                self._carry = b""
                if not data:
                    raise LayerError("decompress gzip: unexpected end of stream (truncated blob)")
            try:
                out = self._dec.decompress(data, size)
            except _ISAL_ERRORS as e:
                raise LayerError(f"decompress gzip: {e}") from e
            if out:
                return out
        return b""

    def readinto(self, buf: bytearray | memoryview, /) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def _next_member(self) -> None:
        # A member ended: decide between "another member follows" and "done".
        rest = self._dec.unused_data
        while len(rest) < len(GZIP_MAGIC):
            more = self._raw.read(_INPUT_CHUNK)
            if not more:
                break
            rest += more
        if not rest:
            self._done = True
            return
        if rest.startswith(GZIP_MAGIC):
            self._dec = igzip_lib.IgzipDecompressor(flag=igzip_lib.DECOMP_GZIP)
            self._carry = rest
            return
        self._done = True
        self.trailing_bytes = len(rest) + drain(self._raw)
        _log_trailing("gzip", rest, self.trailing_bytes)

    def close(self) -> None:
        self._done = True


def _log_trailing(codec: str, head: bytes, count: int) -> None:
    # NUL padding is a known producer quirk; anything else hints at a bug.
    if head.strip(b"\0"):
        log.warning("ignoring %d trailing bytes after the %s stream", count, codec)
    else:
        log.debug("ignoring %d trailing NUL bytes after the %s stream", count, codec)


class _FixHeader:
    """Pass writes through, correcting the gzip header igzip_threaded writes.

    python-isal packs its header fields as ``... mtime, os, xfl`` although
    RFC 1952 puts XFL (byte 8) before OS (byte 9), so its blobs claim "OS:
    FAT".  We write the header Go's compress/gzip writes (XFL 0, OS 255) so
    our blobs look like everyone else's.
    """

    def __init__(self, raw: ByteWriter) -> None:
        self._raw = raw
        self._first = True

    def write(self, data: bytes, /) -> int | None:
        if self._first:
            self._first = False
            if len(data) == 10 and data[:4] == GZIP_MAGIC + b"\x08\x00":
                return self._raw.write(data[:8] + b"\x00\xff")
        return self._raw.write(data)

    def flush(self) -> None:
        flush = getattr(self._raw, "flush", None)
        if flush is not None:
            flush()


class GzipWriter(ChunkedWriter):
    """Threaded ISA-L gzip; deterministic output for a given level.

    igzip_threaded compresses each block independently (with the previous
    block's last 32 KiB as dictionary), so the bytes do not depend on the
    number of threads -- only on the block boundaries, which the
    :class:`ChunkedWriter` base keeps fixed.  The gzip header carries mtime 0
    and OS 255, as Go's compress/gzip writes them.

    A stream of one block (up to ``chunk_size`` bytes: a repack of a few
    changed files) is written here instead, with igzip_threaded's own block
    compressor and framing, so it comes out byte for byte the same: its
    threads would cost more to start and stop than compressing it does, and
    its import pulls in ``typing``.  The threads start with the second block.
    """

    def __init__(
        self,
        raw: ByteWriter,
        *,
        level: int | None = None,
        threads: int | None = None,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        super().__init__(chunk_size)
        self._raw = raw
        self._level = DEFAULT_LEVEL if level is None else level
        self._threads = threads
        self._gz: io.RawIOBase | None = None
        #: The first block, held until a second one says the stream needs threads.
        self._first: bytes | None = None

    def _open_threaded(self) -> io.RawIOBase:
        threads = self._threads
        if threads is None:
            threads = min(4, len(os.sched_getaffinity(0)))
        # Imported here: it pulls in typing, queue and threading, which
        # reading (unpack) and one-block streams do not need.
        from isal import igzip_threaded

        # The writer class igzip_threaded.open() makes, built here for its
        # queue_size, which open() does not pass on: with one block queued per
        # thread (the default) the producer, the compressors and the in-order
        # writer wait on each other at every block; four measured 5-8% off
        # touch-all and full repacks.  (Same blocks, same bytes: the queues
        # only hold blocks; tests/compress compares the output.)
        return igzip_threaded._ThreadedGzipWriter(
            _FixHeader(self._raw),
            "wb",
            level=self._level,
            threads=max(1, threads),
            queue_size=_QUEUE_BLOCKS,
            block_size=self._chunk_size,
        )

    def _emit(self, chunk: bytes) -> None:
        if self._gz is None:
            if self._first is None:
                self._first = chunk
                return
            self._gz = self._open_threaded()
            self._gz.write(self._first)
            self._first = None
        self._gz.write(chunk)

    def _finish(self) -> None:
        if self._gz is not None:
            self._gz.close()
            return
        block = self._first or b""
        self._first = None
        write_all(self._raw, _one_block_gzip(block, self._level))


#: The gzip header igzip_threaded writes, as :class:`_FixHeader` corrects it.
_HEADER = GZIP_MAGIC + b"\x08\x00" + bytes(4) + b"\x00\xff"


def _one_block_gzip(block: bytes, level: int) -> bytes:
    """The whole gzip stream igzip_threaded writes for input ``block`` (at most one block).

    Its header (corrected), the block compressed by the same
    ``_ParallelCompress`` its threads use (no dictionary: nothing precedes
    it), the same final empty deflate block and the CRC-32/size trailer.
    tests/compress/test_compress_codecs.py compares the two.
    """
    from isal import isal_zlib  # (writers only)

    parts = [_HEADER]
    crc = 0
    if block:
        # Room for the worst case: deflate spends at most 15 bits on a byte.
        compressor = isal_zlib._ParallelCompress(buffersize=2 * len(block) + 500, level=level)
        compressed, crc = compressor.compress_and_crc(block, b"")
        parts.append(compressed)
    parts.append(isal_zlib.compress(b"", wbits=-15))
    parts.append(struct.pack("<II", crc, len(block) & 0xFFFFFFFF))
    return b"".join(parts)
