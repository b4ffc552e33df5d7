"""zstd layers through ``zstandard``.

``zstandard``'s stream reader has two gaps we must close ourselves: a stream
cut short at a block boundary reads as a clean EOF (no error at all), and
bytes after the last frame are a hard error.  Both are fixed by walking the
zstd *frame structure* (RFC 8878 section 3.1: frame header, block headers
with their sizes, optional checksum; skippable frames) in
:class:`_FrameSplitter` before the bytes reach the decoder.  The splitter
knows exactly where the last frame ends: anything after it is trailing
garbage (skipped with a warning), and EOF inside a frame is truncation.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from umoci.compress._gzip import _log_trailing
from umoci.compress._writer import ChunkedWriter
from umoci.compress.magic import ZSTD_MAGIC
from umoci.compress.streams import CHUNK_SIZE, ByteReader, ByteWriter, drain
from umoci.errors import LayerError

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import IO, Any

_FRAME_MAGIC = int.from_bytes(ZSTD_MAGIC, "little")
_SKIPPABLE_MIN, _SKIPPABLE_MAX = 0x184D2A50, 0x184D2A5F
_INPUT_CHUNK = 256 * 1024
DEFAULT_LEVEL = 3  # zstd's own default; the Go umoci uses klauspost's equivalent

_DICT_ID_SIZES = (0, 1, 2, 4)
_FCS_SIZES = (0, 2, 4, 8)  # FCS flag 0 means 1 byte when Single_Segment is set


class _Truncated(Exception):
    pass


class _FrameSplitter:
    """Pass through complete zstd frames from ``raw``; stop cleanly after the last one."""

    def __init__(self, raw: ByteReader) -> None:
        self._raw = raw
        self._buf = b""
        self._chunks = self._frames()
        self._out = b""
        self.finished = False
        self.trailing_bytes = 0

    # -- input buffering -------------------------------------------------
    def _peek(self, n: int) -> bytes:
        while len(self._buf) < n:
            more = self._raw.read(max(_INPUT_CHUNK, n - len(self._buf)))
            if not more:
                break
            self._buf += more
        return self._buf[:n]

    def _take(self, n: int) -> bytes:
        data = self._peek(n)
        if len(data) < n:
            raise _Truncated
        self._buf = self._buf[n:]
        return data

    def _pass(self, n: int) -> Iterator[bytes]:
        # Hand over n bytes without gathering them all in memory first.
        while n:
            if not self._buf:
                self._peek(1)
                if not self._buf:
                    raise _Truncated
            piece = self._buf[:n]
            self._buf = self._buf[len(piece) :]
            n -= len(piece)
            yield piece

    # -- frame walking ---------------------------------------------------
    def _frames(self) -> Iterator[bytes]:
        seen = False
        while True:
            head = self._peek(4)
            magic = int.from_bytes(head, "little") if len(head) == 4 else -1
            frame_start = magic == _FRAME_MAGIC or _SKIPPABLE_MIN <= magic <= _SKIPPABLE_MAX
            if not seen and not frame_start:
                # Garbage is only tolerated *after* the first frame.
                raise LayerError("decompress zstd: not a zstd stream (no frame header)")
            if not head:
                return
            seen = True
            if magic == _FRAME_MAGIC:
                yield from self._frame()
            elif frame_start:
                header = self._take(8)
                yield header
                yield from self._pass(int.from_bytes(header[4:], "little"))
            else:
                rest = self._buf
                self._buf = b""
                self.trailing_bytes = len(rest) + drain(self._raw)
                _log_trailing("zstd", rest, self.trailing_bytes)
                return

    def _frame(self) -> Iterator[bytes]:
        descriptor = self._peek(5)[4:]
        if not descriptor:
            raise _Truncated
        fhd = descriptor[0]
        if fhd & 0x08:
            raise LayerError("decompress zstd: corrupt frame header (reserved bit set)")
        single_segment = bool(fhd & 0x20)
        fcs_flag = fhd >> 6
        header_size = 5 + (0 if single_segment else 1) + _DICT_ID_SIZES[fhd & 0x03]
        header_size += _FCS_SIZES[fcs_flag] or (1 if single_segment else 0)
        yield self._take(header_size)
        while True:
            block_header = self._take(3)
            yield block_header
            value = int.from_bytes(block_header, "little")
            block_type = (value >> 1) & 0x03
            if block_type == 3:
                raise LayerError("decompress zstd: corrupt block (reserved block type)")
            # RLE blocks store one byte, whatever their (decoded) size says.
            yield from self._pass(1 if block_type == 1 else value >> 3)
            if value & 1:  # Last_Block
                break
        if fhd & 0x04:  # Content_Checksum_flag
            yield self._take(4)

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            size = CHUNK_SIZE
        while not self._out:
            try:
                self._out = next(self._chunks)
            except StopIteration:
                self.finished = True
                return b""
            except _Truncated:
                raise LayerError(
                    "decompress zstd: unexpected end of stream (truncated blob)"
                ) from None
        data, self._out = self._out[:size], self._out[size:]
        return data


class ZstdReader:
    """Decompress all zstd frames from ``raw``, with bounded output per read."""

    def __init__(self, raw: ByteReader) -> None:
        import zstandard  # loaded on first use: most commands never touch zstd

        self._error: type[Exception] = zstandard.ZstdError
        self._frames = _FrameSplitter(raw)
        # A file-like object is all zstandard needs; its stubs ask for IO.
        frames: IO[bytes] = self._frames  # type: ignore[assignment]
        self._reader = zstandard.ZstdDecompressor().stream_reader(
            frames,
            read_size=_INPUT_CHUNK,
            read_across_frames=True,
            closefd=False,
        )
        self._done = False

    @property
    def trailing_bytes(self) -> int:
        return self._frames.trailing_bytes

    def read(self, size: int = -1, /) -> bytes:
        if self._done:
            return b""
        if size < 0:
            size = CHUNK_SIZE
        try:
            data: bytes = self._reader.read(size)
        except self._error as e:
            raise LayerError(f"decompress zstd: {e}") from e
        if not data and size:
            self._done = True
            if not self._frames.finished:
                # The frame walker saw more frames than the decoder consumed.
                raise LayerError("decompress zstd: decoder stopped before the end of the stream")
        return data

    def readinto(self, buf: bytearray | memoryview, /) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._done = True


class ZstdWriter(ChunkedWriter):
    """zstd compression with worker threads and a content checksum.

    libzstd's output is identical for any worker count >= 1 (but differs from
    the single-threaded mode), so we always use at least one worker: the
    bytes depend only on the level and the fixed chunking.
    """

    def __init__(
        self,
        raw: ByteWriter,
        *,
        level: int | None = None,
        threads: int | None = None,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        import zstandard  # loaded on first use: most commands never touch zstd

        super().__init__(chunk_size)
        if threads is None:
            threads = min(4, len(os.sched_getaffinity(0)))
        compressor = zstandard.ZstdCompressor(
            level=DEFAULT_LEVEL if level is None else level,
            write_checksum=True,
            threads=max(1, threads),
        )
        # Any: the zstandard stubs leave close() untyped; any writer will do
        # (its stubs ask for IO).
        sink: IO[bytes] = raw  # type: ignore[assignment]
        self._zw: Any = compressor.stream_writer(sink, closefd=False)

    def _emit(self, chunk: bytes) -> None:
        self._zw.write(chunk)

    def _finish(self) -> None:
        self._zw.close()
