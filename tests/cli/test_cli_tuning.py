"""The command line's interpreter tuning for bulk verbs (gc paused, short GIL switch interval).

short_switch_interval shortens the GIL switch interval for a block, nests,
and restores it; the command applies both settings while unpack or repack
runs, and not for other verbs.  The API never applies them
(tests/api/test_api_interpreter_state.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from interpreterkit import states_during
from multikit import umoci_ok
from umoci.cli.tuning import HELPER_SWITCH_INTERVAL, short_switch_interval

# Python keeps the interval in whole microseconds (rounded down).
SHORT = pytest.approx(HELPER_SWITCH_INTERVAL, abs=2e-6)


def _nested_then_fail() -> None:
    with short_switch_interval():
        assert sys.getswitchinterval() == SHORT
        with short_switch_interval():
            assert sys.getswitchinterval() == SHORT
        # The inner block's end does not restore what the outer one still wants.
        assert sys.getswitchinterval() == SHORT
        raise RuntimeError("boom")


def test_shortened_inside_restored_after_even_on_error() -> None:
    before = sys.getswitchinterval()
    assert before > HELPER_SWITCH_INTERVAL  # Python's default, 5 ms
    with pytest.raises(RuntimeError, match="boom"):
        _nested_then_fail()
    assert sys.getswitchinterval() == before


def test_a_shorter_setting_of_the_caller_is_kept() -> None:
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.0001)
    shorter = sys.getswitchinterval()
    try:
        with short_switch_interval():
            assert sys.getswitchinterval() == shorter
        assert sys.getswitchinterval() == shorter
    finally:
        sys.setswitchinterval(before)


def _image(tmp_path: Path) -> str:
    layout = tmp_path / "L"
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "f").write_text("x")
    umoci_ok("init", "--layout", layout)
    umoci_ok("new", "--image", f"{layout}:a")
    umoci_ok("insert", "--image", f"{layout}:a", tree, "/opt/tree")
    return f"{layout}:a"


def _rootless() -> list[str]:
    return [] if os.geteuid() == 0 else ["--rootless"]


def test_the_command_tunes_the_interpreter_while_a_bulk_verb_runs(tmp_path: Path) -> None:
    image = _image(tmp_path)
    bundle = tmp_path / "bundle"

    def unpack() -> None:
        umoci_ok("unpack", *_rootless(), "--image", image, bundle)

    before, seen, after = states_during(unpack, in_thread=False)
    assert before[:2] == (True, pytest.approx(0.005))  # Python's defaults
    assert any(state == (False, SHORT, before[2]) for state in seen)
    assert after == before

    def repack() -> None:
        umoci_ok("repack", "--image", image, bundle)

    before, seen, after = states_during(repack, in_thread=False)
    assert any(state == (False, SHORT, before[2]) for state in seen)
    assert after == before


def test_the_command_leaves_the_interpreter_alone_for_other_verbs(tmp_path: Path) -> None:
    image = _image(tmp_path)
    before, seen, after = states_during(lambda: umoci_ok("stat", "--image", image), in_thread=False)
    assert seen == {before}
    assert after == before
