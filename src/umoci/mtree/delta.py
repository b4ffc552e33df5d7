"""Differences between two specs (go-mtree's ``Compare``) and checking a tree (``Check``).

:func:`compare` pairs entries by path.  A path only in ``old`` is MISSING,
only in ``new`` EXTRA, and in both MODIFIED when some keyword differs.  As in
go-mtree:

* keyword values are the entry's own merged over its ``/set`` ones;
* a keyword present on one side only is a difference (go-mtree 0.7, which
  the Go umoci 0.6 uses: ``raw mtree-validate -k sha1digest`` against a
  spec without that keyword reports ``expected ; got …`` for every file),
  so a ``-k``/``-K`` keyword the spec does not carry fails validation;
* ``time`` on one side and ``tar_time`` on the other are compared as
  ``tar_time`` (seconds only);
* with ``keywords`` given, differences in other keywords are dropped
  (``time`` and ``tar_time`` stand in for each other).

Deltas come sorted by path bytes, which is the order umoci's layer
generation processes them in (it sorts by path itself); go-mtree returns
them in map order.  Key differences of a delta are in the order the keywords
appear in the old entry, then the new one.

:func:`check` walks a directory and compares the spec against it;
:func:`keywords_for_validate` implements the keyword rules of
``umoci raw mtree-validate``; ``str(delta)`` is go-mtree's one-line report.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Sequence

from umoci.errors import MtreeError
from umoci.mtree.escape import go_quote
from umoci.mtree.keywords import UMOCI_KEYWORDS, prefix
from umoci.mtree.spec import Entry, Header, Spec
from umoci.mtree.walker import walk
from umoci.structs import dataclass

__all__ = [
    "Delta",
    "DeltaType",
    "KeyDelta",
    "check",
    "check_lines",
    "compare",
    "compare_entries",
    "delta_for",
    "keywords_for_validate",
]


class DeltaType(enum.StrEnum):
    """How an inode (or one of its keywords) differs between old and new."""

    MISSING = "missing"  # in old only
    EXTRA = "extra"  # in new only
    MODIFIED = "modified"  # in both, different


@dataclass(frozen=True, slots=True)
class KeyDelta:
    """One keyword's difference; ``old``/``new`` is None on the side that lacks it."""

    type: DeltaType
    name: str
    old: str | None
    new: str | None


@dataclass(frozen=True, slots=True)
class Delta:
    """One path's difference.  ``keys`` is empty unless the type is MODIFIED."""

    type: DeltaType
    path: bytes
    old: Entry | None
    new: Entry | None
    keys: tuple[KeyDelta, ...] = ()

    def __str__(self) -> str:
        """go-mtree's ``InodeDelta.String()`` (first key difference only)."""
        path = go_quote(self.path)
        if self.type is DeltaType.MISSING:
            return f"{path}: missing path"
        if self.type is DeltaType.EXTRA:
            return f"{path}: unexpected path"
        first = self.keys[0]
        return (
            f"{path}: keyword {go_quote(first.name.encode('utf-8', 'surrogateescape'))}: "
            f"expected {first.old or ''}; got {first.new or ''}"
        )


#: What go-mtree's ``time=`` values look like (a float).
_FLOAT = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"


def _tar_time(value: str | None) -> str:
    """A ``time=`` value as the ``tar_time=`` go-mtree derives from it."""
    import re  # only for specs holding time= (not ours): re costs every verb ~1.5 ms

    if value is None or not re.fullmatch(_FLOAT, value):
        raise MtreeError(f"compare mtree: cannot use time value {value!r}")
    try:
        return f"{int(float(value))}.000000000"
    except OverflowError:
        raise MtreeError(f"compare mtree: time value {value!r} out of range") from None


