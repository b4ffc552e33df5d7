"""``--cpu-profile FILE``: a sampling CPU profile in pprof's format.

The Go umoci writes a Go CPU profile; we write the same container format
(a gzipped ``profile.proto`` message, readable by ``go tool pprof`` and
every pprof reader) with the stacks of Python functions, files and lines.

Why a timer and not :mod:`cProfile`: a tracing profiler runs code on every
call and return and slows a tar-heavy unpack down by 2x or more; a
``setitimer(ITIMER_PROF)`` signal every 10 ms of CPU time (Go's own rate)
costs one stack walk per tick.  The handler looks at every thread
(``sys._current_frames``), so work done in helper threads (the prefetcher,
the compressor) is seen too, and charges each stack with the CPU time its
thread used since the previous tick (the thread's own CPU clock): a thread
waiting on a lock costs nothing and is left out, and the profile's total is
the process's CPU time.  Python runs signal handlers in the main thread
between bytecodes, so a tick that lands while the main thread is inside C
code is taken when it returns: the time is right, its placement can shift
a little.

Nothing here is imported unless the flag is given.

The protobuf encoding is written by hand (a few varint helpers): the
message is small and fixed, and a protobuf dependency would cost every run
its import.

Internal: not part of the public API (:mod:`umoci.api`).
"""

from __future__ import annotations

import gzip
import signal
import sys
import time

from umoci.protowire import varint

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from types import FrameType

PERIOD_NS = 10_000_000  # 100 Hz, as Go's runtime/pprof
_MAX_DEPTH = 256

# A stack: (filename, function name, first line, line) from leaf to root.
Frame = tuple[str, str, int, int]
Stack = tuple[Frame, ...]


class Profiler:
    """Sample every thread's stack on each ``SIGPROF`` between ``start`` and ``stop``."""

    def __init__(self, period_ns: int = PERIOD_NS) -> None:
        self.period_ns = period_ns
        # stack -> [samples, CPU nanoseconds]
        self.counts: dict[Stack, list[int]] = {}
        self._cpu_seen: dict[int, int] = {}  # thread id -> its CPU clock at the last tick
        self._start_ns = 0
        self._duration_ns = 0
        self._previous: object = None

    def start(self) -> None:
        self._start_ns = time.time_ns()
        for thread_id in sys._current_frames():
            cpu = _thread_cpu_ns(thread_id)
            if cpu is not None:
                self._cpu_seen[thread_id] = cpu
        self._previous = signal.signal(signal.SIGPROF, self._on_tick)
        seconds = self.period_ns / 1e9
        signal.setitimer(signal.ITIMER_PROF, seconds, seconds)

    def stop(self) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        signal.signal(signal.SIGPROF, self._previous or signal.SIG_DFL)  # type: ignore[arg-type]
        self._duration_ns = time.time_ns() - self._start_ns

    def _on_tick(self, signum: int, frame: FrameType | None) -> None:
        me = sys._getframe()
        for thread_id, thread_frame in sys._current_frames().items():
            cpu = _thread_cpu_ns(thread_id)
            if cpu is None:
                continue
            # A thread first seen now has used its whole CPU time since it started.
            used = cpu - self._cpu_seen.get(thread_id, 0)
            self._cpu_seen[thread_id] = cpu
            if used <= 0:
                continue  # blocked or sleeping since the last tick
            # The main thread's top frame is this handler's: skip it.
            stack = _stack(thread_frame.f_back if thread_frame is me else thread_frame)
            if stack:
                totals = self.counts.setdefault(stack, [0, 0])
                totals[0] += 1
                totals[1] += used

    def write(self, path: str) -> None:
        """Write the profile, gzipped, to ``path``."""
        data = encode_profile(self.counts, self.period_ns, self._start_ns, self._duration_ns)
        with open(path, "wb") as out:
            out.write(gzip.compress(data, mtime=0))


def _thread_cpu_ns(thread_id: int) -> int | None:
    try:
        return time.clock_gettime_ns(time.pthread_getcpuclockid(thread_id))
    except (OSError, OverflowError):  # the thread ended under us
        return None


def _stack(frame: FrameType | None) -> Stack:
    frames: list[Frame] = []
    while frame is not None and len(frames) < _MAX_DEPTH:
        code = frame.f_code
        name = code.co_qualname
        if name.startswith("<"):
            # pprof shows "<module>" and "<lambda>" as nameless: say where they are.
            name = f"{code.co_filename.rpartition('/')[2]}:{name.strip('<>')}"
        frames.append((code.co_filename, name, code.co_firstlineno, frame.f_lineno or 0))
        frame = frame.f_back
    return tuple(frames)


# -- profile.proto -------------------------------------------------------------


def _int_field(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value) if value else b""


def _bytes_field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def _packed_field(number: int, values: list[int]) -> bytes:
    return _bytes_field(number, b"".join(varint(v) for v in values)) if values else b""


class _Strings:
    def __init__(self) -> None:
        self.table: list[str] = [""]
        self.index: dict[str, int] = {"": 0}

    def __call__(self, text: str) -> int:
        found = self.index.get(text)
        if found is None:
            found = self.index[text] = len(self.table)
            self.table.append(text)
        return found


def encode_profile(
    counts: dict[Stack, list[int]], period_ns: int, start_ns: int, duration_ns: int
) -> bytes:
    """The ``perftools.profiles.Profile`` message for ``counts`` (not compressed)."""
    strings = _Strings()
    functions: dict[tuple[str, str, int], int] = {}
    locations: dict[tuple[int, int], int] = {}
    out = bytearray()

    def value_type(kind: str, unit: str) -> bytes:
        return _int_field(1, strings(kind)) + _int_field(2, strings(unit))

    out += _bytes_field(1, value_type("samples", "count"))
    out += _bytes_field(1, value_type("cpu", "nanoseconds"))
    samples = bytearray()
    for stack, (count, cpu_ns) in counts.items():
        ids = []
        for filename, name, first_line, line in stack:
            function_id = functions.setdefault((filename, name, first_line), len(functions) + 1)
            ids.append(locations.setdefault((function_id, line), len(locations) + 1))
        sample = _packed_field(1, ids) + _packed_field(2, [count, cpu_ns])
        samples += _bytes_field(2, sample)
    out += samples
    # One mapping standing for the interpreter: symbolised, nothing to look up.
    mapping = _int_field(1, 1) + _int_field(5, strings(sys.executable)) + _int_field(7, 1)
    out += _bytes_field(3, mapping)
    for (function_id, line), location_id in locations.items():
        line_message = _int_field(1, function_id) + _int_field(2, line)
        location = _int_field(1, location_id) + _int_field(2, 1) + _bytes_field(4, line_message)
        out += _bytes_field(4, location)
    for (filename, name, first_line), function_id in functions.items():
        function = (
            _int_field(1, function_id)
            + _int_field(2, strings(name))
            + _int_field(3, strings(name))
            + _int_field(4, strings(filename))
            + _int_field(5, first_line)
        )
        out += _bytes_field(5, function)
    tail = (
        _int_field(9, start_ns)
        + _int_field(10, duration_ns)
        + _bytes_field(11, value_type("cpu", "nanoseconds"))
        + _int_field(12, period_ns)
    )
    # Last, once every string has its index.
    table = b"".join(_bytes_field(6, s.encode("utf-8", "surrogateescape")) for s in strings.table)
    return bytes(out) + table + tail
