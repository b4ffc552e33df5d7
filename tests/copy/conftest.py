"""Every copy test keeps umoci's blob location record (a cache under
``$XDG_CACHE_HOME``, see :mod:`umoci.transport.registry.locations`) to itself."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache
