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
  1 MiB chunks.  A caller that already knows some files' sha256 passes a
  ``known_digest`` function, asked before each file is read, and one that
  wants each ``lstat`` passes an ``observe`` function; what they know and
  why they trust it is theirs (umoci's bundle stat cache is
  :mod:`umoci.ops.statcache`).
* :func:`spec_from_infos` takes :class:`~umoci.mtree.keywords.FileInfo`
  values in any order (an extractor's own records) and builds the same spec
  without touching the filesystem.

A walk given a :class:`Listing` (what a caller that has just made the tree
knows its directories hold) reads no directory: it ``lstat`` s the listed
names instead, and skips ``listxattr`` for the regular files the listing
says carry none (while ``known_digest`` vouches for them).  Everything else
is read as in a plain walk, so the spec is the same; a listing the tree
contradicts (a listed name missing, a directory listed as a file or the
other way round) ends the walk with :class:`ListingMismatch`.

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
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

from umoci.errors import MtreeError
from umoci.fs.rootfs import DirRef
from umoci.fs.tree import TreeReader
from umoci.mtree.escape import vis
from umoci.mtree.keywords import (
    DIGEST_KEYWORDS,
    UMOCI_KEYWORDS,
    FileInfo,
    KeyVal,
    compile_keywords,
    needed_digests,
    prefix,
    set_keyvals,
)
from umoci.mtree.spec import Blank, Comment, DotDot, Entry, Header, Node, Spec, Special

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import Protocol, TypeVar

    class NodeSink(Protocol):
        """Where a walk puts its spec lines: a list, or a :class:`~umoci.mtree.SpecWriter`."""

        def append(self, node: Node, /) -> None: ...

    class Listing(Protocol):
        """What a directory tree holds, known without reading its directories.

        The walk asks :meth:`entries` once for each directory it reaches,
        in walk order, so a listing may forget a directory once asked.  A
        file listed as bare is recorded without xattrs, unread, whenever
        ``known_digest`` gives its digest: whoever vouches that the inode
        is the one whose digest it knows vouches for its xattrs too.
        """

        def entries(self, directory: bytes, /) -> Iterable[Listed]:
            """The entries of ``directory`` (``b"."`` for the root; none if unknown)."""
            ...

    _T = TypeVar("_T")

__all__ = [
    "KnownDigest",
    "Listed",
    "ListingMismatch",
    "Observe",
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

#: ``known_digest(path, st)``: the sha256 (lowercase hex) to record for the
#: regular file at ``path`` (relative, ``lstat`` result ``st``) instead of
#: reading it, or None to read it.
KnownDigest = Callable[[bytes, os.stat_result], str | None]

#: ``observe(path, st, before_ns)``: called for every entry with its
#: ``lstat`` result and a ``time.time_ns()`` reading taken before that
#: ``lstat`` (once per directory scan), before the entry's line is made.
Observe = Callable[[bytes, os.stat_result, int], None]

#: A listed entry: its name in its directory, whether it is a directory,
#: and whether it is a regular file without xattrs ("bare": see :class:`Listing`).
Listed = tuple[bytes, bool, bool]


class ListingMismatch(MtreeError):
    """A :class:`Listing` the tree contradicts: it is out of date (walk the tree instead)."""


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
        if self._streaming:
            # Each line is written and dropped: nothing to share.
            kvs = tuple([kv for kv in self._keyvals(info) if kv not in members])
        else:
            # Equal keyword values (a size, a tar_time, a mode) are shared
            # between entries: a spec of a million files holds each
            # distinct one once.
            shared = self._shared
            if len(shared) > _MAX_SHARED:
                shared.clear()
            kvs = tuple(
                [shared.setdefault(kv, kv) for kv in self._keyvals(info) if kv not in members]
            )
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


#: A directory entry as a walk sorts it: name bytes, name, ``lstat``, bare.
_Scanned = tuple[bytes, str, os.stat_result, bool]


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
        known_digest: KnownDigest | None = None,
        observe: Observe | None = None,
        listing: Listing | None = None,
    ) -> None:
        self.tree = tree
        self.observe = observe
        self.listing = listing
        self.digests = needed_digests(keywords)
        wanted = {prefix(k) for k in keywords}
        self.want_xattrs = bool(wanted & {"xattr", "xattrs"})
        self.want_link = "link" in wanted
        # A known digest only ever stands in for sha256 (the digest umoci records).
        self.known_digest = known_digest if self.digests == ["sha256digest"] else None
        self._buf = bytearray(_CHUNK)
        # Digests of multiply-linked files, so each inode is read only once.
        self._linked: dict[tuple[int, int, int, int, int], dict[str, str]] = {}

    def info(
        self, where: str, name: str, rel: bytes, st: os.stat_result, bare: bool = False
    ) -> FileInfo:
        """The facts about ``name`` in directory ``where`` (spec path ``rel``, ``lstat`` ``st``).

        ``bare``: a listed regular file without xattrs (see :class:`Listing`).
        """
        mode = st.st_mode
        if stat.S_ISREG(mode):
            known = self.known_digest(rel, st) if self.known_digest is not None else None
            if known is not None:
                digests = {"sha256digest": known}
                if bare:
                    return FileInfo(rel, st, None, (), digests)
            else:
                digests = self._digests(where, name, rel, st) if self.digests else {}
            return FileInfo(rel, st, None, self._xattrs(where, name, st), digests)
        if stat.S_ISDIR(mode):
            return FileInfo(rel, st, None, self._xattrs(where, name, st))
        if stat.S_ISLNK(mode) and self.want_link:
            target = self.tree.readlink(self.tree.peek_dir(where), name)
            return FileInfo(rel, st, os.fsencode(target))
        return FileInfo(rel, st)

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
        """The file's digests, read (``known_digest`` was asked already)."""
        if st.st_nlink > 1:
            # Within one walk only: the links of an inode unchanged since
            # its first name was read moments ago.
            key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            digests = self._linked.get(key)
            if digests is None:
                digests = self._linked[key] = self._hash(rel, where, name, st)
            return digests
        return self._hash(rel, where, name, st)

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
        # (name bytes, name, stat, bare) items never compares further.
        files: list[_Scanned] = []
        dirs: list[_Scanned] = []
        scanned_ns = time.time_ns()  # before any of these lstats
        directory = self.tree.peek_dir(where)
        if self.listing is None:
            for name, st in self.tree.scan(directory):
                item = (os.fsencode(name), name, st, False)
                (dirs if stat.S_ISDIR(st.st_mode) else files).append(item)
        else:
            for item in self._listed(directory, rel):
                (dirs if stat.S_ISDIR(item[2].st_mode) else files).append(item)
        files.sort()
        dirs.sort()
        prefix = b"" if rel == b"." else rel + b"/"
        info_of = self.info
        observe = self.observe
        # One bytes object per path, shared by the observer and the spec entry.
        for name_bytes, name, st, bare in files:
            path = prefix + name_bytes
            if observe is not None:
                observe(path, st, scanned_ns)
            yield info_of(where, name, path, st, bare)
        for name_bytes, name, st, bare in dirs:
            path = prefix + name_bytes
            if observe is not None:
                observe(path, st, scanned_ns)
            yield info_of(where, name, path, st, bare)

    def _listed(self, directory: DirRef, rel: bytes) -> Iterator[_Scanned]:
        """The listing's entries of ``directory`` (spec path ``rel``), each ``lstat`` ed."""
        assert self.listing is not None
        tree = self.tree
        for name_bytes, is_dir, bare in self.listing.entries(rel):
            name = os.fsdecode(name_bytes)
            st = tree.lstat(directory, name)
            if st is None or stat.S_ISDIR(st.st_mode) != is_dir:
                path = os.fsdecode(name_bytes if rel == b"." else rel + b"/" + name_bytes)
                found = "missing" if st is None else "not a directory" if is_dir else "a directory"
                raise ListingMismatch(f"mtree walk: listing out of date: {path!r} is {found}")
            yield name_bytes, name, st, bare


def walk(
    root: str | bytes | os.PathLike[str] | os.PathLike[bytes],
    keywords: Sequence[str] = UMOCI_KEYWORDS,
    *,
    header: Header | None = None,
    rootless: bool = False,
    known_digest: KnownDigest | None = None,
    observe: Observe | None = None,
    sink: NodeSink | None = None,
    listing: Listing | None = None,
) -> Spec:
    """Walk ``root`` (without following symlinks) into a spec, like go-mtree's ``Walk``.

    ``header`` defaults to :meth:`Header.current` for ``root``.
    ``known_digest`` (see :data:`KnownDigest`) is asked, when the keywords
    need sha256 and no other digest, for each regular file's digest before
    the file is read; what it returns is recorded as the file's
    ``sha256digest`` unread.  ``observe`` (see :data:`Observe`) is told of
    every entry's ``lstat``.  With ``sink``, each line of the spec is handed
    to ``sink.append`` as it is made and none is kept (the returned spec is
    empty): memory stays flat however many files the tree holds.  With
    ``listing`` no directory is read (see :class:`Listing`): a listing the
    tree contradicts raises :class:`ListingMismatch`.  I/O errors propagate
    as :class:`OSError`.
    """
    root_b = os.fsencode(root)
    if header is None:
        header = Header.current(root_b)
    builder = _Builder(keywords, header, sink)
    before_ns = time.time_ns()
    with open_tree(root_b, rootless=rootless) as tree:
        walker = _Walker(
            tree, keywords, known_digest=known_digest, observe=observe, listing=listing
        )
        st = tree.root_stat
        if observe is not None:
            observe(b".", st, before_ns)
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
    known_digest: KnownDigest | None = None,
) -> Callable[[bytes, os.stat_result], FileInfo]:
    """What :func:`walk` would learn about single inodes of ``tree``, one at a time.

    The returned function takes a path relative to the tree's root
    (``b"."`` for the root) and its ``lstat`` result and reads the rest
    (xattrs, link target, digests) exactly as the walk does, for a caller
    that already knows which few inodes it needs.  ``tree`` comes from
    :func:`open_tree` and must stay open while the function is used;
    ``known_digest`` is as for :func:`walk`.
    """
    walker = _Walker(tree, keywords, known_digest=known_digest)

    def read(rel: bytes, st: os.stat_result) -> FileInfo:
        if rel == b".":
            return walker.info("", ".", rel, st)
        parent, _, name = rel.rpartition(b"/")
        return walker.info(os.fsdecode(parent), os.fsdecode(name), rel, st)

    return read
