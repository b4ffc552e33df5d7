"""A self-contained demonstration: ``python -m umoci.demo [WORKDIR]``.

It drives the real command line (``umoci.cli.main``) through the daily
workflow on an image it builds itself, so it needs no network: create a
layout, make an image, set its config, tag it, and show it with ``stat``
and ``ls``.  Each command is printed before it runs; the demo stops at the
first failing command with its exit status.
"""

from __future__ import annotations

import os
import shlex
import sys
import tempfile


def _run(argv: list[str]) -> None:
    from umoci.cli import main

    print("$ umoci " + shlex.join(argv), flush=True)
    status = main(argv)
    if status != 0:
        raise SystemExit(status)


def demo(workdir: str) -> None:
    layout = os.path.join(workdir, "image")
    os.environ.setdefault("SOURCE_DATE_EPOCH", "1700000000")
    _run(["init", "--layout", layout])
    _run(["new", "--image", f"{layout}:base"])
    _run(
        [
            "config",
            "--image",
            f"{layout}:base",
            "--tag",
            "demo",
            "--config.env",
            "GREETING=hello",
            "--config.entrypoint",
            "/bin/sh",
            "--config.cmd",
            "-c",
            "--config.cmd",
            "echo $GREETING",
            "--config.label",
            "org.example.demo=true",
            "--history.comment",
            "configured by the demo",
        ]
    )
    _run(["tag", "--image", f"{layout}:demo", "stable"])
    _run(["stat", "--image", f"{layout}:stable"])
    _run(["ls", "--layout", layout])
    _run(["gc", "--layout", layout])
    print(f"demo finished: the image layout is in {layout}")


def main() -> None:
    if len(sys.argv) > 1:
        workdir = sys.argv[1]
        os.makedirs(workdir, exist_ok=True)
    else:
        # Kept afterwards, so the result can be inspected (or used with runc).
        workdir = tempfile.mkdtemp(prefix="umoci-demo-", dir=".")
    demo(workdir)


if __name__ == "__main__":
    main()
