"""stat's quoting, JSON compaction and hex dump, pinned to outputs of the Go umoci 0.6.

The oracle tier (tests/oracle/test_oracle_stat.py) checks whole outputs
against 0.6 itself; these examples, each copied from a 0.6 output, keep the
rules checked on machines without the oracle.
"""

from __future__ import annotations

import pytest

from umoci.cli.stat_json import compact_json
from umoci.cli.stat_text import data_lines, descriptor_lines, quote_cell, quote_value, quote_word
from umoci.oci.models import Descriptor, ImageConfig

VALUE_WORD_CELL = [
    ("plain", "plain", "plain", "plain"),
    ("with space", '"with space"', '"with space"', "with space"),
    ("a,b", '"a,b"', "a,b", "a,b"),
    ("", '""', '""', ""),
    ('q"uote', '"q\\"uote"', '"q\\"uote"', '"q\\"uote"'),
    ("back\\slash", '"back\\\\slash"', '"back\\\\slash"', '"back\\\\slash"'),
    ("tab\there", '"tab\\there"', '"tab\\there"', '"tab\\there"'),
    ("x\x01y", '"x\\x01y"', '"x\\x01y"', '"x\\x01y"'),
    ("\x7f", '"\\x7f"', '"\\x7f"', '"\\x7f"'),
    ("\u2028", '"\\u2028"', '"\\u2028"', '"\\u2028"'),
    ("a\u00a0b", '"a\\u00a0b"', '"a\\u00a0b"', '"a\\u00a0b"'),
    ("a\U000e0001b", '"a\\U000e0001b"', '"a\\U000e0001b"', '"a\\U000e0001b"'),
    ("ünï", "ünï", "ünï", "ünï"),
    ("😀", "😀", "😀", "😀"),
    ("<lt>&", "<lt>&", "<lt>&", "<lt>&"),
    ("#hash;semi:colon=eq", "#hash;semi:colon=eq", "#hash;semi:colon=eq", "#hash;semi:colon=eq"),
]


@pytest.mark.parametrize(("text", "value", "word", "cell"), VALUE_WORD_CELL)
def test_quoting_strengths(text: str, value: str, word: str, cell: str) -> None:
    assert (quote_value(text), quote_word(text), quote_cell(text)) == (value, word, cell)


def test_lone_surrogates_reach_stat_as_replacement_characters() -> None:
    # Go decodes a lone surrogate escape as U+FFFD; so does the one decoder.
    text = ImageConfig.from_bytes(b'{"author":"\\ud800"}').author
    assert (quote_value(text), quote_word(text), quote_cell(text)) == ("\ufffd",) * 3


def test_compact_json_keeps_order_and_escapes_html() -> None:
    raw = '{ "b" : [1, 2],\r\n\t"a": "x <y> & z \u2028 \\u00fc \\"q\\" ", "c":{} }\n'.encode()
    assert compact_json(raw) == (
        '{"b":[1,2],"a":"x \\u003cy\\u003e \\u0026 z \\u2028 \\u00fc \\"q\\" ","c":{}}'
    )


def test_hex_dump_layout() -> None:
    assert data_lines(b"{}", "\t\t") == [
        "\t\tData: (2 bytes)",
        "\t\t\t0000: 7b7d                                     {}",
    ]
    lines = data_lines(bytes(range(256)) + b"xy", "")
    assert lines[0] == "Data: (258 bytes)"
    assert lines[3] == "\t0020: 2021 2223 2425 2627 2829 2a2b 2c2d 2e2f   !\"#$%&'()*+,-./"
    assert lines[8] == "\t0070: 7071 7273 7475 7677 7879 7a7b 7c7d 7e7f  pqrstuvwxyz{|}~."
    assert lines[9] == "\t0080: 8081 8283 8485 8687 8889 8a8b 8c8d 8e8f  ................"
    # High bytes that are graphic in Latin-1 are written raw (0.6 does), 0xad is not.
    raw_row = lines[11].split("  ", 1)[1].encode("utf-8", "surrogateescape")
    assert raw_row == bytes(range(0xA0, 0xAD)) + b"." + bytes((0xAE, 0xAF))
    assert lines[-1] == "\t....  (extra 2 bytes omitted)"


def test_descriptor_platform_starts_at_the_left_margin() -> None:
    descriptor = Descriptor.from_json(
        {
            "mediaType": "a b,c",
            "digest": "sha256:" + "0" * 64,
            "size": 1000,
            "platform": {"architecture": "arm 64", "os": "linux,x", "variant": "v 8"},
            "urls": ["a,b", ""],
        }
    )
    assert descriptor_lines(descriptor, 1) == [
        "\tDescriptor:",
        '\t\tMedia Type: "a b,c"',
        "\t\tDigest: sha256:" + "0" * 64,
        "\t\tSize: 1kB",
        "Platform:",
        '\tOS: "linux,x"',
        '\tArchitecture: "arm 64" (v 8)',
        "\t\tURLs:",
        "\t\t\ta,b",
        '\t\t\t""',
    ]
