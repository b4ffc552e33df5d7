"""Every syscall made inside a rootfs, confined to it.

A rootfs is the most hostile input umoci has: an image decides every name,
symlink and mode in it, and a rootless user may own files it cannot read.
A path string joined onto the rootfs and handed to the kernel follows
whatever symlinks the image planted -- ``etc/passwd -> /etc/shadow``,
``usr -> ../../..`` -- out of the rootfs, and a second implementation of
the rules below is a second place to get them wrong.  So no module outside
this package opens, stats, lists, chmods or removes a path inside a rootfs
itself; ``tests/fs/test_fs_confinement.py`` fails on any new caller (the
modules it lists touch only layout and bundle metadata files, the bundle
directory itself, or host files the user named).

The operations:

* :mod:`umoci.fs.rootfs` -- :class:`Rootfs`, the one resolver: a directory
  opened as a confined root, each path walked one component at a time from
  directory fds, symlinks resolved *inside* it as a chroot would (absolute
  targets restart at the root, ``..`` stops there, at most
  :data:`~umoci.fs.rootfs.MAX_SYMLINKS`), the last component never
  followed; or, with ``follow=False``, symlinks refused.  Extraction creates
  and removes through it (:func:`remove_path`, :func:`reset_root`).
* :mod:`umoci.fs.lookup` -- :func:`open_in_root`: one regular file by its
  path in the image, the last symlink followed too (the runtime config's
  ``/etc/passwd`` and ``/etc/group``).
* :mod:`umoci.fs.tree` -- :class:`TreeReader`: a tree read without
  following any symlink (the mtree walk, repack's scan, the layers repack
  and insert generate from a directory).
* :mod:`umoci.fs.rmtree` -- ``rm -rf`` of our own trees of any depth (a
  failed unpack's bundle, stale temporary directories).
* :mod:`umoci.fs.access` -- the one rootless permission rule: what we own
  but may not use gets the owner bits it lacks for as long as we need them,
  and its exact mode back afterwards.
* :mod:`umoci.fs.ops` -- :class:`FsOps`, the syscalls themselves (relative
  to a directory fd, never following the last component), with their root
  and rootless implementations; :func:`fs_for` picks one per process.

Internal: this package and its modules are not part of the public API, which is
:mod:`umoci.api`; they may change in any release.
"""

from __future__ import annotations

from umoci.fs.lookup import open_in_root
from umoci.fs.ops import FsOps, RootlessOps, RootOps, Target, fs_for, running_in_userns
from umoci.fs.rootfs import (
    MAX_SYMLINKS,
    DirRef,
    NotADirComponentError,
    Rootfs,
    join,
    remove_path,
    reset_root,
)
from umoci.fs.tree import TreeReader

__all__ = [
    "MAX_SYMLINKS",
    "DirRef",
    "FsOps",
    "NotADirComponentError",
    "RootOps",
    "Rootfs",
    "RootlessOps",
    "Target",
    "TreeReader",
    "fs_for",
    "join",
    "open_in_root",
    "remove_path",
    "reset_root",
    "running_in_userns",
]
