"""Hostile CPU variant numbers in ``--platform`` and in an index: prompt one-line answers.

A variant number of more than four digits is an opaque label (see
``umoci.oci.platforms``): it matches only an entry spelt the same way.  Each
verb runs as a subprocess with a timeout and a 2 GiB address-space limit, so
a regression to enumerating the lower variants fails the test without
hanging the suite or exhausting the machine's memory.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from multikit import OCI_INDEX, REF_NAME, entry, put_json, read_json, set_index, snapshot
from multikit import three_platforms as build_three_platforms

ADDRESS_SPACE = 2 << 30


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def umoci(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "umoci", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=_limit_memory,
    )


@pytest.fixture
def multi(tmp_path: Path) -> Path:
    return build_three_platforms(tmp_path)


def _with_arm64_variant(layout: Path, variant: str) -> None:
    """Leave only ``multi`` in index.json: a copy of its index whose arm64 entry has *variant*."""
    index = read_json(layout, entry(layout, "multi")["digest"])
    for child in index["manifests"]:
        if child["platform"]["architecture"] == "arm64":
            child["platform"]["variant"] = variant
    descriptor = put_json(layout, index, OCI_INDEX)
    descriptor["annotations"] = {REF_NAME: "multi"}
    set_index(layout, [descriptor])


HOSTILE_REQUESTS = [
    "linux/arm64/v9999999999999999999999",
    "linux/arm64/v100000000",
    "linux/arm64/v10000",  # the first number past the four-digit cap
    "linux/amd64/v" + "9" * 5000,  # past Python's 4300-digit int() limit
    "linux/arm64/" + "9" * 100_000,
]


@pytest.mark.parametrize("platform", HOSTILE_REQUESTS, ids=lambda p: p[:24])
@pytest.mark.parametrize("verb", ["unpack", "stat"])
def test_a_huge_variant_request_matches_nothing_in_one_line(
    multi: Path, tmp_path: Path, platform: str, verb: str
) -> None:
    before = snapshot(multi)
    bundle = tmp_path / "bundle"
    argv = ["--image", f"{multi}:multi", "--platform", platform]
    result = umoci(verb, *argv, *([bundle] if verb == "unpack" else []))
    assert result.returncode == 1, result.stderr[:500]
    assert result.stderr.count("\n") == 1, result.stderr[:500]
    assert result.stderr.startswith(f"umoci: {verb}: tag 'multi': no manifest for platform linux/")
    assert "the index offers linux/amd64, linux/arm64, linux/s390x" in result.stderr
    assert not bundle.exists()
    assert snapshot(multi) == before


@pytest.mark.parametrize(
    "variant", ["v100000000", "v" + "9" * 5000, "9" * 100_000], ids=lambda v: v[:12]
)
def test_an_index_entry_with_a_huge_variant_is_a_label(
    multi: Path, tmp_path: Path, variant: str
) -> None:
    _with_arm64_variant(multi, variant)
    stat = umoci("stat", "--image", f"{multi}:multi")
    assert stat.returncode == 0, stat.stderr[:500]
    # A plain arm64 machine (v8) does not run it, and says in one line what is offered.
    refused = umoci(
        "unpack", "--image", f"{multi}:multi", "--platform", "linux/arm64", tmp_path / "refused"
    )
    assert refused.returncode == 1, refused.stderr[:500]
    assert refused.stderr.count("\n") == 1, refused.stderr[:500]
    assert "no manifest for platform linux/arm64: the index offers linux/amd64, " in refused.stderr
    assert not (tmp_path / "refused").exists()
    # Asked for by its own spelling, it is chosen.
    bundle = tmp_path / "bundle"
    chosen = umoci(
        "unpack",
        "--image",
        f"{multi}:multi",
        "--platform",
        f"linux/arm64/{variant}",
        bundle,
    )
    assert chosen.returncode == 0, chosen.stderr[:500]
    assert (bundle / "rootfs" / "arch").read_text() == "arm64\n"
