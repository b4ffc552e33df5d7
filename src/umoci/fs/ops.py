"""The syscalls made inside a rootfs, behind one interface (:class:`FsOps`).

Every call names its object *relative to an open directory* (``dir_fd`` +
one path component, never a path that could cross a symlink) or by an open
file descriptor.  Nothing here follows a symlink in the last component.

Two implementations, chosen once by :func:`fs_for` and injected into the
extractor, so that root/rootless differences live in exactly one place:

* :class:`RootOps` -- real ``chown``, real ``mknod``.
* :class:`RootlessOps` -- no ``chown`` (owners go into the
  ``user.rootlesscontainers`` xattr instead), device nodes become empty
  files, and what we own but may not use gets the owner bits it lacks
  while we work (:meth:`FsOps.relaxed_mode`: the rule of
  :mod:`umoci.fs.access`).

Tests subclass these to inject failures (say EPERM from ``setxattr``).
"""

from __future__ import annotations

import collections
import errno
import functools
import os
import stat
from collections.abc import Callable

from umoci.fs import access

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import NamedTuple, Protocol, TypeVar

    _T = TypeVar("_T")
else:
    Protocol = object  # FsOps only types annotations


_O_PATH_DIR = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_O_LIST_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_O_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


if TYPE_CHECKING:

    class Target(NamedTuple):
        """An object to change: ``name`` inside directory ``dfd``, or the open file ``fd``.

        When ``fd`` is set it is used (cheaper, and immune to renames); otherwise
        the operation is the ``*at`` form with no-follow semantics.
        """

        dfd: int
        name: str
        fd: int | None = None

else:
    # The same tuple, without typing.NamedTuple (which needs typing at run time).
    Target = collections.namedtuple("Target", ["dfd", "name", "fd"], defaults=[None])


@functools.cache
def proc_fd_works() -> bool:
    """Whether ``/proc/self/fd`` is there.

    ``/proc/self/fd/N/NAME`` reaches NAME inside the directory fd N without
    re-resolving any path: the only way to lsetxattr() "at" a dir fd.
    """
    return os.path.isdir(access.PROC_FD)


def _xattr_path(t: Target) -> str:
    return f"{access.proc_path(t.dfd)}/{t.name}"


class FsOps(Protocol):
    """Everything the layer code does to a rootfs (see the module docstring)."""

    #: Owners are recorded in an xattr instead of chown(2).
    rootless: bool
    #: Device nodes are created as empty regular files.
    fake_devices: bool

    def lstat(self, dfd: int, name: str) -> os.stat_result: ...
    def fstat(self, fd: int) -> os.stat_result: ...
    def readlink(self, dfd: int, name: str) -> str: ...
    def open_dir(self, dfd: int, name: str) -> int: ...
    def open_dir_listing(self, dfd: int, name: str) -> int: ...
    def mkdir(self, dfd: int, name: str, mode: int) -> None: ...
    def create(self, dfd: int, name: str, mode: int = 0o600) -> int: ...
    def symlink(self, target: str, dfd: int, name: str) -> None: ...
    def link(self, src_dfd: int, src_name: str, dfd: int, name: str) -> None: ...
    def mknod(self, dfd: int, name: str, mode: int, device: int) -> None: ...
    def unlink(self, dfd: int, name: str) -> None: ...
    def rmdir(self, dfd: int, name: str) -> None: ...
    def chown(self, t: Target, uid: int, gid: int) -> None: ...
    def chmod(self, t: Target, mode: int) -> None: ...
    def utimes(self, t: Target, atime_ns: int, mtime_ns: int) -> None: ...
    def listxattr(self, t: Target) -> list[str]: ...
    def getxattr(self, t: Target, key: str) -> bytes: ...
    def setxattr(self, t: Target, key: str, value: bytes) -> None: ...
    def removexattr(self, t: Target, key: str) -> None: ...
    def relaxed_mode(self, mode: int, uid: int, want: int) -> int | None: ...


