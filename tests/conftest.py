"""Shared fixtures: vectors, the optional Go umoci 0.6 oracle, layout snapshots, an empty layout.

The suite reads nothing outside the repository except installed tools and the
*oracle tier*: tests marked ``oracle`` run the Go umoci 0.6 (``umoci-0.6``) and
go-mtree (``gomtree``) from the folder named by ``$UMOCI_ORACLE``.  When that
variable is unset, a ``shared/oracle`` folder beside the checkout is used if
there is one (the developers' machines); ``UMOCI_ORACLE=`` (empty) turns the
tier off.  Without an oracle those tests are skipped with the reason, and the
terminal summary counts the tier either way so CI logs show whether it ran.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
VECTORS = TESTS / "vectors"  # copied from the Go umoci 0.6; see vectors/README.md


def _find_oracle() -> Path | None:
    configured = os.environ.get("UMOCI_ORACLE")
    if configured is None:
        candidate = TESTS.parents[1] / "shared" / "oracle"
    elif configured:
        candidate = Path(configured).resolve()
    else:
        return None
    wanted = ("umoci-0.6", "gomtree")
    if all(os.access(candidate / name, os.X_OK) for name in wanted):
        return candidate
    return None


ORACLE = _find_oracle()
ORACLE_MISSING = (
    "Go umoci 0.6 oracle not found: set UMOCI_ORACLE to a folder holding umoci-0.6 and gomtree"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ORACLE is not None:
        return
    skip = pytest.mark.skip(reason=ORACLE_MISSING)
    for item in items:
        if item.get_closest_marker("oracle") is not None:
            item.add_marker(skip)


_oracle_outcomes: dict[str, int] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "oracle" not in report.keywords:
        return
    # One outcome per test: the call phase, or set-up when it skipped/failed there.
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _oracle_outcomes[report.outcome] = _oracle_outcomes.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(_oracle_outcomes.items()))
    where = str(ORACLE) if ORACLE is not None else "absent"
    terminalreporter.write_line(f"oracle tier (Go umoci 0.6 at {where}): {counts or 'no tests'}")


@pytest.fixture(scope="session")
def oracle_umoci() -> Path:
    """The Go umoci 0.6 binary (tests using it must be marked ``oracle``)."""
    if ORACLE is None:
        pytest.skip(ORACLE_MISSING)
    return ORACLE / "umoci-0.6"


@pytest.fixture(scope="session")
def oracle_gomtree() -> Path:
    """go-mtree's CLI built beside the oracle (tests using it must be marked ``oracle``)."""
    if ORACLE is None:
        pytest.skip(ORACLE_MISSING)
    return ORACLE / "gomtree"


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every path under root with its bytes (files) or link target, to compare later."""
    out: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = "symlink:" + os.readlink(path)
            elif path.is_file():
                out[rel] = path.read_bytes()
            else:
                out[rel] = "dir"
    return out


@pytest.fixture
def vectors() -> Path:
    assert VECTORS.is_dir(), f"vectors not found at {VECTORS}"
    return VECTORS


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    from umoci import ops

    path = tmp_path / "image"
    ops.init_layout(str(path))
    return path
