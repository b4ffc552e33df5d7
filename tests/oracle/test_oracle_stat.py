"""``umoci stat`` against the Go umoci 0.6, byte for byte, over generated awkward images.

Every image of :mod:`awkward_images` is shown by both, as text and as JSON.
Where 0.6 can show it, our stdout and exit status must equal its own; where
it cannot (the case says why), ours must still end cleanly: the image shown,
or, where the case says we refuse it too, one line on stderr and status 1.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from awkward_images import ImageCase, all_cases, write_case
from oraclekit import run_tool

pytestmark = pytest.mark.oracle

CASES = all_cases()
FORMS = {"text": [], "json": ["--json"]}


def ours(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "umoci", *map(str, argv)],
        capture_output=True,
        text=True,
        errors="surrogateescape",
        timeout=60,
        check=False,
    )


def test_the_generator_covers_at_least_40_comparable_images() -> None:
    assert len({case.name for case in CASES}) == len(CASES), "case names must be unique"
    assert sum(not case.oracle_fails for case in CASES) >= 40


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_stat_matches_the_oracle(
    tmp_path: Path, oracle_umoci: Path, case: ImageCase, form: str
) -> None:
    layout = tmp_path / "image"
    write_case(layout, case)
    argv = ["stat", *FORMS[form], "--image", f"{layout}:t"]
    theirs = run_tool(oracle_umoci, *argv)
    mine = ours(*argv)
    assert "Traceback" not in mine.stderr, mine.stderr
    if theirs.returncode == 0:
        assert (mine.returncode, mine.stdout) == (0, theirs.stdout)
        assert mine.stderr == ""
        return
    # 0.6 refused or crashed: only cases that say so may get here.
    assert case.oracle_fails, f"the oracle failed unexpectedly: {theirs.stderr}"
    if case.ours_fails:
        assert mine.returncode == 1
        assert mine.stdout == ""
        assert len(mine.stderr.splitlines()) == 1, mine.stderr
        assert mine.stderr.startswith("umoci: stat: ")
    else:
        assert mine.returncode == 0, mine.stderr
        assert mine.stdout.startswith("== MANIFEST ==" if form == "text" else '{"manifest":')


@pytest.mark.parametrize("case", [c for c in CASES if c.oracle_fails], ids=lambda c: c.name)
def test_cases_marked_as_oracle_failures_do_fail_there(
    tmp_path: Path, oracle_umoci: Path, case: ImageCase
) -> None:
    """Keeps the list of deliberate differences honest: each one is a real 0.6 failure."""
    layout = tmp_path / "image"
    write_case(layout, case)
    results = [
        run_tool(oracle_umoci, "stat", *flags, "--image", f"{layout}:t") for flags in FORMS.values()
    ]
    assert any(result.returncode != 0 for result in results)
