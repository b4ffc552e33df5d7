"""Shared fixtures: vectors location, layout snapshots, an empty layout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
if not SHARED.is_dir():  # CI clones the project with shared/ beside it
    SHARED = Path(os.environ.get("UMOCI_SHARED", "../shared")).resolve()
VECTORS = SHARED / "vectors"


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
