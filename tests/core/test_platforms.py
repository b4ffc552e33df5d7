"""Platform strings, normalisation, matching; digest references; the host's CPU variant."""

from __future__ import annotations

import pytest

from umoci.errors import InvalidRefError, UsageError
from umoci.hostplatform import amd64_level, host_variant
from umoci.oci.platforms import PlatformSpec, compatible, normalize, parse_platform, rank
from umoci.oci.refs import parse_image_ref, split_image_ref

HEX = "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/amd64", PlatformSpec("linux", "amd64", "v1")),
        ("linux/x86_64", PlatformSpec("linux", "amd64", "v1")),
        ("Linux/AMD64/V3", PlatformSpec("linux", "amd64", "v3")),
        ("linux/arm64", PlatformSpec("linux", "arm64", "v8")),
        ("linux/aarch64/8", PlatformSpec("linux", "arm64", "v8")),
        ("linux/arm", PlatformSpec("linux", "arm", "v7")),
        ("linux/armhf", PlatformSpec("linux", "arm", "v7")),
        ("linux/armel", PlatformSpec("linux", "arm", "v6")),
        ("linux/i686", PlatformSpec("linux", "386", "")),
        ("linux/s390x", PlatformSpec("linux", "s390x", "")),
        ("windows(10.0.17763)/amd64", PlatformSpec("windows", "amd64", "v1", "10.0.17763")),
    ],
)
def test_parse_and_normalize(text: str, expected: PlatformSpec) -> None:
    assert parse_platform(text) == expected


@pytest.mark.parametrize(
    "text", ["linux", "/amd64", "linux/", "linux/arm/v7/x", "linux/am d64", "(1)/amd64", "a()/b"]
)
def test_bad_platforms_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="invalid --platform"):
        parse_platform(text)


def test_text_form_drops_only_the_unwritten_baselines() -> None:
    assert str(parse_platform("linux/amd64")) == "linux/amd64"
    assert str(parse_platform("linux/arm64")) == "linux/arm64"
    assert str(parse_platform("linux/arm")) == "linux/arm/v7"
    assert str(parse_platform("linux/amd64/v3")) == "linux/amd64/v3"
    assert str(parse_platform("windows(10.0)/amd64")) == "windows(10.0)/amd64"


def test_compatible_lists_fallbacks_best_first() -> None:
    names = [str(p) for p in compatible(parse_platform("linux/arm64"))]
    assert names == [
        "linux/arm64",
        "linux/arm/v8",
        "linux/arm/v7",
        "linux/arm/v6",
        "linux/arm/v5",
    ]
    names = [str(p) for p in compatible(parse_platform("linux/amd64/v3"))]
    assert names == ["linux/amd64/v3", "linux/amd64/v2", "linux/amd64", "linux/386"]
    assert [str(p) for p in compatible(parse_platform("linux/s390x"))] == ["linux/s390x"]


def test_rank_prefers_exact_and_refuses_others() -> None:
    want = parse_platform("linux/arm/v7")
    assert rank(want, normalize("linux", "arm", "v7")) == 0
    assert rank(want, normalize("linux", "arm", "")) == 0  # arm means arm/v7
    assert rank(want, normalize("linux", "arm", "v6")) == 1
    assert rank(want, normalize("linux", "arm", "v8")) is None  # newer than the machine
    assert rank(want, normalize("linux", "arm64", "")) is None
    assert rank(want, normalize("freebsd", "arm", "v7")) is None
    # os.version filters only when asked for.
    assert rank(parse_platform("windows/amd64"), normalize("windows", "amd64", "", "10.0")) == 0
    asked = parse_platform("windows(10.0)/amd64")
    assert rank(asked, normalize("windows", "amd64", "", "10.0")) == 0
    assert rank(asked, normalize("windows", "amd64", "", "6.3")) is None


# (machine, image, rank): the fallbacks of every real CPU variant, spelt out.
REAL_VARIANT_RANKS = [
    ("linux/arm/v5", "linux/arm/v5", 0),
    ("linux/arm/v5", "linux/arm/v6", None),
    ("linux/arm/v6", "linux/arm/v5", 1),
    ("linux/arm/v7", "linux/arm/v5", 2),
    ("linux/arm/v8", "linux/arm/v8", 0),
    ("linux/arm/v8", "linux/arm/v6", 2),
    ("linux/arm/v8", "linux/arm64", None),
    ("linux/arm64", "linux/arm64/v8", 0),
    ("linux/arm64", "linux/arm64/v9", None),
    ("linux/arm64", "linux/arm/v8", 1),
    ("linux/arm64", "linux/arm/v5", 4),
    ("linux/arm64/v9", "linux/arm64/v9", 0),
    ("linux/arm64/v9", "linux/arm64/v8", 1),
    ("linux/arm64/v9", "linux/arm/v8", 2),
    ("linux/arm64/v9", "linux/arm/v7", 3),
    ("linux/arm64/v9", "linux/amd64", None),
    ("linux/amd64", "linux/amd64/v1", 0),
    ("linux/amd64", "linux/amd64/v2", None),
    ("linux/amd64", "linux/386", 1),
    ("linux/amd64/v2", "linux/amd64", 1),
    ("linux/amd64/v3", "linux/amd64/v2", 1),
    ("linux/amd64/v4", "linux/amd64/v1", 3),
    ("linux/amd64/v4", "linux/386", 4),
    ("linux/amd64/v4", "linux/arm64", None),
    ("linux/386", "linux/amd64", None),
]


