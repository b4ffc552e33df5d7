"""A directory opened as a confined root: every path resolves *inside* it.

This is the one resolver of paths inside a rootfs (extraction, the runtime
config's ``/etc/passwd`` lookup, and through :mod:`umoci.fs.tree` the mtree
walk and the layer generators).  Resolution works like
``openat2(RESOLVE_IN_ROOT)`` / filepath-securejoin, but in user space and
one component at a time:

* each step is ``lstat`` + ``openat(O_PATH|O_NOFOLLOW|O_DIRECTORY)`` relative
  to the directory fd of the previous step, so no path string is ever
  re-resolved by the kernel;
* a symlink is read and its target walked by us: an absolute target restarts
  at the rootfs, ``..`` never climbs above it, chains are followed up to
  :data:`MAX_SYMLINKS` (then ``ELOOP``);
* the last component is never followed: callers get ``(directory, name)``
  and use ``*at`` calls with no-follow semantics (see :mod:`umoci.fs.ops`);
  only :meth:`Rootfs.open_regular` follows it, with the same rules;
* with ``follow=False`` (reading a tree to archive it) a symlink in a
  directory component is not followed at all but refused
  (:class:`NotADirComponentError`).

So a symlink in the image -- absolute, relative with ``..``, named ``.`` or
``/.``, chained, or swapped in by an earlier entry of the same layer -- can
only ever point somewhere else *inside* the rootfs.

Resolved directories are cached (path -> fd), because a layer's entries
arrive grouped by directory.  Anything that removes a directory or a symlink
drops the cache, so a stale handle can never stand for a path that now means
something else.  Callers receive their own ``dup`` of a cached fd, so
dropping the cache never invalidates a handle in use.

Rootless work also needs access to directories whose mode says otherwise
(an image may ship ``0555`` or ``0000`` directories): directories get the
owner bits the Rootfs was opened for (``access``: see
:mod:`umoci.fs.access`) as they are entered, and their modes are put back
by :meth:`finish`.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import OrderedDict
from collections.abc import Callable, Container, Generator

from umoci import structs
from umoci.closing import Closing
from umoci.fs.access import MODIFY
from umoci.fs.ops import FsOps, Target

#: Symlinks followed while resolving one path (Linux's own limit is 40).
MAX_SYMLINKS = 40
#: Resolved directory fds kept open for reuse.
_CACHE_SIZE = 64
_O_READ_REGULAR = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def join(parent: str, name: str) -> str:
    """Join a resolved relative path ("" is the root) and a component."""
    if name in ("", "."):
        return parent
    return f"{parent}/{name}" if parent else name


class SymlinkLoopError(OSError):
    """More than :data:`MAX_SYMLINKS` symlinks met while resolving one path (``ELOOP``)."""

    def __init__(self, path: str) -> None:
        super().__init__(errno.ELOOP, os.strerror(errno.ELOOP), path)


class NotRegularFileError(OSError):
    """:meth:`Rootfs.open_regular` found a directory, FIFO, device or socket."""

    def __init__(self, path: str) -> None:
        super().__init__(errno.EINVAL, "not a regular file", path)


class NotADirComponentError(NotADirectoryError):
    """A directory component of a path is something else; ``symlink``: a link not followed."""

    def __init__(self, path: str, *, symlink: bool) -> None:
        super().__init__(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
        #: The resolved path of the component, relative to the root.
        self.path = path
        self.symlink = symlink


@structs.dataclass
class _WalkMode:
    """How a walk treats what it finds; ``links`` is shared by nested walks."""

    create: bool = False
    replace: bool = False
    links: int = MAX_SYMLINKS


class DirRef(Closing):
    """An open directory inside the rootfs: an O_PATH ``fd`` (ours to close) and its path.

    ``rel`` is the fully resolved path relative to the root (no symlinks,
    ``""`` for the root itself).
    """

    __slots__ = ("fd", "rel")

    def __init__(self, fd: int, rel: str) -> None:
        self.fd = fd
        self.rel = rel

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Rootfs(Closing):
    """The confined view of one rootfs directory (see the module docstring).

    ``access`` is the owner bits every directory entered must give us
    (rootless only, see :mod:`umoci.fs.access`; None: never change a mode).
    ``follow`` says whether symlinks in directory components are followed
    (inside the root) or refused.  The root path itself comes from our
    caller, not from an image, so it may be reached through symlinks --
    unless ``follow_root`` is False (a walk that must see the root as
    ``lstat`` does).  ``root_stat`` is the root as it was when opened.
    """

    def __init__(
        self,
        root: str | bytes | os.PathLike[str] | os.PathLike[bytes],
        ops: FsOps,
        *,
        access: int | None = MODIFY,
        follow: bool = True,
        follow_root: bool = True,
    ) -> None:
        self.ops = ops
        self._access = access
        self._follow_links = follow
        flags = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
        self.root_fd = os.open(root, flags if follow_root else flags | os.O_NOFOLLOW)
        self._dirs: OrderedDict[str, int] = OrderedDict()
        self._alias: dict[str, str] = {}  # requested path -> resolved path
        self._aliases_stale = False
        # The last peek_dir: entries, walks and layers ask for one directory
        # many times in a row.  Reset by everything that changes the cache.
        self._last_peek: tuple[str, DirRef] | None = None
        # Rootless: resolved path -> (inode, final mode) to put back at finish().
        self._restore: dict[str, tuple[int, int]] = {}
        try:
            self.root_stat = os.fstat(self.root_fd)
            self._fix_access(Target(self.root_fd, "."), "", self.root_stat)
        except BaseException:
            os.close(self.root_fd)
            raise

    # -- lifetime ------------------------------------------------------------
    def close(self) -> None:
        """Release every fd (does not restore modes: see :meth:`finish`)."""
        self.invalidate()
        if self.root_fd >= 0:
            os.close(self.root_fd)
            self.root_fd = -1

    def invalidate(self) -> None:
        """Forget every cached resolution (after something was removed)."""
        for fd in self._dirs.values():
            os.close(fd)
        self._dirs.clear()
        self._alias.clear()
        self._last_peek = None

    # -- resolution ------------------------------------------------------------
    def root(self) -> DirRef:
        return DirRef(os.dup(self.root_fd), "")

    def resolve_dir(self, rel: str, *, create: bool = False, replace: bool = False) -> DirRef:
        """Open directory ``rel`` (a cleaned relative path; "" is the root).

        Symlinks are followed inside the root.  With ``create`` missing
        directories are made (mode 0755; the layer fixes metadata later),
        including the targets of dangling symlinks, as the Go umoci does.
        With ``replace`` a component that is not a directory (or a symlink
        to one) is replaced by a new directory.  Raises ``OSError``
        (ENOENT, ENOTDIR, ELOOP, ...) otherwise.
        """
        fd, resolved = self._resolve(rel, create, replace)
        return DirRef(os.dup(fd), resolved)

    def peek_dir(self, rel: str, *, create: bool = False, replace: bool = False) -> DirRef:
        """:meth:`resolve_dir` without the ``dup``: the fd is *borrowed*.

        It belongs to the cache (or is the root fd): never close it, and use
        it only until the next call of any other method of this object that
        resolves, removes or invalidates (any of them may close it).  To
        keep it longer, take a ``dup`` first.
        """
        last = self._last_peek
        if last is not None and last[0] == rel:
            return last[1]  # nothing changed the cache since it was resolved
        fd, resolved = self._resolve(rel, create, replace)
        ref = DirRef(fd, resolved)
        self._last_peek = (rel, ref)
        return ref

    def _resolve(self, rel: str, create: bool, replace: bool) -> tuple[int, str]:
        """The borrowed fd and resolved path of directory ``rel`` (see :meth:`resolve_dir`)."""
        resolved = self._alias.get(rel)
        if resolved is not None and (fd := self._dirs.get(resolved)) is not None:
            self._dirs.move_to_end(resolved)
            return fd, resolved
        comps = rel.split("/") if rel else []
        # Start from the longest prefix we resolved before.
        start_fd, names, skip = self.root_fd, [], 0
        prefix = ""
        prefixes = []
        for comp in comps[:-1]:
            prefix = join(prefix, comp)
            prefixes.append(prefix)
        for k in range(len(prefixes), 0, -1):
            resolved = self._alias.get(prefixes[k - 1])
            if resolved is not None and (fd := self._dirs.get(resolved)) is not None:
                self._dirs.move_to_end(resolved)
                start_fd, names, skip = fd, resolved.split("/") if resolved else [], k
                break
        mode = _WalkMode(create=create, replace=replace)
        fd, names = self._walk(start_fd, names, comps[skip:], mode)
        resolved = "/".join(names)
        if self._aliases_stale:
            self._alias.clear()
            self._aliases_stale = False
            self._last_peek = None
        self._alias[rel] = resolved
        return fd, resolved

    def open_regular(self, path: str) -> int:
        """Open the regular file ``path`` for reading, as if the root were ``/``.

        The one lookup that follows the last component too: a symlink there
        is resolved like any other (inside the root, sharing the
        :data:`MAX_SYMLINKS` budget).  Returns an fd (ours to close).
        Raises ``FileNotFoundError`` or ``NotADirectoryError`` when there is
        no such file, :class:`SymlinkLoopError`, and
        :class:`NotRegularFileError` for anything but a regular file -- a
        FIFO would block a reader, a device could stream forever.  The file
        is opened ``O_NOFOLLOW|O_NONBLOCK``, so a symlink or FIFO swapped in
        after we looked fails (``ELOOP``) or is caught by ``fstat``.
        """
        mode = _WalkMode()
        fd, names = self.root_fd, list[str]()
        comps = _components(path)
        while True:
            if not comps or comps[-1] == "..":
                self._walk(fd, names, comps, mode)
                raise NotRegularFileError(path)  # it names a directory
            fd, names = self._walk(fd, names, comps[:-1], mode)
            last = comps[-1]
            st = self.ops.lstat(fd, last)
            if stat.S_ISLNK(st.st_mode):
                mode.links -= 1
                if mode.links < 0:
                    raise SymlinkLoopError(path)
                target = self.ops.readlink(fd, last)
                if target.startswith("/"):
                    fd, names = self.root_fd, []
                comps = _components(target)
                continue
            if not stat.S_ISREG(st.st_mode):
                raise NotRegularFileError(path)
            file_fd = os.open(last, _O_READ_REGULAR, dir_fd=fd)
            try:
                if not stat.S_ISREG(os.fstat(file_fd).st_mode):
                    raise NotRegularFileError(path)
                os.set_blocking(file_fd, True)
            except BaseException:
                os.close(file_fd)
                raise
            return file_fd

    def is_dir_through_links(self, parent: DirRef, name: str) -> bool:
        """Does ``parent/name``, following symlinks inside the root, reach a directory?"""
        names = parent.rel.split("/") if parent.rel else []
        try:
            self._walk(parent.fd, names, [name], _WalkMode())
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                return False
            raise
        return True

    def _walk(
        self,
        fd: int,
        names: list[str],
        comps: list[str],
        mode: _WalkMode,
    ) -> tuple[int, list[str]]:
        """Walk ``comps`` from directory ``fd`` (resolved path ``names``).

        Returns a *borrowed* fd (owned by the cache, or the root fd) and the
        resolved path.
        """
        names = list(names)
        comps = list(comps)
        i = 0
        while i < len(comps):
            comp = comps[i]
            i += 1
            if comp in ("", "."):
                continue
            if comp == "..":
                if names:  # ".." at the root stays at the root
                    names.pop()
                    fd = self._reopen(names)
                continue
            key = join("/".join(names), comp)
            cached = self._dirs.get(key)
            if cached is not None:
                self._dirs.move_to_end(key)
                fd = cached
                names.append(comp)
                continue
            try:
                st = self.ops.lstat(fd, comp)
            except FileNotFoundError:
                if not mode.create:
                    raise
                cancelled = _cancelled_by_dotdot(comps, i)
                if cancelled is not None:
                    # Like Go's SecureJoin: below a missing directory nothing
                    # exists, so the rest is taken lexically and a later ".."
                    # cancels it -- without creating it first.
                    i = cancelled
                    continue
                st = self._mkdir(fd, comp)
            if stat.S_ISLNK(st.st_mode):
                if not self._follow_links:
                    raise NotADirComponentError(key, symlink=True)
                fd, names = self._follow(fd, names, comp, mode)
                continue
            if not stat.S_ISDIR(st.st_mode):
                if not mode.replace:
                    raise NotADirComponentError(key, symlink=False)
                # A file where the layer wants a directory: the layer wins.
                self.ops.unlink(fd, comp)
                self._aliases_stale = True
                st = self._mkdir(fd, comp)
            fd = self._enter(fd, names, comp, st)
        return fd, names

    def _follow(
        self,
        fd: int,
        names: list[str],
        comp: str,
        mode: _WalkMode,
    ) -> tuple[int, list[str]]:
        """Resolve the symlink ``comp`` in ``fd`` to a directory inside the root."""
        mode.links -= 1
        if mode.links < 0:
            raise SymlinkLoopError(join("/".join(names), comp))
        target = self.ops.readlink(fd, comp)
        # Keep our own handle on the directory holding the link, for the
        # replace case below: the nested walk may push it out of the cache
        # (which closes cached fds).  The walk itself may start from the
        # borrowed fd: it is used before anything new enters the cache.
        held = os.dup(fd)
        try:
            base_fd, base = (self.root_fd, []) if target.startswith("/") else (fd, names)
            tcomps = target.split("/")
            # The target is only ever looked up, never replaced: a layer
            # clobbers its own path, not whatever a link points at.
            inner = _WalkMode(links=mode.links)
            try:
                fd, names = self._walk(base_fd, base, tcomps, inner)
                mode.links = inner.links
                return fd, names
            except FileNotFoundError:
                if not mode.create:
                    raise
                # Dangling: create the directories it points to (inside the root).
                inner = structs.replace(inner, create=True, links=mode.links)
                fd, names = self._walk(base_fd, base, tcomps, inner)
                mode.links = inner.links
                return fd, names
            except NotADirectoryError:
                if not mode.replace:
                    raise
                # A link to a non-directory where the layer wants a
                # directory: replace the link itself, never its target.
                self.ops.unlink(held, comp)
                self._aliases_stale = True
                st = self._mkdir(held, comp)
                new_names = list(names)
                return self._enter(held, new_names, comp, st), new_names
        finally:
            os.close(held)

    def _mkdir(self, fd: int, comp: str) -> os.stat_result:
        self.ops.mkdir(fd, comp, 0o755)
        # mkdir(2) applies the umask; make implicit directories reproducible.
        self.ops.chmod(Target(fd, comp), 0o755)
        return self.ops.lstat(fd, comp)

    def _enter(self, fd: int, names: list[str], comp: str, st: os.stat_result) -> int:
        """Open directory ``comp`` of ``fd`` (making it usable), cache it, extend ``names``."""
        key = join("/".join(names), comp)
        self._fix_access(Target(fd, comp), key, st)
        child = self.ops.open_dir(fd, comp)
        names.append(comp)
        self._last_peek = None  # its fd may be the one evicted below
        self._dirs[key] = child
        if len(self._dirs) > _CACHE_SIZE:
            # The oldest entry is never the one a walk is standing on: every
            # use moves an entry to the end.
            _, old = self._dirs.popitem(last=False)
            os.close(old)
        return child

    def _reopen(self, names: list[str]) -> int:
        """A (borrowed) fd for an already-resolved path, without following anything."""
        key = "/".join(names)
        if not key:
            return self.root_fd
        cached = self._dirs.get(key)
        if cached is not None:
            self._dirs.move_to_end(key)
            return cached
        fd, walked = self.root_fd, list[str]()
        for comp in names:
            sub = join("/".join(walked), comp)
            cached = self._dirs.get(sub)
            if cached is not None:
                self._dirs.move_to_end(sub)
                fd = cached
                walked.append(comp)
                continue
            st = self.ops.lstat(fd, comp)
            if not stat.S_ISDIR(st.st_mode):
                raise OSError(errno.ENOTDIR, "resolved path changed under us", sub)
            fd = self._enter(fd, walked, comp, st)
        return fd

    # -- rootless permissions ----------------------------------------------------
    def _fix_access(self, t: Target, rel: str, st: os.stat_result) -> None:
        """Give us ``access`` on a directory being entered, until :meth:`finish`."""
        if self._access is None:
            return
        temp = self.ops.relaxed_mode(st.st_mode, st.st_uid, self._access)
        if temp is None:
            return
        self.ops.chmod(t, temp)
        self._restore.setdefault(rel, (st.st_ino, stat.S_IMODE(st.st_mode)))

    def _forget(self, rel: str) -> None:
        """Drop the modes to restore at and below ``rel``, which was just removed.

        A directory made later at the same path (maybe reusing the inode
        number) must not get the old one's mode at :meth:`finish`.
        """
        if not self._restore:
            return
        below = rel + "/"
        for path in [p for p in self._restore if p == rel or p.startswith(below)]:
            del self._restore[path]

    def chmod_dir(self, parent: DirRef, name: str, mode: int) -> None:
        """Set a directory's mode; rootless keeps it usable until :meth:`finish`."""
        t = Target(parent.fd, name)
        rel = join(parent.rel, name)
        st = self.ops.lstat(parent.fd, name)
        temp = None
        if self._access is not None:
            temp = self.ops.relaxed_mode(mode, st.st_uid, self._access)
        if temp is None:
            self.ops.chmod(t, mode)
            self._restore.pop(rel, None)
            return
        self.ops.chmod(t, temp)
        self._restore[rel] = (st.st_ino, mode)

    def final_mode(self, rel: str, st: os.stat_result) -> int:
        """The permission bits ``rel`` (lstat ``st``) will have after :meth:`finish`."""
        pending = self._restore.get(rel)
        if pending is not None and pending[0] == st.st_ino:
            return pending[1]
        return stat.S_IMODE(st.st_mode)

    def finish(self) -> None:
        """Put back the modes of directories opened up for rootless extraction.

        Deepest first, so that closing a parent never blocks reaching a child.
        A path that is gone or became another inode is skipped.
        """
        for rel in sorted(self._restore, key=lambda r: (r.count("/"), r), reverse=True):
            ino, mode = self._restore[rel]
            parent_rel, _, name = rel.rpartition("/")
            try:
                with self.resolve_dir(parent_rel) as parent:
                    name = name or "."
                    st = self.ops.lstat(parent.fd, name)
                    if stat.S_ISDIR(st.st_mode) and st.st_ino == ino:
                        self.ops.chmod(Target(parent.fd, name), mode)
            except (FileNotFoundError, NotADirectoryError):
                continue
        self._restore.clear()

    # -- removal -------------------------------------------------------------------
    def lstat(self, parent: DirRef, name: str) -> os.stat_result | None:
        """``lstat`` of ``parent/name``, or None if it does not exist."""
        try:
            return self.ops.lstat(parent.fd, name)
        except FileNotFoundError:
            return None

    def remove(
        self,
        parent: DirRef,
        name: str,
        *,
        keep: Container[str] = (),
        on_removed: Callable[[str], None] | None = None,
    ) -> None:
        """Remove ``parent/name`` recursively, sparing the paths in ``keep``.

        A kept path is not removed, but a kept directory is still searched:
        its children that are not kept go.  (``keep`` holds what the current
        layer created plus their ancestors; see the whiteout rules.)
        ``on_removed`` is told the top of every subtree actually removed.
        """
        rel = join(parent.rel, name)
        st = self.lstat(parent, name)
        if st is None:
            return
        if stat.S_ISDIR(st.st_mode):
            self.invalidate()
        elif stat.S_ISLNK(st.st_mode):
            self._alias.clear()
            self._last_peek = None
        if rel not in keep:
            self._remove_tree(parent.fd, name, st)
            self._forget(rel)
            if on_removed is not None:
                on_removed(rel)
        elif stat.S_ISDIR(st.st_mode):
            self._sweep(parent.fd, name, rel, st, keep=keep, on_removed=on_removed)

    def clear_dir(
        self,
        directory: DirRef,
        *,
        keep: Container[str] = (),
        on_removed: Callable[[str], None] | None = None,
    ) -> None:
        """Empty ``directory`` (an opaque whiteout), sparing the paths in ``keep``."""
        self.invalidate()
        st = self.ops.lstat(directory.fd, ".")
        self._sweep(directory.fd, ".", directory.rel, st, keep=keep, on_removed=on_removed)

    def _open_listing(self, dfd: int, name: str, rel: str | None, st: os.stat_result) -> int:
        """Open a directory whose entries are about to be removed.

        Rootless, it must be readable, writable and searchable by us: a
        directory that is kept (``rel`` given) gets its mode back at
        :meth:`finish`, one that goes (``rel`` None) needs no undo.
        """
        temp = self.ops.relaxed_mode(st.st_mode, st.st_uid, MODIFY)
        if temp is not None:
            self.ops.chmod(Target(dfd, name), temp)
            if rel is not None:
                self._restore.setdefault(rel, (st.st_ino, stat.S_IMODE(st.st_mode)))
        return self.ops.open_dir_listing(dfd, name)

    def _sweep(
        self,
        dfd: int,
        name: str,
        rel: str,
        st: os.stat_result,
        *,
        keep: Container[str],
        on_removed: Callable[[str], None] | None,
    ) -> None:
        """Remove what is not kept below the kept directory ``dfd/name``."""
        # An explicit stack: directory depth is attacker-controlled, Python's
        # recursion limit is not a security boundary.
        stack: list[tuple[int, str, Generator[os.DirEntry[str]]]] = []
        try:
            fd = self._open_listing(dfd, name, rel, st)
            stack.append((fd, rel, _scandir(fd)))
            while stack:
                fd, rel, entries = stack[-1]
                entry = next(entries, None)
                if entry is None:
                    stack.pop()
                    os.close(fd)
                    continue
                child_rel = join(rel, entry.name)
                child_st = entry.stat(follow_symlinks=False)
                if child_rel not in keep:
                    self._remove_tree(fd, entry.name, child_st)
                    self._forget(child_rel)
                    if on_removed is not None:
                        on_removed(child_rel)
                elif stat.S_ISDIR(child_st.st_mode):
                    child = self._open_listing(fd, entry.name, child_rel, child_st)
                    stack.append((child, child_rel, _scandir(child)))
        finally:
            for fd, _, entries in stack:
                entries.close()
                os.close(fd)

    def _remove_tree(self, dfd: int, name: str, st: os.stat_result) -> None:
        """``rm -rf dfd/name`` without following any symlink."""
        if not stat.S_ISDIR(st.st_mode):
            self.ops.unlink(dfd, name)
            return
        stack: list[tuple[int, str, int, Generator[os.DirEntry[str]]]] = []
        try:
            fd = self._open_listing(dfd, name, None, st)
            stack.append((dfd, name, fd, _scandir(fd)))
            while stack:
                parent_fd, dir_name, fd, entries = stack[-1]
                entry = next(entries, None)
                if entry is None:
                    stack.pop()
                    os.close(fd)
                    self.ops.rmdir(parent_fd, dir_name)
                    continue
                child_st = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(child_st.st_mode):
                    child = self._open_listing(fd, entry.name, None, child_st)
                    stack.append((fd, entry.name, child, _scandir(child)))
                else:
                    self.ops.unlink(fd, entry.name)
        finally:
            for _, _, fd, entries in stack:
                entries.close()
                os.close(fd)