class RootOps:
    """The privileged implementation: the kernel does exactly what the layer says."""

    rootless = False
    fake_devices = False

    def __init__(self, *, fake_devices: bool = False) -> None:
        # Root inside a user namespace cannot mknod either.
        self.fake_devices = fake_devices

    def lstat(self, dfd: int, name: str) -> os.stat_result:
        return os.stat(name, dir_fd=dfd, follow_symlinks=False)

    def fstat(self, fd: int) -> os.stat_result:
        return os.fstat(fd)

    def readlink(self, dfd: int, name: str) -> str:
        return os.readlink(name, dir_fd=dfd)

    def open_dir(self, dfd: int, name: str) -> int:
        """An O_PATH handle: enough to resolve below it, needs no permission on it."""
        return os.open(name, _O_PATH_DIR, dir_fd=dfd)

    def open_dir_listing(self, dfd: int, name: str) -> int:
        return os.open(name, _O_LIST_DIR, dir_fd=dfd)

    def mkdir(self, dfd: int, name: str, mode: int) -> None:
        os.mkdir(name, mode, dir_fd=dfd)

    def create(self, dfd: int, name: str, mode: int = 0o600) -> int:
        # O_EXCL|O_NOFOLLOW: we always remove the old entry first, so a
        # symlink appearing here is an attack and must fail, not be followed.
        return os.open(name, _O_CREATE, mode, dir_fd=dfd)

    def symlink(self, target: str, dfd: int, name: str) -> None:
        os.symlink(target, name, dir_fd=dfd)

    def link(self, src_dfd: int, src_name: str, dfd: int, name: str) -> None:
        # follow_symlinks=False: a hardlink to a symlink links the symlink.
        os.link(src_name, name, src_dir_fd=src_dfd, dst_dir_fd=dfd, follow_symlinks=False)

    def mknod(self, dfd: int, name: str, mode: int, device: int) -> None:
        os.mknod(name, mode, device, dir_fd=dfd)

    def unlink(self, dfd: int, name: str) -> None:
        os.unlink(name, dir_fd=dfd)

    def rmdir(self, dfd: int, name: str) -> None:
        os.rmdir(name, dir_fd=dfd)

    def chown(self, t: Target, uid: int, gid: int) -> None:
        if t.fd is not None:
            os.fchown(t.fd, uid, gid)
        else:
            os.chown(t.name, uid, gid, dir_fd=t.dfd, follow_symlinks=False)

    def chmod(self, t: Target, mode: int) -> None:
        """chmod a non-symlink (symlinks have no mode of their own on Linux)."""
        if t.fd is not None:
            os.fchmod(t.fd, mode)
            return
        try:
            os.chmod(t.name, mode, dir_fd=t.dfd, follow_symlinks=False)
        except (NotImplementedError, ValueError):
            # No AT_SYMLINK_NOFOLLOW emulation (glibc needs /proc for it).
            # Callers never chmod a symlink, and the tree is only changed by
            # us, so the plain *at call reaches the same inode.
            os.chmod(t.name, mode, dir_fd=t.dfd)

    def utimes(self, t: Target, atime_ns: int, mtime_ns: int) -> None:
        if t.fd is not None:
            os.utime(t.fd, ns=(atime_ns, mtime_ns))
        else:
            os.utime(t.name, ns=(atime_ns, mtime_ns), dir_fd=t.dfd, follow_symlinks=False)

    # xattrs: by fd when we have one, else the l*xattr call through /proc.
    def listxattr(self, t: Target) -> list[str]:
        if t.fd is not None:
            return os.listxattr(t.fd)
        if proc_fd_works():
            return os.listxattr(_xattr_path(t), follow_symlinks=False)
        return self._with_fd(t, os.listxattr)

    def getxattr(self, t: Target, key: str) -> bytes:
        if t.fd is not None:
            return os.getxattr(t.fd, key)
        if proc_fd_works():
            return os.getxattr(_xattr_path(t), key, follow_symlinks=False)
        return self._with_fd(t, lambda fd: os.getxattr(fd, key))

    def setxattr(self, t: Target, key: str, value: bytes) -> None:
        if t.fd is not None:
            os.setxattr(t.fd, key, value)
        elif proc_fd_works():
            os.setxattr(_xattr_path(t), key, value, follow_symlinks=False)
        else:
            self._with_fd(t, lambda fd: os.setxattr(fd, key, value))

    def removexattr(self, t: Target, key: str) -> None:
        if t.fd is not None:
            os.removexattr(t.fd, key)
        elif proc_fd_works():
            os.removexattr(_xattr_path(t), key, follow_symlinks=False)
        else:
            self._with_fd(t, lambda fd: os.removexattr(fd, key))

    def _with_fd(self, t: Target, call: Callable[[int], _T]) -> _T:
        # Without /proc: open the object itself.  Only safe for files and
        # directories (opening a device node can have side effects), so
        # everything else reports "xattrs unsupported here".
        st = self.lstat(t.dfd, t.name)
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            raise OSError(errno.EOPNOTSUPP, "xattrs on special files need /proc", t.name)
        fd = os.open(t.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=t.dfd)
        try:
            return call(fd)
        finally:
            os.close(fd)

    def relaxed_mode(self, mode: int, uid: int, want: int) -> int | None:
        """Root needs no permission bits: never change a mode."""
        del mode, uid, want
        return None


class RootlessOps(RootOps):
    """Unprivileged extraction (see the module docstring)."""

    rootless = True

    def __init__(self) -> None:
        super().__init__(fake_devices=True)
        self._euid = os.geteuid()

    def chown(self, t: Target, uid: int, gid: int) -> None:
        """Owners are recorded in ``user.rootlesscontainers`` by the caller instead."""
        del t, uid, gid

    def relaxed_mode(self, mode: int, uid: int, want: int) -> int | None:
        """The rule of :mod:`umoci.fs.access`: ``mode | want`` if ours and lacking ``want``."""
        return access.relaxed_mode(mode, uid, want, self._euid)


def running_in_userns() -> bool:
    """True inside a user namespace (where even root cannot mknod devices).

    The initial namespace maps the whole id range: ``0 0 4294967295``.
    """
    try:
        with open("/proc/self/uid_map", encoding="ascii") as f:
            fields = f.read().split()
    except OSError:
        return False
    return fields != ["0", "0", "4294967295"]


def fs_for(*, rootless: bool) -> FsOps:
    """The implementation for this process: rootless if asked or not root."""
    if rootless or os.geteuid() != 0:
        return RootlessOps()
    return RootOps(fake_devices=running_in_userns())
