"""The bundle's stat cache: a snapshot of the rootfs that lets repack skip work.

Unpack (and ``repack --refresh-bundle``) records, next to the mtree, one
line per mtree entry: the inode's number, ctime, size and mtime as ``lstat``
saw them while the mtree was made, and the entry's keywords as that mtree
states them.  Repack then knows, for every path, what the mtree says *and*
whether the inode can have changed since:

* ctime cannot be set from user space and changes with every change to an
  inode (contents, mode, owner, xattrs, times, link count), so a path whose
  inode number and ctime both match is exactly as the mtree describes it:
  no listxattr, no hashing, no comparison (see
  :mod:`umoci.ops.repack_scan`);
* a file whose inode, size, mtime and ctime match keeps its sha256 even on
  the slow path (:meth:`Snapshot.digests`), so only changed files are read.

A copied bundle (``cp -a``) has new inodes and ctimes: nothing matches and
everything is compared and hashed.  The "racy" case: an inode changed again
after its ``lstat``, but within the same kernel clock tick as the change
that set the recorded ctime, keeps that ctime.  Such an inode's recorded
ctime is at most a tick older than its ``lstat``, so every entry whose
ctime is not at least :data:`RACY_MARGIN_NS` older than a clock reading
taken just before its ``lstat`` (the walk's :data:`~umoci.mtree.walker.Observed`)
is written as untrusted (inode -1: always compared).  The kernel stamps
files from a coarse clock that trails real time by at most one tick
(<= 10 ms), so the margin covers it.  The reading is per directory scan,
not per walk: unpack sets every directory's times at its very end, and a
walk-wide reading would leave all of them untrusted.

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
from collections.abc import Mapping

from umoci import log as umoci_log
from umoci.cas.layoutcheck import describe, read_regular
from umoci.errors import MtreeError
from umoci.mtree import CachedFile, Entry, Spec
from umoci.mtree.escape import unvis, vis
from umoci.mtree.spec import MAX_LINE
from umoci.mtree.walker import Observed, unpack_observed
from umoci.runtime.atomic import create_temp

CACHE_NAME = "umoci-statcache"
_MAGIC = "umoci-statcache 3"
RACY_MARGIN_NS = 50_000_000
# A line is an mtree entry's (at most mtree.MAX_LINE) plus five numbers and
# the path; the file, like the mtree it describes, is capped at 1 GiB.
_MAX_LINE = MAX_LINE + (64 << 10)
_MAX_CACHE_BYTES = 1 << 30
_DIGEST = "sha256digest="

log = umoci_log.get()

#: What the snapshot knows about one path: inode number and ctime (the
#: inode is -1 when the entry may not be trusted), and the rest of its line:
#: size, mtime and the mtree's keywords (``k=v`` tokens, single spaces).
Fingerprint = tuple[int, int, str]


def recorded_keywords(fingerprint: Fingerprint) -> str:
    """The mtree's keywords for the entry, as ``k=v`` tokens separated by spaces."""
    return fingerprint[2].split(" ", 2)[2]


class Snapshot:
    """A loaded stat cache: :data:`Fingerprint` by path (``b"."`` is the root)."""

    __slots__ = ("entries",)

    def __init__(self, entries: dict[bytes, Fingerprint]) -> None:
        self.entries = entries

    def digests(self) -> dict[bytes, CachedFile]:
        """Trusted sha256 digests of regular files, for a walk to reuse."""
        out: dict[bytes, CachedFile] = {}
        for path, (ino, ctime_ns, rest) in self.entries.items():
            if ino < 0:
                continue
            at = rest.find(_DIGEST)
            if at < 0:
                continue
            digest = rest[at + len(_DIGEST) : at + len(_DIGEST) + 64]
            if len(digest) == 64:
                size, mtime_ns, _ = rest.split(" ", 2)
                try:
                    out[path] = CachedFile(ino, int(size), int(mtime_ns), ctime_ns, digest)
                except ValueError:
                    continue  # not numbers: the file is hashed again
        return out


def _line(entry: Entry, observed: Observed | None) -> str:
    keywords = " ".join([f"{k}={v}" for k, v in entry.all_keywords().items()])
    if observed is None:
        return f"-1 0 {vis(entry.path)} 0 0 {keywords}\n"
    st_ino, ctime_ns, size, mtime_ns, before_ns = unpack_observed(observed)
    ino = st_ino if ctime_ns < before_ns - RACY_MARGIN_NS else -1
    return f"{ino} {ctime_ns} {vis(entry.path)} {size} {mtime_ns} {keywords}\n"


def write_cache(
    bundle: str,
    mtree_name: str,
    mtree_sha256: str,
    spec: Spec,
    stats: Mapping[bytes, Observed],
) -> None:
    """Atomically replace the bundle's stat cache with one describing ``spec``.

    ``mtree_sha256`` is the digest of the mtree as written (``dump(spec)``);
    ``stats`` the walk's :data:`~umoci.mtree.walker.Observed` for each
    entry.  Every entry of the spec gets a line; one without a stat, or
    changed too recently to vouch for, is recorded as never matching.
    """
    with CacheWriter(bundle, mtree_name) as writer:
        for entry in spec.entries():
            writer.add(entry, stats.get(entry.path))
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

    def add(self, entry: Entry, observed: Observed | None) -> None:
        self._lines.append(_line(entry, observed))
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
        return _parse(data.decode("utf-8", "surrogateescape"), mtree_name, mtree_data)
    except (ValueError, MtreeError):
        return None


def _parse(text: str, mtree_name: str, mtree_data: bytes) -> Snapshot | None:
    header, _, body = text.partition("\n")
    expected = f"{_MAGIC} {vis(os.fsencode(mtree_name))} {hashlib.sha256(mtree_data).hexdigest()}"
    if header != expected:
        return None
    entries: dict[bytes, Fingerprint] = {}
    lines = body.split("\n")  # not splitlines(): that also splits at \x1c, \x85 ...
    if lines[-1] == "":
        lines.pop()
    if len(body) > _MAX_LINE and max(map(len, lines)) > _MAX_LINE:
        return None
    for line in lines:
        ino_s, ctime_s, name, rest = line.split(" ", 3)
        ino, ctime_ns = int(ino_s), int(ctime_s)
        if rest.count(" ") < 2:
            return None  # no size, mtime and keywords to split later
        key = unvis(name) if "\\" in name else name.encode("utf-8", "surrogateescape")
        if key != b"." and not _confined(key):
            return None  # the mtree parser refuses such paths; so do we
        entries[key] = (ino, ctime_ns, rest)
    return Snapshot(entries)


def _confined(path: bytes) -> bool:
    """A clean path strictly below the root (no "..", "/", "." or empty parts, no NUL).

    The cache is as untrusted as the bundle it sits in, and a path it
    lists but the rootfs lacks becomes a whiteout in the new layer.  (Only
    substring tests: this runs for every line of every load.)
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
