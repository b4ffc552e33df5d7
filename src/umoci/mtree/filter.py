"""Dropping deltas before a layer is generated (umoci's ``pkg/mtreefilter``).

Repack ignores changes under masked paths (``--mask-path`` and the image's
volumes) and, for a deleted directory, emits one whiteout rather than one per
deleted descendant.  A filter is a predicate on a delta's path: True keeps it.

Paths are compared lexically after rooting them at ``/`` (``b"a/b"`` is
``/a/b``); as in umoci, masking ``/`` itself has no effect.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence

from umoci.mtree.delta import Delta, DeltaType
from umoci.mtree.escape import clean

__all__ = ["PathFilter", "filter_deltas", "mask_filter", "simplify_filter"]

#: Decides whether a delta for this path is kept.
PathFilter = Callable[[bytes], bool]


def _rooted(path: bytes) -> bytes:
    return clean(b"/" + path)


def _keep_all(path: bytes) -> bool:
    return True


def _filter(masked: frozenset[bytes], include_self: bool) -> PathFilter:
    if not masked:
        return _keep_all  # nothing masked: no need to walk up every path

    def keep(path: bytes) -> bool:
        current = _rooted(path)
        first = True
        while current != b"/":
            if current in masked and (include_self or not first):
                return False
            current = current.rpartition(b"/")[0] or b"/"
            first = False
        return True

    return keep


def mask_filter(masks: Iterable[str | bytes]) -> PathFilter:
    """Drop every path equal to or below one of ``masks`` (relative to ``/``)."""
    return _filter(frozenset(_rooted(os.fsencode(mask)) for mask in masks), include_self=True)


def simplify_filter(deltas: Sequence[Delta]) -> PathFilter:
    """Drop every path strictly below a path that ``deltas`` reports MISSING."""
    missing = frozenset(_rooted(d.path) for d in deltas if d.type is DeltaType.MISSING)
    return _filter(missing, include_self=False)


def filter_deltas(deltas: Iterable[Delta], *filters: PathFilter) -> list[Delta]:
    """The deltas every filter keeps, in their original order."""
    active = [keep for keep in filters if keep is not _keep_all]
    if not active:
        return list(deltas)
    return [d for d in deltas if all(keep(d.path) for keep in active)]
