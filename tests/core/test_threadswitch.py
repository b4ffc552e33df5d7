"""short_switch_interval shortens the GIL switch interval for a block, nests, and restores it."""

from __future__ import annotations

import sys

import pytest

from umoci.threadswitch import HELPER_SWITCH_INTERVAL, short_switch_interval

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
