"""The stat-cache rule, and the bundle's stat cache file that carries it across runs.

This module owns one idea: what was learnt about an inode (its mtree
keywords, its sha256) stays true while the inode's number and ctime are
unchanged, except within the racy window.  Everything that trusts an
earlier look at a file instead of looking again goes through it:

* unpack hands the digests its extractor computed to the mtree walk that
  follows (:func:`known_record`, :func:`vouched_digest`), collects that
  walk's :class:`Observations` and writes them into the cache
  (:class:`CacheWriter`);
* repack's quick scan (:mod:`umoci.ops.repack_scan`) skips every path
  whose inode is :func:`unchanged`, and its full walk reuses the digests of
  unchanged files (:meth:`Snapshot.digests`);
* ``repack --refresh-bundle`` writes the cache again (:func:`write_cache`).

The mtree walk (:func:`umoci.mtree.walk`) knows none of this: it takes a
"sha256 you already know" function and an "observe" function and calls
them.  The owner sits in ``ops/`` rather than at the top of the package
because its only users are the bundle verbs and its file is part of a
bundle, like ``umoci.json`` beside it; ``mtree/`` and everything else below
``ops/`` stays free of it (a test checks).

The rule
--------

ctime cannot be set from user space and the kernel moves it on every change
to an inode (contents, mode, owner, xattrs, times, link count), so an inode
whose number and ctime are what an earlier ``lstat`` saw is as that
``lstat`` (and what was read right after it) found it.  The exception
("racy git"): a change after the ``lstat``, within the same tick of the
kernel's timestamp clock as the change that set the ctime, leaves the ctime
as it was.  That ctime is then at most a tick older than the ``lstat``.  The
kernel stamps files from a coarse clock that trails real time by at most
one tick (<= 10 ms), so an observation vouches for its inode only when the
ctime is at least :data:`RACY_MARGIN_NS` older than a clock reading taken
before the ``lstat`` (:func:`settled`).  The walk reads the clock before
each directory scan, not once per walk: unpack sets every directory's
times at its very end, and a walk-wide reading would leave all of them
unsettled.  An unsettled entry is written as untrusted (inode -1, never
:func:`unchanged`), so the quick scan and the full walk both look at it
again.

Digests the extractor hands over are the one use of an unsettled
observation (each file was written moments before): the walk of the same
unpack, in the bundle directory unpack has just made, reuses one only while
inode, ctime, size *and* mtime are what the extractor saw.  The extractor
gave every file the layer's mtime, so an ordinary write after it moves the
mtime as well; only a writer inside the new bundle that puts the mtime
back within the same clock tick, while unpack runs, would go unseen.  A
hardlink the extractor makes takes over its target's digest while the
inode's number, size and mtime are what the target's record says
(:func:`relinked`: link(2) moves only the ctime).  What the walk records
is then vouched for by its own observation, under the rule above.

The cache file
--------------

Unpack (and ``repack --refresh-bundle``) records, next to the mtree, one
line per mtree entry: the entry's :data:`Observation` (inode -1 when
unsettled) and its keywords as the mtree states them.  Repack then knows,
for every path, what the mtree says *and* whether the inode can have
changed since.  A copied bundle (``cp -a``) has new inodes and ctimes:
nothing matches and everything is compared and hashed.

The file ``BUNDLE/umoci-statcache`` is ours alone (the Go umoci ignores it).
Its header names the mtree it describes and that mtree's sha256; it is
ignored if either does not match, or if it is malformed in any way.  Format::

    umoci-statcache 3 <vis(mtree name)> <mtree sha256>
    <ino> <ctime ns> <vis(path)> <size> <mtime ns> <keyword=value ...>

Loading converts only what every repack needs (path, inode, ctime) and
checks that the rest of a line has its three fields; the rest is split only
for the few entries that are looked at.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
from collections.abc import Iterator, Mapping

from umoci import log as umoci_log
from umoci.cas.layoutcheck import describe, read_regular
from umoci.errors import MtreeError
from umoci.mtree import Entry, Spec
from umoci.mtree.escape import unvis, vis
from umoci.mtree.keywords import StatLike
from umoci.mtree.spec import MAX_LINE
from umoci.runtime.atomic import create_temp

__all__ = [
    "CACHE_NAME",
    "RACY_MARGIN_NS",
    "CacheWriter",
    "Fingerprint",
    "KnownDigests",
    "Observation",
    "Observations",
    "Snapshot",
    "known_record",
    "read_cache",
    "recorded_keywords",
    "relinked",
    "settled",
    "unchanged",
    "vouched_digest",
    "write_cache",
]

#: How much older than the clock reading taken before an ``lstat`` the
#: ctime it saw must be for the observation to vouch for the inode (see
#: "The rule" above).  The only racy margin in umoci.
RACY_MARGIN_NS = 50_000_000

#: The inode number of an entry that may not be trusted: no inode has it.
_UNTRUSTED = -1

CACHE_NAME = "umoci-statcache"
_MAGIC = "umoci-statcache 3"
# A line is an mtree entry's (at most mtree.MAX_LINE) plus five numbers and
# the path; the file, like the mtree it describes, is capped at 1 GiB.
_MAX_LINE = MAX_LINE + (64 << 10)
_MAX_CACHE_BYTES = 1 << 30
_DIGEST = b"sha256digest="

log = umoci_log.get()


def settled(ctime_ns: int, before_ns: int) -> bool:
    """Whether an inode ``lstat`` saw with ``ctime_ns`` would show any later change in its ctime.

    ``before_ns`` is a ``time.time_ns()`` reading taken before that ``lstat``.
    """
    return ctime_ns < before_ns - RACY_MARGIN_NS


def unchanged(ino: int, ctime_ns: int, st: StatLike) -> bool:
    """Whether ``st`` is the inode recorded as number ``ino`` with ``ctime_ns``, unchanged since."""
    return ino == st.st_ino and ctime_ns == st.st_ctime_ns


#: What an ``lstat`` during a walk saw of one entry, for the cache: inode
#: number, ctime, size, mtime (nanoseconds) and the ``time.time_ns()``
#: reading taken before that ``lstat``.
Observation = tuple[int, int, int, int, int]


class Observations(Mapping[bytes, Observation]):
    """Each entry's :data:`Observation` by path, as a walk reports them (see :meth:`record`).

    Packed because a walk keeps one per entry until that entry's line is
    written: 73 bytes instead of the ~520 of an ``os.stat_result`` and a tuple.
    """

    __slots__ = ("_packed",)
    # Inode numbers and sizes are unsigned 64-bit (overlayfs can set an
    # inode's top bit); times may precede the epoch.
    _RECORD = struct.Struct("=QqQqq")

    def __init__(self) -> None:
        self._packed: dict[bytes, bytes] = {}

    def record(self, path: bytes, st: StatLike, before_ns: int) -> None:
        """Note ``path``'s ``lstat`` ``st``, made after the clock read ``before_ns``.

        The ``observe`` function of :func:`umoci.mtree.walk`.
        """
        self._packed[path] = self._RECORD.pack(
            st.st_ino, st.st_ctime_ns, st.st_size, st.st_mtime_ns, before_ns
        )

    def __getitem__(self, path: bytes) -> Observation:
        return self._RECORD.unpack(self._packed[path])

    def pop(self, path: bytes) -> Observation | None:
        """``path``'s observation, forgotten (None if there is none)."""
        packed = self._packed.pop(path, None)
        return None if packed is None else self._RECORD.unpack(packed)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._packed)

    def __len__(self) -> int:
        return len(self._packed)


