"""Every syscall made inside a rootfs, confined to it.

* :mod:`umoci.fs.ops` -- :class:`FsOps`, the syscall interface, with its
  root and rootless implementations; :func:`fs_for` picks one per process.
* :mod:`umoci.fs.rootfs` -- :class:`Rootfs`, a directory opened as a
  confined root: symlink-safe resolution, removal, rootless permission
  juggling.

Internal: this package and its modules are not part of the public API, which is
:mod:`umoci.api`; they may change in any release.
"""

from __future__ import annotations

from umoci.fs.ops import FsOps, RootlessOps, RootOps, Target, fs_for, running_in_userns
from umoci.fs.rootfs import DirRef, Rootfs, join, remove_path

__all__ = [
    "DirRef",
    "FsOps",
    "RootOps",
    "Rootfs",
    "RootlessOps",
    "Target",
    "fs_for",
    "join",
    "remove_path",
    "running_in_userns",
]
