"""Paths a stopped verb must not leave behind, named before they exist.

Internal.  A verb removes its temporary files in its own failure paths
(``finally``/``except`` blocks).  A signal, though -- SIGTERM, SIGHUP or
SIGINT, which the ``umoci`` process raises as an exception (see
:class:`umoci.cli.app.Terminated`) -- can arrive between the system call
that creates a file and the block that would remove it, and then nothing
does.  So a creator names the path here before it creates it, and forgets
it once the file is renamed into place or removed; the CLI's error boundary
removes whatever is still named when a run ends by a signal.

Names are random (``.NAME.umoci-<48 bits>``): a name that turns out to
exist already is forgotten at once, before the next one is tried.
"""

from __future__ import annotations

import contextlib
import os

_named: dict[str, None] = {}


def expect(path: str) -> None:
    """*path* is about to be created by this process and must not outlive it unfinished."""
    _named[path] = None


def forget(path: str) -> None:
    """*path* is done with: renamed into place, removed, or never ours."""
    _named.pop(path, None)


def remove_all() -> None:
    """Remove every named path that still exists (after a signal ended the run)."""
    for path in list(_named):
        with contextlib.suppress(OSError):
            os.unlink(path)
        _named.pop(path, None)