def compare_entries(old: Entry, new: Entry) -> list[KeyDelta]:
    """All keyword differences between two entries for the same path."""
    if old.keywords == new.keywords and old.set == new.set:
        return []  # the common case, decided without building dicts
    old_kv = old.all_keywords()
    new_kv = new.all_keywords()
    if old_kv == new_kv:
        return []
    if old_kv.keys() == new_kv.keys() and "time" not in old_kv:
        # The same keywords on both sides (a repack's usual case): only the
        # values can differ, in the old entry's keyword order.
        return [
            KeyDelta(DeltaType.MODIFIED, key, value, new_kv[key])
            for key, value in old_kv.items()
            if value != new_kv[key]
        ]
    pairs: dict[str, list[str | None]] = {key: [value, None] for key, value in old_kv.items()}
    for key, value in new_kv.items():
        pairs.setdefault(key, [None, None])[1] = value
    if "time" in pairs and "tar_time" in pairs:
        # A spec from a tar archive has tar_time, one from a walk has time.
        time_pair = pairs.pop("time")
        tar_pair = pairs["tar_time"]
        if tar_pair[0] is None:
            tar_pair[0] = _tar_time(time_pair[0])
        elif tar_pair[1] is None:
            tar_pair[1] = _tar_time(time_pair[1])
        else:
            raise MtreeError("compare mtree: time and tar_time set in the same manifest")
    out = []
    for key, (before, after) in pairs.items():
        if after is None:
            out.append(KeyDelta(DeltaType.MISSING, key, before, None))
        elif before is None:
            out.append(KeyDelta(DeltaType.EXTRA, key, None, after))
        elif before != after:
            out.append(KeyDelta(DeltaType.MODIFIED, key, before, after))
    return out


def _wanted(delta: KeyDelta, keywords: frozenset[str]) -> bool:
    head = prefix(delta.name)
    return (
        head in keywords
        or (head == "time" and "tar_time" in keywords)
        or (head == "tar_time" and "time" in keywords)
    )


def compare(old: Spec, new: Spec, keywords: Sequence[str] | None = None) -> list[Delta]:
    """The differences from ``old`` to ``new``, sorted by path.

    ``keywords`` (None: all) limits which keyword differences count.
    """
    old_idx = old.index()
    new_idx = new.index()
    only = None if keywords is None else frozenset(keywords)
    out: list[Delta] = []
    for path in sorted(old_idx.keys() | new_idx.keys()):
        delta = delta_for(path, old_idx.get(path), new_idx.get(path), only)
        if delta is not None:
            out.append(delta)
    return out


def delta_for(
    path: bytes, before: Entry | None, after: Entry | None, only: frozenset[str] | None
) -> Delta | None:
    """One path's difference as :func:`compare` reports it (None: no difference).

    ``only`` is :func:`compare`'s ``keywords`` as a frozenset (None: all).
    """
    if after is None:
        return None if before is None else Delta(DeltaType.MISSING, path, before, None)
    if before is None:
        return Delta(DeltaType.EXTRA, path, None, after)
    keys = compare_entries(before, after)
    if only is not None:
        keys = [k for k in keys if _wanted(k, only)]
    return Delta(DeltaType.MODIFIED, path, before, after, tuple(keys)) if keys else None


_NO_HEADER = Header(user=None, machine=None, tree=None, date="")


def check(
    root: str | bytes | os.PathLike[str] | os.PathLike[bytes],
    spec: Spec,
    keywords: Sequence[str] | None = None,
    *,
    rootless: bool = False,
) -> list[Delta]:
    """Compare a directory against a spec (go-mtree's ``Check``): walk, then :func:`compare`.

    ``keywords`` defaults to the keywords the spec uses.
    """
    if keywords is None:
        keywords = spec.used_keywords()
    current = walk(root, keywords, header=_NO_HEADER, rootless=rootless)
    return compare(spec, current, keywords)


def check_lines(
    root: str | bytes | os.PathLike[str] | os.PathLike[bytes],
    spec: Spec,
    keywords: Sequence[str] | None = None,
    *,
    rootless: bool = False,
) -> list[str]:
    """The lines ``umoci raw mtree-validate`` prints, one per difference."""
    return [str(delta) for delta in check(root, spec, keywords, rootless=rootless)]


def keywords_for_validate(
    spec: Spec,
    *,
    use: Sequence[str] | None = None,
    add: Sequence[str] = (),
    umoci: bool = False,
) -> list[str]:
    """The keywords ``umoci raw mtree-validate`` compares with.

    ``use`` (``-k``, None when not given) replaces the default, which is
    umoci's own set with ``umoci=True`` (``--umoci-keywords``) and otherwise
    the keywords the spec uses; ``add`` (``-K``) appends; ``type`` is always
    included, first if it had to be added.  Pass names through
    :func:`~umoci.mtree.keywords.parse_keyword_arg` first.
    """
    if use is not None:
        chosen = list(use)
    elif umoci:
        chosen = list(UMOCI_KEYWORDS)
    else:
        chosen = spec.used_keywords()
    for kw in add:
        if kw not in chosen:
            chosen.append(kw)
    if "type" not in chosen:
        chosen.insert(0, "type")
    return chosen
