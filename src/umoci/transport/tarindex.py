"""Random access to the members of an untrusted tar archive, never extracting it.

:func:`open_archive` makes the archive a seekable plain tar file -- a
regular uncompressed file is used where it is; standard input, pipes and
gzip, xz, zstd or bzip2 archives (recognised by their magic bytes, not
their names) are first copied, decompressed, into an unnamed temporary
file (:mod:`.spool`) -- and then reads every header once
(:class:`~umoci.layer.tarstream.TarReader`, seeking over the data) into a
table of members.  Blobs are then read straight from the file with
``pread``, as many times as needed.

Nothing from the archive ever reaches the filesystem, so no entry can be
written anywhere; but an archive that could mislead another reader is
refused as a whole, before any member is used:

* a name that is absolute or climbs with ``..`` (``./`` prefixes and
  ``.`` components are dropped, as tar does);
* a symlink whose target is absolute or climbs above the archive's root,
  a hardlink to anything but an earlier regular file;
* an entry that is neither a file, a directory nor a link (devices, FIFOs);
* the same name twice (tar readers disagree on which one wins);
* a file whose data runs past the end of the archive (truncated), a header
  that is corrupt or cut short;
* more than :data:`MAX_ENTRIES` entries, or a name or link target longer
  than :data:`PATH_MAX` bytes (what Linux accepts for a path: memory stays
  bounded by the entry count, and no lookup walks a megabyte-long name);
* more than :data:`MAX_SPOOL` bytes once decompressed (the spool would
  fill ``--tmpdir``).

Symlinks inside the archive are followed when a caller asks to
(``docker save``'s legacy ``ID/layer.tar`` links), within a bounded number
of hops; the OCI layout reader refuses them, as the layout store does.
"""

from __future__ import annotations

import os
import stat
from collections import deque

from umoci.closing import Closing
from umoci.compress.magic import SNIFF_BYTES, sniff
from umoci.compress.streams import CHUNK_SIZE
from umoci.errors import LayerError, TransportError
from umoci.layer.tarstream import EntryKind, TarReader
from umoci.structs import dataclass
from umoci.transport.spool import Spool

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from collections.abc import Callable

    from umoci.compress.streams import ByteReader
    from umoci.transport.spool import SpoolDir

#: More entries than this is not an image archive (a legacy ``docker save``
#: archive has four per layer); refused before memory grows with them.
MAX_ENTRIES = 1 << 17
#: A compressed archive is decompressed into the spool up to this many bytes
#: (a gzip bomb must not fill ``--tmpdir``); a larger one is to be decompressed
#: to a file first, which is read where it is.
MAX_SPOOL = 64 << 30
#: Linux's limit on a path (``PATH_MAX``, in bytes): no name or link target is longer.
PATH_MAX = 4096
_MAX_HOPS = 40


@dataclass(frozen=True, slots=True)
class Member:
    """A regular file in the archive: where its data starts, and how long it is."""

    name: str
    offset: int
    size: int


