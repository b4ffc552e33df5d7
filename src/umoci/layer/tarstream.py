"""A streaming tar header parser: ustar, GNU (long names, base-256) and PAX.

Why not ``tarfile``?  In stream mode it treats a corrupt header (or a stream
cut at a header) after the first entry as a quiet end of archive, reads PAX
times as floats (losing nanoseconds), decodes xattr values as text and has
no size cap on PAX/GNU extension records.  Layers are untrusted input, so we
parse the few header forms that exist ourselves; the interface is small
(:class:`TarReader.next` and :meth:`TarReader.chunks`) so that a faster
parser can replace this one later.

Semantics follow Go's archive/tar, which the Go umoci uses: only regular
files carry data; a V7 regular file whose name ends in ``/`` is a directory;
EOF at a header boundary ends the archive like the zero blocks do; global
PAX headers apply to every later entry.
"""

from __future__ import annotations

import enum
import os
import struct
import sys
import zlib
from collections.abc import Callable, Iterator

from umoci.compress.streams import CHUNK_SIZE, ByteReader
from umoci.errors import LayerError
from umoci.structs import dataclass, field

BLOCK = 512
#: Cap on PAX records and GNU long names (Go's archive/tar uses the same 1 MiB).
MAX_SPECIAL_SIZE = 1 << 20
_XATTR_PREFIX = "SCHILY.xattr."


class EntryKind(enum.Enum):
    """The entry types a layer may contain."""

    REG = "regular file"
    DIR = "directory"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    CHAR = "character device"
    BLOCK = "block device"
    FIFO = "fifo"


_KINDS: dict[bytes, EntryKind] = {
    b"0": EntryKind.REG,
    b"\0": EntryKind.REG,
    b"7": EntryKind.REG,  # contiguous file: a regular file everywhere that matters
    b"1": EntryKind.HARDLINK,
    b"2": EntryKind.SYMLINK,
    b"3": EntryKind.CHAR,
    b"4": EntryKind.BLOCK,
    b"5": EntryKind.DIR,
    b"6": EntryKind.FIFO,
}


@dataclass(slots=True)
class TarHeader:
    """One archive entry, with every extension already folded in.

    Names are ``str`` decoded with surrogateescape (``os.fsdecode``), exactly
    as given in the archive (not cleaned).  Times are integer nanoseconds;
    ``atime_ns`` is ``None`` when the archive does not record one.
    """

    name: str
    kind: EntryKind
    mode: int
    uid: int
    gid: int
    size: int
    mtime_ns: int
    atime_ns: int | None = None
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    uname: str = ""
    gname: str = ""
    xattrs: dict[str, bytes] = field(default_factory=dict)


TYPE_CHECKING = False  # typing is for mypy only
if TYPE_CHECKING:
    from typing import Protocol

    class EntryReader(Protocol):
        """What the extractor reads a layer from: :class:`TarReader` or the unpack pipeline."""

        entries: int
        hashes_data: bool
        data_sha256: str | None

        def next(self) -> TarHeader | None: ...
        def chunks(self) -> Iterator[bytes | memoryview]: ...
        def drain(self) -> int: ...


