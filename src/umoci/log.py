"""The ``umoci`` logger, created on first use.

Importing :mod:`logging` costs tens of milliseconds (it pulls in ``re``,
``enum``, ``traceback`` and ``threading``), a large share of a command such
as ``umoci ls`` that never logs anything.  So modules log through
:func:`get`, a stand-in that imports :mod:`logging` the first time a message
is actually sent.  The command line chooses the level with
:func:`set_level`; library users who never call it get plain
``logging.getLogger("umoci")`` behaviour (no handler of ours).

Internal: not part of the public API (:mod:`umoci.api`).
"""

from __future__ import annotations

import sys

# Not "from typing import TYPE_CHECKING": importing typing costs ~10 ms of
# start-up, and mypy treats any constant named TYPE_CHECKING the same way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from typing import Any

#: The Go umoci's level names (apex/log), most verbose first.
LEVEL_NAMES = ("debug", "info", "warn", "error", "fatal")


class _State:
    """What the command line asked for, and whether logging has been set up for it."""

    wanted_level: str | None = None
    configured = False


_state = _State()


def set_level(level: str) -> None:
    """Send ``umoci`` records at ``level`` and above to stderr, as ``umoci: LEVEL: msg``."""
    if level not in LEVEL_NAMES:
        raise ValueError(f"unknown log level {level!r}")
    _state.wanted_level = level
    _state.configured = False
    if "logging" in sys.modules:  # somebody may already log through it directly
        _configure()


def _configure() -> None:
    import logging

    from umoci import goquote

    numbers = dict(
        zip(
            LEVEL_NAMES,
            (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL),
            strict=True,
        )
    )
    names = {number: name for name, number in numbers.items()}

    class StderrHandler(logging.Handler):
        # Writes to whatever sys.stderr is when a record arrives: tests run
        # main() many times with stderr captured differently each time.
        def emit(self, record: logging.LogRecord) -> None:
            try:
                level = names.get(record.levelno, record.levelname.lower())
                # Messages carry names from layouts and bundles: their
                # control characters are escaped, never sent to a terminal.
                text = f"umoci: {level}: {goquote.escape_unprintable(record.getMessage())}"
                if record.exc_info:
                    text += "\n" + logging.Formatter().formatException(record.exc_info)
                sys.stderr.write(text + "\n")
            except Exception:
                self.handleError(record)

    logger = logging.getLogger("umoci")
    for handler in list(logger.handlers):
        if getattr(handler, "umoci_stderr", False):
            logger.removeHandler(handler)
    handler = StderrHandler()
    handler.umoci_stderr = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(numbers[_state.wanted_level or "warn"])
    # An application's own root handlers should not print our records twice.
    logger.propagate = False
    _state.configured = True


def _surely_dropped(level: int) -> bool:
    """Whether a record at ``LEVEL_NAMES[level]`` would be dropped, without importing logging.

    Until :mod:`logging` is imported nobody can have configured it: the
    ``umoci`` logger then stands at the level :func:`_configure` will give it
    (``warn`` when no level was asked for, like logging's own default), so
    ``debug`` and ``info`` records below that level need not import it.
    """
    if "logging" in sys.modules:
        return False
    return level < LEVEL_NAMES.index(_state.wanted_level or "warn")


class LazyLogger:
    """The few ``logging.Logger`` methods we use, importing logging on first call."""

    __slots__ = ("_logger", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: logging.Logger | None = None

    def _get(self) -> logging.Logger:
        if _state.wanted_level is not None and not _state.configured:
            _configure()
        if self._logger is None:
            import logging

            self._logger = logging.getLogger(self._name)
        return self._logger

    def debug(self, msg: str, *args: Any, **kwargs: Any) -> None:
        if not _surely_dropped(0):
            self._get().debug(msg, *args, **kwargs)

    def info(self, msg: str, *args: Any, **kwargs: Any) -> None:
        if not _surely_dropped(1):
            self._get().info(msg, *args, **kwargs)

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._get().warning(msg, *args, **kwargs)

    def error(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._get().error(msg, *args, **kwargs)

    def isEnabledFor(self, level: int) -> bool:
        return self._get().isEnabledFor(level)


def get(name: str = "umoci") -> LazyLogger:
    """A logger for ``name`` (``umoci`` or a child of it)."""
    return LazyLogger(name)
