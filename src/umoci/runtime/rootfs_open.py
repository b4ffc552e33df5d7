"""Open a file inside a rootfs as if the rootfs were ``/``, never escaping it.

The Go umoci opens ``filepath.Join(rootfs, "/etc/passwd")`` with a plain
``open``, so an image whose ``/etc/passwd`` is a symlink to ``/etc/shadow``
(or ``../../../etc/shadow``) makes it read the *host's* file.  We resolve
the path ourselves, one component at a time with ``dir_fd``-relative calls:

* a symlink's target is spliced into the remaining components; an absolute
  target restarts at the rootfs, and ``..`` never climbs above it (the
  parents are the directory fds we already hold, so nothing on disk can
  redirect a ``..``);
* every directory is opened with ``O_NOFOLLOW|O_DIRECTORY`` and the final
  file with ``O_NOFOLLOW``, so a symlink swapped in after we looked fails
  instead of being followed;
* at most :data:`MAX_SYMLINKS` links are followed (the kernel's limit), so
  loops end in an error rather than a hang;
* the final file must be a regular file: a FIFO would block (it is opened
  non-blocking to find out) and a device could stream forever.

A missing file (or a missing/non-directory parent, or a dangling link)
returns ``None``: the Go umoci treats an unopenable passwd as absent.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable

from umoci.errors import BundleError, UnsafePathError

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import BinaryIO, TypeAlias

MAX_SYMLINKS = 40

RootfsOpener: TypeAlias = "Callable[[str], BinaryIO | None]"

_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_MISSING = (errno.ENOENT, errno.ENOTDIR)


def _components(path: str) -> list[str]:
    return [c for c in path.split("/") if c not in ("", ".")]


def open_in_root(root: str, path: str) -> BinaryIO | None:
    """Open ``path`` (relative to the rootfs's ``/``) for reading, or None if missing."""
    try:
        root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise BundleError(f"open rootfs {root}: {e.strerror}") from None
    stack = [root_fd]  # fds of the directories resolved so far; [0] is the root
    try:
        return _walk(stack, path)
    except UnsafePathError:
        raise
    except OSError as e:
        if e.errno in _MISSING:
            return None
        if e.errno == errno.ELOOP:
            # O_NOFOLLOW met a symlink we had just seen as something else.
            raise UnsafePathError(f"open {path} in rootfs: path changed during lookup") from None
        raise BundleError(f"open {path} in rootfs: {e.strerror}") from None
    finally:
        for fd in stack:
            os.close(fd)


def _walk(stack: list[int], path: str) -> BinaryIO | None:
    todo = _components(path)
    todo.reverse()  # a stack: pop() yields the next component
    links = 0
    while todo:
        name = todo.pop()
        if name == "..":
            if len(stack) > 1:
                os.close(stack.pop())
            continue
        if name == ".":
            continue
        st = os.stat(name, dir_fd=stack[-1], follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > MAX_SYMLINKS:
                raise UnsafePathError(f"open {path} in rootfs: too many levels of symbolic links")
            target = os.readlink(name, dir_fd=stack[-1])
            if target.startswith("/"):
                while len(stack) > 1:
                    os.close(stack.pop())
            parts = _components(target)
            parts.reverse()
            todo.extend(parts)
            continue
        if todo:
            if not stat.S_ISDIR(st.st_mode):
                return None  # like ENOTDIR: the file cannot exist
            stack.append(os.open(name, _DIR_FLAGS, dir_fd=stack[-1]))
            continue
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePathError(f"open {path} in rootfs: not a regular file")
        return _open_regular(stack[-1], name, path)
    # The path named a directory (e.g. "/", or ending in "..").
    raise UnsafePathError(f"open {path} in rootfs: not a regular file")


def _open_regular(dir_fd: int, name: str, path: str) -> BinaryIO:
    fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePathError(f"open {path} in rootfs: not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def rootfs_opener(root: str) -> RootfsOpener:
    """A :data:`RootfsOpener` confined to the directory ``root``."""

    def opener(path: str) -> BinaryIO | None:
        return open_in_root(root, path)

    return opener
