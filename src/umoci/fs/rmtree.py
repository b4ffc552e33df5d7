"""``rm -rf`` of our own trees (a failed unpack's bundle, stale temporary directories).

What a hostile layer or a crashed run leaves can be deeper than any path
(``PATH_MAX``), deeper than Python's recursion limit and deeper than the
number of file descriptors a process may hold, and a rootless extraction
leaves directories without write or search permission for us.  So the walk
is iterative and fd-relative (names, never joined paths), holds two
descriptors at a time (it climbs back with ``..``, checking the device and
inode it recorded on the way down, and stops if a directory was moved
meanwhile), and never follows a symlink.  Rootless, a directory we own but
may not change gets ``u+rwx`` first (the rule of :mod:`umoci.fs.access`),
and its mode back if it cannot be removed after all.  Entries it cannot
remove are left and skipped.
"""

from __future__ import annotations

import contextlib
import os
import stat

from umoci.fs.access import MODIFY
from umoci.fs.ops import FsOps, Target, fs_for

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_tree(path: str) -> None:
    """Remove *path* and everything below it; raise OSError if *path* itself stays."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(path)
        return
    ops = fs_for(rootless=False)
    parent, name = os.path.split(os.path.abspath(path))
    parent_fd = os.open(parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        restore = _make_usable(ops, parent_fd, name, st)
        try:
            _empty_at(ops, parent_fd, name)
            os.rmdir(name, dir_fd=parent_fd)
        except BaseException:
            _put_back(ops, parent_fd, name, restore)
            raise
    finally:
        os.close(parent_fd)


def empty_tree(path: str) -> None:
    """Remove everything below directory *path* (which stays)."""
    top = os.open(path, _DIR_FLAGS)
    try:
        _empty(fs_for(rootless=False), top)
    finally:
        os.close(top)


def _empty_at(ops: FsOps, dir_fd: int, name: str) -> None:
    top = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    try:
        _empty(ops, top)
    finally:
        os.close(top)


def _make_usable(ops: FsOps, dir_fd: int, name: str, st: os.stat_result) -> int | None:
    """Give us ``rwx`` on directory ``name`` if the rule allows; the mode to put back, or None."""
    temp = ops.relaxed_mode(st.st_mode, st.st_uid, MODIFY)
    if temp is None:
        return None
    ops.chmod(Target(dir_fd, name), temp)
    return stat.S_IMODE(st.st_mode)


def _put_back(ops: FsOps, dir_fd: int, name: str, mode: int | None) -> None:
    """Undo :func:`_make_usable` for a directory that stays after all."""
    if mode is not None:
        with contextlib.suppress(OSError):
            ops.chmod(Target(dir_fd, name), mode)


def _identity(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def _first_subdir(fd: int, skip: set[tuple[int, int, str]]) -> str | None:
    """Unlink every non-directory in *fd*; return a subdirectory left to descend into."""
    here = _identity(fd)
    with os.scandir(fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if (*here, entry.name) not in skip:
                    return entry.name
                continue
            with contextlib.suppress(FileNotFoundError):
                try:
                    os.unlink(entry.name, dir_fd=fd)
                except OSError:
                    skip.add((*here, entry.name))
    return None


def _empty(ops: FsOps, top: int) -> None:
    fd = top
    # For each directory entered below top: its name, its parent's identity
    # and the mode to put back should it stay.
    path: list[tuple[str, tuple[int, int], int | None]] = []
    skip: set[tuple[int, int, str]] = set()
    try:
        while True:
            name = _first_subdir(fd, skip)
            if name is not None:
                parent = _identity(fd)
                restore = None
                try:
                    st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                    restore = _make_usable(ops, fd, name, st)
                    child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except OSError:
                    _put_back(ops, fd, name, restore)
                    skip.add((*parent, name))
                    continue
                if fd != top:
                    os.close(fd)
                fd = child
                path.append((name, parent, restore))
                continue
            if not path:
                return
            name, expected, restore = path.pop()
            parent_fd = os.open("..", _DIR_FLAGS & ~os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = parent_fd
            if _identity(fd) != expected:
                raise OSError(f"directory moved while it was being removed: {name}")
            if not path:  # back at the top: use the caller's descriptor
                os.close(fd)
                fd = top
            try:
                os.rmdir(name, dir_fd=fd)
            except OSError:
                _put_back(ops, fd, name, restore)
                skip.add((*expected, name))
    finally:
        if fd != top:
            os.close(fd)
