"""Creating a bundle (or bare rootfs) directory, and removing it again on failure.

A target may already exist only as an empty directory; anything else is
refused before we touch it.  If the verb fails, what we created goes away:
the directory itself when we made it, its contents when it was there (empty)
before.  Removal copes with directories a rootless extraction left without
write or search permission for us.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator

from umoci.errors import BundleError


def _force_rmtree(path: str) -> None:
    """Remove a tree, first giving ourselves rwx on directories that lack it.

    Iterative, so a hostile layer's very deep tree cannot exhaust the stack.
    """
    pending = [(path, False)]
    while pending:
        current, visited = pending.pop()
        st = os.lstat(current)
        if not stat.S_ISDIR(st.st_mode):
            os.unlink(current)
        elif visited:
            os.rmdir(current)
        else:
            if stat.S_IMODE(st.st_mode) & stat.S_IRWXU != stat.S_IRWXU:
                os.chmod(current, stat.S_IMODE(st.st_mode) | stat.S_IRWXU)
            pending.append((current, True))
            with os.scandir(current) as entries:
                pending.extend((entry.path, False) for entry in entries)


def _clear_dir(path: str) -> None:
    with os.scandir(path) as entries:
        for entry in entries:
            _force_rmtree(entry.path)


@contextlib.contextmanager
def fresh_directory(path: str, mode: int = 0o700) -> Iterator[str]:
    """Make *path* (or accept it empty), and undo that if the body raises."""
    created = False
    try:
        os.mkdir(path, mode)
        created = True
    except FileExistsError:
        if not os.path.isdir(path) or os.path.islink(path):
            raise BundleError(f"{path}: exists and is not a directory") from None
        if os.listdir(path):
            raise BundleError(f"{path}: directory is not empty") from None
        os.chmod(path, mode)
    except FileNotFoundError:
        parent = os.path.dirname(path)
        os.makedirs(parent, 0o755, exist_ok=True)
        os.mkdir(path, mode)
        created = True
    except OSError as err:
        raise BundleError(f"{path}: {err.strerror}") from None
    try:
        yield path
    except BaseException:
        with contextlib.suppress(OSError):
            if created:
                _force_rmtree(path)
            else:
                _clear_dir(path)
        raise
