"""The ``umoci`` command line: parse, call one :mod:`umoci.ops` verb, render, exit.

``main(argv)`` runs in-process and returns the exit status (tests use it);
``run()`` is the console-script entry point.  Layout of the package:

* :mod:`~umoci.cli.flags` -- flag declarations and the Go-style argv parser;
* :mod:`~umoci.cli.command` -- the command tree's data types;
* :mod:`~umoci.cli.help` -- urfave/cli-shaped help text;
* :mod:`~umoci.cli.options` -- flag groups several commands share, and their
  conversion into the typed options of :mod:`umoci.ops.options` (flag text
  goes no further);
* :mod:`~umoci.cli.commands` -- every command and its action;
* :mod:`~umoci.cli.stat_text`, :mod:`~umoci.cli.stat_json` -- ``umoci stat``'s
  Go-format text and ``--json`` document, rendered from the models
  :mod:`umoci.ops` returns;
* :mod:`~umoci.cli.app` -- dispatch and the one error boundary;
* :mod:`~umoci.cli.tuning` -- the interpreter settings the bulk-data verbs
  run with (process-wide, so the command's alone, never the library's);

Start-up matters (``umoci ls`` in a loop is common), so nothing here imports
more than the interpreter has loaded already; verbs import their own
dependencies when they run.

Internal: this package and its modules are not part of the public Python API
(:mod:`umoci.api`); the command line itself is the interface.
"""

from __future__ import annotations

import os
import sys

from umoci.cli.app import main, unwind_on_termination

TYPE_CHECKING = False  # see umoci.cli.flags: avoids importing typing at start-up
if TYPE_CHECKING:
    from typing import NoReturn

__all__ = ["main", "run"]


def run() -> NoReturn:
    """Console-script entry point: ``main()``, then exit without tearing down.

    Once the verb has returned everything of ours is closed (layouts,
    blobs, temporary directories: verbs never leave that to interpreter
    shutdown), so the only work left is flushing stdout and stderr.
    Python's own shutdown (unloading ~100 modules, freeing what they hold)
    would add ~10-20 ms to every run, a tenth of a small repack.
    """
    unwind_on_termination()
    code = main()
    if sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)  # a profiler or coverage tool writes its report at shutdown
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:  # None: the descriptor was closed when we started
                stream.flush()
    except (OSError, ValueError):
        # stdout gone (a closed pipe): what sys.exit's shutdown reports as 120.
        code = code or 120
    os._exit(code)
