"""Run our umoci with its stderr on a pseudo-terminal, as a user at a terminal would."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios


def under_pty(argv: list[str], *, term: str = "xterm", columns: int = 200) -> bytes:
    """Run our umoci with stderr on a pseudo-terminal of *columns*; everything the terminal got."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "umoci", *argv], stdin=subprocess.DEVNULL, stdout=follower,
        stderr=follower, env={**os.environ, "TERM": term},
    )  # fmt: skip
    os.close(follower)
    output = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the follower side closed: the process is gone
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert process.wait(timeout=30) == 0, output
    return output
