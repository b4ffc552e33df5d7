"""A progress line on the terminal for long verbs (unpack, repack, insert, gc).

One line on stderr, rewritten in place at most ten times a second: bytes
done (of the total, when known), entries done, the rate and, with a total,
the time left.  It exists only when the CLI turns it on (:func:`enable`):
stderr is a terminal, ``--log`` is not ``debug`` and ``--no-progress`` was
not given -- so never in pipes, files or CI logs, and never for library
callers.  Everywhere else :func:`current` is a do-nothing line, and the
hooks in the verbs cost a method call per megabyte.

The line is cut to the terminal's width (a wrapped line could not be
rewritten in place), and on a terminal without cursor control (``TERM``
unset, empty or ``dumb``: Emacs' shell, some CI consoles) it is redrawn
with a carriage return and blanks only, never an escape sequence.

Internal: not part of the public API (:mod:`umoci.api`).
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import TextIO

_INTERVAL = 0.1  # seconds between redraws
_CLEAR_LINE = "\r\x1b[K"  # back to column 0, erase to the end of the line
_DUMB_TERMS = frozenset({"", "dumb"})
_FALLBACK_COLUMNS = 80  # when the stream cannot tell (not a terminal, or a 0x0 pty)
_UNITS = ("B", "kB", "MB", "GB", "TB")


def _size(n: float) -> str:
    unit = 0
    while n >= 1000 and unit < len(_UNITS) - 1:
        n /= 1000
        unit += 1
    return f"{n:.1f} {_UNITS[unit]}" if unit else f"{int(n)} B"


class _Silent:
    """The progress line when there is none."""

    def start(self, what: str, total: int | None = None) -> None:
        pass

    def add(self, nbytes: int = 0, entries: int = 0) -> None:
        pass

    def done(self) -> None:
        pass


class ProgressLine(_Silent):
    """A line on *stream*, redrawn as :meth:`add` reports work (thread-safe)."""

    def __init__(self, verb: str, stream: TextIO | None = None, *, term: str | None = None) -> None:
        self._verb = verb
        self._stream: TextIO = stream if stream is not None else sys.stderr
        # Whether the terminal understands "erase line"; else blanks do.
        self._dumb = (os.environ.get("TERM", "") if term is None else term) in _DUMB_TERMS
        self._width = 0  # characters of the line on screen now
        import threading  # only a terminal gets a line: other runs skip the import

        self._lock = threading.Lock()
        self._what = ""
        self._total: int | None = None
        self._bytes = 0
        self._entries = 0
        self._started = time.monotonic()
        self._drawn = 0.0
        self._shown = False

    def start(self, what: str, total: int | None = None) -> None:
        with self._lock:
            self._what, self._total = what, total
            self._bytes = self._entries = 0
            self._started = time.monotonic()

    def add(self, nbytes: int = 0, entries: int = 0) -> None:
        with self._lock:
            self._bytes += nbytes
            self._entries += entries
            now = time.monotonic()
            if now - self._drawn >= _INTERVAL:
                self._drawn = now
                self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self._started, 1e-6)
        rate = self._bytes / elapsed
        parts = [f"{self._verb}: {self._what}" if self._what else self._verb]
        done = _size(self._bytes)
        if self._total:
            percent = min(100.0, 100.0 * self._bytes / self._total)
            parts.append(f"{done} / {_size(self._total)} ({percent:.0f}%)")
        else:
            parts.append(done)
        if self._entries:
            parts.append(f"{self._entries} entries")
        parts.append(f"{_size(rate)}/s")
        if self._total and rate > 0 and self._bytes < self._total:
            parts.append(f"ETA {max(0.0, (self._total - self._bytes) / rate):.0f} s")
        self._write(", ".join(parts))

    def _columns(self) -> int:
        try:
            columns = os.get_terminal_size(self._stream.fileno()).columns
        except (OSError, ValueError):  # io.UnsupportedOperation is both
            return _FALLBACK_COLUMNS
        return columns if columns > 1 else _FALLBACK_COLUMNS

    def _write(self, text: str) -> None:
        """Replace the line on screen by *text* ("" clears it)."""
        # A line that wraps cannot be rewritten in place: cut it one column
        # short of the width (some terminals wrap once the last is written).
        fits = self._columns() - 1
        text = text[:fits]
        if self._dumb:
            # Blanks over what is left of a longer old line; a cleared
            # line leaves the cursor in column 0 for what comes next.
            blanks = " " * (min(self._width, fits) - len(text))
            out = f"\r{text}{blanks}" + ("" if text else "\r")
        else:
            out = _CLEAR_LINE + text
        try:
            self._stream.write(out)
            self._stream.flush()
        except (OSError, ValueError):
            return
        self._width = len(text)
        self._shown = bool(text)

    def done(self) -> None:
        with self._lock:
            if self._shown:
                self._write("")


_current: _Silent = _Silent()


def current() -> _Silent:
    """The progress line of this run (a silent one unless the CLI enabled it)."""
    return _current


def enable(verb: str) -> None:
    """Show progress for *verb* on stderr (the CLI calls this when stderr is a terminal)."""
    global _current  # noqa: PLW0603 -- one line per process, like the log level
    _current = ProgressLine(verb)


def disable() -> None:
    global _current  # noqa: PLW0603
    _current.done()
    _current = _Silent()