#: What is known of one regular file: its sha256 (binary) and the inode
#: number, ctime, size and mtime it was known for; signedness as for
#: Observations.  64 bytes: unpack keeps one for every file its layers wrote.
_KNOWN = struct.Struct("=QqQq32s")


def known_record(st: StatLike, sha256: str) -> bytes:
    """``sha256`` (a ``hexdigest()``) known for the regular file ``st`` describes, packed."""
    return _KNOWN.pack(st.st_ino, st.st_ctime_ns, st.st_size, st.st_mtime_ns, bytes.fromhex(sha256))


def vouched_digest(record: bytes, st: StatLike) -> str | None:
    """The digest in ``record`` if ``st`` is its inode, unchanged (else None).

    ``record`` starts with a :func:`known_record` (what follows is the
    holder's own).  Size and mtime must match as well: the extractor's
    digests are not settled (see "The rule" above).
    """
    known: tuple[int, int, int, int, bytes] = _KNOWN.unpack_from(record)
    ino, ctime_ns, size, mtime_ns, digest = known
    if unchanged(ino, ctime_ns, st) and size == st.st_size and mtime_ns == st.st_mtime_ns:
        return digest.hex()
    return None


def relinked(record: bytes, st: StatLike) -> bytes | None:
    """``record`` for its inode after link(2) gave it one more name (``st``: the inode now).

    None if ``st`` is another inode (number, size or mtime differ): link(2)
    moves only the ctime, which the new record takes.
    """
    ino, _, size, mtime_ns, digest = _KNOWN.unpack_from(record)
    if (ino, size, mtime_ns) != (st.st_ino, st.st_size, st.st_mtime_ns):
        return None
    return _KNOWN.pack(ino, st.st_ctime_ns, size, mtime_ns, digest)


