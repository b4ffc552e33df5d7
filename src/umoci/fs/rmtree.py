"""``rm -rf`` of our own trees (a failed unpack's bundle, stale temporary directories).

What a hostile layer or a crashed run leaves can be deeper than any path
(``PATH_MAX``), deeper than Python's recursion limit and deeper than the
number of file descriptors a process may hold, and a rootless extraction
leaves directories without write or search permission for us.  So the walk
is iterative and fd-relative (names, never joined paths), holds two
descriptors at a time (it climbs back with ``..``, checking the device and
inode it recorded on the way down, and stops if a directory was moved
meanwhile), gives itself ``rwx`` on directories that lack it, and never
follows a symlink.  Entries it cannot remove are left and skipped.
"""

from __future__ import annotations

import contextlib
import os
import stat

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
    _make_usable(path, st.st_mode)
    empty_tree(path)
    os.rmdir(path)


def empty_tree(path: str) -> None:
    """Remove everything below directory *path* (which stays)."""
    top = os.open(path, _DIR_FLAGS)
    try:
        _empty(top)
    finally:
        os.close(top)


def _make_usable(path: str, mode: int, dir_fd: int | None = None) -> None:
    if stat.S_IMODE(mode) & stat.S_IRWXU != stat.S_IRWXU:
        os.chmod(path, stat.S_IMODE(mode) | stat.S_IRWXU, dir_fd=dir_fd)


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


def _empty(top: int) -> None:
    fd = top
    # For each directory entered below top: its name and its parent's identity.
    path: list[tuple[str, tuple[int, int]]] = []
    skip: set[tuple[int, int, str]] = set()
    try:
        while True:
            name = _first_subdir(fd, skip)
            if name is not None:
                parent = _identity(fd)
                try:
                    _make_usable(name, os.lstat(name, dir_fd=fd).st_mode, dir_fd=fd)
                    child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except OSError:
                    skip.add((*parent, name))
                    continue
                if fd != top:
                    os.close(fd)
                fd = child
                path.append((name, parent))
                continue
            if not path:
                return
            name, expected = path.pop()
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
                skip.add((*expected, name))
    finally:
        if fd != top:
            os.close(fd)
