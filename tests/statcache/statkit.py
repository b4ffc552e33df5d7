"""Helpers shared by the stat-cache tests."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from umoci.ops import statcache


def trust_cache(bundle: Path, rootfs: Path) -> int:
    """Mark every entry that is still as recorded trusted, as if it had aged.

    Files made by a test moments before the cache was written are recorded
    as untrusted (racy); a test that wants the shortcuts exercised gives
    each unchanged entry back its inode number.  Returns how many it changed.
    """
    path = bundle / statcache.CACHE_NAME
    header, *lines = path.read_text(errors="surrogateescape").splitlines()
    changed = 0
    for i, line in enumerate(lines):
        ino, ctime, name, rest = line.split(" ", 3)
        if ino != "-1":
            continue
        target = rootfs if name == "." else rootfs / name
        st = os.lstat(target)
        if st.st_ctime_ns == int(ctime):
            lines[i] = f"{st.st_ino} {ctime} {name} {rest}"
            changed += 1
    path.write_text("\n".join([header, *lines]) + "\n", errors="surrogateescape")
    return changed


@dataclass(frozen=True)
class Seen:
    """An lstat result as an observation records it (``st_`` fields only)."""

    st_ino: int
    st_ctime_ns: int
    st_size: int
    st_mtime_ns: int
