"""Masking and simplifying deltas (umoci's mtreefilter)."""

from __future__ import annotations

from umoci.mtree import (
    Delta,
    DeltaType,
    filter_deltas,
    mask_filter,
    simplify_filter,
)


def delta(kind: DeltaType, path: bytes) -> Delta:
    return Delta(kind, path, None, None)


def test_mask_filter() -> None:
    keep = mask_filter(["/var/lib", "tmp/", b"/odd\xff"])
    assert not keep(b"var/lib")
    assert not keep(b"var/lib/x/y")
    assert not keep(b"tmp")
    assert not keep(b"odd\xff/z")
    assert keep(b"var")
    assert keep(b"var/library")
    assert keep(b".")
    # Masking the root itself does nothing (as in umoci).
    assert mask_filter(["/"])(b"etc")


def test_simplify_filter_keeps_only_the_top_deletion() -> None:
    deltas = [
        delta(DeltaType.MISSING, b"a"),
        delta(DeltaType.MISSING, b"a/b"),
        delta(DeltaType.MISSING, b"a/b/c"),
        delta(DeltaType.MODIFIED, b"ab"),
        delta(DeltaType.EXTRA, b"a/new"),
        delta(DeltaType.MISSING, b"z/y"),
    ]
    kept = filter_deltas(deltas, simplify_filter(deltas), mask_filter(["ab"]))
    assert [d.path for d in kept] == [b"a", b"z/y"]
    assert filter_deltas(deltas) == deltas
