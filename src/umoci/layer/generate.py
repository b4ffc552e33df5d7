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

Confinement (:mod:`umoci.layer.srctree`): paths are resolved one component
at a time from an fd of the root (``openat`` with ``O_NOFOLLOW``), so
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
search (an image may ship ``0000`` modes): their mode is relaxed for as
long as we need them and put back afterwards; headers carry the original.

Which paths go in (order, masks, minimal whiteouts) is decided up front,
without I/O, by :mod:`umoci.layer.changes`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator

from umoci import log as umoci_log
from umoci.compress.streams import ByteWriter
from umoci.errors import LayerError, UnsafePathError
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
from umoci.layer.srctree import (
    PROC_FD,
    NotADirComponentError,
    SourceTree,
    proc,
    read_xattrs,
    same_inode,
)
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

# File contents are opened only after lstat said "regular file", and then
# checked with fstat; O_NONBLOCK/O_NOCTTY make the open harmless should a
# FIFO or a terminal have been swapped in between.  (Reopening an O_PATH
# fd through /proc would close even that window, at +50% syscall time per
# file; only someone able to mknod in the tree could use it.)
_O_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC

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


@dataclass(slots=True)
class _Source:
    """What was read about one file before its entry is written."""

    st: os.stat_result
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
    def add_root(self, tree: SourceTree, rel: bytes) -> None:
        """Write the tree's root directory itself as ``rel`` (``.`` for the image root)."""
        try:
            st = os.fstat(tree.root_fd)
            xattrs = read_xattrs(proc(tree.root_fd), follow=True, skip=IGNORED_XATTRS)
        except OSError as e:
            raise LayerError(f"generate layer: {show(rel)}: {e.strerror}") from e
        self._write(tree, rel, _Source(st, xattrs))

    def add(self, tree: SourceTree, parent: int, name: bytes, rel: bytes) -> bool:
        """Write ``name`` of directory fd ``parent`` as ``rel``; True if it is a directory."""
        try:
            src = self._inspect(tree, parent, name, rel)
        except FileNotFoundError as e:
            raise LayerError(f"generate layer: {show(rel)}: vanished while being archived") from e
        except OSError as e:
            raise LayerError(f"generate layer: {show(rel)}: {e.strerror}") from e
        if src is None:
            return False
        try:
            self._write(tree, rel, src)
        finally:
            if src.fd is not None:
                os.close(src.fd)
        return stat.S_ISDIR(src.st.st_mode)

    def _inspect(self, tree: SourceTree, parent: int, name: bytes, rel: bytes) -> _Source | None:
        st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        if stat.S_ISSOCK(st.st_mode):
            log.warning("generate layer: %s: skipping socket (tar has no sockets)", show(rel))
            return None
        check_name(rel)
        src = _Source(st, {})
        if st.st_nlink > 1:
            src.link = self._inodes.get((st.st_dev, st.st_ino))
        pin = tree.relax(parent, name, st, show(rel)) if tree.rootless else None
        try:
            if stat.S_ISREG(st.st_mode) and src.link is None:
                src.fd = os.open(name, _O_READ, dir_fd=parent)
                now = os.fstat(src.fd)
                if now.st_ino != st.st_ino or now.st_dev != st.st_dev or now.st_mode != st.st_mode:
                    same_inode(now, st, show(rel))  # raises unless only the mode changed
                # Promise the size of the inode we will read; keep lstat's
                # mode (relax() may have changed the current one).
                src.size = now.st_size
                src.xattrs = read_xattrs(src.fd, follow=True, skip=IGNORED_XATTRS)
            else:
                # The parent is pinned by its fd and NAME is not followed.
                path = os.fsencode(proc(parent)) + b"/" + name
                src.xattrs = read_xattrs(path, follow=False, skip=IGNORED_XATTRS)
            if stat.S_ISLNK(st.st_mode):
                src.target = os.readlink(name, dir_fd=parent)
        except BaseException:
            if src.fd is not None:
                os.close(src.fd)
            raise
        finally:
            if pin is not None:
                tree.restore(pin, st)
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
    def _write(self, tree: SourceTree, rel: bytes, src: _Source) -> None:
        st = src.st
        kind = _KINDS.get(stat.S_IFMT(st.st_mode))
        if kind is None:
            raise LayerError(f"generate layer: {show(rel)}: unsupported file type {st.st_mode:o}")
        uid, gid = self._owner(st, src.xattrs, rel)
        entry = TarEntry(
            name=(rel + b"/" if rel else b".") if kind is EntryKind.DIR else rel,
            kind=kind,
            mode=stat.S_IMODE(tree.original_mode(st)),
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
    if not os.path.isdir(PROC_FD):
        raise LayerError(f"generate layer: {PROC_FD} is not available (is /proc mounted?)")


def _add_path(tree: SourceTree, gen: _Generator, rel: bytes) -> None:
    """Write the entry for ``rel`` (relative to the tree root) of a rootfs."""
    if not rel:
        gen.add_root(tree, rel)
        return
    comps = rel.split(b"/")
    try:
        parent = tree.dir_fd(comps[:-1])
    except NotADirComponentError as e:
        where = f"generate layer: {show(rel)}: path component {os.fsdecode(e.comp)!r}"
        if e.symlink:
            raise UnsafePathError(f"{where} is a symlink: refusing to follow it") from None
        raise LayerError(f"{where} is not a directory") from None
    except OSError as e:
        raise LayerError(f"generate layer: {show(rel)}: {e.strerror}") from e
    gen.add(tree, parent, comps[-1], rel)


def _parent_is_dir(tree: SourceTree, rel: bytes) -> bool:
    """Does the parent of ``rel`` still resolve to a directory (without symlinks)?"""
    try:
        tree.dir_fd(rel.split(b"/")[:-1])
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
    with SourceTree(os.fsencode(root), rootless=opts.rootless) as tree, TarWriter(sink) as writer:
        gen = _Generator(writer, opts)
        for rel, kind in plan:
            if kind is not ChangeKind.DELETED:
                _add_path(tree, gen, rel)
            elif _parent_is_dir(tree, rel):
                writer.add(whiteout_entry(rel))
            else:
                log.debug("generate layer: no whiteout for %s: parent is no directory", show(rel))
    return LayerStats(writer.entries, writer.bytes_written)


def _list(tree: SourceTree, comps: list[bytes], rel: bytes) -> Iterator[bytes]:
    try:
        return iter(tree.list_dir(comps))
    except NotADirComponentError as e:
        raise LayerError(f"{show(rel)}: changed while being archived") from e
    except OSError as e:
        raise LayerError(f"{show(rel)}: {e.strerror}") from e


def _walk_into(tree: SourceTree, gen: _Generator, target: bytes) -> None:
    """Write everything below the tree root, depth first, names sorted per directory."""
    pending: list[tuple[list[bytes], Iterator[bytes]]] = [([], _list(tree, [], target))]
    while pending:
        comps, names = pending[-1]
        name = next(names, None)
        if name is None:
            pending.pop()
            continue
        child = [*comps, name]
        rel = join(target, b"/".join(child))
        try:
            parent = tree.dir_fd(comps)  # the chain is already there: no lookup
        except (NotADirComponentError, OSError) as e:
            raise LayerError(f"{show(rel)}: changed while being archived") from e
        if gen.add(tree, parent, name, rel):
            pending.append((child, _list(tree, child, rel)))


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
    try:
        is_dir = stat.S_ISDIR(os.lstat(src).st_mode)
    except OSError as e:
        raise LayerError(f"source {os.fsdecode(src)}: {e.strerror}") from e
    if not is_dir and not rel:
        raise LayerError("only a directory can be inserted at /")
    with TarWriter(sink) as writer:
        gen = _Generator(writer, opts)
        if opaque:
            writer.add(opaque_entry(rel))
        if is_dir:
            with SourceTree(src, rootless=opts.rootless) as tree:
                gen.add_root(tree, rel)
                _walk_into(tree, gen, rel)
        else:
            parent, base = os.path.split(src)
            with SourceTree(parent, rootless=opts.rootless) as tree:
                try:
                    fd = tree.dir_fd([])
                except OSError as e:
                    raise LayerError(f"{os.fsdecode(parent)}: {e.strerror}") from e
                gen.add(tree, fd, base, rel)
    return LayerStats(writer.entries, writer.bytes_written)


def generate_whiteout_layer(target: str | bytes, sink: ByteWriter) -> LayerStats:
    """Write a layer with one whiteout deleting image path ``target`` (``insert --whiteout``)."""
    rel = clean_target(target)
    with TarWriter(sink) as writer:
        writer.add(whiteout_entry(rel))
    return LayerStats(writer.entries, writer.bytes_written)
