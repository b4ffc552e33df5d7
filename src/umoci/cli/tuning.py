"""Interpreter settings the command line changes for its bulk-data verbs.

Both settings below are process-wide.  The ``umoci`` process is ours, so
:mod:`umoci.cli.app` applies them around the verbs that stream layers
(``unpack``, ``repack``, ``insert``, ``raw unpack``, ``raw add-layer``).
The library (:mod:`umoci.api`, :mod:`umoci.ops`) never touches them: the
interpreter belongs to the application that imports us, which may run
other threads or tune the collector itself.  An application that wants
the same speed-up can make the same calls around its own work.

**The cyclic garbage collector is paused.**  Unpack and repack create tens
of thousands of small, acyclic objects (headers, records, mtree entries)
that reference counting alone frees, and keep many of them alive until
the mtree is written.  The cyclic collector nevertheless runs every few
hundred allocations and, as the live heap grows, its full collections
traverse all of it while finding nothing: measured on the benchmark's
6,800-entry rootfs, the mtree walk took 0.28 s with the collector on and
0.20 s with it paused.

**The GIL switch interval is short.**  Unpack and repack run C work
(decompressing, compressing, hashing, file writes) in helper threads
beside a main thread that runs Python.  A helper that returns from a
system call or a C routine must take the interpreter lock back, and while
the main thread runs Python it only gets it when the switch interval (5 ms
by default) runs out: each of the ~100 blocks of a 200 MB layer then
waited up to 5 ms, and the queue behind it backed up into the main thread.
Measured on the benchmark's touch-all repack (8 runs, alternating): median
1.09 s at 5 ms, 0.97 s at 0.5 ms.  Shorter intervals cost the main thread
more forced switches for no further gain.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import threading
from collections.abc import Iterator

#: Seconds: the switch interval while helper threads stream data.
HELPER_SWITCH_INTERVAL = 0.0005


@contextlib.contextmanager
def tuned_for_bulk_data() -> Iterator[None]:
    """Both settings for the block (restored after, even on error)."""
    with gc_paused(), short_switch_interval():
        yield


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector for the block (re-enabled after, if it was on)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
