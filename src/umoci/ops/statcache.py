"""The bundle's stat cache: sha256 digests repack may reuse without reading files.

Unpack records, for every regular file of the rootfs, its inode, size,
mtime and ctime and the sha256 it computed while extracting; repack hashes
only files whose stat no longer matches (``--full-hash`` ignores the
cache).  ctime cannot be set from user space, so rewriting a file and
putting its mtime back is still noticed; a copied bundle (``cp -a``) has
new inodes and ctimes, so nothing matches and everything is hashed.

The "racy" case: a file changed within the same kernel clock tick as its
recording could keep an identical ctime.  Every record stores when the
cache was written, and entries whose ctime lies within :data:`RACY_MARGIN_NS`
of that moment are dropped when the cache is loaded (they are simply
hashed again).  The kernel's file timestamps come from a coarse clock that
trails real time by at most one tick (<= 10 ms), so the margin covers it.

The file ``BUNDLE/umoci-statcache`` is ours alone (the Go umoci ignores it);
it names the mtree it belongs to, and is ignored if that does not match or
if it is malformed in any way.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping

from umoci.errors import MtreeError
from umoci.mtree import CachedFile
from umoci.mtree.escape import unvis, vis

CACHE_NAME = "umoci-statcache"
_MAGIC = "umoci-statcache 1"
RACY_MARGIN_NS = 50_000_000
_MAX_CACHE_BYTES = 1 << 30


def write_cache(bundle: str, mtree_name: str, cache: Mapping[bytes, CachedFile]) -> None:
    """Atomically replace the bundle's stat cache."""
    recorded_ns = time.time_ns()
    lines = [f"{_MAGIC} {vis(os.fsencode(mtree_name))} {recorded_ns}\n"]
    lines.extend(
        f"{c.ino} {c.size} {c.mtime_ns} {c.ctime_ns} {c.sha256} {vis(path)}\n"
        for path, c in cache.items()
    )
    path = os.path.join(bundle, CACHE_NAME)
    temp = path + ".tmp"
    with open(temp, "w", encoding="ascii") as f:
        f.writelines(lines)
    os.replace(temp, path)


def read_cache(bundle: str, mtree_name: str) -> dict[bytes, CachedFile]:
    """The trustworthy entries of the bundle's stat cache ({} if absent or unusable)."""
    path = os.path.join(bundle, CACHE_NAME)
    try:
        with open(path, encoding="ascii") as f:
            if os.fstat(f.fileno()).st_size > _MAX_CACHE_BYTES:
                return {}
            return _parse(f.read(), mtree_name)
    except (OSError, UnicodeDecodeError, ValueError, MtreeError):
        # A broken cache only costs speed: hash everything.
        return {}


def _parse(text: str, mtree_name: str) -> dict[bytes, CachedFile]:
    header, _, body = text.partition("\n")
    magic_version, _, rest = header.rpartition(" ")
    recorded_ns = int(rest)
    if magic_version != f"{_MAGIC} {vis(os.fsencode(mtree_name))}":
        return {}
    cutoff = recorded_ns - RACY_MARGIN_NS
    cache: dict[bytes, CachedFile] = {}
    for line in body.splitlines():
        ino, size, mtime_ns, ctime_ns, digest, name = line.split(" ", 5)
        entry = CachedFile(int(ino), int(size), int(mtime_ns), int(ctime_ns), digest)
        if entry.ctime_ns < cutoff and len(digest) == 64:
            cache[unvis(name)] = entry
    return cache


def remove_cache(bundle: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(bundle, CACHE_NAME))