@pytest.mark.parametrize(("machine", "image", "expected"), REAL_VARIANT_RANKS)
def test_rank_of_real_variants(machine: str, image: str, expected: int | None) -> None:
    assert rank(parse_platform(machine), parse_platform(image)) == expected


REAL_PLATFORMS = [
    *(f"linux/arm/v{n}" for n in range(5, 9)),
    "linux/arm64",
    "linux/arm64/v9",
    *(f"linux/amd64/v{n}" for n in range(1, 5)),
    "linux/386",
    "linux/s390x",
    "windows(10.0)/amd64",
]


@pytest.mark.parametrize("machine", REAL_PLATFORMS)
def test_rank_is_the_position_in_compatible(machine: str) -> None:
    want = parse_platform(machine)
    listed = [str(p) for p in compatible(want)]
    for image in REAL_PLATFORMS:
        offered = parse_platform(image)
        expected = listed.index(str(offered)) if str(offered) in listed else None
        assert rank(want, offered) == expected, image


def test_variant_numbers_past_four_digits_are_labels() -> None:
    # Leading zeros do not count towards the cap.
    assert normalize("linux", "arm64", "v00008").variant == "v8"
    assert normalize("linux", "amd64", "9999").variant == "v9999"
    # A longer number is kept as written: it is no lower variant's successor.
    label = parse_platform("linux/arm64/v10000")
    assert label.variant == "v10000"
    assert rank(label, parse_platform("linux/arm64")) is None
    assert rank(label, normalize("linux", "arm64", "V10000")) == 0
    # arm64 machines still run 32-bit arm, whatever their own variant.
    assert rank(label, parse_platform("linux/arm/v7")) == 2
    # Past Python's int() limit of 4300 digits, from an index or the command line.
    huge = "v" + "9" * 5000
    assert normalize("linux", "arm64", huge).variant == huge
    assert rank(parse_platform(f"linux/amd64/{huge}"), parse_platform("linux/amd64")) is None


def test_amd64_levels_from_cpu_flags() -> None:
    v2 = {"cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"}
    v3 = v2 | {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}
    assert amd64_level(set()) == "v1"
    assert amd64_level(v2) == "v2"
    assert amd64_level(v3) == "v3"
    assert amd64_level(v3 - {"avx2"}) == "v2"
    assert amd64_level(v3 | {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}) == "v4"
    assert amd64_level(v2 | {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}) == "v2"


def test_host_variant_reads_cpuinfo() -> None:
    assert host_variant("amd64", "processor\t: 0\nflags\t\t: fpu sse4_2\n") == "v1"
    assert host_variant("amd64", "") == "v1"
    assert host_variant("arm", "CPU architecture: 6\n") == "v6"
    assert host_variant("arm", "garbage") == "v7"
    assert host_variant("arm64", "") == "v8"
    assert host_variant("s390x", "") == ""


def test_digest_references() -> None:
    ref = parse_image_ref(f"dir/img@sha256:{HEX}")
    assert (ref.layout, ref.tag, ref.is_digest) == ("dir/img", f"@sha256:{HEX}", True)
    assert parse_image_ref(f"img@sha256:{HEX[:12]}").tag == f"@sha256:{HEX[:12]}"
    assert split_image_ref("img") == ("img", None)
    # Not a digest reference: the Go umoci's meaning is kept.
    assert (parse_image_ref("a@b:tag").layout, parse_image_ref("a@b:tag").tag) == ("a@b", "tag")
    assert parse_image_ref("dir/a@home").tag == "latest"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (f"img@sha256:{HEX[:11]}", "give at least 12 hex digits"),
        (f"img@sha256:{HEX.upper()}", "want lowercase hex"),
        (f"img@sha256:{HEX}0", "longer than 64 digits"),
        ("img@sha256:", "want lowercase hex"),
    ],
)
def test_bad_digest_references(text: str, why: str) -> None:
    with pytest.raises(InvalidRefError, match=why):
        parse_image_ref(text)


def test_empty_path_is_refused_for_digests_too() -> None:
    with pytest.raises(UsageError, match="path is empty"):
        parse_image_ref(f"@sha256:{HEX}")
