"""The verification floor of an unpack: every digest it must compute, and no file created.

For each gzip layer blob given: sha256 of the blob, inflate (isal, the
fastest inflate Python has), sha256 of the uncompressed stream (the
diff_id) and sha256 of every regular file's data (the mtree's
sha256digest).  The hashing and inflating are C (OpenSSL, ISA-L); the only
Python is a minimal walk over the tar headers to find where each file's
data starts and ends.  It runs on one core, one step after the other: an
unpack that spreads this work over two cores can beat it, one that takes
longer than ``max(this, tar -xf)`` spends the difference on its own
overhead.

Usage: ``python bench/verify_floor.py LAYER.tar.gz...`` (prints nothing).
"""

from __future__ import annotations

import hashlib
import sys

from isal import isal_zlib

CHUNK = 1 << 18
BLOCK = 512
#: Tar entry types whose data is a regular file's content.
REGULAR = frozenset(b"07\0")


class Layer:
    """Hashes one layer's uncompressed bytes as they arrive, and each file's data in them."""

    def __init__(self) -> None:
        self.diff_id = hashlib.sha256()
        self._pending = b""  # bytes of an unfinished header
        self._data_left = 0  # bytes of the current entry's data still to come
        self._pad_left = 0
        self._file: hashlib._Hash | None = None
        self._ended = False
        self.files = 0

    def feed(self, data: bytes) -> None:
        self.diff_id.update(data)
        view = memoryview(data)
        while view and not self._ended:
            if self._data_left:
                n = min(self._data_left, len(view))
                if self._file is not None:
                    self._file.update(view[:n])
                self._data_left -= n
                view = view[n:]
                if not self._data_left and self._file is not None:
                    self._file.hexdigest()
                    self._file = None
                continue
            if self._pad_left:
                n = min(self._pad_left, len(view))
                self._pad_left -= n
                view = view[n:]
                continue
            need = BLOCK - len(self._pending)
            self._pending += bytes(view[:need])
            view = view[need:]
            if len(self._pending) == BLOCK:
                self._header(self._pending)
                self._pending = b""

    def _header(self, block: bytes) -> None:
        if block == bytes(BLOCK):
            self._ended = True  # the zero blocks: the rest is only hashed
            return
        raw = block[124:136]
        if raw[0] & 0x80:  # base-256
            size = int.from_bytes(raw[1:], "big")
        else:
            size = int(raw.split(b"\0", 1)[0].strip() or b"0", 8)
        kind = block[156]
        self._data_left = size
        self._pad_left = -size % BLOCK
        if kind in REGULAR:
            self.files += 1
            self._file = hashlib.sha256()
            if not size:
                self._file.hexdigest()
                self._file = None


def verify(path: str) -> None:
    blob = hashlib.sha256()
    inflate = isal_zlib.decompressobj(wbits=31)
    layer = Layer()
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(CHUNK):
            blob.update(chunk)
            layer.feed(inflate.decompress(chunk))
    layer.feed(inflate.flush())
    blob.hexdigest()
    layer.diff_id.hexdigest()


def main() -> None:
    for path in sys.argv[1:]:
        verify(path)


if __name__ == "__main__":
    main()
