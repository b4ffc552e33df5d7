"""The exit statuses recorded in tests/invalidkit.py are the Go umoci 0.6's own.

Together with tests/cli/test_cli_invalid_inputs.py (ours refuses each row)
this puts ours and the oracle side by side on every invalid input.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from oraclekit import run_tool

from invalidkit import INVALID_INPUTS, copy_scratch, expand, make_scratch, row_id

pytestmark = pytest.mark.oracle


@pytest.fixture(scope="module")
def oracle_template(tmp_path_factory: pytest.TempPathFactory, oracle_umoci: Path) -> Path:
    root = tmp_path_factory.mktemp("oracle-invalid") / "scratch"
    make_scratch(root, [str(oracle_umoci)])
    return root


@pytest.mark.parametrize(("argv", "go_status"), INVALID_INPUTS, ids=row_id)
def test_recorded_status_is_the_oracles(
    oracle_template: Path, oracle_umoci: Path, tmp_path: Path, argv: tuple[str, ...], go_status: int
) -> None:
    tokens = copy_scratch(oracle_template, tmp_path / "scratch")
    result = run_tool(oracle_umoci, *expand(argv, tokens))
    assert result.returncode == go_status, result.stderr
