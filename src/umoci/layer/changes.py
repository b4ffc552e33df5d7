"""Which paths a generated layer holds: change lists, masks, whiteouts (no I/O).

Paths are ``bytes`` relative to the root, cleaned, without ``./``; ``b""``
is the root.  A change list comes from an mtree diff (``repack``): the
order it arrives in does not matter, :func:`plan_changes` sorts it.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable, Iterator

from umoci import goquote
from umoci.errors import LayerError, UnsafePathError
from umoci.layer.tarstream import EntryKind
from umoci.layer.tarwrite import TarEntry
from umoci.layer.whiteout import OPAQUE, PREFIX

_WH_PREFIX = PREFIX.encode()
_WH_OPAQUE = OPAQUE.encode()


class ChangeKind(enum.Enum):
    """What happened to a path since the last layer (mtree: extra/modified/missing)."""

    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"


def clean_rel(path: str | bytes) -> bytes:
    """A change path as clean relative bytes (``b""`` is the root); no ``..`` allowed.

    ``"."``, ``"./a"``, ``"/a/"`` and ``"a"`` are all accepted (mtree paths
    are ``b"."`` and ``b"dir/file"``); a ``..`` component never is, since
    no walk of a tree produces one.
    """
    raw = os.fsencode(path)
    if (
        raw
        and not raw.startswith((b"/", b"."))
        and not raw.endswith(b"/")
        and b"//" not in raw
        and b"/." not in raw
    ):
        return raw  # already clean (an mtree path): no empty, "." or ".." component
    comps = [c for c in raw.split(b"/") if c not in (b"", b".")]
    if b".." in comps:
        raise UnsafePathError(f"generate layer: path {os.fsdecode(raw)!r} contains '..'")
    return b"/".join(comps)


def clean_target(target: str | bytes) -> bytes:
    """An image path (``/usr/bin``) as relative bytes; refuse ``..`` above the root.

    ``..`` inside the path is resolved lexically (``/a/../b`` is ``b``), as
    the Go umoci does; one that would climb above ``/`` is refused rather
    than silently clamped.
    """
    raw = os.fsencode(target)
    comps: list[bytes] = []
    for comp in raw.split(b"/"):
        if comp in (b"", b"."):
            continue
        if comp == b"..":
            if not comps:
                raise UnsafePathError(f"target {goquote.quote(os.fsdecode(raw))} escapes the root")
            comps.pop()
            continue
        comps.append(comp)
    return b"/".join(comps)


def join(parent: bytes, name: bytes) -> bytes:
    return parent + b"/" + name if parent else name


def ancestors(rel: bytes) -> Iterator[bytes]:
    """Strict ancestors of ``rel``, nearest first, ending with the root ``b""``."""
    while rel:
        rel = rel.rpartition(b"/")[0]
        yield rel


def show(rel: bytes) -> str:
    """``rel`` as an image path, for messages."""
    return "/" + os.fsdecode(rel)


def minimal_whiteouts(deleted: Iterable[str | bytes]) -> list[bytes]:
    """The deleted paths that need a whiteout: none below another deleted path.

    Sorted by path bytes (the order they go in the layer).
    """
    paths = {clean_rel(p) for p in deleted}
    return sorted(p for p in paths if p and not any(a in paths for a in ancestors(p)))


def plan_changes(
    changes: Iterable[tuple[str | bytes, ChangeKind]],
    mask_paths: Iterable[str | bytes] = (),
) -> list[tuple[bytes, ChangeKind]]:
    """The changes a repack layer holds, in the order they are written.

    * sorted by path bytes: parents before children, as the Go umoci sorts
      its deltas (``a`` < ``a-b`` < ``a/x``);
    * a path equal to or below a mask path is dropped, whatever its kind:
      masked paths (volumes) never reach the layer, whiteouts included;
    * anything below a deleted path is dropped: one whiteout covers the
      whole subtree (the Go umoci's ``SimplifyFilter``; Docker needs it);
    * a path listed twice, or a deleted root, is an error.
    """
    masks = {clean_rel(m) for m in mask_paths}
    plan = sorted(((clean_rel(path), kind) for path, kind in changes), key=lambda c: c[0])
    deleted = {rel for rel, kind in plan if kind is ChangeKind.DELETED}
    out: list[tuple[bytes, ChangeKind]] = []
    previous: bytes | None = None
    for rel, kind in plan:
        if rel == previous:
            raise LayerError(f"generate layer: path {show(rel)} listed twice in the changes")
        previous = rel
        if masks and (rel in masks or any(a in masks for a in ancestors(rel))):
            continue
        if deleted and any(a in deleted for a in ancestors(rel)):
            continue
        if kind is ChangeKind.DELETED and not rel:
            raise LayerError("generate layer: cannot delete the root directory")
        out.append((rel, kind))
    return out


def check_name(rel: bytes) -> None:
    """Refuse a path whose name would read as a whiteout when extracted."""
    if rel.rpartition(b"/")[2].startswith(_WH_PREFIX):
        raise LayerError(
            f"generate layer: {show(rel)}: names starting with {PREFIX!r} cannot be stored"
            " in a layer (they mean deletions)"
        )


def whiteout_entry(rel: bytes) -> TarEntry:
    """The entry deleting ``rel``: an empty file, all metadata zero, as the Go umoci writes it."""
    if not rel:
        raise LayerError("generate layer: cannot white out the root directory")
    check_name(rel)
    parent, _, base = rel.rpartition(b"/")
    return TarEntry(name=join(parent, _WH_PREFIX + base), kind=EntryKind.REG)


def opaque_entry(rel: bytes) -> TarEntry:
    """The entry hiding everything lower layers have below directory ``rel``."""
    if rel:
        check_name(rel)
    return TarEntry(name=join(rel, _WH_OPAQUE), kind=EntryKind.REG)