def _scandir(fd: int) -> Generator[os.DirEntry[str]]:
    # scandir(fd) works on a dup of fd, which it closes when exhausted.
    with os.scandir(fd) as it:
        yield from it


def remove_path(path: str | os.PathLike[str], ops: FsOps) -> None:
    """``rm -rf path`` for a whole rootfs (e.g. after a failed unpack).

    Uses the same no-follow, rootless-aware removal as the extractor, so it
    also works on trees with ``0555`` directories an unprivileged user made.
    """
    parent, name = os.path.split(os.path.abspath(path))
    with Rootfs(parent, ops) as fs:
        with fs.root() as top:
            fs.remove(top, name)
        fs.finish()


def fresh_files_get_xattrs(directory: str | os.PathLike[str]) -> bool:
    """Whether a file created in the empty ``directory`` has xattrs nobody set on it.

    An LSM may label every new file (``security.selinux``), and a default
    ACL on ``directory`` (inherited from above it) becomes each new file's
    access ACL.  Asked once, by creating a file and listing it: the
    extractor and the unpack's mtree then know whether a fresh file can
    have xattrs other than its layer's.  The probe file is removed again,
    so ``directory``'s mtime moves: ask before setting it.
    """
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        name = f".umoci-xattr-probe-{os.urandom(8).hex()}"
        fd = os.open(
            name,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=dfd,
        )
        try:
            try:
                names = os.listxattr(fd)
            except OSError as e:
                # A filesystem without xattrs gives its files none; anything
                # else leaves the question open, so assume the worst.
                return e.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP)
            return bool(names)
        finally:
            os.close(fd)
            os.unlink(name, dir_fd=dfd)
    finally:
        os.close(dfd)


def reset_root(path: str | os.PathLike[str], ops: FsOps, uid: int, gid: int) -> None:
    """Give a new, empty rootfs directory its starting state.

    Owned by ``uid:gid`` (host ids; rootless ops record no owners), with
    atime and mtime at the epoch.
    """
    with Rootfs(path, ops, access=None) as fs:
        root = Target(fs.root_fd, ".")
        ops.chown(root, uid, gid)
        ops.utimes(root, 0, 0)


def _components(path: str) -> list[str]:
    """``path``'s components without the empty and ``.`` ones."""
    return [c for c in path.split("/") if c not in ("", ".")]


def _cancelled_by_dotdot(comps: list[str], start: int) -> int | None:
    """Index just past the ".." that cancels ``comps[start - 1]``, or None.

    ``comps[start - 1]`` is missing, so everything after it is lexical until
    the depth below the current directory drops back to zero.
    """
    depth = 1
    for k in range(start, len(comps)):
        comp = comps[k]
        if comp in ("", "."):
            continue
        depth += -1 if comp == ".." else 1
        if depth == 0:
            return k + 1
    return None