class KnownDigests:
    """Regular files' sha256, by path, each with the inode it was known for.

    A file's digest is given back (:meth:`take`) only while the file's
    inode is :func:`unchanged` and its size and mtime are as they were
    (:func:`vouched_digest`).  Stored packed (:func:`known_record`).
    """

    __slots__ = ("_packed",)

    def __init__(self) -> None:
        self._packed: dict[bytes, bytes] = {}

    def add(
        self, path: bytes, sha256: str, *, ino: int, ctime_ns: int, size: int, mtime_ns: int
    ) -> None:
        """Know ``path``'s ``sha256`` for that inode, ctime, size and mtime.

        For values read from a file: :class:`ValueError` if ``sha256`` is not
        64 lowercase hex digits, :class:`struct.error` if a number is out of
        range.
        """
        digest = bytes.fromhex(sha256)
        if len(digest) != 32 or digest.hex() != sha256:
            raise ValueError(f"not a sha256 digest: {sha256!r}")
        self._packed[path] = _KNOWN.pack(ino, ctime_ns, size, mtime_ns, digest)

    def take(self, path: bytes, st: StatLike) -> str | None:
        """``path``'s digest if ``st`` is the inode it was known for, unchanged; forget it.

        The ``known_digest`` function of :func:`umoci.mtree.walk`, which asks
        once for each path: the record is dropped either way, so a walk over
        a million files does not hold two copies of what it knows.
        """
        packed = self._packed.pop(path, None)
        return None if packed is None else vouched_digest(packed, st)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._packed)

    def __len__(self) -> int:
        return len(self._packed)


#: What the snapshot knows about one path: inode number and ctime (the
#: inode is -1 when the entry may not be trusted), and the rest of its line
#: as read: size, mtime and the mtree's keywords (``k=v`` tokens, single
#: spaces).
Fingerprint = tuple[int, int, bytes]


def recorded_keywords(fingerprint: Fingerprint) -> str:
    """The mtree's keywords for the entry, as ``k=v`` tokens separated by spaces."""
    return fingerprint[2].split(b" ", 2)[2].decode("utf-8", "surrogateescape")


class Snapshot:
    """A loaded stat cache: :data:`Fingerprint` by path (``b"."`` is the root)."""

    __slots__ = ("entries",)

    def __init__(self, entries: dict[bytes, Fingerprint]) -> None:
        self.entries = entries

    def digests(self) -> KnownDigests:
        """The recorded sha256 digests of trusted regular files, for a walk to reuse."""
        out = KnownDigests()
        for path, (ino, ctime_ns, rest) in self.entries.items():
            if ino < 0:
                continue  # untrusted (or nonsense): never unchanged
            at = rest.find(_DIGEST)
            if at < 0:
                continue
            digest = rest[at + len(_DIGEST) : at + len(_DIGEST) + 64]
            if len(digest) == 64:
                size, mtime_ns, _ = rest.split(b" ", 2)
                try:
                    out.add(
                        path,
                        digest.decode("ascii"),
                        ino=ino,
                        ctime_ns=ctime_ns,
                        size=int(size),
                        mtime_ns=int(mtime_ns),
                    )
                except (ValueError, struct.error):  # (UnicodeDecodeError is a ValueError)
                    continue  # not numbers, or not a digest: the file is hashed again
        return out


def _line(entry: Entry, observation: Observation | None) -> str:
    keywords = " ".join(map("=".join, entry.all_keywords().items()))  # "k=v k=v ..."
    if observation is None:
        return f"{_UNTRUSTED} 0 {vis(entry.path)} 0 0 {keywords}\n"
    ino, ctime_ns, size, mtime_ns, before_ns = observation
    if not settled(ctime_ns, before_ns):
        ino = _UNTRUSTED
    return f"{ino} {ctime_ns} {vis(entry.path)} {size} {mtime_ns} {keywords}\n"


def write_cache(
    bundle: str,
    mtree_name: str,
    mtree_sha256: str,
    spec: Spec,
    observations: Observations,
) -> None:
    """Atomically replace the bundle's stat cache with one describing ``spec``.

    ``mtree_sha256`` is the digest of the mtree as written (``dump(spec)``);
    ``observations`` what the walk that made ``spec`` saw.  Every entry of
    the spec gets a line; one without an observation, or not
    :func:`settled`, is recorded as never matching.
    """
    with CacheWriter(bundle, mtree_name) as writer:
        for entry in spec.entries():
            writer.add(entry, observations.get(entry.path))
        writer.finish(mtree_sha256)


