#!/usr/bin/env python3
"""Time unpack's mtree phase: listed from the extractor's records, or by walking the rootfs.

Usage (from the repository root)::

    .venv/bin/python bench/mtree_phase.py [--image LAYOUT:TAG] [--runs N]
    .venv/bin/python bench/mtree_phase.py --tiny 200000 [--runs N]

The image (default: the benchmark's minbase image in ``~/.cache/umoci-bench``)
is unpacked once, in-process, keeping the extractor's records.  Then the
bundle's mtree and stat cache are written again and again, alternating

* ``listed``: what ``umoci unpack`` does (the rootfs ``lstat`` ed name by
  name, its directories never read: :mod:`umoci.ops.extracted`);
* ``walked``: the walk unpack made before (every directory read, every
  file's xattrs listed), reusing the extractor's digests as it did;

and the medians of CPU time (user + sys, the steadier figure on a shared
machine) and wall time are printed.  ``--tiny N`` first builds a one-layer
image of N files of ~20 bytes (1,000 per directory) with our own umoci, and
also reports the peak RSS of a whole ``umoci unpack`` of it (GNU time's
``%M``).
"""

from __future__ import annotations

import argparse
import io
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from umoci.ops import bundle_unpack
from umoci.ops.basic import opened
from umoci.ops.extracted import ExtractedTree
from umoci.ops.image_layers import load_image
from umoci.ops.options import MapOptions
from umoci.ops.statcache import CACHE_NAME

UMOCI = [sys.executable, "-m", "umoci"]
PER_DIR = 1000


def write_tiny_tar(path: Path, count: int) -> None:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        for d in range(-(-count // PER_DIR)):
            info = tarfile.TarInfo(f"tiny/d{d:04d}")
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tf.addfile(info)
            for f in range(min(PER_DIR, count - d * PER_DIR)):
                data = f"tiny file {d}/{f}\n".encode()
                info = tarfile.TarInfo(f"tiny/d{d:04d}/f{f:04d}")
                info.size, info.mode = len(data), 0o644
                tf.addfile(info, io.BytesIO(data))


def build_tiny_image(work: Path, count: int) -> str:
    layout = work / "tiny"
    tar_path = work / "tiny.tar"
    write_tiny_tar(tar_path, count)
    subprocess.run([*UMOCI, "init", "--layout", layout], check=True)
    subprocess.run([*UMOCI, "new", "--image", f"{layout}:base"], check=True)
    subprocess.run([*UMOCI, "raw", "add-layer", "--image", f"{layout}:base", tar_path], check=True)
    tar_path.unlink()
    return f"{layout}:base"


def peak_rss_mib(image: str, bundle: Path) -> float:
    """Peak RSS of a whole ``umoci unpack`` (a child process), in MiB."""
    with tempfile.NamedTemporaryFile("r") as out:
        argv = ["/usr/bin/time", "-f", "%M", "-o", out.name, *UMOCI]
        subprocess.run([*argv, "unpack", "--image", image, bundle], check=True)
        return int(out.read().split()[-1]) / 1024


def unpack_keeping_records(image: str, bundle: Path) -> tuple[str, str, ExtractedTree]:
    """Unpack in-process; return the mtree name, the rootfs and the records."""
    kept: dict[str, object] = {}
    write = bundle_unpack._write_mtree_and_cache

    def keep(bundle: str, name: str, rootfs: str, maps: MapOptions, extracted: object) -> None:
        kept.update(name=name, rootfs=rootfs, extracted=extracted)

    bundle_unpack._write_mtree_and_cache = keep  # type: ignore[assignment]
    try:
        layout, _, tag = image.rpartition(":")
        bundle.mkdir(mode=0o700)
        with opened(layout, streams=True) as store:
            img = load_image(store, tag, None)
            bundle_unpack.unpack_into(store, img, str(bundle), MapOptions(), False)
    finally:
        bundle_unpack._write_mtree_and_cache = write
    extracted = kept["extracted"]
    assert isinstance(extracted, ExtractedTree)
    return str(kept["name"]), str(kept["rootfs"]), extracted


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = Path.home() / ".cache/umoci-bench/image"
    p.add_argument("--image", default=f"{default}:base", help="LAYOUT:TAG to unpack")
    p.add_argument("--runs", type=int, default=9, help="runs of each variant (default 9)")
    p.add_argument("--tiny", type=int, metavar="N", help="build and use an N-file image")
    p.add_argument("--work", type=Path, default=Path("/var/tmp"), help="scratch parent")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mtree-phase.", dir=args.work))
    try:
        image = args.image
        if args.tiny:
            image = build_tiny_image(work, args.tiny)
            rss = peak_rss_mib(image, work / "rss-bundle")
            print(f"peak RSS of `umoci unpack` ({args.tiny:,} files): {rss:.0f} MiB")
            shutil.rmtree(work / "rss-bundle")
        bundle = work / "bundle"
        name, rootfs, extracted = unpack_keeping_records(image, bundle)
        samples: dict[str, list[tuple[float, float]]] = {"listed": [], "walked": []}
        for _ in range(args.runs):
            for variant, samples_of in samples.items():
                for leftover in (bundle / name, bundle / CACHE_NAME):
                    leftover.unlink(missing_ok=True)
                cpu, wall = cpu_seconds(), time.perf_counter()
                bundle_unpack._walk_into(
                    str(bundle),
                    name,
                    rootfs,
                    MapOptions(),
                    extracted,
                    listed=variant == "listed",
                )
                samples_of.append((cpu_seconds() - cpu, time.perf_counter() - wall))
        for variant, runs in samples.items():
            cpu = statistics.median(c for c, _ in runs) * 1000
            wall = statistics.median(w for _, w in runs) * 1000
            print(f"{variant}: cpu {cpu:.1f} ms, wall {wall:.1f} ms (median of {len(runs)})")
    finally:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
