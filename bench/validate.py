#!/usr/bin/env python3
"""Time ``umoci validate`` of the Debian minbase image against its floor, side by side.

Usage (from the repository root)::

    python bench/validate.py [--runs N] [--out docs/benchmarks-validate.md]

The image is one gzip layer: the debootstrap minbase rootfs the test suite
caches (``~/.cache/umoci-tests/debian-bookworm-minbase.tar.gz``, built by
``pytest -m slow``), put into a fresh layout.  The floor is what any
validator must at least do with those bytes: ``sha256sum`` of every blob
and ``zcat`` of every blob piped into ``sha256sum`` (the diff_id).  Runs
alternate (validate first on even runs, floor first on odd ones); the
medians, their ratio (target: at most 1.2) and the raw samples are written
to the output file.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path.home() / ".cache" / "umoci-tests"
TARGET = 1.2


def build_layout(work: Path) -> Path:
    sys.path.insert(0, str(ROOT / "tests" / "unpack"))
    from imagekit import Layer, write_image  # the test suite's image writer

    tarball = CACHE / "debian-bookworm-minbase.tar.gz"
    diff_id = (CACHE / "diff_id").read_text().strip()
    if not tarball.exists():
        sys.exit(f"{tarball} is missing: run 'pytest -m slow' once to build it")
    layout = work / "layout"
    layer = Layer(b"", media_type="application/vnd.oci.image.layer.v1.tar+gzip")
    layer.path, layer.diff_id = tarball, diff_id
    write_image(layout, [layer])
    return layout


def timed(argv: list[str], shell: bool = False) -> float:
    started = time.perf_counter()
    subprocess.run(
        argv if not shell else argv[0], shell=shell, check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks-validate.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        layout = build_layout(Path(tmp))
        blobs = layout / "blobs" / "sha256"
        ours = [sys.executable, "-m", "umoci", "validate", "--layout", str(layout)]
        floor = [
            f"sha256sum {blobs}/* >/dev/null && "
            f'for f in {blobs}/*; do zcat -f "$f" 2>/dev/null | sha256sum >/dev/null; done'
        ]
        timed(ours)  # warm the page cache and the bytecode
        samples: dict[str, list[float]] = {"validate": [], "floor": []}
        for run in range(args.runs):
            order = ["validate", "floor"] if run % 2 == 0 else ["floor", "validate"]
            for name in order:
                samples[name].append(
                    timed(ours) if name == "validate" else timed(floor, shell=True)
                )
        size = sum(p.stat().st_size for p in blobs.iterdir())
    validate_s = statistics.median(samples["validate"])
    floor_s = statistics.median(samples["floor"])
    ratio = validate_s / floor_s
    lines = [
        "# umoci validate: benchmark",
        "",
        f"Made by `python bench/validate.py --runs {args.runs}` on "
        f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}.",
        "Image: the Debian bookworm minbase rootfs as one gzip layer "
        f"({size / 1e6:.1f} MB of blobs).",
        "",
        "| measurement | median (s) |",
        "|---|---|",
        f"| `umoci validate --layout` (layers read) | {validate_s:.3f} |",
        f"| floor: `sha256sum` + `zcat \\| sha256sum` of every blob | {floor_s:.3f} |",
        f"| ratio (target ≤ {TARGET}) | {ratio:.2f} {'✓' if ratio <= TARGET else '✗'} |",
        "",
        "Raw samples (seconds, in run order):",
        "",
        *(f"- {name}: {' '.join(f'{s:.3f}' for s in values)}" for name, values in samples.items()),
        "",
    ]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