class CacheWriter:
    """Writes a stat cache entry by entry, for a walk that never holds its spec.

    The header names the mtree's digest, known only once the mtree is
    written: it goes in last, over a placeholder of the same length.  Until
    :meth:`finish` the cache is a temporary file, removed if the writer is
    left without finishing.
    """

    def __init__(self, bundle: str, mtree_name: str) -> None:
        self._path = os.path.join(bundle, CACHE_NAME)
        fd, self._temp = create_temp(self._path)
        self._file = os.fdopen(fd, "wb")
        head = f"{_MAGIC} {vis(os.fsencode(mtree_name))} ".encode("utf-8", "surrogateescape")
        self._digest_at = len(head)
        self._file.write(head + b"0" * 64 + b"\n")
        self._lines: list[str] = []
        self._done = False

    def add(self, entry: Entry, observation: Observation | None) -> None:
        self._lines.append(_line(entry, observation))
        if len(self._lines) >= 4096:
            self._flush()

    def _flush(self) -> None:
        self._file.write("".join(self._lines).encode("utf-8", "surrogateescape"))
        self._lines = []

    def finish(self, mtree_sha256: str) -> None:
        self._flush()
        self._file.seek(self._digest_at)
        self._file.write(mtree_sha256.encode("ascii"))
        self._file.close()
        os.replace(self._temp, self._path)
        self._done = True

    def __enter__(self) -> CacheWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._done:
            self._file.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._temp)


def read_cache(bundle: str, mtree_name: str, mtree_data: bytes) -> Snapshot | None:
    """The bundle's stat cache if it describes this very mtree (else None).

    A cache we cannot use only costs speed (everything is compared and
    hashed), so every problem means None, including one planted to hurt: a
    FIFO or a device is never read (it could block or never end), a file is
    read only up to its size cap, and a line longer than any mtree line is
    malformed.
    """
    path = os.path.join(bundle, CACHE_NAME)
    try:
        data = read_regular(path, _MAX_CACHE_BYTES)
    except FileNotFoundError:
        return None
    except OSError as err:
        log.warning("ignoring the stat cache %s: %s", path, describe(err))
        return None
    try:
        return _parse(data, mtree_name, mtree_data)
    except (ValueError, MtreeError):
        return None


def _parse(data: bytes, mtree_name: str, mtree_data: bytes) -> Snapshot | None:
    # Split as bytes: a line's fields are ASCII but its path, and the keys
    # are bytes anyway.  (The text is never decoded as a whole: at 1.5 MB
    # for 7,000 paths, each copy of it costs page faults.)
    lines = data.split(b"\n")  # not splitlines(): that also splits at \x1c, \x85 ...
    header = lines[0].decode("utf-8", "surrogateescape")
    expected = f"{_MAGIC} {vis(os.fsencode(mtree_name))} {hashlib.sha256(mtree_data).hexdigest()}"
    if header != expected:
        return None
    del lines[0]
    if lines and lines[-1] == b"":
        lines.pop()
    if len(data) > _MAX_LINE and max(map(len, lines)) > _MAX_LINE:
        return None
    entries: dict[bytes, Fingerprint] = {}
    plain: list[bytes] = []  # names that are their own vis encoding (nearly all)
    for line in lines:
        ino_s, ctime_s, name, rest = line.split(b" ", 3)
        ino, ctime_ns = int(ino_s), int(ctime_s)
        if rest.find(b" ", rest.find(b" ") + 1) < 0:
            return None  # no size, mtime and keywords to split later
        if b"\\" in name:
            key = unvis(name.decode("utf-8", "surrogateescape"))
            if key != b"." and not _confined(key):
                return None  # the mtree parser refuses such paths; so do we
        else:
            plain.append(name)
            key = name
        entries[key] = (ino, ctime_ns, rest)
    with contextlib.suppress(ValueError):
        plain.remove(b".")  # the root's line (the first): the one path that may be "."
    if not _all_confined(plain):
        return None
    return Snapshot(entries)


def _confined(path: bytes) -> bool:
    """A clean path strictly below the root (no "..", "/", "." or empty parts, no NUL).

    The cache is as untrusted as the bundle it sits in, and a path it
    lists but the rootfs lacks becomes a whiteout in the new layer.
    (Only substring tests; :func:`_all_confined` is the same rule for many
    paths at once.)
    """
    return not (
        not path
        or b"\x00" in path
        or path.startswith((b"/", b"./", b"../"))
        or path.endswith((b"/", b"/.", b"/.."))
        or path in (b".", b"..")
        or b"//" in path
        or b"/./" in path
        or b"/../" in path
    )


#: :func:`_confined`'s tests for paths joined with "/" (with one before the
#: first and after the last): an empty, "." or ".." part, or a NUL.
_UNCONFINED = (b"//", b"/./", b"/../", b"\x00")


def _all_confined(paths: list[bytes]) -> bool:
    """Whether every path is :func:`_confined`, tested in four searches over all of them.

    Joined with "/", every part of every path lies between two slashes: a
    leading or trailing "/" and an empty path become "//", a leading "./"
    or trailing "/." becomes "/./", and so on.  Four substring searches
    instead of eight or more per path: a stat cache has a line for every
    path of the rootfs.
    """
    if not paths:
        return True
    joined = b"/" + b"/".join(paths) + b"/"
    return not any(sign in joined for sign in _UNCONFINED)
