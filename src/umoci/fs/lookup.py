"""Reading one file of a rootfs by its path in the image (``/etc/passwd``, ``/etc/group``).

The Go umoci opens ``filepath.Join(rootfs, "/etc/passwd")`` with a plain
``open``, so an image whose ``/etc/passwd`` is a symlink to ``/etc/shadow``
(or ``../../../etc/shadow``) makes it read the *host's* file.  Here the path
goes through the rootfs resolver (:meth:`umoci.fs.rootfs.Rootfs.open_regular`):
every symlink, the last one included, resolves inside the rootfs; loops end
at :data:`~umoci.fs.rootfs.MAX_SYMLINKS`; only a regular file is opened.
Nothing is changed on disk: no mode is relaxed for a lookup.

A missing file (or a missing/non-directory parent, or a dangling link) is
``None``: the Go umoci treats an unopenable passwd as absent.
"""

from __future__ import annotations

import errno
import os

from umoci.errors import BundleError, UnsafePathError
from umoci.fs.ops import fs_for
from umoci.fs.rootfs import NotRegularFileError, Rootfs, SymlinkLoopError

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import BinaryIO

_MISSING = (errno.ENOENT, errno.ENOTDIR)


def open_in_root(root: str, path: str) -> BinaryIO | None:
    """Open ``path`` (relative to the rootfs's ``/``) for reading, or None if missing."""
    try:
        fs = Rootfs(root, fs_for(rootless=False), access=None)
    except OSError as e:
        raise BundleError(f"open rootfs {root}: {e.strerror}") from None
    with fs:
        try:
            fd = fs.open_regular(path)
        except SymlinkLoopError:
            raise UnsafePathError(
                f"open {path} in rootfs: too many levels of symbolic links"
            ) from None
        except NotRegularFileError:
            raise UnsafePathError(f"open {path} in rootfs: not a regular file") from None
        except OSError as e:
            if e.errno in _MISSING:
                return None
            if e.errno == errno.ELOOP:
                # O_NOFOLLOW met a symlink we had just seen as something else.
                raise UnsafePathError(
                    f"open {path} in rootfs: path changed during lookup"
                ) from None
            raise BundleError(f"open {path} in rootfs: {e.strerror}") from None
    return os.fdopen(fd, "rb")
