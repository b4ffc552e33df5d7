"""Reading a tree without following any symlink: what repack, insert and the mtree walk see.

A :class:`TreeReader` is a :class:`~umoci.fs.rootfs.Rootfs` opened with
``follow=False``: directories are reached one component at a time from an
fd of the root, and a symlink where a directory is expected is refused
(:class:`~umoci.fs.rootfs.NotADirComponentError`), never followed -- a
walk never reports such a path, so meeting one means the tree changed
under us.  Entries are read through their directory's fd and their name
(``*at`` calls; xattrs through ``/proc/self/fd/DIR/NAME`` with no-follow
calls), so nothing outside the tree can be read even while it changes.

Rootless, the rule of :mod:`umoci.fs.access` applies: a directory we own
but may not list or search gets ``u+rx`` when it is entered (put back by
:meth:`TreeReader.close`), a file we own but may not read gets ``u+r`` for
just the open or xattr read that failed.  So trees holding mode-000 files
and directories the user owns can be recorded and archived, and are left
with their modes; :meth:`Rootfs.final_mode` gives the mode to record.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Container, Iterator

from umoci.fs.access import READ, SEARCH, proc_path, relaxed
from umoci.fs.ops import RootlessOps, RootOps, proc_fd_works
from umoci.fs.rootfs import DirRef, Rootfs

# O_NONBLOCK/O_NOCTTY: opening what lstat called a regular file is harmless
# even if a FIFO or a terminal was swapped in since (callers check fstat).
_O_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class TreeReader(Rootfs):
    """A directory tree opened for reading (see the module docstring).

    ``root`` itself must be a directory, not a symlink to one.
    """

    def __init__(
        self, root: str | bytes | os.PathLike[str] | os.PathLike[bytes], *, rootless: bool
    ) -> None:
        ops = RootlessOps() if rootless else RootOps()
        super().__init__(root, ops, access=SEARCH, follow=False, follow_root=False)
        self._proc = proc_fd_works()

    def close(self) -> None:
        """Put back every mode we relaxed (also after an error), then release every fd."""
        if self.root_fd < 0:
            return
        try:
            self.finish()
        finally:
            super().close()

    def scan(self, directory: DirRef) -> list[tuple[str, os.stat_result]]:
        """Every entry of ``directory`` with its ``lstat``, in the kernel's order."""
        fd = self.ops.open_dir_listing(directory.fd, ".")
        try:
            return _listing(fd)
        finally:
            os.close(fd)

    def lstat_tree(self) -> Iterator[tuple[str, list[tuple[str, os.stat_result]]]]:
        """Every directory with :meth:`scan` of it: the root (``""``) first, then depth first.

        For a reader that needs every inode's ``lstat`` and little else (a
        stat-cache scan): each directory is opened once, by name from its
        parent's fd (``O_NOFOLLOW|O_DIRECTORY``: a symlink swapped in is
        refused, never followed), and listed on that fd, instead of being
        resolved through the cache of :meth:`peek_dir` -- four system calls
        and the resolver's bookkeeping less per directory.  One fd per
        level is held while a directory's subdirectories are visited.
        Nothing is relaxed, even rootless: a directory we may not list
        raises ``PermissionError``.  Paths are the directories' resolved
        paths, as :meth:`peek_dir` takes them.
        """
        is_dir = stat.S_ISDIR
        # Per open directory: its fd, its path and its subdirectories to visit.
        stack: list[tuple[int, str, Iterator[str]]] = []
        try:
            fd, path = self.ops.open_dir_listing(self.root_fd, "."), ""
            while True:
                stack.append((fd, path, iter(())))  # ours to close from here on
                entries = _listing(fd)
                stack[-1] = (fd, path, iter([n for n, st in entries if is_dir(st.st_mode)]))
                yield path, entries
                # Next: a subdirectory of the deepest directory that has one left.
                while stack:
                    parent, parent_path, subdirs = stack[-1]
                    name = next(subdirs, None)
                    if name is not None:
                        break
                    os.close(stack.pop()[0])
                else:
                    return
                fd = self.ops.open_dir_listing(parent, name)
                path = f"{parent_path}/{name}" if parent_path else name
        finally:
            for fd, _, _ in stack:
                os.close(fd)

    def names(self, directory: DirRef) -> list[str]:
        """The names in ``directory``, in the kernel's order."""
        fd = self.ops.open_dir_listing(directory.fd, ".")
        try:
            return os.listdir(fd)
        finally:
            os.close(fd)

    def open_file(self, directory: DirRef, name: str, st: os.stat_result) -> int:
        """Open ``name`` (``lstat`` ``st``: a regular file) for reading; the fd is ours to close.

        The last component is not followed and the open never blocks; the
        caller checks with ``fstat`` that it got the file it looked at.
        """
        try:
            return os.open(name, _O_READ, dir_fd=directory.fd)
        except PermissionError:
            with relaxed(self.ops, directory.fd, name, st, READ) as changed:
                if not changed:
                    raise
                return os.open(name, _O_READ, dir_fd=directory.fd)

    def readlink(self, directory: DirRef, name: str) -> str:
        """The target of symlink ``name``."""
        return self.ops.readlink(directory.fd, name)

    def xattrs(
        self,
        directory: DirRef,
        name: str,
        st: os.stat_result,
        *,
        fd: int | None = None,
        skip: Container[str] = (),
    ) -> dict[str, bytes]:
        """The xattrs of ``name`` (or of its open file ``fd``) but those in ``skip``.

        A filesystem without xattrs has none; one removed between listing
        and reading is skipped.
        """
        if fd is None and not self._proc:
            return self._xattrs_without_proc(directory, name, st, skip)
        # A walk reads the xattrs of every inode, nearly always to find none:
        # the syscalls straight away, on the fd or on the /proc path FsOps
        # uses (the last component never followed).
        where = fd if fd is not None else f"{proc_path(directory.fd)}/{name}"
        try:
            return _read_xattrs(where, skip)
        except PermissionError:
            with relaxed(self.ops, directory.fd, name, st, READ) as changed:
                if not changed:
                    raise
                return _read_xattrs(where, skip)

    def _xattrs_without_proc(
        self, directory: DirRef, name: str, st: os.stat_result, skip: Container[str]
    ) -> dict[str, bytes]:
        """Without /proc: through the object itself, opened (a file or a directory, as FsOps).

        Opening anything else could have side effects: it has no xattrs here.
        """
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            return {}
        fd = self.open_file(directory, name, st)  # a directory opens the same way
        try:
            return self.xattrs(directory, name, st, fd=fd, skip=skip)
        finally:
            os.close(fd)


def _listing(fd: int) -> list[tuple[str, os.stat_result]]:
    """The entries of the open directory ``fd`` with their ``lstat``, in the kernel's order."""
    # scandir works on its own dup of fd; stat() is fstatat(fd, name).
    with os.scandir(fd) as entries:
        return [(entry.name, entry.stat(follow_symlinks=False)) for entry in entries]


def _read_xattrs(where: int | str, skip: Container[str]) -> dict[str, bytes]:
    """The xattrs of an fd or a path (never followed) but those in ``skip``.

    A filesystem without xattrs has none; one removed between listing and
    reading is skipped.
    """
    follow = isinstance(where, int)  # an fd has nothing to follow
    try:
        keys = os.listxattr(where, follow_symlinks=follow)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return {}
        raise
    out: dict[str, bytes] = {}
    for key in keys:
        if key in skip:
            continue
        try:
            out[key] = os.getxattr(where, key, follow_symlinks=follow)
        except OSError as e:
            if e.errno != errno.ENODATA:
                raise
    return out
