"""A self-contained demonstration: ``python -m umoci.demo [WORKDIR]``.

It drives the real command line (``umoci.cli.main``) through the daily
workflow on an image it builds itself from a small generated tree, so it
needs no network: create a layout and an image, insert the tree as a layer,
set the config, unpack to a bundle, change the rootfs (add, modify,
delete), repack the changes as a new layer, and show the result with
``stat``.  Each command is printed before it runs; the demo stops at the
first failing command with its exit status.

Internal: not part of the public API (:mod:`umoci.api`).
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


def _make_tree(root: str) -> None:
    """A tiny root filesystem: a few files, a symlink and a script."""
    for sub in ("etc", "usr/bin", "var/log"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    with open(os.path.join(root, "etc/os-release"), "w") as f:
        f.write('NAME="umoci demo"\nVERSION_ID=1\n')
    with open(os.path.join(root, "etc/motd"), "w") as f:
        f.write("built by python -m umoci.demo\n")
    script = os.path.join(root, "usr/bin/hello")
    with open(script, "w") as f:
        f.write('#!/bin/sh\necho "hello from the demo image"\n')
    os.chmod(script, 0o755)
    os.symlink("usr/bin", os.path.join(root, "bin"))
    with open(os.path.join(root, "var/log/old.log"), "w") as f:
        f.write("stale\n")


def demo(workdir: str) -> None:
    layout = os.path.join(workdir, "image")
    bundle = os.path.join(workdir, "bundle")
    source = os.path.join(workdir, "source-tree")
    os.environ.setdefault("SOURCE_DATE_EPOCH", "1700000000")
    _make_tree(source)
    _run(["init", "--layout", layout])
    _run(["new", "--image", f"{layout}:base"])
    _run(["insert", "--image", f"{layout}:base", "--history.comment", "base files", source, "/"])
    _run(
        [
            "config",
            "--image",
            f"{layout}:base",
            "--config.env",
            "GREETING=hello",
            "--config.cmd",
            "/usr/bin/hello",
            "--config.label",
            "org.example.demo=true",
        ]
    )
    _run(["unpack", "--image", f"{layout}:base", bundle])
    rootfs = os.path.join(bundle, "rootfs")
    print(f"# change {rootfs}: add etc/added, modify etc/motd, delete var/log/old.log")
    with open(os.path.join(rootfs, "etc/added"), "w") as f:
        f.write("new file\n")
    with open(os.path.join(rootfs, "etc/motd"), "a") as f:
        f.write("and changed in a bundle\n")
    os.unlink(os.path.join(rootfs, "var/log/old.log"))
    _run(
        [
            "repack",
            "--image",
            f"{layout}:changed",
            "--history.comment",
            "demo changes",
            bundle,
        ]
    )
    _run(["tag", "--image", f"{layout}:changed", "stable"])
    _run(["stat", "--image", f"{layout}:stable"])
    _run(["ls", "--layout", layout])
    _run(["gc", "--layout", layout])
    print(f"demo finished: image layout {layout}, bundle {bundle}")


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
