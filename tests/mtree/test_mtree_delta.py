"""compare(), check() and the mtree-validate keyword rules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from umoci.errors import MtreeError
from umoci.mtree import (
    UMOCI_KEYWORDS,
    Delta,
    DeltaType,
    Header,
    KeyDelta,
    check,
    check_lines,
    compare,
    compare_entries,
    keywords_for_validate,
    parse,
    parse_keyword_arg,
    walk,
)

HEADER = Header(None, None, None, "d")


def one(text: str) -> list[Delta]:
    old, new = text.split("----\n")
    return compare(parse(old.encode()), parse(new.encode()))


def test_missing_extra_modified_sorted_by_path_bytes() -> None:
    dirs = "z type=dir\n..\na type=dir\n    b size=1\n..\n"
    deltas = one(
        ". type=dir\n    a-b size=1\n    gone size=1\n" + dirs + "----\n"
        ". type=dir\n    a-b size=2\n    new size=1\n" + dirs
    )
    assert [(d.type, d.path) for d in deltas] == [
        (DeltaType.MODIFIED, b"a-b"),
        (DeltaType.MISSING, b"gone"),
        (DeltaType.EXTRA, b"new"),
    ]
    assert deltas[0].keys == (KeyDelta(DeltaType.MODIFIED, "size", "1", "2"),)
    assert deltas[1].old is not None
    assert deltas[1].new is None
    assert deltas[2].old is None
    assert [str(d) for d in deltas] == [
        '"a-b": keyword "size": expected 1; got 2',
        '"gone": missing path',
        '"new": unexpected path',
    ]


def test_keys_on_one_side_only() -> None:
    (delta,) = one(
        "f size=1 sha256digest=aa xattr.user.a=eA== tar_time=5.000000000\n"
        "----\n"
        "f size=2 uid=0 xattr.user.b=eQ==\n"
    )
    assert delta.keys == (
        KeyDelta(DeltaType.MODIFIED, "size", "1", "2"),
        KeyDelta(DeltaType.MISSING, "sha256digest", "aa", None),
        KeyDelta(DeltaType.MISSING, "xattr.user.a", "eA==", None),
        KeyDelta(DeltaType.MISSING, "tar_time", "5.000000000", None),
        KeyDelta(DeltaType.EXTRA, "uid", None, "0"),
        KeyDelta(DeltaType.EXTRA, "xattr.user.b", None, "eQ=="),
    )
    # A keyword on one side only is a difference (go-mtree 0.7, the Go umoci 0.6).
    (one_sided,) = one("f sha256digest=aa\n----\nf uid=0\n")
    assert one_sided.keys == (
        KeyDelta(DeltaType.MISSING, "sha256digest", "aa", None),
        KeyDelta(DeltaType.EXTRA, "uid", None, "0"),
    )
    assert str(one_sided) == '"f": keyword "sha256digest": expected aa; got '
    assert str(delta) == '"f": keyword "size": expected 1; got 2'
    (missing,) = one("f xattr.user.a=eA==\n----\nf\n")
    assert str(missing) == '"f": keyword "xattr.user.a": expected eA==; got '


def test_set_values_count() -> None:
    deltas = one("/set mode=0644\nf\n----\nf mode=0644\n/set mode=0600\ng\n")
    assert deltas[0].type is DeltaType.EXTRA
    assert one("/set mode=0644 uid=0\nf\n----\n/set uid=0\nf mode=0644\n") == []


def test_time_and_tar_time() -> None:
    assert one("f time=5.999999999\n----\nf tar_time=5.000000000\n") == []
    (delta,) = one("f tar_time=5.000000000\n----\nf time=6.1\n")
    assert delta.keys == (KeyDelta(DeltaType.MODIFIED, "tar_time", "5.000000000", "6.000000000"),)
    with pytest.raises(MtreeError, match="same manifest"):
        one("f time=5.0 tar_time=5.000000000\n----\nf tar_time=5.000000000\n")
    with pytest.raises(MtreeError, match="cannot use time"):
        one("f time=nan\n----\nf tar_time=5.000000000\n")
    with pytest.raises(MtreeError):
        one("f time=1e999\n----\nf tar_time=5.000000000\n")


def test_keyword_filter() -> None:
    old = parse(b"f size=1 mode=0644 tar_time=1.000000000 xattr.user.a=eA==\n")
    new = parse(b"f size=2 mode=0600 time=2.5\n")
    assert [k.name for d in compare(old, new) for k in d.keys] == [
        "size",
        "mode",
        "tar_time",
        "xattr.user.a",
    ]
    assert [k.name for d in compare(old, new, ["mode"]) for k in d.keys] == ["mode"]
    assert [k.name for d in compare(old, new, ["time", "xattr"]) for k in d.keys] == [
        "tar_time",
        "xattr.user.a",
    ]
    assert compare(old, new, ["type"]) == []


def test_compare_entries_fast_path_matches_slow_path() -> None:
    a, b = parse(b"/set uid=0\nf size=1\n/set uid=0\ng size=1\n").entries()
    assert compare_entries(a, b) == []


def make_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    (root / "d" / "f").write_bytes(b"abc")
    (root / "g").write_bytes(b"")
    os.setxattr(root / "g", "user.x", b"1")
    return root


def test_check_reports_like_go_mtree(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    for directory in (root, root / "d"):
        os.utime(directory, ns=(0, 0))
    spec = walk(root, header=HEADER)
    assert check(root, spec) == []
    (root / "d" / "f").write_bytes(b"abcd")
    (root / "g").unlink()
    (root / "new\nname").write_bytes(b"")
    for directory in (root, root / "d"):  # their mtimes changed too
        os.utime(directory, ns=(0, 0))
    lines = check_lines(root, spec)
    assert lines == [
        '"d/f": keyword "size": expected 3; got 4',
        '"g": missing path',
        '"new\\nname": unexpected path',
    ]
    deltas = check(root, spec, keywords_for_validate(spec, use=parse_keyword_arg("mode")))
    assert [d.type for d in deltas] == [DeltaType.MISSING, DeltaType.EXTRA]


def test_check_with_unsupported_keyword(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    with pytest.raises(MtreeError, match="unknown keyword"):
        check(root, parse(b". type=dir cksum=1\n"))


def test_keywords_for_validate() -> None:
    spec = parse(b"/set type=file uid=0\n. type=dir size=1 xattr.user.a=eA==\n")
    assert keywords_for_validate(spec) == ["type", "uid", "size", "xattr"]
    assert keywords_for_validate(spec, umoci=True) == list(UMOCI_KEYWORDS)
    assert keywords_for_validate(spec, use=["size"], umoci=True) == ["type", "size"]
    assert keywords_for_validate(spec, use=[]) == ["type"]
    assert keywords_for_validate(spec, use=["mode"], add=["mode", "sha256digest"]) == [
        "type",
        "mode",
        "sha256digest",
    ]
    assert keywords_for_validate(parse(b"f size=1\n"), add=["link"]) == ["type", "size", "link"]


def test_parse_keyword_arg() -> None:
    assert parse_keyword_arg("sha256, size type,,xattrs") == [
        "sha256digest",
        "size",
        "type",
        "xattr",
    ]
    assert parse_keyword_arg("") == []
