"""What the extractor's records say a new rootfs holds, so its mtree needs no second walk.

Unpack hands :class:`ExtractedTree` to the extractor as ``on_entry``
(:mod:`umoci.layer.records`) and then to the mtree walk as its listing
(:class:`umoci.mtree.walker.Listing`) and ``known_digest``.  The walk then
reads no directory, and no file whose digest the records vouch for: it
``lstat`` s each listed name, reads the xattrs of directories and of files
that may have some, and the targets of symlinks.  Those ``lstat`` s are
what the mtree and the stat cache record, so every number in them is as
fresh as a walk's; the records contribute only what is costly to read back
-- which names each directory holds, each file's sha256, and which files
have no xattrs.

What the records settle, and how:

* Names.  An :class:`~umoci.layer.records.EntryRecord` adds its path, a
  :class:`~umoci.layer.records.RemovedRecord` drops its path and everything
  below.  A path's ancestors are directories when its record is made (the
  extractor reached it through them), so each record makes them directories
  here too: that covers the parents the extractor creates implicitly, and
  the files and symlinks it replaces by such a parent without a record of
  their own.  A later record of a path replaces the earlier one: whatever
  it was (a directory replaced by a file and back, a file overwritten by a
  later layer), the last record tells.
* Everything ``lstat`` shows (type, mode, owner, size, times, nlink) is
  read at the end, so directories whose children came or went after their
  record, hardlink counts that moved with a later link or whiteout, modes
  put back after a rootless extraction and the root ``.`` need no settling.
* Digests go through the stat cache's rule
  (:func:`~umoci.ops.statcache.vouched_digest`): one is used only while
  the inode is as its record saw it.  A hardlink record carries its
  target's digest over to the new name, as the same inode
  (:func:`~umoci.ops.statcache.relinked`).  An inode changed since its
  record (a third name linked to it, one of its names whited out) is read
  again, as a walk would.
* Xattrs.  A regular file the layer set none on is bare (none listed, none
  read) unless something else can have given it some: new files here get
  an xattr of their own (an LSM label, an ACL inherited from the bundle's
  directory: :func:`~umoci.fs.rootfs.fresh_files_get_xattrs` asks the filesystem before
  extraction starts), or a directory was given a default ACL (inherited by
  every file created below it).  Files with xattrs and all directories
  are read, so the kernel's order of the names, and values the kernel
  rewrites, are recorded as they are.

If the tree contradicts the listing after all (a listed name is gone, or a
directory is not one) the walk raises
:class:`~umoci.mtree.walker.ListingMismatch` and unpack walks the rootfs as
before (``_write_mtree_and_cache`` in :mod:`umoci.ops.bundle_unpack`).
A name the records never mentioned could only be seen by reading its
directory: the extractor reports every change it makes
(:mod:`umoci.layer.records`), and tests/unpack/test_unpack_mtree_records.py
compares listing and walk for every kind of change.

Why the end ``lstat`` s, when the records hold a ``stat`` of each entry:
the stat cache vouches for an inode only through an ``lstat`` taken well
after its last change (:func:`~umoci.ops.statcache.settled`), and a record's
``stat`` is taken right at the change.
"""

from __future__ import annotations

import os
import stat

from umoci.layer.records import Record, RemovedRecord
from umoci.mtree.keywords import StatLike
from umoci.mtree.walker import Listed
from umoci.ops.statcache import known_record, relinked, vouched_digest

__all__ = ["ExtractedTree"]

#: Flags kept per name: a directory (exactly this), or a regular file with
#: no xattrs.
_DIR = 1
_BARE = 2

#: The xattr that makes every file created below a directory inherit an ACL.
_DEFAULT_ACL = "system.posix_acl_default"


