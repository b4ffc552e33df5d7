"""Build a spec from a directory tree (go-mtree's ``Walk``) or from known facts.

Order and layout follow go-mtree exactly, so :func:`~umoci.mtree.spec.dump`
of the result is byte-identical to what the Go umoci writes:

* depth first from the root; inside a directory the non-directories come
  first, then the directories, each group sorted by name bytes
  (``lstat``, so a symlink to a directory is not a directory);
* every directory is preceded by a blank line and a ``# <path>`` comment
  (``# .`` for the root), and followed, after its contents, by ``..``;
* the first directory opens with ``/set`` holding the defaults
  ``type=file nlink=1 flags=none mode=0664`` (only those whose keyword was
  asked for) plus the root's ``uid``/``gid``; a later directory whose
  ``uid``/``gid`` are not both in the current ``/set`` writes a new one;
* an entry lists the asked keywords, in the order asked, leaving out values
  equal to one in the current ``/set``.

One deliberate difference: a directory name containing a newline is
vis-encoded in its ``#`` comment, where go-mtree writes the raw newline and
so makes its own parser read the rest of the name as a bogus entry.

Two ways in:

* :func:`walk` reads the tree: ``lstat`` per inode, ``listxattr`` for files
  and directories, ``readlink`` for symlinks, and regular files are hashed in
  1 MiB chunks.  Given a stat ``cache`` (see :class:`CachedFile`) a file whose
  inode, size, mtime and ctime are unchanged keeps its cached sha256 instead
  of being read; ``full_hash=True`` ignores the cache.
* :func:`spec_from_infos` takes :class:`~umoci.mtree.keywords.FileInfo`
  values in any order (an extractor's own records) and builds the same spec
  without touching the filesystem.

Every syscall goes through :class:`umoci.fs.tree.TreeReader`: the tree is
read one directory fd at a time, never following a symlink, so paths deeper
than ``PATH_MAX`` are walked too.  ``rootless=True`` mirrors umoci's
unprivileged evaluation with the rule of :mod:`umoci.fs.access`:
directories the user owns but may not list get ``u+rx`` while the walk
goes on, files it may not read get ``u+r`` for the read that failed, and
every mode is put back, so trees holding mode-000 files that the user owns
can still be recorded.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from umoci.errors import MtreeError
from umoci.fs.tree import TreeReader
from umoci.mtree.escape import vis
from umoci.mtree.keywords import (
    DIGEST_KEYWORDS,
    UMOCI_KEYWORDS,
    FileInfo,
    KeyVal,
    StatLike,
    compile_keywords,
    needed_digests,
    prefix,
    set_keyvals,
)
from umoci.mtree.spec import Blank, Comment, DotDot, Entry, Header, Node, Spec, Special
from umoci.structs import dataclass

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import Protocol, TypeVar

    class NodeSink(Protocol):
        """Where a walk puts its spec lines: a list, or a :class:`~umoci.mtree.SpecWriter`."""

        def append(self, node: Node, /) -> None: ...

    _T = TypeVar("_T")

__all__ = [
    "RACY_NS",
    "SKIPPED_DIGEST",
    "CachedFile",
    "Observed",
    "PackedCache",
    "inode_reader",
    "open_tree",
    "spec_from_infos",
    "walk",
]

_ENC = "utf-8"
_ERRORS = "surrogateescape"
_CHUNK = 1 << 20
_BLANK = Blank()
_DOTDOT = DotDot()
_MAX_SHARED = 1 << 16  # distinct keyword values kept for sharing


#: go-mtree's defaults for the first ``/set`` (filtered by the keywords asked for).
_DEFAULT_SET: tuple[KeyVal, ...] = (
    ("type", "file"),
    ("nlink", "1"),
    ("flags", "none"),
    ("mode", "0664"),
)

#: A cached digest is trusted only for files whose ctime was at least this much
#: older than the moment it was recorded.  A file changed within the same
#: timestamp tick as its recording (coarse kernel clocks, 1-2 s filesystems)
#: could otherwise keep an identical ctime and its stale digest ("racy git").
RACY_NS = 2_000_000_000

#: What the stat cache needs of an entry's ``lstat``, packed (see
#: :func:`observed`): inode, ctime, size and mtime, and a wall-clock time
#: (``time.time_ns()``) taken before that ``lstat`` -- a change after the
#: lstat within the same timestamp tick as the recorded ctime can only hide
#: in a ctime that is not clearly older than that time (see
#: :mod:`umoci.ops.statcache`).  Packed because a walk keeps one per entry:
#: 73 bytes instead of the ~520 of an ``os.stat_result`` and a tuple.
Observed = bytes
_OBSERVED = struct.Struct("=qqqqq")


def observed(st: os.stat_result, before_ns: int) -> Observed:
    return _OBSERVED.pack(st.st_ino, st.st_ctime_ns, st.st_size, st.st_mtime_ns, before_ns)


def unpack_observed(value: Observed) -> tuple[int, int, int, int, int]:
    """``(ino, ctime_ns, size, mtime_ns, before_ns)`` of an :data:`Observed`."""
    return _OBSERVED.unpack(value)


class PackedCache(Mapping[bytes, "CachedFile"]):
    """A ``path -> CachedFile`` mapping stored packed: ~100 bytes a file, not ~400.

    For the extractor's digests of a whole layer, handed to the walk that
    follows (which :meth:`pop` s each as it uses it).
    """

    _RECORD = struct.Struct("=qqqq32s")

    def __init__(self) -> None:
        self._records: dict[bytes, bytes] = {}

    def put(self, path: bytes, record: CachedFile) -> None:
        packed = self._RECORD.pack(
            record.ino, record.size, record.mtime_ns, record.ctime_ns, bytes.fromhex(record.sha256)
        )
        self._records[path] = packed

    def _unpack(self, packed: bytes) -> CachedFile:
        ino, size, mtime_ns, ctime_ns, digest = self._RECORD.unpack(packed)
        return CachedFile(ino, size, mtime_ns, ctime_ns, digest.hex())

    def __getitem__(self, path: bytes) -> CachedFile:
        return self._unpack(self._records[path])

    def pop(self, path: bytes, default: None = None) -> CachedFile | None:
        packed = self._records.pop(path, None)
        return None if packed is None else self._unpack(packed)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)


#: Stands in for a digest the walk was told not to compute (never valid hex,
#: so it never compares equal to a real digest).
SKIPPED_DIGEST = "-"


@dataclass(frozen=True, slots=True)
class CachedFile:
    """What a stat cache remembers about one regular file."""

    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int
    sha256: str

    @classmethod
    def from_stat(
        cls, st: StatLike, sha256: str, *, now_ns: int | None = None
    ) -> CachedFile | None:
        """A cache record for a file just hashed, or None if it is too recent to trust.

        ``now_ns`` is the wall-clock time (``time.time_ns()``) at or after the
        ``lstat`` that produced ``st``.
        """
        if now_ns is None:
            now_ns = time.time_ns()
        if now_ns - st.st_ctime_ns < RACY_NS:
            return None
        return cls(st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, sha256)

    def matches(self, st: StatLike) -> bool:
        """Whether ``st`` describes the same, unchanged file.

        ctime cannot be set from user space, so content rewritten with the
        mtime put back is still noticed.
        """
        return (
            self.ino == st.st_ino
            and self.size == st.st_size
            and self.mtime_ns == st.st_mtime_ns
            and self.ctime_ns == st.st_ctime_ns
        )


class _Builder:
    """Turns inodes delivered in walk order into spec lines (the ``/set`` logic)."""

    def __init__(
        self, keywords: Sequence[str], header: Header, sink: NodeSink | None = None
    ) -> None:
        self._keyvals = compile_keywords(keywords)
        self._prefixes = frozenset(prefix(k) for k in keywords)
        self.nodes: NodeSink = header.nodes(keywords)
        if sink is not None:
            for node in self.nodes:
                sink.append(node)
            self.nodes = sink
        self._streaming = sink is not None
        self._set: tuple[KeyVal, ...] | None = None
        self._set_members: frozenset[KeyVal] = frozenset()
        self._shared: dict[KeyVal, KeyVal] = {}

    def _selected(self, kvs: Iterable[KeyVal]) -> list[KeyVal]:
        """Only the values of asked-for keywords (go-mtree's ``keyvalSelector``)."""
        return [kv for kv in kvs if prefix(kv[0]) in self._prefixes]

    def _new_set(self, kvs: Iterable[KeyVal]) -> None:
        self._set = tuple(kvs)
        self._set_members = frozenset(self._set)
        self.nodes.append(Special("/set", self._set))

    def directory(self, info: FileInfo) -> None:
        path = info.path
        self.nodes.append(_BLANK)
        if path == b".":
            self.nodes.append(Comment("# ."))
        elif b"\n" in path:
            self.nodes.append(Comment("# " + vis(path)))
        else:
            self.nodes.append(Comment("# " + path.decode(_ENC, _ERRORS)))
        ids = set_keyvals(info)
        if self._set is None:
            # The first /set keeps uid/gid even when they were not asked for.
            self._new_set([*self._selected(_DEFAULT_SET), *ids])
        elif not self._set_members.issuperset(ids):
            self._new_set(self._selected((*_DEFAULT_SET, *ids)))
        self.file(info)

    def file(self, info: FileInfo) -> None:
        if self._set is None:
            raise MtreeError("mtree walk: the root is not a directory")
        members = self._set_members
        # Equal keyword values (a size, a tar_time, a mode) are shared between
        # entries: a spec of a million files holds each distinct one once.
        shared = self._shared
        if len(shared) > _MAX_SHARED:
            shared.clear()
        kvs = tuple([shared.setdefault(kv, kv) for kv in self._keyvals(info) if kv not in members])
        path = info.path
        name = "." if path == b"." else vis(path.rpartition(b"/")[2])
        self.nodes.append(Entry(name, path, kvs, self._set))

    def leave(self) -> None:
        self.nodes.append(_DOTDOT)

    def spec(self) -> Spec:
        if self._streaming:
            return Spec(())
        assert isinstance(self.nodes, list)
        return Spec(tuple(self.nodes))


def _drive(
    builder: _Builder, root: FileInfo, children: Callable[[FileInfo], Iterator[FileInfo]]
) -> Spec:
    """Depth-first traversal without recursion (trees can be deeper than Python's stack)."""
    builder.directory(root)
    stack = [children(root)]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            builder.leave()
        elif child.is_dir:
            builder.directory(child)
            stack.append(children(child))
        else:
            builder.file(child)
    return builder.spec()


def _ordered(items: list[tuple[bytes, bool, _T]]) -> list[_T]:
    """go-mtree's order: non-directories, then directories, each by name bytes."""
    items.sort(key=lambda item: (item[1], item[0]))
    return [item[2] for item in items]


def spec_from_infos(
    infos: Iterable[FileInfo],
    keywords: Sequence[str] = UMOCI_KEYWORDS,
    *,
    header: Header,
) -> Spec:
    """Build the spec :func:`walk` would produce, from facts gathered elsewhere.

    ``infos`` may come in any order but must include the root (``b"."``) and
    every parent directory; a later record for the same path replaces an
    earlier one.
    """
    by_path = {info.path: info for info in infos}
    root = by_path.get(b".")
    if root is None or not root.is_dir:
        raise MtreeError("mtree: no root directory among the entries")
    children: dict[bytes, list[tuple[bytes, bool, FileInfo]]] = {}
    for path, info in by_path.items():
        if path == b".":
            continue
        parent, _, name = path.rpartition(b"/")
        parent = parent or b"."
        parent_info = by_path.get(parent)
        if parent_info is None or not parent_info.is_dir:
            raise MtreeError(f"mtree: entry {path!r} has no parent directory among the entries")
        children.setdefault(parent, []).append((name, info.is_dir, info))

    def ordered(info: FileInfo) -> Iterator[FileInfo]:
        return iter(_ordered(children.pop(info.path, [])))

    return _drive(_Builder(keywords, header), root, ordered)


class _Walker:
    """Reads what the keywords need about each inode, through ``tree``.

    An inode is named by its directory (the path the tree resolves, ``""``
    for the root) and its name there, besides its spec path.
    """

    def __init__(
        self,
        tree: TreeReader,
        keywords: Sequence[str],
        *,
        cache: Mapping[bytes, CachedFile] | None,
        cache_out: dict[bytes, CachedFile] | None,
        skip_digest: Callable[[bytes, os.stat_result], bool] | None = None,
        stats_out: dict[bytes, Observed] | None = None,
        consume_cache: bool = False,
    ) -> None:
        self.tree = tree
        self.skip_digest = skip_digest
        self.stats_out = stats_out
        self.digests = needed_digests(keywords)
        wanted = {prefix(k) for k in keywords}
        self.want_xattrs = bool(wanted & {"xattr", "xattrs"})
        self.want_link = "link" in wanted
        # The cache only ever stands in for sha256 (the digest umoci records).
        self.cache = cache if self.digests == ["sha256digest"] else None
        consumable = isinstance(cache, dict | PackedCache)
        self._take_cached = (
            cache.pop if consume_cache and consumable else self._get_cached  # type: ignore[union-attr]
        )
        self.cache_out = cache_out if "sha256digest" in self.digests else None
        self._buf = bytearray(_CHUNK)
        # Digests of multiply-linked files, so each inode is read only once.
        self._linked: dict[tuple[int, int, int, int, int], dict[str, str]] = {}

    def info(self, where: str, name: str, rel: bytes, st: os.stat_result) -> FileInfo:
        """The facts about ``name`` in directory ``where`` (spec path ``rel``, ``lstat`` ``st``)."""
        mode = st.st_mode
        if stat.S_ISREG(mode):
            digests = self._digests(where, name, rel, st) if self.digests else {}
            return FileInfo(rel, st, None, self._xattrs(where, name, st), digests)
        if stat.S_ISDIR(mode):
            return FileInfo(rel, st, None, self._xattrs(where, name, st))
        if stat.S_ISLNK(mode) and self.want_link:
            target = self.tree.readlink(self.tree.peek_dir(where), name)
            return FileInfo(rel, st, os.fsencode(target))
        return FileInfo(rel, st)

    def _get_cached(self, rel: bytes, default: None) -> CachedFile | None:
        assert self.cache is not None
        return self.cache.get(rel, default)

    def _xattrs(self, where: str, name: str, st: os.stat_result) -> tuple[tuple[bytes, bytes], ...]:
        if not self.want_xattrs:
            return ()
        try:
            found = self.tree.xattrs(self.tree.peek_dir(where), name, st)
        except OSError:
            # Like go-mtree: a file whose xattrs cannot be read (no
            # permission, a race) is recorded without any.
            return ()
        if not found:
            return ()
        return tuple((os.fsencode(key), value) for key, value in found.items())

    def _digests(self, where: str, name: str, rel: bytes, st: os.stat_result) -> dict[str, str]:
        # The cache first: an unchanged file (the common case) then costs one
        # lookup, and its real digest compares just as a skipped one would.
        if self.cache is not None:
            cached = self._take_cached(rel, None)
            if cached is not None and cached.matches(st):
                if self.cache_out is not None:
                    self.cache_out[rel] = cached
                return {"sha256digest": cached.sha256}
        if self.skip_digest is not None and self.skip_digest(rel, st):
            return {name: SKIPPED_DIGEST for name in self.digests}
        if st.st_nlink > 1:
            key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            digests = self._linked.get(key)
            if digests is None:
                digests = self._linked[key] = self._hash(rel, where, name, st)
        else:
            digests = self._hash(rel, where, name, st)
        if self.cache_out is not None:
            record = CachedFile.from_stat(st, digests["sha256digest"])
            if record is not None:
                self.cache_out[rel] = record
        return digests

    def _hash(self, rel: bytes, where: str, name: str, st: os.stat_result) -> dict[str, str]:
        # A file swapped for a symlink or a FIFO after the lstat is neither
        # followed nor does it block the walk (see TreeReader.open_file).
        fd = self.tree.open_file(self.tree.peek_dir(where), name, st)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise MtreeError(f"mtree walk: {os.fsdecode(rel)!r} changed type during the walk")
            hashers = [hashlib.new(DIGEST_KEYWORDS[name]) for name in self.digests]
            buf = self._buf
            view = memoryview(buf)
            while n := os.readv(fd, [buf]):
                chunk = view[:n]
                for hasher in hashers:
                    hasher.update(chunk)
        finally:
            os.close(fd)
        return {name: h.hexdigest() for name, h in zip(self.digests, hashers, strict=True)}

    def children(self, info: FileInfo) -> Iterator[FileInfo]:
        rel = info.path
        where = "" if rel == b"." else os.fsdecode(rel)
        # go-mtree's order (see _ordered): non-directories, then directories,
        # each by name bytes.  Names in a directory are unique, so sorting the
        # (name bytes, name, stat) triples never compares further.
        files: list[tuple[bytes, str, os.stat_result]] = []
        dirs: list[tuple[bytes, str, os.stat_result]] = []
        scanned_ns = time.time_ns()  # before any of these lstats
        for name, st in self.tree.scan(self.tree.peek_dir(where)):
            item = (os.fsencode(name), name, st)
            (dirs if stat.S_ISDIR(st.st_mode) else files).append(item)
        files.sort()
        dirs.sort()
        prefix = b"" if rel == b"." else rel + b"/"
        info_of = self.info
        stats_out = self.stats_out
        # One bytes object per path, shared by the stats and the spec entry.
        for name_bytes, name, st in files:
            path = prefix + name_bytes
            if stats_out is not None:
                stats_out[path] = observed(st, scanned_ns)
            yield info_of(where, name, path, st)
        for name_bytes, name, st in dirs:
            path = prefix + name_bytes
            if stats_out is not None:
                stats_out[path] = observed(st, scanned_ns)
            yield info_of(where, name, path, st)


def walk(
    root: str | bytes | os.PathLike[str] | os.PathLike[bytes],
    keywords: Sequence[str] = UMOCI_KEYWORDS,
    *,
    header: Header | None = None,
    cache: Mapping[bytes, CachedFile] | None = None,
    full_hash: bool = False,
    cache_out: dict[bytes, CachedFile] | None = None,
    rootless: bool = False,
    skip_digest: Callable[[bytes, os.stat_result], bool] | None = None,
    stats_out: dict[bytes, Observed] | None = None,
    consume_cache: bool = False,
    sink: NodeSink | None = None,
) -> Spec:
    """Walk ``root`` (without following symlinks) into a spec, like go-mtree's ``Walk``.

    ``header`` defaults to :meth:`Header.current` for ``root``.  ``cache``
    maps relative paths to :class:`CachedFile` records whose sha256 is reused
    when the file's stat is unchanged (ignored with ``full_hash``);
    ``cache_out``, when given, is filled with records for the regular files
    seen (files changed too recently to trust are left out, see
    :data:`RACY_NS`).  ``skip_digest(path, st)`` returning True leaves a
    regular file unread, its digests recorded as :data:`SKIPPED_DIGEST`:
    for a caller that already knows the file differs (its size or time
    changed) and only wants to know *that* it changed, not to keep the spec.
    ``stats_out``, when given, receives for every entry its ``lstat`` result
    and a ``time.time_ns()`` taken before that ``lstat`` (see :data:`Observed`).
    ``consume_cache`` lets the walk remove each record from ``cache`` (a
    dict) as it uses it, so a walk over a million files does not hold two
    copies of what it knows.  With ``sink``, each line of the spec is handed
    to ``sink.append`` as it is made and none is kept (the returned spec is
    empty): memory stays flat however many files the tree holds.  I/O errors
    propagate as :class:`OSError`.
    """
    root_b = os.fsencode(root)
    if header is None:
        header = Header.current(root_b)
    builder = _Builder(keywords, header, sink)
    before_ns = time.time_ns()
    with open_tree(root_b, rootless=rootless) as tree:
        walker = _Walker(
            tree,
            keywords,
            cache=None if full_hash else cache,
            cache_out=cache_out,
            skip_digest=skip_digest,
            stats_out=stats_out,
            consume_cache=consume_cache,
        )
        st = tree.root_stat
        if stats_out is not None:
            stats_out[b"."] = observed(st, before_ns)
        return _drive(builder, walker.info("", ".", b".", st), walker.children)


def open_tree(
    root: str | bytes | os.PathLike[str] | os.PathLike[bytes], *, rootless: bool
) -> TreeReader:
    """The tree :func:`walk` reads (``root`` must be a directory, not a symlink to one)."""
    try:
        return TreeReader(root, rootless=rootless)
    except NotADirectoryError:
        raise MtreeError(f"mtree walk: {os.fsdecode(root)!r} is not a directory") from None


def inode_reader(
    tree: TreeReader,
    keywords: Sequence[str] = UMOCI_KEYWORDS,
    *,
    skip_digest: Callable[[bytes, os.stat_result], bool] | None = None,
) -> Callable[[bytes, os.stat_result], FileInfo]:
    """What :func:`walk` would learn about single inodes of ``tree``, one at a time.

    The returned function takes a path relative to the tree's root
    (``b"."`` for the root) and its ``lstat`` result and reads the rest
    (xattrs, link target, digests) exactly as the walk does, for a caller
    that already knows which few inodes it needs.  ``tree`` comes from
    :func:`open_tree` and must stay open while the function is used.
    """
    walker = _Walker(tree, keywords, cache=None, cache_out=None, skip_digest=skip_digest)

    def read(rel: bytes, st: os.stat_result) -> FileInfo:
        if rel == b".":
            return walker.info("", ".", rel, st)
        parent, _, name = rel.rpartition(b"/")
        return walker.info(os.fsdecode(parent), os.fsdecode(name), rel, st)

    return read
