"""Parsing and writing go-mtree text."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from umoci.errors import MtreeError
from umoci.mtree import (
    Blank,
    Comment,
    DotDot,
    Entry,
    Header,
    Special,
    dump,
    go_date,
    parse,
)
from umoci.mtree.spec import MAX_LINE


def vector_mtree(vectors: Path) -> Path:
    (path,) = (vectors / "bundle").glob("sha256_*.mtree")
    return path


def test_vector_round_trips_byte_for_byte(vectors: Path) -> None:
    data = vector_mtree(vectors).read_bytes()
    assert dump(parse(data)) == data


def test_vector_entries_and_paths(vectors: Path) -> None:
    spec = parse(vector_mtree(vectors).read_bytes())
    paths = [e.path for e in spec.entries()]
    assert paths == [
        b".",
        b"dir",
        b"dir/fifo",
        b"dir/file",
        b"dir/hardlink",
        b"dir/null",
        b"dir/suid",
        b"dir/tab\tfile",
        b"dir/sub",
        b"dir/sub/symlink",
        b"with space",
        b"with space/a#b*c",
        "ünïcødé".encode(),
    ]
    index = spec.index()
    assert index[b"dir/file"].all_keywords() == {
        "type": "file",
        "nlink": "2",
        "mode": "0644",
        "uid": "0",
        "gid": "0",
        "size": "6",
        "tar_time": "1577934245.000000000",
        "sha256digest": "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
        "xattr.user.comment": "aGVsbG8gd29ybGQ=",
    }
    assert index[b"dir/sub/symlink"].type == "link"
    assert index["ünïcødé".encode()].get("uid") == "1000"
    assert spec.used_keywords() == [
        "type",
        "nlink",
        "mode",
        "uid",
        "gid",
        "size",
        "tar_time",
        "sha256digest",
        "xattr",
        "link",
    ]


def test_parse_structure() -> None:
    text = (
        "#mtree v2.0\n"
        "\n"
        "   # indented comment\n"
        "/set type=file uid=0\n"
        ". type=dir\n"
        "    f size=1\n"
        "d type=dir\n"
        "    g\n"
        "..\n"
        "    h\n"
        "..\n"
        "..\n"
        "/unset all\n"
        "x/./y/ mode=0600\n"
    )
    spec = parse(text.encode())
    kinds = [type(n).__name__ for n in spec.nodes]
    assert kinds == [
        "Comment",
        "Blank",
        "Comment",
        "Special",
        "Entry",
        "Entry",
        "Entry",
        "Entry",
        "DotDot",
        "Entry",
        "DotDot",
        "DotDot",
        "Special",
        "Entry",
    ]
    index = spec.index()
    assert set(index) == {b".", b"f", b"d", b"d/g", b"h", b"x/y"}
    assert index[b"f"].all_keywords() == {"type": "file", "uid": "0", "size": "1"}
    assert index[b"x/y"].set is None
    assert index[b"x/y"].full
    assert index[b"x/y"].name == "x/y"  # go-mtree cleans written full paths
    # Extra ".." at the top are harmless.
    assert dump(spec).endswith(b"..\n..\n/unset all\nx/y mode=0600\n")


def test_set_replaces_and_unset_clears() -> None:
    spec = parse(b"/set uid=1 gid=2\na\n/set mode=0700\nb\n/unset uid\nc\n")
    index = spec.index()
    assert index[b"a"].all_keywords() == {"uid": "1", "gid": "2"}
    assert index[b"b"].all_keywords() == {"mode": "0700"}
    assert index[b"c"].all_keywords() == {}


def test_own_keywords_win_and_last_repeat_wins() -> None:
    (entry,) = parse(
        b"/set mode=0644 mode=0600 uid=0\nf mode=0755 uid=3 uid=4 optional\n"
    ).entries()
    assert entry.all_keywords() == {"mode": "0755", "uid": "4"}
    assert ("optional", None) in entry.keywords


def test_dump_normalises_spacing_and_indentation() -> None:
    # "/set" only counts at the start of the line: with leading spaces it is a
    # full-path entry named "/set" ... which is outside the root.
    with pytest.raises(MtreeError):
        parse(b"  /set a=b\n")
    spec = parse(b"/set\ta=b  \n. type=dir   size=1\nfile\t\tsize=2\nsub type=dir\n  ..  \n")
    assert dump(spec) == (b"/set a=b\n. type=dir size=1\n    file size=2\nsub type=dir\n  ..  \n")


def test_dump_of_keywordless_lines_keeps_go_trailing_space() -> None:
    spec = parse(b"/unset\nname\n")
    assert dump(spec) == b"/unset \n    name \n"


def test_continuation_lines() -> None:
    spec = parse(b"/set uid=0 \\\n gid=0\nfile size=1 \\\nmode=0644\n")
    (entry,) = spec.entries()
    assert entry.all_keywords() == {"uid": "0", "gid": "0", "size": "1", "mode": "0644"}
    assert dump(spec) == b"/set uid=0 gid=0\n    file size=1 mode=0644\n"


def test_continuation_with_empty_lines_and_eof_strips_more_backslashes() -> None:
    # go-mtree strips one backslash per line it pulls in; an empty line lets it
    # strip the next backslash of the same piece.
    (entry,) = parse(b"f a=x\\\\\n\nb=y\n").entries()
    assert entry.keywords == (("a", "xb=y"),)
    (entry,) = parse(b"f a=x\\\\\\").entries()
    assert entry.keywords == (("a", "x"),)


def test_crlf_and_whitespace_only_lines() -> None:
    spec = parse(b"a size=1\r\n \t \r\n\r\nb size=2")
    assert [type(n) for n in spec.nodes] == [Entry, Blank, Entry]
    assert [e.path for e in spec.entries()] == [b"a", b"b"]


def test_fields_split_on_go_unicode_spaces_only() -> None:
    (entry,) = parse("f a=1\u00a0b=2\x1cc=3\u3000d=4".encode()).entries()
    assert entry.keywords == (("a", "1"), ("b", "2\x1cc=3"), ("d", "4"))
    # ASCII text too: \x1c-\x1f are spaces to Python's str.split(), not to Go.
    for sep in "\x1c\x1d\x1e\x1f":
        (entry,) = parse(f"f a=1{sep}b=2 c=3".encode()).entries()
        assert entry.keywords == (("a", f"1{sep}b=2"), ("c", "3"))


def test_non_utf8_bytes_survive() -> None:
    data = b"# comment \xff\xfe\nf\xff link=\xc3\x28\n"
    spec = parse(data)
    assert dump(spec) == b"# comment \xff\xfe\n    f\xff link=\xc3\x28\n"
    (entry,) = spec.entries()
    assert entry.path == b"f\xff"


def test_escaped_names_are_decoded() -> None:
    spec = parse(b"d\\040x type=dir\n    a\\134b\\012\n..\n")
    assert [e.path for e in spec.entries()] == [b"d x", b"d x/a\\b\n"]


@pytest.mark.parametrize(
    "text",
    [
        b"../x size=1\n",
        b"a/../../x size=1\n",
        b"\\056\\056 size=1\n",
        b"a\\057..\\057..\\057x size=1\n",
        b"\\057etc/x size=1\n",
        b"nul\\000 size=1\n",
        b"bad\\q size=1\n",
        b"\\\n\n",
    ],
)
def test_hostile_entries_are_refused(text: bytes) -> None:
    with pytest.raises(MtreeError):
        parse(text)


def test_random_input_gives_spec_or_mtree_error() -> None:
    rng = random.Random(7)
    alphabet = b"ab./\\ \t\n\r=#.x0123457M^-$\xff\xc3"
    for _ in range(3000):
        data = bytes(rng.choice(alphabet) for _ in range(rng.randrange(40)))
        try:
            spec = parse(data)
        except MtreeError:
            continue
        dump(spec)
        spec.used_keywords()


def test_deep_and_long_inputs_stay_cheap() -> None:
    start = time.monotonic()
    depth = 2000  # paths up to 4000 bytes: still within PATH_MAX
    text = b". type=dir\n" + b"d type=dir\n    f\n" * depth + b"..\n" * (depth + 1)
    entries = list(parse(text).entries())
    assert len(entries[-1].path) == 2 * depth + 1
    # Deeper than any path go-mtree can write: refused, not a memory blow-up.
    with pytest.raises(MtreeError, match="longer than"):
        parse(b". type=dir\n" + b"d type=dir\n" * 100_000)
    # Many entries at the maximum depth exhaust the total budget instead.
    deep = b"d" * 4000 + b" type=dir\n"
    with pytest.raises(MtreeError, match="too large"):
        parse(deep + b"    f\n" * 100_000)
    parse(b"f a=" + b"\\" * 200_000 + b"\n" * 200_000)
    parse(b"f a=" + b"x" * 1_000_000 + b"\n")
    assert time.monotonic() - start < 20


def test_lines_longer_than_max_line_are_refused() -> None:
    longest = b"f a=" + b"x" * (MAX_LINE - 4)
    assert next(parse(longest + b"\n").entries()).get("a") == "x" * (MAX_LINE - 4)
    with pytest.raises(MtreeError, match=f"line 2: longer than {MAX_LINE} bytes"):
        parse(b". type=dir\n" + longest + b"x\n")
    # Continuations join short lines into one that is too long.
    with pytest.raises(MtreeError, match="longer than"):
        parse(b"f a=" + (b"x" * (1 << 20) + b"\\\n") * 17 + b"\n")


def test_node_types_are_exported() -> None:
    spec = parse(b"# c\n\n/set a=b\n..\nf\n")
    assert spec.nodes == (
        Comment("# c"),
        Blank(),
        Special("/set", (("a", "b"),)),
        DotDot(".."),
        Entry("f", b"f", (), (("a", "b"),), False),
    )


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("utc")
def test_go_date_layout() -> None:
    assert go_date(1700000000) == "Tue Nov 14 22:13:20 2023"
    assert go_date(1577934245.9) == "Thu Jan 2 03:04:05 2020"


def test_header_lines() -> None:
    header = Header(
        user="root", machine="vm", tree="bundle/rootfs", date="Fri Nov 27 03:23:50 2026"
    )
    lines = [n.raw for n in header.nodes(["size", "type"]) if isinstance(n, Comment)]
    assert lines == [
        "#          user: root",
        "#       machine: vm",
        "#          tree: bundle/rootfs",
        "#          date: Fri Nov 27 03:23:50 2026",
        "#      keywords: size,type",
    ]
    assert len(Header(None, None, None, "x").nodes([])) == 2


def test_header_current(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Header.current(str(tmp_path) + "//x/..").tree == str(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert Header.current(".").tree == str(tmp_path)
    assert Header.current("..").tree == str(tmp_path.parent)
    assert Header.current("rootfs/").tree == "rootfs"
