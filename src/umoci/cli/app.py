"""Run one command line: walk the command tree, call the action, map errors to exit codes.

This is the CLI's single error boundary.  Whatever happens, :func:`main`
returns an exit status and leaves at most one line on stderr:

* ``0`` on success (help and version included);
* ``1`` with ``umoci: <verb>: <message>`` for anything the user can cause --
  a bad command line (:class:`~umoci.errors.UsageError`, raised by the parser
  too), any :class:`~umoci.errors.UmociError`, an :class:`OSError` -- and for
  bugs, reported as ``internal error`` (with the traceback at ``--log=debug``);
* ``130`` on Ctrl-C and ``141`` when stdout is closed under us (a shell's
  status for a process killed by SIGINT or SIGPIPE, which is how the Go umoci
  ends in those cases), both without a message.
"""

from __future__ import annotations

import os
import sys

from umoci import IMAGE_SPEC_VERSION, RUNTIME_SPEC_VERSION, __version__
from umoci.cli.command import Context, OutputClosedError, check_positionals, write_stdout
from umoci.cli.commands import ROOT
from umoci.cli.flags import HELP_FLAG, ParsedArgs, parse
from umoci.errors import UmociError, UsageError

TYPE_CHECKING = False  # see umoci.cli.flags: avoids importing typing at start-up
if TYPE_CHECKING:
    from collections.abc import Sequence

    from umoci.cli.command import Command
    from umoci.cli.flags import Flag

LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_PIPE_CLOSED = 141  # 128 + SIGPIPE


class _Invocation:
    """What the error boundary needs to know about how far the run got."""

    __slots__ = ("debug", "verb")

    def __init__(self) -> None:
        self.verb = ""  # the command as typed ("raw config"); "" before one is found
        self.debug = False  # --log=debug: show tracebacks


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: unwind like Ctrl-C, so every verb's cleanup runs.

    A KeyboardInterrupt, because that is what the cleanup paths (temporary
    files and archives, half-made layouts and bundles) already handle.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _terminate(signum: int, frame: object) -> None:
    raise Terminated(signum)


