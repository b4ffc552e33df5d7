"""Repack's fast path: the rootfs's changes from one ``lstat`` per inode.

With a stat cache that describes the bundle's mtree, a path whose inode is
:func:`~umoci.ops.statcache.unchanged` since the cache recorded it is
exactly as the mtree says (the rule and its racy window are
:mod:`umoci.ops.statcache`'s).  So the scan here ``lstat``s every path (one
``scandir`` per directory) and only for the few others - new paths, paths
whose inode or ctime moved, entries recorded too recently to trust - builds
the mtree entry as a full walk would (xattrs, link target, sha256) and
compares it with the recorded one.  A path the cache does not list is an
addition whatever it holds: only its lstat is read.  Paths the cache lists
but the scan did not find are deletions.  The result is the delta list
:func:`umoci.mtree.compare` would give for a full walk, without parsing the
mtree, reading unchanged inodes' xattrs or building 7,000 entries (entries
hold :data:`SKIPPED_DIGEST` where a digest cannot matter, and a new path's
only what its lstat shows).

:func:`scan_deltas` gives up (returns None) where the full walk knows
better: a directory it may not read (rootless trees with mode-000
directories need the walk's permission juggling, which the scan does not
do: it changes nothing on disk) or anything vanishing under it.  Both read
the rootfs through :class:`umoci.fs.tree.TreeReader`.
"""

from __future__ import annotations

import os
import stat

from umoci.errors import MtreeError
from umoci.fs.tree import TreeReader
from umoci.mtree import UMOCI_KEYWORDS, Delta, DeltaType, Entry, KeyVal, delta_for
from umoci.mtree.keywords import FileInfo, compile_keywords, tar_time_value
from umoci.mtree.walker import inode_reader, open_tree
from umoci.ops.statcache import Fingerprint, Snapshot, recorded_keywords, unchanged

__all__ = ["SKIPPED_DIGEST", "digest_cannot_matter", "scan_deltas"]

#: Recorded for a file whose digest cannot matter, instead of reading it
#: (never valid hex, so it never compares equal to a real digest).
SKIPPED_DIGEST = "-"

_UMOCI_KEYVALS = compile_keywords(UMOCI_KEYWORDS)

# Names as the mtree spec paths hold them (os.fsencode, without its call).
_ENC = "utf-8"
_ERRORS = "surrogateescape"


def _changed_paths(
    rootfs: bytes, known: dict[bytes, Fingerprint]
) -> tuple[list[tuple[bytes, os.stat_result]], list[bytes]] | None:
    """Paths that need a closer look, and the known paths that are gone.

    None if a directory could not be listed or an entry vanished mid-scan.
    """
    try:
        with open_tree(rootfs, rootless=False) as tree:
            return _scan(tree, known)
    except (OSError, MtreeError):
        return None


def _scan(
    tree: TreeReader, known: dict[bytes, Fingerprint]
) -> tuple[list[tuple[bytes, os.stat_result]], list[bytes]]:
    suspects: list[tuple[bytes, os.stat_result]] = []
    seen: list[bytes] = [b"."]
    lookup = known.get
    st = tree.root_stat
    fingerprint = lookup(b".")
    if fingerprint is None or not unchanged(fingerprint[0], fingerprint[1], st):
        suspects.append((b".", st))
    for where, entries in tree.lstat_tree():
        # The spec path of an entry: the directory's as a prefix, then its name.
        prefix = where.encode(_ENC, _ERRORS) + b"/" if where else b""
        for name, st in entries:
            rel = prefix + name.encode(_ENC, _ERRORS)
            seen.append(rel)
            fingerprint = lookup(rel)
            if fingerprint is None or not unchanged(fingerprint[0], fingerprint[1], st):
                suspects.append((rel, st))
    if len(seen) == len(known) and all(path in known for path, _ in suspects):
        return suspects, []  # nothing new, same count: nothing can be gone
    return suspects, sorted(known.keys() - set(seen))


def _recorded_entry(path: bytes, keywords: str) -> Entry:
    kvs: list[KeyVal] = []
    for token in keywords.split(" ") if keywords else ():
        key, sep, value = token.partition("=")
        kvs.append((key, value) if sep else (key, None))
    return Entry(".", path, tuple(kvs))


def _unread_entry(path: bytes, st: os.stat_result) -> Entry:
    """A new path's entry as its lstat shows it, its other keywords unread.

    Whatever xattrs, link target or contents the path has, it is an
    addition: reading them (one more system call or a whole file each, for
    every path of a full rootfs copied into a bundle) could not change the
    delta.  A regular file records :data:`SKIPPED_DIGEST`, as
    :func:`digest_cannot_matter` has any new file do.
    """
    digests = {"sha256digest": SKIPPED_DIGEST} if stat.S_ISREG(st.st_mode) else {}
    return Entry(".", path, tuple(_UMOCI_KEYVALS(FileInfo(path, st, digests=digests))))


def digest_cannot_matter(before: Entry | None, st: os.stat_result) -> bool:
    """Whether a file's sha256 cannot change its comparison with ``before``.

    True for a new path (an addition whatever its contents) and for one
    whose size or ``tar_time`` already differs (a modification either way):
    repack without ``--refresh-bundle`` then need not read the file, and
    records :data:`SKIPPED_DIGEST` for it.
    """
    if before is None:
        return True
    # all_keywords(): own values over /set ones, the last one winning.
    recorded = before.all_keywords()
    return (recorded.get("size"), recorded.get("tar_time")) != (
        str(st.st_size),
        tar_time_value(st.st_mtime_ns),
    )


def scan_deltas(rootfs: str, snapshot: Snapshot, *, rootless: bool) -> list[Delta] | None:
    """The deltas from the recorded mtree to ``rootfs`` (umoci's keywords), sorted by path.

    None when the scan cannot decide; then walk and compare in full.
    """
    known = snapshot.entries
    root = os.fsencode(rootfs)
    found = _changed_paths(root, known)
    if found is None:
        return None
    suspects, gone = found
    # The recorded entry of the suspect being read, for the digest shortcut.
    current: list[Entry | None] = [None]
    keyvals = _UMOCI_KEYVALS
    only = frozenset(UMOCI_KEYWORDS)
    deltas = [
        Delta(DeltaType.MISSING, path, _recorded_entry(path, recorded_keywords(known[path])), None)
        for path in gone
    ]
    try:
        tree = open_tree(root, rootless=rootless)
    except (OSError, MtreeError):
        return None
    try:
        with tree:
            read = inode_reader(
                tree,
                known_digest=lambda _, st: (
                    SKIPPED_DIGEST if digest_cannot_matter(current[0], st) else None
                ),
            )
            for path, st in suspects:
                fingerprint = known.get(path)
                if fingerprint is None:
                    # New: an addition whatever it holds, so nothing but
                    # the lstat is read (see _unread_entry).
                    deltas.append(Delta(DeltaType.EXTRA, path, None, _unread_entry(path, st)))
                    continue
                old = _recorded_entry(path, recorded_keywords(fingerprint))
                current[0] = old
                new = Entry(".", path, tuple(keyvals(read(path, st))))
                delta = delta_for(path, old, new, only)
                if delta is not None:
                    deltas.append(delta)
    except OSError:
        return None
    deltas.sort(key=lambda d: d.path)
    return deltas
