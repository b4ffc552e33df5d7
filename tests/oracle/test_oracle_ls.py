"""``umoci ls`` prints what the Go umoci 0.6 prints, byte for byte, but for control characters.

0.6 writes every tag raw; we Go-quote a tag with a control character, a
quotation mark or a backslash (a deliberate difference in the README), and
leave every other tag, valid or not, as 0.6 does.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from multikit import REF_NAME, entry, set_index, umoci_ok, untagged
from umoci import goquote

pytestmark = pytest.mark.oracle

ORDINARY = ["latest", "v1.0", "a/b", "x:y", "1.2-rc+build", "a--b", "café", "with space", "*"]
HOSTILE = ["e\x1b[31mred", "bel\x07", "cr\rX", "nul\x00z", "tab\tz", "del\x7f", 'q"\\']


def ls(binary: list[str], layout: Path) -> bytes:
    result = subprocess.run(
        [*binary, "ls", "--layout", str(layout)], capture_output=True, timeout=60, check=True
    )
    return result.stdout


def test_ls_matches_0_6_for_ordinary_tags_and_quotes_only_hostile_ones(
    oracle_umoci: Path, tmp_path: Path
) -> None:
    layout = tmp_path / "L"
    umoci_ok("init", "--layout", layout)
    umoci_ok("new", "--image", f"{layout}:first")
    image = entry(layout, "first")
    tags = ORDINARY + HOSTILE
    set_index(layout, [untagged(image, annotations={REF_NAME: tag}) for tag in tags])

    theirs = ls([str(oracle_umoci)], layout).decode().split("\n")
    ours = ls([sys.executable, "-m", "umoci"], layout).decode().split("\n")
    # 0.6's lines are the raw tags (a CR or tab stays inside its line).
    assert theirs == [*tags, ""]
    assert ours[: len(ORDINARY)] == theirs[: len(ORDINARY)]
    assert ours[len(ORDINARY) :] == [goquote.quote(tag) for tag in HOSTILE] + [""]
