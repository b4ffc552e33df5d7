"""``--log``/``--verbose``: the ``umoci`` logger, written to stderr.

Imported only when a command is about to run, so that ``--help`` and
``--version`` never import :mod:`logging`.
"""

from __future__ import annotations

import logging
import sys

# The Go umoci's level names (apex/log), in the order --help lists them.
LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
}
_NAMES = {number: name for name, number in LEVELS.items()}


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is when a record arrives.

    A StreamHandler would keep the stream it was built with, which is wrong
    once ``main`` runs more than once in a process (tests capture stderr).
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        level = _NAMES.get(record.levelno, record.levelname.lower())
        text = f"umoci: {level}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure(level: str) -> None:
    """Send ``umoci.*`` records at ``level`` and above to stderr (once per process)."""
    logger = logging.getLogger("umoci")
    for handler in list(logger.handlers):
        if isinstance(handler, _StderrHandler):
            logger.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(_Formatter())
    logger.addHandler(handler)
    logger.setLevel(LEVELS[level])
    # The application's own root logger (if any) should not print ours twice.
    logger.propagate = False
