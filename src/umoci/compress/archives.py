"""Readers of whole compressed files (``umoci copy``'s archives), by format.

:data:`FILE_READERS` maps the format :func:`umoci.compress.magic.sniff`
names to a reader: the layer codecs' own for gzip and zstd, and for xz and
bzip2 (which no layer media type names) the standard library's ``lzma``
and ``bz2``, imported only when such a file is read.

Parallel compressors (pixz, pbzip2, lbzip2) write several streams one
after another, which ``xz``, ``bzip2`` and GNU tar read as one file, and
so does :class:`ConcatenatedReader`; as with gzip (:mod:`._gzip`), bytes
after the last stream that do not start another are skipped with a
warning (NUL padding, which xz allows between streams, only at debug
level), and a stream that stops early is an error."""

from __future__ import annotations

from collections.abc import Callable

from umoci.compress._gzip import GzipReader, _log_trailing
from umoci.compress._zstd import ZstdReader
from umoci.compress.magic import BZIP2_MAGIC, XZ_MAGIC
from umoci.compress.streams import CHUNK_SIZE, ByteReader, drain
from umoci.errors import LayerError

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import Any

#: Raw bytes fed to the decompressor per read.
_INPUT_CHUNK = 256 * 1024


class ConcatenatedReader:
    """``read(n)`` (at most *n* bytes) of one or more concatenated streams of one format."""

    def __init__(
        self,
        raw: ByteReader,
        *,
        codec: str,
        magic: bytes,
        decompressor: Callable[[], Any],
        errors: tuple[type[Exception], ...],
    ) -> None:
        """*decompressor* makes an ``lzma``/``bz2`` decompressor, which raises *errors*."""
        self._raw = raw
        self._codec = codec
        self._magic = magic
        self._new = decompressor
        self._errors = errors
        self._dec = decompressor()
        self._pending = b""  # input read from raw but not yet given to _dec
        self._done = False
        #: Bytes skipped after the last stream.
        self.trailing_bytes = 0

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            size = CHUNK_SIZE
        while not self._done and size:
            if self._dec.eof:
                self._next_stream()
                continue
            if self._dec.needs_input and not self._pending:
                self._pending = self._raw.read(_INPUT_CHUNK)
                if not self._pending:
                    raise LayerError(f"decompress {self._codec}: unexpected end of stream")
            try:
                data: bytes = self._dec.decompress(self._pending, max_length=size)
            except self._errors as err:
                raise LayerError(f"decompress {self._codec}: {err}") from None
            self._pending = b""
            if data:
                return data
        return b""

    def _next_stream(self) -> None:
        """A stream ended: start the next one, or finish (skipping what follows)."""
        rest = self._dec.unused_data
        padding = 0
        while True:
            stripped = rest.lstrip(b"\0")
            padding += len(rest) - len(stripped)
            rest = stripped
            if len(rest) >= len(self._magic):
                break
            more = self._raw.read(_INPUT_CHUNK)
            if not more:
                break
            rest += more
        if rest.startswith(self._magic):
            self._dec = self._new()
            self._pending = rest
            return
        self._done = True
        if rest:
            self.trailing_bytes = padding + len(rest) + drain(self._raw)
            _log_trailing(self._codec, rest, self.trailing_bytes)
        elif padding:
            self.trailing_bytes = padding
            _log_trailing(self._codec, b"", padding)


def xz_reader(raw: ByteReader) -> ConcatenatedReader:
    import lzma

    return ConcatenatedReader(
        raw,
        codec="xz",
        magic=XZ_MAGIC,
        decompressor=lzma.LZMADecompressor,
        errors=(lzma.LZMAError,),
    )


def bzip2_reader(raw: ByteReader) -> ConcatenatedReader:
    import bz2

    return ConcatenatedReader(
        raw,
        codec="bzip2",
        magic=BZIP2_MAGIC,
        decompressor=bz2.BZ2Decompressor,
        errors=(OSError, EOFError, ValueError),
    )


#: A reader for each format :func:`umoci.compress.magic.sniff` names.
FILE_READERS: dict[str, Callable[[ByteReader], ByteReader]] = {
    "gzip": GzipReader,
    "zstd": ZstdReader,
    "xz": xz_reader,
    "bzip2": bzip2_reader,
}
