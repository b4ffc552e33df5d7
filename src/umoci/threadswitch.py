"""A short GIL switch interval while a verb's helper threads move data.

Unpack and repack run C work (decompressing, compressing, hashing, file
writes) in helper threads beside a main thread that runs Python.  A helper
that returns from a system call or a C routine must take the interpreter
lock back, and while the main thread runs Python it only gets it when the
switch interval (5 ms by default) runs out: each of the ~100 blocks of a
200 MB layer then waited up to 5 ms, and the queue behind it backed up into
the main thread.  Measured on the benchmark's touch-all repack (8 runs,
alternating): median 1.09 s at 5 ms, 0.97 s at 0.5 ms.  Shorter intervals
cost the main thread more forced switches for no further gain.
"""

from __future__ import annotations

import sys
import threading

#: Seconds: the switch interval while helper threads stream data.
HELPER_SWITCH_INTERVAL = 0.0005


class _SwitchInterval:
    """The process-wide setting, shortened while at least one block wants it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._saved = 0.0

    def enter(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._saved = sys.getswitchinterval()
                if self._saved > HELPER_SWITCH_INTERVAL:  # a shorter one stays as it is
                    sys.setswitchinterval(HELPER_SWITCH_INTERVAL)
            self._depth += 1

    def leave(self) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._saved > HELPER_SWITCH_INTERVAL:
                sys.setswitchinterval(self._saved)


_INTERVAL = _SwitchInterval()


class short_switch_interval:  # lower case: it reads as a function in "with"
    """Set the switch interval to HELPER_SWITCH_INTERVAL for the block (nests; restores)."""

    def __enter__(self) -> None:
        _INTERVAL.enter()

    def __exit__(self, *exc: object) -> None:
        _INTERVAL.leave()
