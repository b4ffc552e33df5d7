"""vis/unvis, Go path cleaning and Go quoting."""

from __future__ import annotations

import random

import pytest

from umoci.errors import MtreeError
from umoci.mtree.escape import clean, go_quote, unvis, vis


def test_vis_plain_names_are_unchanged() -> None:
    assert vis(b"hello-World_1.2~=+") == "hello-World_1.2~=+"


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        (b"with space", "with\\040space"),
        (b"tab\tfile", "tab\\011file"),
        (b"new\nline", "new\\012line"),
        (b"a#b*c", "a\\043b\\052c"),
        (b"q?[x]", "q\\077\\133x]"),
        (b"back\\slash", "back\\\\slash"),
        ("ünï".encode(), "\\303\\274n\\303\\257"),
        (b"\x00\x7f\xff", "\\000\\177\\377"),
        (b"", ""),
    ],
)
def test_vis_escapes_like_go_mtree(raw: bytes, encoded: str) -> None:
    assert vis(raw) == encoded
    assert unvis(encoded) == raw


def test_vis_round_trips_every_byte() -> None:
    every = bytes(range(256))
    assert unvis(vis(every)) == every
    rng = random.Random(1)
    for _ in range(200):
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(20)))
        assert unvis(vis(raw)) == raw


@pytest.mark.parametrize(
    ("encoded", "raw"),
    [
        ("\\x41\\x7e", b"A~"),
        ("\\M-a", b"\xe1"),
        ("\\M^A", b"\x81"),
        ("\\M^?", b"\xff"),
        ("\\^A\\^?", b"\x01\x7f"),
        ("\\n\\r\\b\\a\\v\\t\\f\\s\\E", b"\n\r\b\x07\v\t\f \x1b"),
        ("a\\$b\\\nc", b"abc"),
        ("\\1", b"\x01"),
        ("\\0018", b"\x018"),
        ("\\18", b"\x018"),
        ("\\\\", b"\\"),
        ("plain ünï", "plain ünï".encode()),
        # Bytes that are not UTF-8 stay as they are (Go would write U+FFFD).
        (b"\xff\\040".decode("utf-8", "surrogateescape"), b"\xff "),
    ],
)
def test_unvis_accepts_govis_escapes(encoded: str, raw: bytes) -> None:
    assert unvis(encoded) == raw


@pytest.mark.parametrize(
    "encoded",
    ["\\", "a\\", "\\777", "\\400", "\\xZZ", "\\x4", "\\q", "\\M", "\\Mx", "\\M-", "\\^", "\\M-Ā"],
)
def test_unvis_rejects_malformed_escapes(encoded: str) -> None:
    with pytest.raises(MtreeError):
        unvis(encoded)


@pytest.mark.parametrize(
    ("path", "cleaned"),
    [
        (b"", b"."),
        (b".", b"."),
        (b"./", b"."),
        (b"a//b", b"a/b"),
        (b"a/./b/", b"a/b"),
        (b"a/../..", b".."),
        (b"../../a", b"../../a"),
        (b"a/b/../../c", b"c"),
        (b"/../a", b"/a"),
        (b"//a", b"/a"),
        (b"/", b"/"),
    ],
)
def test_clean_matches_go_filepath_clean(path: bytes, cleaned: bytes) -> None:
    assert clean(path) == cleaned


@pytest.mark.parametrize(
    ("raw", "quoted"),
    [
        (b"dir/file", '"dir/file"'),
        (b'a"b\\c', '"a\\"b\\\\c"'),
        (b"\t\n\r\a\b\f\v", '"\\t\\n\\r\\a\\b\\f\\v"'),
        (b"\x00\x1f\x7f", '"\\x00\\x1f\\x7f"'),
        (b"\xff\xc3", '"\\xff\\xc3"'),
        ("ünï 😀".encode(), '"ünï 😀"'),
        ("\u00a0\u200b".encode(), '"\\u00a0\\u200b"'),
        ("\U000e0001".encode(), '"\\U000e0001"'),
    ],
)
def test_go_quote(raw: bytes, quoted: str) -> None:
    assert go_quote(raw) == quoted
