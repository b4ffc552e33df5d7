"""The hand-written matchers (no ``re`` at start-up) accept exactly what the patterns did.

The tag grammar, ``PATH@DIGEST`` references, the digest grammar and RFC 3339
times are checked against the regular expressions they replaced, on every
short string over an alphabet of the characters that matter and on random
mutations of valid examples.
"""

from __future__ import annotations

import itertools
import random
import re

import pytest

from umoci.errors import BlobInvalidError
from umoci.oci import digest, refs, timefmt

_COMPONENT = r"[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*"
TAG = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
DIGEST_REF = re.compile(r"([^:]*)@(sha256|sha512):(.*)")
DIGEST = re.compile(r"([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)")
RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
    r"(?:(Z)|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)


def mutations(seed: str, alphabet: str, count: int, rng: random.Random) -> list[str]:
    out = []
    for _ in range(count):
        text = list(seed)
        for _ in range(rng.randint(1, 3)):
            op = rng.randrange(3)
            pos = rng.randrange(len(text) + 1)
            if op == 0:
                text.insert(pos, rng.choice(alphabet))
            elif text and op == 1:
                del text[min(pos, len(text) - 1)]
            elif text:
                text[min(pos, len(text) - 1)] = rng.choice(alphabet)
        out.append("".join(text))
    return out


def test_tags() -> None:
    alphabet = "aZ9-._:@+/\n é"
    for length in range(6):
        for chars in itertools.product(alphabet, repeat=length):
            text = "".join(chars)
            assert refs.is_valid_tag(text) == (TAG.fullmatch(text) is not None), repr(text)
    rng = random.Random(15)
    for text in mutations("v1.0--rc/x_y+z@a:b", alphabet, 20000, rng):
        assert refs.is_valid_tag(text) == (TAG.fullmatch(text) is not None), repr(text)


def test_digest_references() -> None:
    rng = random.Random(16)
    seeds = ["lay:out@sha256:abc", "layout@sha256:" + "a" * 64, "a@b@sha512:0\n1", "@sha256:"]
    for seed in seeds:
        for text in [seed, *mutations(seed, "@:sha2561\n/a", 5000, rng)]:
            m = DIGEST_REF.fullmatch(text)
            want = m.groups() if m else None
            assert refs._split_digest_ref(text) == want, repr(text)


def _split_or_none(text: str) -> tuple[str, str] | None:
    try:
        return digest.split(text)
    except BlobInvalidError:
        return None


def test_digests() -> None:
    rng = random.Random(17)
    good = "sha256:" + "0123456789abcdef" * 4
    for text in [
        good,
        *mutations(good, "az09+._-:=AZ\n", 20000, rng),
        *mutations("a+b.c:X=_-", "az+.:_", 5000, rng),
    ]:
        m = DIGEST.fullmatch(text)
        assert digest.is_well_formed(text) == (m is not None), repr(text)
        if m is None:
            assert _split_or_none(text) is None
    assert digest.split(good) == ("sha256", good[7:])


@pytest.mark.parametrize(
    ("text", "unix_ns", "offset_s"),
    [
        ("2020-01-02T03:04:05Z", 1_577_934_245_000_000_000, 0),
        ("2020-01-02T3:04:05.123456789123+01:30", 1_577_928_845_123_456_789, 5400),
        ("1999-12-31T23:59:59,5-00:00", 946_684_799_500_000_000, 0),
    ],
)
def test_rfc3339_examples_parse(text: str, unix_ns: int, offset_s: int) -> None:
    parsed = timefmt.parse_time(text)
    assert (parsed.unix_ns, parsed.offset_s) == (unix_ns, offset_s)


def test_rfc3339_times() -> None:
    rng = random.Random(18)
    seeds = ["2020-01-02T03:04:05Z", "2020-01-02T3:04:05.25+01:30", "2020-01-02T13:04:05,5-10:00"]
    for seed in seeds:
        for text in [seed, *mutations(seed, "0123456789-T:Z+.,z \n٣", 20000, rng)]:
            m = RFC3339.fullmatch(text)
            if m is None:
                assert timefmt._rfc3339_fields(text) is None, repr(text)
                continue
            groups = m.groups()
            zone = "Z" if groups[7] else f"{groups[8]}{groups[9]}:{groups[10]}"
            want = (*groups[:6], groups[6] or "", zone)
            assert timefmt._rfc3339_fields(text) == want, repr(text)
