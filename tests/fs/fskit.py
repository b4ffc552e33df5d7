"""Helpers for the fs tests: becoming nobody, and a directory nobody can reach."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

NOBODY = 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching to nobody needs root")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@contextlib.contextmanager
def as_nobody() -> Iterator[None]:
    """Run the body with effective ids 65534 (no capabilities), then become root again."""
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.fixture(name="public_tmp")
def public_tmp_fixture() -> Iterator[Path]:
    """A directory nobody can reach (pytest's tmp_path is below a 0700 directory)."""
    path = Path(tempfile.mkdtemp(prefix="umoci-fs-", dir="/tmp"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        for where, dirs, _ in os.walk(path):
            for d in dirs:
                os.chmod(os.path.join(where, d), 0o700)
        shutil.rmtree(path)