class ExtractedTree:
    """The rootfs as the extractor's records describe it (see the module docstring).

    Call it with every record, in the order the extractor emits them; then
    walk the rootfs with it as the listing and :meth:`known_digest` as
    ``known_digest``.  Each name is one entry in its directory's dict: its
    flags, or for a regular file whose digest is known that digest's
    :func:`~umoci.ops.statcache.known_record` followed by the flags byte
    (~180 bytes a file in all: 200,000 files take ~36 MB).
    """

    def __init__(self, *, fresh_files_bare: bool) -> None:
        """``fresh_files_bare``: see :func:`umoci.fs.rootfs.fresh_files_get_xattrs`."""
        self._bare = _BARE if fresh_files_bare else 0
        # Directory path -> {name: flags or record} for every directory that
        # exists, the root (b".") included; their ancestors are all here too.
        self._dirs: dict[bytes, dict[bytes, _Known]] = {b".": {}}

    # -- the extractor's side: on_entry --------------------------------------------
    def __call__(self, record: Record) -> None:
        path = os.fsencode(record.path)
        if isinstance(record, RemovedRecord):
            self._remove(path)
            return
        st = record.stat
        if stat.S_ISDIR(st.st_mode):
            self._add(path, _DIR)
            if record.xattrs and _DEFAULT_ACL in record.xattrs:
                # Files made below it since it was set (its record comes at
                # the end of the layer), and from now on anywhere, may have
                # inherited an ACL.
                self._bare = 0
                self._unbare_below(path)
            return
        known: _Known = 0
        if stat.S_ISREG(st.st_mode):
            if record.hardlink_to is not None:
                known = self._relink(os.fsencode(record.hardlink_to), st)
            elif record.sha256 is not None:
                bare = self._bare if record.xattrs is not None and not record.xattrs else 0
                known = known_record(st, record.sha256) + bytes((bare,))
        self._add(path, known)

    def _relink(self, target: bytes, st: StatLike) -> _Known:
        """What a new hardlink to ``target`` (``st``: their inode now) knows; ``target`` too."""
        parent, _, name = target.rpartition(b"/")
        children = self._dirs.get(parent or b".", {})
        known = children.get(name)
        if not isinstance(known, bytes):
            return 0  # its digest is not known: nor is the new name's
        fresh = relinked(known, st)
        if fresh is None:
            return 0
        children[name] = known = fresh + known[-1:]  # link(2) moved the target's ctime too
        return known

    def _add(self, path: bytes, known: _Known) -> None:
        if path == b".":
            return  # the root: always a directory, always listed
        parent, _, name = path.rpartition(b"/")
        children = self._dirs.get(parent or b".")
        if children is None:
            children = self._make_dir(parent)
        if children.get(name) == _DIR and known != _DIR:
            self._drop_below(path)  # never without a RemovedRecord, but be exact
        children[name] = known
        if known == _DIR:
            self._dirs.setdefault(path, {})

    def _make_dir(self, path: bytes) -> dict[bytes, _Known]:
        """Make ``path`` and its ancestors directories here (whatever they were); its dict."""
        missing = [path]
        parent = path.rpartition(b"/")[0] or b"."
        while parent not in self._dirs:
            missing.append(parent)
            parent = parent.rpartition(b"/")[0] or b"."
        for directory in reversed(missing):  # top down: each parent exists by now
            parent, _, name = directory.rpartition(b"/")
            self._dirs[parent or b"."][name] = _DIR
            self._dirs[directory] = {}
        return self._dirs[path]

    def _remove(self, path: bytes) -> None:
        parent, _, name = path.rpartition(b"/")
        children = self._dirs.get(parent or b".")
        if children is not None and children.pop(name, None) == _DIR:
            self._drop_below(path)

    def _unbare_below(self, path: bytes) -> None:
        """No file below directory ``path`` is bare any more."""
        stack = [path]
        while stack:
            directory = stack.pop()
            children = self._dirs[directory]
            for name, known in children.items():
                if isinstance(known, bytes):
                    children[name] = known[:-1] + b"\0"
                elif known == _DIR:
                    stack.append(_child(directory, name))

    def _drop_below(self, path: bytes) -> None:
        """Forget directory ``path`` and every directory below it.

        With an explicit stack: the depth is the image's to choose.
        """
        stack = [path]
        while stack:
            directory = stack.pop()
            children = self._dirs.pop(directory, {})
            stack += [_child(directory, name) for name, known in children.items() if known == _DIR]

    # -- the walk's side: Listing and known_digest ---------------------------------
    def entries(self, directory: bytes) -> list[Listed]:
        """The entries of ``directory`` (none if it is not one)."""
        listed: list[Listed] = []
        for name, known in self._dirs.get(directory, {}).items():
            flags = _flags(known)
            listed.append((name, bool(flags & _DIR), bool(flags & _BARE)))
        return listed

    def known_digest(self, path: bytes, st: StatLike) -> str | None:
        """``path``'s sha256 if ``st`` is the inode the extractor wrote, unchanged."""
        parent, _, name = path.rpartition(b"/")
        known = self._dirs.get(parent or b".", {}).get(name)
        return vouched_digest(known, st) if isinstance(known, bytes) else None


#: What is kept per name: flags, or a regular file's known digest record
#: followed by one byte of flags.
_Known = int | bytes


def _flags(known: _Known) -> int:
    return known if isinstance(known, int) else known[-1]


def _child(directory: bytes, name: bytes) -> bytes:
    return name if directory == b"." else directory + b"/" + name