class TarReader:
    """Iterate over the entries of an uncompressed tar stream.

    ``next()`` returns the next :class:`TarHeader` (skipping any unread data
    of the previous entry) or ``None`` at the end of the archive;
    ``chunks()`` yields the current entry's data.  After the end,
    :meth:`drain` reads whatever follows the archive, so a hashing reader
    underneath sees the whole stream.
    """

    def __init__(
        self, stream: ByteReader, *, chunk_size: int = CHUNK_SIZE, seekable: bool = False
    ) -> None:
        """*seekable*: skip unread entry data with ``stream.seek`` instead of reading it.

        A seek past the end of a file does not fail, so a caller that skips
        must check the entries' extents against the file size itself.
        """
        self._stream = stream
        self._chunk_size = chunk_size
        self._seek: Callable[[int, int], int] | None = None
        if seekable:
            self._seek = stream.seek  # type: ignore[attr-defined]
        self._consumed = 0  # bytes taken from the stream (read or seeked over)
        self._buf = b""
        self._pos = 0
        self._remaining = 0  # unread data bytes of the current entry
        self._padding = 0  # padding after them
        self._global: dict[str, bytes] = {}
        self._ended = False
        #: Number of headers (entries) returned so far.
        self.entries = 0

    #: This reader does not hash file data (a pipelined reader may: then
    #: ``data_sha256`` is the last regular file's sha256 after its chunks).
    hashes_data = False
    data_sha256: str | None = None

    @property
    def position(self) -> int:
        """The stream offset of the next byte not yet handed out or parsed.

        Right after :meth:`next` returns a regular file, that is where its
        data starts (archive indexes use it to read members at random).
        """
        return self._consumed - (len(self._buf) - self._pos)

    # -- buffered input --------------------------------------------------
    def _fill(self, n: int) -> int:
        """Try to have ``n`` bytes buffered; return how many are."""
        avail = len(self._buf) - self._pos
        if avail >= n:
            return avail
        if not avail:
            # The usual case: the buffer ran out exactly; no copy needed.
            data = self._stream.read(max(self._chunk_size, n))
            if not data:
                self._buf, self._pos = b"", 0
                return 0
            self._consumed += len(data)
            if len(data) >= n and type(data) is bytes:
                self._buf, self._pos = data, 0
                return len(data)
            parts = [data]
            avail = len(data)
        else:
            parts = [self._buf[self._pos :]]
        while avail < n:
            data = self._stream.read(max(self._chunk_size, n - avail))
            if not data:
                break
            self._consumed += len(data)
            parts.append(data)
            avail += len(data)
        self._buf = b"".join(parts)
        self._pos = 0
        return avail

    def _take(self, n: int, what: str) -> bytes:
        if self._fill(n) < n:
            raise LayerError(f"read tar archive: unexpected end of stream in {what}")
        data = self._buf[self._pos : self._pos + n]
        self._pos += n
        return data

    def _skip(self, n: int, what: str) -> None:
        while n:
            avail = len(self._buf) - self._pos
            if avail:
                step = min(avail, n)
                self._pos += step
                n -= step
                continue
            if self._seek is not None:
                self._seek(n, os.SEEK_CUR)
                self._consumed += n
                return
            data = self._stream.read(min(self._chunk_size, n))
            if not data:
                raise LayerError(f"read tar archive: unexpected end of stream in {what}")
            self._consumed += len(data)
            if len(data) > n:  # a reader that ignores the size hint
                self._buf, self._pos = data, n
                return
            n -= len(data)

    # -- entry data --------------------------------------------------------
    def chunks(self) -> Iterator[bytes | memoryview]:
        """Yield the unread data of the current entry, in chunks."""
        while self._remaining:
            avail = len(self._buf) - self._pos
            if avail:
                step = min(avail, self._remaining)
                chunk: bytes | memoryview = memoryview(self._buf)[self._pos : self._pos + step]
                self._pos += step
            else:
                # A whole chunk, even past this entry: a smaller request
                # would make the reader below copy a slice of its buffer,
                # and the rest is kept here for what follows.
                chunk = self._stream.read(self._chunk_size)
                if not chunk:
                    raise LayerError("read tar archive: unexpected end of stream in file data")
                self._consumed += len(chunk)
                if len(chunk) > self._remaining:
                    self._buf, self._pos = bytes(chunk), self._remaining
                    chunk = memoryview(self._buf)[: self._remaining]
                step = len(chunk)
            self._remaining -= step
            yield chunk

    def drain(self) -> int:
        """Read everything after the archive; return the number of bytes."""
        total = len(self._buf) - self._pos
        self._buf, self._pos = b"", 0
        while True:
            data = self._stream.read(self._chunk_size)
            if not data:
                return total
            self._consumed += len(data)
            total += len(data)

    # -- headers -----------------------------------------------------------
    def next(self) -> TarHeader | None:
        """The next entry, or ``None`` at the end of the archive."""
        if self._ended:
            return None
        if self._remaining:
            self._skip(self._remaining, "file data")
        if self._padding:
            if self._fill(self._padding) < self._padding:
                # EOF after the last file's data, before or inside its padding:
                # some writers (the Go umoci 0.4's insert) never finish the
                # archive.  Go's reader takes that as the end of the archive
                # (the data is complete); so do we.
                self._ended = True
                self._remaining = self._padding = 0
                self._buf, self._pos = b"", 0
                return None
            self._pos += self._padding
        self._remaining = self._padding = 0
        pax: dict[str, bytes] = {}
        long_name: bytes | None = None
        long_link: bytes | None = None
        while True:
            avail = self._fill(BLOCK)
            if avail == 0:
                # EOF at a header boundary: Go's reader accepts a missing
                # end-of-archive marker, so do we.
                self._ended = True
                return None
            if avail < BLOCK:
                raise LayerError("read tar archive: unexpected end of stream in tar header")
            pos = self._pos
            block = self._buf[pos : pos + BLOCK]
            self._pos = pos + BLOCK
            if block.count(0) == BLOCK:
                self._ended = True
                return None
            _check_checksum(block)
            fields = _HEADER.unpack(block)
            typeflag = fields[7]
            size = _num(fields[4], "size")
            if size < 0:
                raise LayerError(f"read tar archive: corrupt header (negative size {size})")
            if typeflag in _SPECIAL:
                if size > MAX_SPECIAL_SIZE:
                    raise LayerError(f"read tar archive: extension header too large ({size} bytes)")
                payload = self._take(size, "extension header")
                self._skip(-size % BLOCK, "extension header")
                if typeflag == b"x":
                    pax.update(_parse_pax(payload))
                elif typeflag == b"g":
                    # In a global header an empty value removes the key.
                    for key, value in _parse_pax(payload).items():
                        if value:
                            self._global[key] = value
                        else:
                            self._global.pop(key, None)
                elif typeflag == b"L":
                    long_name = payload.split(b"\0", 1)[0]
                else:
                    long_link = payload.split(b"\0", 1)[0]
                continue
            hdr = _build(
                block,
                fields,
                size,
                _merge_pax(self._global, pax) if (pax or self._global) else _NO_PAX,
                long_name=long_name,
                long_link=long_link,
            )
            if hdr.kind is EntryKind.REG:
                self._remaining = hdr.size
                self._padding = -hdr.size % BLOCK
            self.entries += 1
            return hdr


