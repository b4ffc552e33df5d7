"""Every invalid command line of tests/invalidkit.py: refused, in one line, changing nothing.

The table records the Go umoci 0.6's exit status beside each command line;
we must refuse at least everything it refuses, and a few more inputs on
purpose (rows recorded with status 0).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import snapshot
from invalidkit import INVALID_INPUTS, OURS, copy_scratch, expand, make_scratch, ours, row_id


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("invalid") / "scratch"
    make_scratch(root, OURS)
    return root


@pytest.mark.parametrize(("argv", "go_status"), INVALID_INPUTS, ids=row_id)
def test_invalid_input_is_refused_cleanly(
    template: Path, tmp_path: Path, argv: tuple[str, ...], go_status: int
) -> None:
    tokens = copy_scratch(template, tmp_path / "scratch")
    before = snapshot(tmp_path / "scratch")
    result = ours(*expand(argv, tokens))
    assert result.returncode == 1, (go_status, result.stdout, result.stderr)
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("umoci: ")
    assert "Traceback" not in result.stderr
    assert snapshot(tmp_path / "scratch") == before
