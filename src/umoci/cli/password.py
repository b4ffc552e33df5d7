"""A password typed on the controlling terminal, not echoed (``--dest-creds USER``).

Like :func:`getpass.getpass`, the prompt is written to and the answer read
from ``/dev/tty`` with echo off (restored whatever happens), so neither
standard output nor a pipe sees any of it.  Unlike getpass there is no
fallback to standard input: without a terminal (a CI job, a cron line)
nobody is there to type, and a password must not be read from wherever
stdin happens to point -- that is one line saying so.
"""

from __future__ import annotations

import os

from umoci.errors import UsageError

#: Longer than any canonical-mode terminal line (4095 bytes on Linux).
_MAX_LINE = 1 << 16


def read_password(prompt: str, what: str) -> str:
    """Ask for a password on the terminal; *what* (the flag) starts any error message."""
    try:
        tty = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as err:
        raise UsageError(
            f"{what}: no password given and no terminal to ask for it on ({err.strerror}): "
            "give USER:PASSWORD"
        ) from None
    import termios

    try:
        try:
            saved = termios.tcgetattr(tty)
        except termios.error:
            raise UsageError(f"{what}: /dev/tty is not a terminal: give USER:PASSWORD") from None
        quiet = list(saved)
        quiet[3] &= ~termios.ECHO  # lflags
        # Echo goes off before the prompt shows: nothing typed after it is echoed.
        termios.tcsetattr(tty, termios.TCSAFLUSH, quiet)
        try:
            os.write(tty, prompt.encode())
            line = _read_line(tty, what)
        finally:
            termios.tcsetattr(tty, termios.TCSAFLUSH, saved)
            os.write(tty, b"\n")  # the Enter typed was not echoed either
    finally:
        os.close(tty)
    try:
        return line.decode()
    except UnicodeDecodeError:
        raise UsageError(f"{what}: the password typed is not UTF-8") from None


def _read_line(tty: int, what: str) -> bytes:
    """One line from *tty*, without its newline (end of input with nothing typed: an error)."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(tty, 4096)
        if not chunk:
            if not data:
                raise UsageError(f"{what}: no password typed (end of input)")
            break
        data += chunk
        if len(data) > _MAX_LINE:
            raise UsageError(f"{what}: the password typed is too long")
    return data.removesuffix(b"\n").removesuffix(b"\r")
