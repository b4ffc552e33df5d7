"""Running the Go umoci 0.6 and go-mtree oracles (``tests/conftest.py`` finds them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_tool(
    binary: Path, *argv: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run an oracle binary and return its result whatever its exit status (60 s cap)."""
    full_env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    full_env.update(env or {})
    return subprocess.run(
        [str(binary), *map(str, argv)],
        capture_output=True,
        text=True,
        errors="surrogateescape",
        env=full_env,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def run_ok(binary: Path, *argv: str | Path, env: dict[str, str] | None = None) -> str:
    """Run an oracle binary that must succeed; its stdout."""
    result = run_tool(binary, *argv, env=env)
    assert result.returncode == 0, f"{binary.name} {argv}: {result.stderr}"
    return result.stdout


def run_ours(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    """Run our umoci as a separate process, as the oracle runs."""
    return run_tool(Path(sys.executable), "-m", "umoci", *argv)