#: The ustar header fields: name, mode, uid, gid, size, mtime, checksum,
#: typeflag, linkname, magic+version, uname, gname, devmajor, devminor,
#: prefix (and 12 bytes of padding).
_HEADER = struct.Struct("100s8s8s8s12s12s8sc100s8s32s32s8s8s155s12x")
_SPECIAL = frozenset((b"x", b"g", b"L", b"K"))
_NO_PAX: dict[str, bytes] = {}
_adler32 = zlib.adler32
_FS_ENCODING = sys.getfilesystemencoding()
_FS_ERRORS = sys.getfilesystemencodeerrors()
#: Parsed numeric fields by raw bytes: header fields repeat a lot (modes,
#: owners).  The value depends on the raw bytes only; bounded.
_NUM_CACHE: dict[bytes, int] = {}
_NUM_CACHE_MAX = 4096
_OCTAL_DIGITS = b"01234567"


def _num(raw: bytes, what: str) -> int:
    """:func:`_number`, memoized."""
    value = _NUM_CACHE.get(raw)
    if value is None:
        value = _number(raw, what)
        if len(_NUM_CACHE) < _NUM_CACHE_MAX:
            _NUM_CACHE[raw] = value
    return value


def _build(
    block: bytes,
    fields: tuple[bytes, ...],
    size: int,
    pax: dict[str, bytes],
    *,
    long_name: bytes | None,
    long_link: bytes | None,
) -> TarHeader:
    (
        raw_name,
        raw_mode,
        raw_uid,
        raw_gid,
        raw_size,
        raw_mtime,
        _,
        typeflag,
        raw_link,
        magic,
        raw_uname,
        raw_gname,
        raw_major,
        raw_minor,
        raw_prefix,
    ) = fields
    name = raw_name.split(b"\0", 1)[0]
    if magic[:6] == b"ustar\0":
        prefix = raw_prefix.split(b"\0", 1)[0]
        if prefix:
            name = prefix + b"/" + name
    if long_name is not None:
        name = long_name
    linkname = long_link if long_link is not None else raw_link.split(b"\0", 1)[0]
    if pax:
        if pax.get("path"):
            name = pax["path"]
        if pax.get("linkpath"):
            linkname = pax["linkpath"]

    kind = _KINDS.get(typeflag)
    if kind is None:
        if typeflag == b"S" or any(k.startswith("GNU.sparse.") for k in pax):
            raise LayerError(f"unpack entry {os.fsdecode(name)}: sparse files are unsupported")
        flag = typeflag.decode("latin-1")
        raise LayerError(f"unpack entry {os.fsdecode(name)}: unknown typeflag {flag!r}")
    if kind is EntryKind.REG and typeflag == b"\0" and name.endswith(b"/"):
        kind = EntryKind.DIR  # pre-POSIX directories

    mtime_ns = _num(raw_mtime, "mtime") * 1_000_000_000
    atime_ns: int | None = None
    if magic == b"ustar  \0" and block[345] != 0:  # GNU keeps an atime here
        atime_ns = _num(block[345:357], "atime") * 1_000_000_000
    if pax:
        if pax.get("mtime"):
            mtime_ns = _pax_time(pax["mtime"])
        if pax.get("atime"):
            atime_ns = _pax_time(pax["atime"])
        xattrs = {k[len(_XATTR_PREFIX) :]: v for k, v in pax.items() if k.startswith(_XATTR_PREFIX)}
        mode = _num(raw_mode, "mode") & 0o7777
        uid = _pax_int(pax, "uid", raw_uid)
        gid = _pax_int(pax, "gid", raw_gid)
        if kind is EntryKind.REG:
            size = _pax_int(pax, "size", raw_size)
        uname = pax.get("uname", raw_uname.split(b"\0", 1)[0])
        gname = pax.get("gname", raw_gname.split(b"\0", 1)[0])
    else:
        xattrs = {}
        # The memo inline (misses go through _num): the usual case is hits.
        hit = _NUM_CACHE.get(raw_mode)
        mode = (hit if hit is not None else _num(raw_mode, "mode")) & 0o7777
        hit = _NUM_CACHE.get(raw_uid)
        uid = hit if hit is not None else _num(raw_uid, "uid")
        hit = _NUM_CACHE.get(raw_gid)
        gid = hit if hit is not None else _num(raw_gid, "gid")
        uname = raw_uname.split(b"\0", 1)[0]
        gname = raw_gname.split(b"\0", 1)[0]
    hit = _NUM_CACHE.get(raw_major)
    devmajor = hit if hit is not None else _num(raw_major, "devmajor")
    hit = _NUM_CACHE.get(raw_minor)
    devminor = hit if hit is not None else _num(raw_minor, "devminor")
    # bytes.decode with the filesystem encoding: what os.fsdecode does.
    return TarHeader(
        name.decode(_FS_ENCODING, _FS_ERRORS),
        kind,
        mode,
        uid,
        gid,
        size,
        mtime_ns,
        atime_ns,
        linkname.decode(_FS_ENCODING, _FS_ERRORS) if linkname else "",
        devmajor,
        devminor,
        uname.decode(_FS_ENCODING, _FS_ERRORS) if uname else "",
        gname.decode(_FS_ENCODING, _FS_ERRORS) if gname else "",
        xattrs,
    )


