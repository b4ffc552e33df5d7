"""What the extractor reports per entry, so an mtree can be built without re-reading the rootfs.

Reporting is optional (``ExtractOptions.on_entry``) and costs nothing when
unused.  Paths are the *resolved* paths relative to the rootfs (``"."`` for
the root), the ones a walk of the finished rootfs would show.

Ordering contract: records arrive in archive order, except directories,
which are reported once more at the end of the layer with their final
metadata (their times are restored last, and adding or removing children
changes their size and nlink).  A :class:`RemovedRecord` names the top of a
removed subtree; everything below it is gone too.  A hardlink changes the
``nlink`` of every other name of its inode: consumers that track ``nlink``
should group by ``stat.st_ino``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from umoci.structs import dataclass


@dataclass(frozen=True, slots=True)
class EntryRecord:
    """An entry as it now exists on disk."""

    path: str
    #: lstat(2) of the entry after all its metadata was applied.
    stat: os.stat_result
    #: sha256 hex digest of a regular file's contents (None for other kinds
    #: and for hardlinks: see ``hardlink_to``).
    sha256: str | None = None
    #: The xattrs this layer set on the entry; None means "not changed by
    #: this layer" (a directory reported only because its contents changed).
    xattrs: Mapping[str, bytes] | None = None
    #: For a hardlink, the resolved path of the entry it links to.
    hardlink_to: str | None = None


@dataclass(frozen=True, slots=True)
class RemovedRecord:
    """A path (and everything below it) that no longer exists."""

    path: str


Record = EntryRecord | RemovedRecord
