"""Directory tree -> layer tar stream: repack deltas, ``insert`` and whiteouts.

Three entry points, all streaming into a binary sink (see
:mod:`umoci.layer.tarwrite` for the archive format):

* :func:`generate_layer` -- ``umoci repack``: the entries a list of changes
  (computed by the caller from an mtree diff) asks for, read from a rootfs.
* :func:`generate_insert_layer` -- ``umoci insert``: a whole file or tree
  placed at a path inside the image (optionally opaque).
* :func:`generate_whiteout_layer` -- ``umoci insert --whiteout``.

What an entry looks like, following the Go umoci (``tar_generate.go``):

* names are relative, without ``./``; directories end in ``/``, except
  the root directory, which is ``.`` (byte for byte what the Go umoci's
  repack writes; its insert at ``/`` writes ``/``, which tar tools strip);
* owners are the host ids mapped into the container (uid/gid maps); an id
  outside the maps is an error.  Rootless, the owner is whatever
  ``user.rootlesscontainers`` records (0 when absent or "unchanged") and
  that xattr is not written; outside rootless mode it is kept (with a
  warning), as the Go umoci does;
* every readable xattr goes in, except host-specific ones
  (:data:`IGNORED_XATTRS`) and empty values (PAX cannot carry those);
* the second and later names of an inode (same ``st_dev``/``st_ino``)
  *written in this layer* become hardlinks to the first name written;
* uname/gname stay empty and no atime/ctime is written (the Go umoci drops
  both); the mtime keeps its nanoseconds unless
  ``GenerateOptions.subsecond_mtime`` is off, in which case it is rounded
  to the second exactly like Go's ``time.Round`` (what the Go umoci
  writes).  ``clamp_mtime`` (``SOURCE_DATE_EPOCH``) caps it;
* a whiteout is an empty regular file, mode 0, owner 0:0, mtime 0;
* sockets cannot be archived: they are skipped with a warning (the Go
  umoci fails the whole repack on them); a name starting with ``.wh.``
  cannot be represented and is an error.

Confinement (:class:`umoci.fs.tree.TreeReader`): paths are resolved one
component at a time from an fd of the root, never following a symlink, so
nothing is read outside the tree.  A change whose path goes *through* a
symlink (``link/passwd`` where ``link -> /etc``) raises
:class:`~umoci.errors.UnsafePathError`: an mtree walk never reports such a
path, so the tree changed under us or the caller is confused, and silently
dropping the entry would give a wrong layer.  A whiteout whose parent is no
longer a directory is left out instead: the parent's own entry (a file or
symlink now) replaces the whole lower directory, and a whiteout below a
symlink would delete through it.  Anything that vanishes or changes type
while we read it raises :class:`~umoci.errors.LayerError`.

Rootless mode may meet files and directories its user cannot read or
search (an image may ship ``0000`` modes): the reader relaxes their mode
for as long as we need them and puts it back afterwards; headers carry the
original.

Which paths go in (order, masks, minimal whiteouts) is decided up front,
without I/O, by :mod:`umoci.layer.changes`.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable, Iterator

from umoci import log as umoci_log
from umoci.compress.streams import ByteWriter
from umoci.errors import LayerError, UnsafePathError
from umoci.fs.access import PROC_FD
from umoci.fs.ops import proc_fd_works
from umoci.fs.rootfs import DirRef, NotADirComponentError
from umoci.fs.rootfs import join as fs_join
from umoci.fs.tree import TreeReader
from umoci.idmap import IdMap, to_container
from umoci.layer import rootless_xattr
from umoci.layer.changes import (
    ChangeKind,
    check_name,
    clean_target,
    join,
    minimal_whiteouts,
    opaque_entry,
    plan_changes,
    show,
    whiteout_entry,
)
from umoci.layer.metadata import FORBIDDEN_XATTRS
from umoci.layer.tarstream import EntryKind
from umoci.layer.tarwrite import TarEntry, TarWriter
from umoci.structs import dataclass

log = umoci_log.get()

__all__ = [
    "IGNORED_XATTRS",
    "ChangeKind",
    "GenerateOptions",
    "LayerStats",
    "generate_insert_layer",
    "generate_layer",
    "generate_whiteout_layer",
    "minimal_whiteouts",
    "plan_changes",
]

#: xattrs never put in a layer: host-specific (SELinux labels, NFSv4 ACLs)
#: or describing how an overlay was built rather than the files (Go's list).
IGNORED_XATTRS = FORBIDDEN_XATTRS | frozenset(
    "trusted.overlay." + name
    for name in ("opaque", "redirect", "origin", "impure", "nlink", "upper", "metacopy")
)

_ROOTLESS_XATTR = rootless_xattr.XATTR_NAME
_NS = 1_000_000_000

_KINDS = {
    stat.S_IFREG: EntryKind.REG,
    stat.S_IFDIR: EntryKind.DIR,
    stat.S_IFLNK: EntryKind.SYMLINK,
    stat.S_IFCHR: EntryKind.CHAR,
    stat.S_IFBLK: EntryKind.BLOCK,
    stat.S_IFIFO: EntryKind.FIFO,
}


@dataclass(frozen=True)
class GenerateOptions:
    """How to turn files into entries.

    ``clamp_mtime`` (seconds, e.g. from ``SOURCE_DATE_EPOCH``) caps every
    mtime written.  ``subsecond_mtime=False`` writes whole seconds as the Go
    umoci does -- byte for byte its output -- which keeps most headers plain
    USTAR (no 1 KiB PAX header per file whose mtime has nanoseconds).
    """

    rootless: bool = False
    uid_maps: tuple[IdMap, ...] = ()
    gid_maps: tuple[IdMap, ...] = ()
    clamp_mtime: int | None = None
    subsecond_mtime: bool = True


@dataclass(frozen=True, slots=True)
class LayerStats:
    """What a generator wrote: entries and uncompressed archive bytes."""

    entries: int
    size: int


def _round_second(ns: int) -> int:
    """Go's ``time.Round(time.Second)``: halves round away from zero."""
    sign = -1 if ns < 0 else 1
    return sign * ((abs(ns) + _NS // 2) // _NS * _NS)


def same_inode(now: os.stat_result, before: os.stat_result, what: str) -> None:
    """Raise LayerError unless ``now`` is the inode (and type) ``before`` described."""
    if (now.st_dev, now.st_ino, stat.S_IFMT(now.st_mode)) != (
        before.st_dev,
        before.st_ino,
        stat.S_IFMT(before.st_mode),
    ):
        raise LayerError(f"generate layer: {what}: changed while being archived")


@dataclass(slots=True)
class _Source:
    """What was read about one file before its entry is written."""

    st: os.stat_result
    #: The permission bits to archive (the reader may have relaxed ``st``'s).
    mode: int
    xattrs: dict[str, bytes]
    #: Symlink target.
    target: bytes | None = None
    #: Open regular file (ours to close) and the size to archive.
    fd: int | None = None
    size: int = 0
    #: First name of the same inode in this layer: write a hardlink to it.
    link: bytes | None = None


class _Generator:
    """Turns files into entries for one layer (owns the hardlink map)."""

    def __init__(self, writer: TarWriter, options: GenerateOptions) -> None:
        self._writer = writer
        self._opts = options
        self._clamp_ns = None if options.clamp_mtime is None else options.clamp_mtime * _NS
        self._inodes: dict[tuple[int, int], bytes] = {}
        self._warned: set[str] = set()

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message, *args)

    # -- reading ---------------------------------------------------------------------------
    def add_root(self, tree: TreeReader, rel: bytes) -> None:
        """Write the tree's root directory itself as ``rel`` (``.`` for the image root)."""
        st = tree.root_stat  # as it was before the reader relaxed it
        try:
            xattrs = tree.xattrs(tree.peek_dir(""), ".", st, skip=IGNORED_XATTRS)
        except OSError as e:
            raise LayerError(f"generate layer: {show(rel)}: {e.strerror}") from e
        self._write(rel, _Source(st, tree.final_mode("", st), xattrs))

    def add(self, tree: TreeReader, parent: DirRef, name: bytes, rel: bytes) -> bool:
        """Write ``name`` of directory ``parent`` as ``rel``; True if it is a directory.

        ``parent`` may be borrowed (:meth:`~umoci.fs.rootfs.Rootfs.peek_dir`):
        nothing here resolves another directory.
        """
        try:
            src = self._inspect(tree, parent, os.fsdecode(name), rel)
        except FileNotFoundError as e:
            raise LayerError(f"generate layer: {show(rel)}: vanished while being archived") from e
        except OSError as e:
            raise LayerError(f"generate layer: {show(rel)}: {e.strerror}") from e
        if src is None:
            return False
        try:
            self._write(rel, src)
        finally:
            if src.fd is not None:
                os.close(src.fd)
        return stat.S_ISDIR(src.st.st_mode)

    def _inspect(self, tree: TreeReader, parent: DirRef, name: str, rel: bytes) -> _Source | None:
        st = tree.ops.lstat(parent.fd, name)
        if stat.S_ISSOCK(st.st_mode):
            log.warning("generate layer: %s: skipping socket (tar has no sockets)", show(rel))
            return None
        check_name(rel)
        src = _Source(st, tree.final_mode(fs_join(parent.rel, name), st), {})
        if st.st_nlink > 1:
            src.link = self._inodes.get((st.st_dev, st.st_ino))
        try:
            if stat.S_ISREG(st.st_mode) and src.link is None:
                src.fd = tree.open_file(parent, name, st)
                now = os.fstat(src.fd)
                if now.st_ino != st.st_ino or now.st_dev != st.st_dev or now.st_mode != st.st_mode:
                    same_inode(now, st, show(rel))  # raises unless only the mode changed
                # Promise the size of the inode we will read.
                src.size = now.st_size
                src.xattrs = tree.xattrs(parent, name, st, fd=src.fd, skip=IGNORED_XATTRS)
            else:
                src.xattrs = tree.xattrs(parent, name, st, skip=IGNORED_XATTRS)
            if stat.S_ISLNK(st.st_mode):
                src.target = os.fsencode(tree.readlink(parent, name))
        except BaseException:
            if src.fd is not None:
                os.close(src.fd)
            raise
        return src

    # -- header fields -----------------------------------------------------------------------
    def _mtime(self, ns: int) -> int:
        if self._clamp_ns is not None and ns > self._clamp_ns:
            ns = self._clamp_ns
        return ns if self._opts.subsecond_mtime else _round_second(ns)

    def _owner(self, st: os.stat_result, xattrs: dict[str, bytes], rel: bytes) -> tuple[int, int]:
        raw = xattrs.get(_ROOTLESS_XATTR)
        if self._opts.rootless:
            # Everything on disk is ours: the owner the layer should record
            # is the one the unpack wrote down, and the marker stays out.
            xattrs.pop(_ROOTLESS_XATTR, None)
            if raw is None:
                return 0, 0
            try:
                uid, gid = rootless_xattr.owner_from_xattr(raw)
            except LayerError as e:
                raise LayerError(f"generate layer: {show(rel)}: {e}") from e
            return uid or 0, gid or 0
        if raw is not None:
            self._warn_once(
                _ROOTLESS_XATTR,
                "suspicious filesystem: %s xattr in a non-rootless repack (kept as is)",
                _ROOTLESS_XATTR,
            )
        uid = to_container(self._opts.uid_maps, st.st_uid)
        if uid is None:
            raise LayerError(f"generate layer: {show(rel)}: host uid {st.st_uid} is not mapped")
        gid = to_container(self._opts.gid_maps, st.st_gid)
        if gid is None:
            raise LayerError(f"generate layer: {show(rel)}: host gid {st.st_gid} is not mapped")
        return uid, gid

    def _xattrs_for_tar(self, xattrs: dict[str, bytes]) -> dict[bytes, bytes]:
        out: dict[bytes, bytes] = {}
        for key, value in xattrs.items():
            if not value:
                # An empty PAX value means "delete the key": it cannot be carried.
                self._warn_once("empty:" + key, "ignoring empty-valued xattr %s", key)
                continue
            if "=" in key:
                # A PAX record's key ends at the first "=": readers would split it there.
                self._warn_once("=" + key, "ignoring xattr %r: '=' in its name", key)
                continue
            out[os.fsencode(key)] = value
        return out

    # -- writing --------------------------------------------------------------------------------
    def _write(self, rel: bytes, src: _Source) -> None:
        st = src.st
        kind = _KINDS.get(stat.S_IFMT(st.st_mode))
        if kind is None:
            raise LayerError(f"generate layer: {show(rel)}: unsupported file type {st.st_mode:o}")
        uid, gid = self._owner(st, src.xattrs, rel)
        entry = TarEntry(
            name=(rel + b"/" if rel else b".") if kind is EntryKind.DIR else rel,
            kind=kind,
            mode=stat.S_IMODE(src.mode),
            uid=uid,
            gid=gid,
            mtime_ns=self._mtime(st.st_mtime_ns),
            xattrs=self._xattrs_for_tar(src.xattrs),
        )
        if kind in (EntryKind.CHAR, EntryKind.BLOCK):
            entry.devmajor, entry.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif kind is EntryKind.SYMLINK:
            entry.linkname = src.target or b""
        if src.link is not None:
            # Same inode as an entry already in this layer: a hardlink to it,
            # keeping this name's metadata (as Go's FileInfoHeader gives it).
            entry.kind, entry.linkname = EntryKind.HARDLINK, src.link
            self._writer.add(entry)
            return
        if kind is not EntryKind.DIR and st.st_nlink > 1:
            self._inodes[(st.st_dev, st.st_ino)] = rel
        if src.fd is None:
            self._writer.add(entry)
        else:
            entry.size = src.size
            self._writer.add_file(entry, src.fd)


# -- the verbs ---------------------------------------------------------------------------------


def _check_proc() -> None:
    if not proc_fd_works():
        raise LayerError(f"generate layer: {PROC_FD} is not available (is /proc mounted?)")


def _open_tree(path: bytes, options: GenerateOptions) -> TreeReader:
    try:
        return TreeReader(path, rootless=options.rootless)
    except OSError as e:
        raise LayerError(f"generate layer: open {os.fsdecode(path)}: {e.strerror}") from e


def _add_path(tree: TreeReader, gen: _Generator, rel: bytes) -> None:
    """Write the entry for ``rel`` (relative to the tree root) of a rootfs."""
    if not rel:
        gen.add_root(tree, rel)
        return
    parent_rel, _, name = rel.rpartition(b"/")
    try:
        parent = tree.peek_dir(os.fsdecode(parent_rel))
    except NotADirComponentError as e:
        component = e.path.rpartition("/")[2]
        where = f"generate layer: {show(rel)}: path component {component!r}"
        if e.symlink:
            raise UnsafePathError(f"{where} is a symlink: refusing to follow it") from None
        raise LayerError(f"{where} is not a directory") from None
    except OSError as e:
        raise LayerError(f"generate layer: {show(rel)}: {e.strerror}") from e
    gen.add(tree, parent, name, rel)


def _parent_is_dir(tree: TreeReader, rel: bytes) -> bool:
    """Does the parent of ``rel`` still resolve to a directory (without symlinks)?"""
    try:
        tree.peek_dir(os.fsdecode(rel.rpartition(b"/")[0]))
    except NotADirComponentError:
        return False
    except OSError as e:
        raise LayerError(f"generate layer: whiteout {show(rel)}: {e.strerror}") from e
    return True


def generate_layer(
    root: str | bytes | os.PathLike[str],
    changes: Iterable[tuple[str | bytes, ChangeKind]],
    sink: ByteWriter,
    options: GenerateOptions | None = None,
    *,
    mask_paths: Iterable[str | bytes] = (),
) -> LayerStats:
    """Write the layer for ``changes`` (paths relative to ``root``) to ``sink``.

    Added and modified paths become entries read from ``root`` (a modified
    directory is its own header only; its children appear only if they are
    in ``changes`` too); deleted paths become whiteouts.  Entries go in
    path-byte order; see :func:`~umoci.layer.changes.plan_changes` for
    masking (``mask_paths``, relative to the root: the paths themselves and
    everything below them are left out, whiteouts included) and for the
    minimal whiteout set.  The sink is not closed.
    """
    _check_proc()
    opts = options or GenerateOptions()
    plan = plan_changes(changes, mask_paths)
    with _open_tree(os.fsencode(root), opts) as tree, TarWriter(sink) as writer:
        gen = _Generator(writer, opts)
        for rel, kind in plan:
            if kind is not ChangeKind.DELETED:
                _add_path(tree, gen, rel)
            elif _parent_is_dir(tree, rel):
                writer.add(whiteout_entry(rel))
            else:
                log.debug("generate layer: no whiteout for %s: parent is no directory", show(rel))
    return LayerStats(writer.entries, writer.bytes_written)


def _list(tree: TreeReader, where: str, rel: bytes) -> Iterator[bytes]:
    """The names in directory ``where`` of the tree, sorted bytewise (Go's ``filepath.Walk``)."""
    try:
        names = tree.names(tree.peek_dir(where))
    except NotADirComponentError as e:
        raise LayerError(f"{show(rel)}: changed while being archived") from e
    except OSError as e:
        raise LayerError(f"{show(rel)}: {e.strerror}") from e
    return iter(sorted(map(os.fsencode, names)))


def _walk_into(tree: TreeReader, gen: _Generator, target: bytes) -> None:
    """Write everything below the tree root, depth first, names sorted per directory."""
    # Per directory: its path in the tree (bytes, and str for the reader)
    # and the names still to write.
    pending: list[tuple[bytes, str, Iterator[bytes]]] = [(b"", "", _list(tree, "", target))]
    while pending:
        where, where_str, names = pending[-1]
        name = next(names, None)
        if name is None:
            pending.pop()
            continue
        child = join(where, name)
        rel = join(target, child)
        try:
            parent = tree.peek_dir(where_str)  # resolved before: a cache hit
        except OSError as e:
            raise LayerError(f"{show(rel)}: changed while being archived") from e
        if gen.add(tree, parent, name, rel):
            child_str = os.fsdecode(child)
            pending.append((child, child_str, _list(tree, child_str, rel)))


def generate_insert_layer(
    source: str | bytes | os.PathLike[str],
    target: str | bytes,
    sink: ByteWriter,
    options: GenerateOptions | None = None,
    *,
    opaque: bool = False,
) -> LayerStats:
    """Write a layer holding ``source`` (a file or a whole tree) at image path ``target``.

    As ``umoci insert`` does: with ``opaque`` the first entry is
    ``TARGET/.wh..wh..opq`` (lower-layer contents of the target directory
    disappear); then the source itself at ``target`` (a directory as
    ``TARGET/``) and, for a directory, everything below it, depth first
    with names sorted in each directory (Go's ``filepath.Walk`` order).
    Parent directories of ``target`` are not written (extractors create
    them).  A symlink ``source`` is archived as the symlink.  The sink is
    not closed.
    """
    _check_proc()
    opts = options or GenerateOptions()
    rel = clean_target(target)
    src = os.path.abspath(os.fsencode(source))
    with contextlib.ExitStack() as stack:
        try:
            # A directory (not a symlink to one) is read as a tree.
            tree: TreeReader | None = stack.enter_context(TreeReader(src, rootless=opts.rootless))
        except NotADirectoryError:
            tree = None  # a file, a symlink, a device: one entry
        except OSError as e:
            raise LayerError(f"source {os.fsdecode(src)}: {e.strerror}") from e
        if tree is None and not rel:
            raise LayerError("only a directory can be inserted at /")
        writer = stack.enter_context(TarWriter(sink))
        gen = _Generator(writer, opts)
        if opaque:
            writer.add(opaque_entry(rel))
        if tree is not None:
            gen.add_root(tree, rel)
            _walk_into(tree, gen, rel)
        else:
            parent, base = os.path.split(src)
            with _open_tree(parent, opts) as parent_tree:
                gen.add(parent_tree, parent_tree.peek_dir(""), base, rel)
    return LayerStats(writer.entries, writer.bytes_written)


def generate_whiteout_layer(target: str | bytes, sink: ByteWriter) -> LayerStats:
    """Write a layer with one whiteout deleting image path ``target`` (``insert --whiteout``)."""
    rel = clean_target(target)
    with TarWriter(sink) as writer:
        writer.add(whiteout_entry(rel))
    return LayerStats(writer.entries, writer.bytes_written)