class TarIndex(Closing):
    """An opened archive: its members by (cleaned) name, readable at random."""

    def __init__(self, fd: int, size: int, what: str) -> None:
        """Index the plain tar at *fd* (owned from now on) of *size* bytes; *what* names it."""
        self.what = what
        self._fd: int | None = fd
        self.files: dict[str, Member] = {}
        self._dirs: set[str] = set()
        self._symlinks: dict[str, str] = {}
        try:
            self._scan(size)
        except BaseException:
            self.close()
            raise

    # -- scanning -------------------------------------------------------------

    def _scan(self, size: int) -> None:
        assert self._fd is not None
        stream = os.fdopen(os.dup(self._fd), "rb", buffering=0)
        with stream:
            stream.seek(0)
            reader = TarReader(stream, seekable=True, chunk_size=1 << 16)
            while True:
                try:
                    header = reader.next()
                except LayerError as err:
                    raise TransportError(f"{self.what}: {_cut(str(err))}") from None
                if header is None:
                    break
                if reader.entries > MAX_ENTRIES:
                    raise TransportError(f"{self.what}: more than {MAX_ENTRIES} entries")
                name = self._clean(header.name, "entry")
                self._check_new(name, header.kind)
                match header.kind:
                    case EntryKind.REG:
                        offset = reader.position
                        if offset + header.size > size:
                            raise TransportError(
                                f"{self.what}: truncated: entry {name!r} declares "
                                f"{header.size} bytes, the archive ends {size - offset} "
                                "bytes after its header"
                            )
                        self.files[name] = Member(name, offset, header.size)
                    case EntryKind.DIR:
                        if name:
                            self._dirs.add(name)
                    case EntryKind.SYMLINK:
                        self._check_link_target(name, header.linkname)
                        self._symlinks[name] = header.linkname
                    case EntryKind.HARDLINK:
                        target = self._clean(header.linkname, f"hardlink {name!r} target")
                        linked = self.files.get(target)
                        if linked is None:
                            raise TransportError(
                                f"{self.what}: hardlink {name!r} points to {header.linkname!r}, "
                                "which is not an earlier file in the archive"
                            )
                        self.files[name] = Member(name, linked.offset, linked.size)
                    case _:
                        raise TransportError(
                            f"{self.what}: entry {name!r} is a {header.kind.value}: "
                            "an image archive holds files, directories and links only"
                        )

    def _clean(self, raw: str, what: str, *, named: bool = False) -> str:
        """*raw* as a name relative to the archive's root; refused if it leaves it.

        *what* says what *raw* is in messages ("entry"), followed by *raw*
        unless *named* (*what* quotes it already).
        """
        if _too_long(raw):
            why = f"is longer than {PATH_MAX} bytes"
        elif raw.startswith("/"):
            why = "is an absolute path"
        elif ".." in raw.split("/"):
            why = "leaves the archive (..)"
        else:
            return "/".join(part for part in raw.split("/") if part not in ("", "."))
        label = what if named else f"{what} {quote(raw)}"  # only now: names are many
        raise TransportError(f"{self.what}: {label} {why}")

    def _check_new(self, name: str, kind: EntryKind) -> None:
        if not name:
            if kind is not EntryKind.DIR:
                raise TransportError(f"{self.what}: an entry without a name")
            return
        if kind is EntryKind.DIR and name in self._dirs:
            return  # a directory listed twice says nothing new
        if name in self.files or name in self._dirs or name in self._symlinks:
            raise TransportError(f"{self.what}: entry {name!r} appears more than once")

    def _check_link_target(self, name: str, target: str) -> None:
        if _too_long(target):
            raise TransportError(
                f"{self.what}: symlink {name!r} target {quote(target)} is longer than "
                f"{PATH_MAX} bytes"
            )
        if target.startswith("/"):
            raise TransportError(
                f"{self.what}: symlink {name!r} points to an absolute path {target!r}"
            )
        depth = name.count("/")  # directories above the link
        for part in target.split("/"):
            if part == "..":
                depth -= 1
                if depth < 0:
                    raise TransportError(
                        f"{self.what}: symlink {name!r} points outside the archive ({target!r})"
                    )
            elif part not in ("", "."):
                depth += 1

    # -- lookups --------------------------------------------------------------

    def file(self, name: str, *, follow: bool, what: str = "") -> Member:
        """The regular file *name* (cleaned as entry names are), following symlinks if *follow*."""
        label = what or quote(name)
        path = self._clean(name, label, named=True)
        if follow:
            path = self._resolve(path, label)
        member = self.files.get(path)
        if member is not None:
            return member
        if path in self._symlinks:
            raise TransportError(f"{self.what}: {label} is a symlink, not a file")
        if path in self._dirs:
            raise TransportError(f"{self.what}: {label} is a directory, not a file")
        raise TransportError(f"{self.what}: {label} is missing from the archive")

    def has(self, name: str) -> bool:
        return name in self.files or name in self._symlinks

    def _resolve(self, path: str, label: str) -> str:
        """*path* with every symlink among its components replaced by its target.

        Linear in the components: a deque of those still to walk, and the
        resolved prefix kept as a string.  Links are at most PATH_MAX long,
        so a prefix longer than that names nothing (no link, no file): it is
        refused there, which bounds the work however links expand the path.
        """
        pending = deque(path.split("/") if path else ())
        done: list[str] = []
        prefix = ""
        hops = 0
        while pending:
            part = pending.popleft()
            candidate = f"{prefix}/{part}" if prefix else part
            target = self._symlinks.get(candidate)
            if target is None:
                if len(candidate) > PATH_MAX:
                    raise TransportError(
                        f"{self.what}: {label} leads to a path longer than {PATH_MAX} bytes"
                    )
                done.append(part)
                prefix = candidate
                continue
            hops += 1
            if hops > _MAX_HOPS:
                raise TransportError(f"{self.what}: {label}: too many levels of symlinks")
            steps: list[str] = []  # the target's components, with ".." applied
            for step in target.split("/"):
                if step == "..":
                    if steps:
                        steps.pop()
                    elif done:
                        done.pop()
                    else:
                        raise TransportError(f"{self.what}: {label} leads outside the archive")
                elif step not in ("", "."):
                    steps.append(step)
            pending.extendleft(reversed(steps))
            prefix = "/".join(done)
        return prefix

    # -- reading --------------------------------------------------------------

    def open(self, member: Member) -> MemberReader:
        """A reader of *member*'s bytes (independent of every other reader)."""
        if self._fd is None:
            raise ValueError("read from a closed archive")
        return MemberReader(self._fd, member.offset, member.size)

    def read(self, member: Member, limit: int) -> bytes:
        """All of a (small) member's bytes; TransportError if it is larger than *limit*."""
        if member.size > limit:
            raise TransportError(
                f"{self.what}: {member.name} is {member.size} bytes, too large to read whole"
            )
        with self.open(member) as reader:
            return reader.read(member.size)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class MemberReader:
    """``read``/``readinto`` of one member's bytes with ``pread`` (no shared file offset)."""

    def __init__(self, fd: int, offset: int, size: int) -> None:
        self._fd = fd
        self._pos = offset
        self._end = offset + size

    def readinto(self, buffer: bytearray | memoryview) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._end - self._pos)
        if want <= 0:
            return 0
        n = os.preadv(self._fd, [view[:want]], self._pos)
        self._pos += n
        return n

    def read(self, size: int = -1, /) -> bytes:
        want = self._end - self._pos if size < 0 else min(size, self._end - self._pos)
        if want <= 0:
            return b""
        data = os.pread(self._fd, want, self._pos)
        self._pos += len(data)
        return data

    def close(self) -> None:
        self._end = self._pos  # the fd belongs to the archive

    def __enter__(self) -> MemberReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_archive(path: str, *, tmpdir: SpoolDir, what: str) -> TarIndex:
    """Open the archive at *path* (``-``: standard input) as a :class:`TarIndex`."""
    if path == "-":
        if os.isatty(0):
            raise TransportError(f"{what}: refusing to read an archive from a terminal")
        fd = os.dup(0)
    else:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as err:
            raise TransportError(f"{what}: open {path}: {err.strerror}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise TransportError(f"{what}: {path} is a directory, not an archive")
        in_place = stat.S_ISREG(st.st_mode) and _decompressor(os.pread(fd, SNIFF_BYTES, 0)) is None
        if not in_place:
            spool, size = spool_stream(_FdReader(fd), tmpdir, what)
    except BaseException:
        os.close(fd)
        raise
    if in_place:
        return TarIndex(fd, st.st_size, what)  # it owns fd now, and closes it on error
    os.close(fd)
    return TarIndex(spool, size, what)


def _decompressor(head: bytes) -> Callable[[ByteReader], ByteReader] | None:
    """A decompressing reader for the format *head* starts with, or None (plain)."""
    found = sniff(head)
    if found is None:
        return None
    from umoci.compress.archives import FILE_READERS

    return FILE_READERS[found]


def spool_stream(source: ByteReader, tmpdir: SpoolDir, what: str) -> tuple[int, int]:
    """Copy (decompressing) *source* into an unnamed temporary file: ``(fd, size)``."""
    raw = _Sniffing(source)
    decompress = _decompressor(raw.head())
    stream: ByteReader = raw if decompress is None else decompress(raw)
    with Spool(tmpdir, what) as spool:
        while True:
            try:
                data = stream.read(CHUNK_SIZE)
            except LayerError as err:  # corrupt or truncated compressed data
                raise TransportError(f"{what}: {err}") from None
            except OSError as err:
                raise TransportError(f"{what}: read: {err.strerror or err}") from None
            if not data:
                break
            if decompress is not None and spool.size + len(data) > MAX_SPOOL:
                limit = f"{MAX_SPOOL / (1 << 30):g} GiB"
                raise TransportError(
                    f"{what}: decompressed, the archive is larger than {limit}, the most "
                    f"spooled to {tmpdir}: decompress it to a file first"
                )
            spool.write(data)
        return spool.detach(), spool.size


class _FdReader:
    """``read(n)`` from a raw fd."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def read(self, size: int = -1, /) -> bytes:
        return os.read(self._fd, CHUNK_SIZE if size < 0 else size)


class _Sniffing:
    """A stream whose first bytes can be looked at (:meth:`head`) before it is read."""

    def __init__(self, raw: ByteReader) -> None:
        self._raw = raw
        self._head = b""

    def head(self) -> bytes:
        """The first bytes :func:`sniff` looks at (fewer if the stream is shorter), kept."""
        while len(self._head) < SNIFF_BYTES:
            data = self._raw.read(CHUNK_SIZE)
            if not data:
                break
            self._head += data
        return self._head

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            size = CHUNK_SIZE
        if self._head:
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._raw.read(size)


def _too_long(name: str) -> bool:
    """Is *name* longer than :data:`PATH_MAX` bytes?

    Encoded only if it might be: a character is 1 to 4 bytes in UTF-8.
    """
    length = len(name)
    return length > PATH_MAX or (length > PATH_MAX // 4 and len(os.fsencode(name)) > PATH_MAX)


def quote(name: str) -> str:
    """*name* quoted for a message, cut short if long (a hostile one may be a megabyte)."""
    return repr(name) if len(name) <= 80 else f"{name[:64]!r}..."


def _cut(message: str) -> str:
    """A tar reader's message without its layer-oriented prefix."""
    return message.removeprefix("read tar archive: ").removeprefix("unpack ")