def unwind_on_termination() -> None:
    """Make SIGTERM and SIGHUP (``timeout``, CI cancellation, systemd) raise :class:`Terminated`.

    Only the ``umoci`` process installs this (:func:`umoci.cli.run`): a
    program calling :func:`main` or the API keeps its own signal handling.
    ``_signal`` rather than ``signal``, which imports ``enum`` (~2 ms of
    every run).
    """
    import _signal  # type: ignore[import-not-found]  # signal's C half; no stubs

    for signum in (_signal.SIGTERM, _signal.SIGHUP):
        _signal.signal(signum, _terminate)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``umoci ARGV...`` and return its exit status; never raises."""
    run = _Invocation()
    try:
        status = _run(list(sys.argv[1:] if argv is None else argv), run)
        _flush_stdout()
        return status
    except OutputClosedError:
        _detach_stdout()
        return EXIT_PIPE_CLOSED
    except KeyboardInterrupt as stop:  # Ctrl-C, or Terminated (SIGTERM, SIGHUP)
        from umoci import leftovers

        leftovers.remove_all()
        return 128 + stop.signum if isinstance(stop, Terminated) else EXIT_INTERRUPTED
    except UmociError as err:
        return _fail(run, err, str(err))
    except OSError as err:
        return _fail(run, err, _describe_os_error(err))
    except Exception as err:
        hint = "" if run.debug else " (--log=debug shows where)"
        return _fail(run, err, f"internal error: {type(err).__name__}: {err}{hint}")
    except SystemExit as exc:  # only a bug calls sys.exit under us; keep its status
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        return EXIT_ERROR


def _print_help(chain: Sequence[Command]) -> None:
    # Imported here: only --help needs the help text's layout.
    from umoci.cli.help import help_text

    write_stdout(help_text(chain))


def version_text() -> str:
    return (
        f"umoci version {__version__}\n"
        f"image spec: {IMAGE_SPEC_VERSION}\n"
        f"runtime spec: {RUNTIME_SPEC_VERSION}\n"
        # The Go umoci's last line names its toolchain ("go: go1.27.3"): ours.
        f"python: {sys.version.split()[0]}\n"
    )


def _flags(command: Command) -> tuple[Flag, ...]:
    return (*command.flags, HELP_FLAG)


def _run(argv: list[str], run: _Invocation) -> int:
    # Global flags stop at the command name, as urfave's do.
    global_args = parse(ROOT.flags, argv, interspersed=False)
    if global_args.get_bool("help"):
        _print_help((ROOT,))
        return 0
    if global_args.get_bool("version"):
        write_stdout(version_text())
        return 0
    level = _log_level(global_args)
    run.debug = level == "debug"
    if global_args.is_set("lock-timeout"):
        from umoci.cas import locks
        from umoci.durations import parse_duration

        text = global_args.get_string("lock-timeout") or ""
        locks.set_timeout(parse_duration(text, "--lock-timeout"))
    found = _find_command(global_args.args, run)
    if found is None:
        return 0  # help was asked for (or implied) and printed
    chain, parsed = found
    command = chain[-1]
    for flag_name in command.required:
        if not parsed.is_set(flag_name):
            raise UsageError(f"missing mandatory argument: --{flag_name}")
    if command.positionals is not None:
        check_positionals(parsed.args, command.positionals)

    from umoci import log

    log.set_level(level)  # logging itself is imported only if something logs
    wants_progress = level != "debug" and not global_args.get_bool("no-progress")
    if run.verb in _PROGRESS_VERBS and wants_progress and _stderr_is_terminal():
        from umoci import progress

        progress.enable(run.verb)
        try:
            return _act(command, Context(chain, run.verb, parsed), global_args)
        finally:
            progress.disable()  # the line goes before any error or final message
    return _act(command, Context(chain, run.verb, parsed), global_args)


def _act(command: Command, context: Context, global_args: ParsedArgs) -> int:
    from umoci import log

    profile = global_args.get_string("cpu-profile")
    if not profile:
        return _call_action(command, context)
    from umoci.pprof import Profiler

    profiler = Profiler()
    profiler.start()
    try:
        return _call_action(command, context)
    finally:
        profiler.stop()
        try:
            profiler.write(profile)
        except OSError as err:
            log.get().warning("--cpu-profile %s: %s", profile, err.strerror)


def _call_action(command: Command, context: Context) -> int:
    assert command.action is not None
    if context.verb not in _BULK_DATA_VERBS:
        return command.action(context)
    # The process is ours: tune the interpreter for streaming layers, which
    # the library may not do to its caller's interpreter (see the module).
    from umoci.cli.tuning import tuned_for_bulk_data

    with tuned_for_bulk_data():
        return command.action(context)


def _find_command(
    args: list[str], run: _Invocation
) -> tuple[tuple[Command, ...], ParsedArgs] | None:
    """Walk from the root to the command args name and parse its flags.

    Returns None after printing help: for --help/-h, and for a group (the
    root, ``raw``) given no subcommand, as urfave does.
    """
    chain: tuple[Command, ...] = (ROOT,)
    typed: list[str] = []
    while args:
        name = args[0]
        command = chain[-1].find(name)
        if command is None:
            raise UsageError(f"no such command: {name}")
        chain = (*chain, command)
        typed.append(name)
        run.verb = " ".join(typed)
        # A group stops at its subcommand's name; a command takes flags anywhere.
        parsed = parse(_flags(command), args[1:], interspersed=not command.subcommands)
        if parsed.get_bool("help"):
            break
        if not command.subcommands:
            return chain, parsed
        args = parsed.args
    _print_help(chain)
    return None


# The verbs long enough to deserve a progress line (on a terminal only).
_PROGRESS_VERBS = frozenset(
    {"unpack", "repack", "insert", "gc", "copy", "raw unpack", "raw add-layer"}
)
# The verbs that stream layers through helper threads (umoci.cli.tuning).
_BULK_DATA_VERBS = frozenset({"unpack", "repack", "insert", "copy", "raw unpack", "raw add-layer"})


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (OSError, ValueError):
        return False


def _log_level(global_args: ParsedArgs) -> str:
    if global_args.get_bool("verbose"):
        if global_args.is_set("log"):
            raise UsageError("--log=* and --verbose are mutually exclusive")
        return "info"
    level = global_args.get_string("log") or "warn"
    if level not in LOG_LEVELS:
        raise UsageError(f"invalid --log level {level!r}: want one of {', '.join(LOG_LEVELS)}")
    return level


def _describe_os_error(err: OSError) -> str:
    # "open x: No such file or directory" rather than Python's
    # "[Errno 2] No such file or directory: 'x'".
    reason = err.strerror or str(err)
    if err.filename is None:
        return reason
    where = os.fsdecode(err.filename)
    if err.filename2 is not None:
        where += f" -> {os.fsdecode(err.filename2)}"
    return f"{where}: {reason}"


def _fail(run: _Invocation, err: BaseException, message: str) -> int:
    """Report err as one stderr line (after its traceback at --log=debug)."""
    try:
        if run.debug:
            import traceback

            traceback.print_exception(err, file=sys.stderr)
        from umoci import goquote

        # One line, whatever the message holds: scripts read the last line.
        # And no control character either, wherever in the message it came
        # from (a path, a name in a layout): a terminal would act on it.
        line = goquote.escape_unprintable(" ".join(message.split("\n")).strip())
        text = _elide(line) or type(err).__name__
        prefix = f"umoci: {run.verb}: " if run.verb else "umoci: "
        sys.stderr.write(prefix + text + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # stderr is gone too; the exit status still tells
    return EXIT_ERROR


_LONG_WORD = 160  # a path (or any word) longer than this is shortened in errors
_KEEP = 60
_MAX_LINE = 2000


def _elide(text: str) -> str:
    """Keep an error line readable: the middle of very long words (paths) is cut."""
    if len(text) <= _LONG_WORD:
        return text
    words = [
        f"{w[:_KEEP]}...({len(w) - 2 * _KEEP} characters)...{w[-_KEEP:]}"
        if len(w) > _LONG_WORD
        else w
        for w in text.split(" ")
    ]
    text = " ".join(words)
    if len(text) > _MAX_LINE:
        text = f"{text[: _MAX_LINE // 2]} ... {text[-_MAX_LINE // 2 :]}"
    return text


def _flush_stdout() -> None:
    if sys.stdout is None:  # started with fd 1 closed: nothing was written
        return
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise OutputClosedError from None


def _detach_stdout() -> None:
    """Point fd 1 at /dev/null so the interpreter's final flush cannot fail noisily."""
    if sys.stdout is None:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass  # not a real file (captured in tests): nothing will flush to a pipe