def _merge_pax(global_records: dict[str, bytes], records: dict[str, bytes]) -> dict[str, bytes]:
    """An entry's PAX records over the global ones; an empty value deletes a key.

    POSIX says so, and Go's archive/tar drops every empty-valued record: an
    empty ``SCHILY.xattr.*`` never becomes an (empty) xattr.
    """
    merged = dict(global_records)
    for key, value in records.items():
        if value:
            merged[key] = value
        else:
            merged.pop(key, None)
    return merged


def _check_checksum(block: bytes) -> None:
    stored = _number(block[148:156], "checksum")
    # The checksum field itself counts as eight spaces.  Some historic tars
    # summed signed bytes, so accept either sum (as Go and GNU tar do).
    unsigned = _byte_sum(block) - sum(block[148:156]) + 8 * 32
    if stored == unsigned:
        return
    high = sum(1 for b in block[:148] + block[156:] if b > 127)
    if stored != unsigned - 256 * high:
        raise LayerError("read tar archive: corrupt header (bad checksum)")


def _byte_sum(block: bytes) -> int:
    """``sum(block)`` of a 512-byte block, faster: by Adler-32 halves.

    Adler-32's low half is ``(1 + sum of the bytes) % 65521``; a sum of 256
    bytes is at most 65280, so for each half it is exact.
    """
    return (_adler32(block[:256]) & 0xFFFF) + (_adler32(block[256:]) & 0xFFFF) - 2


