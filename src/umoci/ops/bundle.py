"""Creating a bundle (or bare rootfs) directory, and removing it again on failure.

A target may already exist only as an empty directory; anything else is
refused before we touch it.  If the verb fails, what we created goes away:
the directory itself when we made it, its contents when it was there (empty)
before.  Removal (:mod:`umoci.fs.rmtree`) copes with trees deeper than
``PATH_MAX`` and with directories a rootless extraction left without write
or search permission for us.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from umoci.errors import BundleError
from umoci.fs.rmtree import empty_tree, remove_tree


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
                remove_tree(path)
            else:
                empty_tree(path)
        raise
