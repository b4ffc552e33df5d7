"""Many umoci processes on one layout at once lose no tag and leave no dangling descriptor.

Each round starts, together, 8 ``tag`` + 4 ``config --tag`` + 1 ``repack``
+ 2 ``gc --grace 0`` processes on the same layout (the shape of parallel
image builds in OBS, stacker or a CI matrix).  After every round each
command has exited 0 (a lock timeout would be an error, never a corrupt
result), every tag made so far is there, and the layout is whole.  Run with
``pytest -m stress`` (scripts/test does); ``UMOCI_STRESS_ROUNDS`` changes
the number of rounds (default 100).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from integritykit import problems, spawn, tags

pytestmark = pytest.mark.stress

ROUNDS = int(os.environ.get("UMOCI_STRESS_ROUNDS", "100"))


def run_ok(*argv: str | Path) -> None:
    process = spawn(*argv)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()


def test_concurrent_writers_and_gc_lose_nothing(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    bundle = tmp_path / "bundle"
    source = tmp_path / "source"
    source.mkdir()
    (source / "file").write_bytes(os.urandom(64 << 10))
    run_ok("init", "--layout", layout)
    run_ok("new", "--image", f"{layout}:base")
    run_ok("insert", "--image", f"{layout}:base", source, "/data")
    run_ok("unpack", "--rootless", "--image", f"{layout}:base", bundle)
    expected = {"base"}
    for round_ in range(ROUNDS):
        (bundle / "rootfs" / f"round-{round_}").write_text(str(round_))
        names = [f"t{round_}-{i}" for i in range(8)]
        configs = [f"c{round_}-{i}" for i in range(4)]
        processes = [spawn("tag", "--image", f"{layout}:base", name) for name in names]
        processes += [
            spawn("config", "--image", f"{layout}:base", "--config.env", f"K{i}=v", "--tag", name)
            for i, name in enumerate(configs)
        ]
        processes.append(spawn("repack", "--image", f"{layout}:r{round_}", bundle))
        processes += [spawn("gc", "--grace", "0", "--layout", layout) for _ in range(2)]
        for process in processes:
            _, err = process.communicate(timeout=300)
            assert process.returncode == 0, f"round {round_}: {process.args}: {err.decode()}"
        expected |= {*names, *configs, f"r{round_}"}
        missing = expected - tags(layout)
        assert not missing, f"round {round_}: tags lost: {sorted(missing)}"
        assert problems(layout) == [], f"round {round_}"
