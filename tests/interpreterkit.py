"""What a call does to the interpreter-wide settings umoci could tune.

:func:`states_during` runs a call and records the garbage collector's
state and thresholds and the GIL switch interval at every function call
and return of every thread (profile hooks), so a change that lasts for any
stretch of the call is seen, however short the call.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Callable
from types import FrameType

#: (gc.isenabled(), sys.getswitchinterval(), gc.get_threshold())
State = tuple[bool, float, tuple[int, ...]]


def interpreter_state() -> State:
    return gc.isenabled(), sys.getswitchinterval(), gc.get_threshold()


def states_during(
    call: Callable[[], object], *, in_thread: bool
) -> tuple[State, set[State], State]:
    """Run *call* here or in a new thread: the state before, every state seen during, after."""
    seen: set[State] = set()

    def sample(frame: FrameType, event: str, arg: object) -> None:
        seen.add(interpreter_state())

    failure: list[BaseException] = []

    def run_in_thread() -> None:
        try:
            call()
        except BaseException as err:
            failure.append(err)

    before = interpreter_state()
    threading.setprofile(sample)  # threads started from now on: the call's helpers too
    try:
        if in_thread:
            worker = threading.Thread(target=run_in_thread)
            worker.start()
            worker.join()
        else:
            sys.setprofile(sample)
            try:
                call()
            finally:
                sys.setprofile(None)
    finally:
        threading.setprofile(None)
    if failure:
        raise failure[0]
    return before, seen, interpreter_state()
