"""The API leaves the interpreter's process-wide settings to its caller.

Pausing the garbage collector and shortening the GIL switch interval speed
up bulk verbs, but they change the whole interpreter: only the ``umoci``
command does that, for its own process (tests/cli/test_cli_tuning.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from interpreterkit import states_during
from umoci.api import Layout


@pytest.mark.parametrize("in_thread", [False, True], ids=["main-thread", "other-thread"])
def test_insert_unpack_repack_leave_gc_and_switch_interval_alone(
    tmp_path: Path, in_thread: bool
) -> None:
    layout = Layout.init(tmp_path / "L")
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(20):
        (tree / f"f{i}").write_bytes(os.urandom(4096))

    def insert_unpack_repack() -> None:
        image = layout.new_image("a").insert(tree, "/opt/tree")
        bundle = image.unpack(tmp_path / "bundle", rootless=os.geteuid() != 0)
        (bundle.rootfs / "added").write_text("y")
        bundle.repack(layout, tag="b")

    before, seen, after = states_during(insert_unpack_repack, in_thread=in_thread)
    assert len(layout.image("b").stat().manifest.layers) == 2  # the verbs did run
    assert seen == {before}
    assert after == before
