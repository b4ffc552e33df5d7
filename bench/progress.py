#!/usr/bin/env python3
"""Does the progress line slow unpack?  Unpack under a pseudo-terminal, with and without it.

Usage (from the repository root)::

    python bench/progress.py [--runs N]

Unpacks the Debian minbase image (one gzip layer, as bench/validate.py
builds it) into a fresh bundle, N times each way, alternating, with stdout
and stderr on a pty: once with the line, once with ``--no-progress``.
Prints the medians and their ratio.
"""

from __future__ import annotations

import argparse
import os
import pty
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from validate import build_layout


def unpack_on_pty(argv: list[str]) -> float:
    leader, follower = pty.openpty()
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=follower, stderr=follower)
    os.close(follower)
    while True:
        try:
            if not os.read(leader, 65536):
                break
        except OSError:
            break
    process.wait()
    elapsed = time.perf_counter() - started
    os.close(leader)
    if process.returncode != 0:
        sys.exit(f"{argv} failed")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        layout = build_layout(Path(tmp))
        samples: dict[str, list[float]] = {"progress": [], "no-progress": []}
        for run in range(args.runs):
            order = list(samples) if run % 2 == 0 else list(reversed(samples))
            for name in order:
                bundle = Path(tmp) / "bundle"
                shutil.rmtree(bundle, ignore_errors=True)
                flags = [] if name == "progress" else ["--no-progress"]
                argv = [sys.executable, "-m", "umoci", *flags, "unpack", "--rootless"]
                samples[name].append(
                    unpack_on_pty([*argv, "--image", f"{layout}:latest", str(bundle)])
                )
        with_line = statistics.median(samples["progress"])
        without = statistics.median(samples["no-progress"])
    print(f"unpack on a pty, median of {args.runs}: with the progress line {with_line:.3f} s, "
          f"with --no-progress {without:.3f} s, ratio {with_line / without:.3f}")  # fmt: skip
    for name, values in samples.items():
        print(f"  {name}: {' '.join(f'{v:.3f}' for v in values)}")


if __name__ == "__main__":
    main()