def _number(raw: bytes, what: str) -> int:
    """An octal (space/NUL padded) or GNU base-256 header number.

    As strict as Go's archive/tar: octal is digits 0-7 only (``int(x, 8)``
    would also take a sign, ``0o`` and ``_``, and a negative size walks the
    reader backwards forever).  Base-256 may be negative (an mtime before
    1970); callers refuse negative sizes, ids and device numbers.
    """
    if raw and raw[0] & 0x80:
        # Base-256: big-endian two's complement, first byte's top bit is the marker.
        value = int.from_bytes(bytes([raw[0] & 0x7F]) + raw[1:], "big")
        if raw[0] & 0x40:
            value -= 1 << (len(raw) * 8 - 1)
        return value
    text = raw.split(b"\0", 1)[0].strip(b" ")
    if not text:
        return 0
    if text.translate(None, _OCTAL_DIGITS):
        raise LayerError(f"read tar archive: corrupt header ({what} field {raw!r})")
    return int(text, 8)


def _pax_int(pax: dict[str, bytes], key: str, raw: bytes) -> int:
    if not pax.get(key):
        return _number(raw, key)
    text = pax[key]
    if not text.isdigit():
        raise LayerError(f"read tar archive: invalid PAX {key} {text!r}")
    return int(text)


def _pax_time(raw: bytes) -> int:
    """A PAX time (``[-]seconds[.fraction]``) in integer nanoseconds, exactly."""
    text = raw.decode("ascii", "replace")
    sign = -1 if text.startswith("-") else 1
    secs, _, frac = text.lstrip("-").partition(".")
    if not secs.isdigit() or (frac and not frac.isdigit()):
        raise LayerError(f"read tar archive: invalid PAX time {text!r}")
    return sign * (int(secs) * 1_000_000_000 + int((frac + "000000000")[:9]))


def _parse_pax(payload: bytes) -> dict[str, bytes]:
    """PAX records: ``"<len> <key>=<value>\\n"``, ``len`` counting the whole record."""
    records: dict[str, bytes] = {}
    pos = 0
    while pos < len(payload):
        if payload[pos] == 0:  # some writers NUL-pad the record block
            break
        space = payload.find(b" ", pos)
        length_text = payload[pos:space]
        if space < 0 or not length_text.isdigit():
            raise LayerError("read tar archive: corrupt PAX header (bad record length)")
        end = pos + int(length_text)
        record = payload[space + 1 : end]
        if end > len(payload) or end <= space or not record.endswith(b"\n") or b"=" not in record:
            raise LayerError("read tar archive: corrupt PAX header (bad record)")
        key, _, value = record[:-1].partition(b"=")
        records[os.fsdecode(key)] = value
        pos = end
    return records
