#!/usr/bin/env python3
"""Benchmark our umoci against the Go umoci on a Debian bookworm minbase image.

Usage (as root, from the repository root)::

    python bench/run.py [--runs N] [--work DIR] [--out docs/benchmarks.md]

Steps:

1. Build, or reuse from the cache directory, a ``debootstrap --variant=minbase
   bookworm`` rootfs (mirror taken from this machine's apt sources) and turn it
   into a single-layer gzip OCI image with the *Go* umoci (``init``, ``new``,
   ``unpack``, ``cp -a``, ``repack``), so both implementations read the same
   image.
2. Time each operation with the two implementations in alternating order
   (Go first on even runs, ours first on odd runs), on fresh copies of the
   image and fresh bundles; preparation is never timed.  Peak RSS comes from
   ``os.wait4``'s ``ru_maxrss`` of the child.
3. Measure the floors in the same rotation as the operation they bound
   (``tar -xf`` of the already-decompressed layer with ``unpack``, ``python -c
   pass`` with ``ls``).  Then write ``docs/benchmarks.md`` with the medians,
   ratios and the targets of issue 5.

Every timed run starts from the same kernel state: nothing deleted in the
last 30 seconds and all dirty data written back before the preparation
(:func:`settle`), and the preparation's own writes flushed before the clock
starts.  Without that the benchmark measured itself: ext4 refuses to reuse
an inode freed in the last 30 seconds while its inode-table block is cached
(``recently_deleted`` in fs/ext4/ialloc.c) and scans past every such inode
on each allocation, so after removing the previous run's 6,800-file bundle
each new file cost more and more kernel time.  Measured here with
``perf``: ``tar -xf`` of the layer took 0.5-1.0 s on a quiet filesystem and
1.8, 4.2, 5.4, 8.1, 9.1 s in five back-to-back runs that each removed the
previous output (60% of it in ``recently_deleted`` and
``find_get_block_common``), which hid every user-space difference.  So
scratch directories are kept until every run of an operation is done, and
each operation starts after a 31-second pause.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import io
import json
import os
import platform
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BASE_TAG = "base"
SUITE = "bookworm"
RSS_LIMIT_MB = 150.0
#: Scratch directories of one operation are kept until its last run (about
#: 5 GB for "unpack" or "repack (full rootfs)" at 5 runs).
MIN_FREE_GB = 12
FIXED_TIME = 1_700_000_000  # the new mtime/atime given to every path by "touch-all"

#: skopeo, which ``umoci copy`` is timed against (without a signature policy, as
#: rockcraft runs it); the copy rows are left out when it is not installed.
SKOPEO = ("skopeo", "--insecure-policy")
COPY_CASES = (
    "oci -> oci-archive",
    "oci-archive -> oci",
    "docker-archive -> oci",
    "oci -> docker-archive",
)
#: Pull and push against a local registry (Debian's docker-registry, plain HTTP
#: on loopback: both tools with --tls-verify=false); left out when it is absent.
REGISTRY_CASES = ("docker -> oci", "oci -> docker")
REGISTRY = "docker-registry"
#: Issue 22's target: each copy in at most this fraction of skopeo's time.
COPY_TARGET = 0.8

# Files used by the "small change" scenario (paths inside the rootfs).
ADDED_FILE = "etc/umoci-bench-added"
CHANGED_FILE = "etc/debian_version"
DELETED_FILE = "etc/issue.net"


Results = dict[str, dict[str, "Series"]]  # operation -> "go" | "ours" | floor name -> samples


class BenchError(Exception):
    """A command failed or the environment is unusable; the message says which."""


@dataclass(frozen=True)
class Sample:
    seconds: float
    rss_mb: float


@dataclass
class Series:
    samples: list[Sample] = field(default_factory=list)

    def median_s(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    def peak_rss_mb(self) -> float:
        return max(s.rss_mb for s in self.samples)


@dataclass(frozen=True)
class Impl:
    name: str  # "go" or "ours"
    argv: tuple[str, ...]


@dataclass(frozen=True)
class Floor:
    name: str
    # prepare(scratch) -> the whole argv to time
    prepare: Callable[[Path], list[str]]
    # None: reported for comparison only
    ratio_target: float | None


@dataclass(frozen=True)
class Operation:
    name: str
    # prepare(impl, scratch) -> argv tail to time (the arguments after the umoci command)
    prepare: Callable[[Impl, Path], list[str]]
    ratio_target: float | None = None
    floors: tuple[Floor, ...] = ()
    #: False: the Go umoci has no such verb (ours is compared with its floors only).
    go: bool = True
    rss_limit_mb: float = RSS_LIMIT_MB
    #: Timed runs per implementation; None: ``--runs``.
    runs: int | None = None


# --------------------------------------------------------------------------- running


#: GNU time, to read a command's own peak RSS: the kernel's ru_maxrss of a child
#: we fork counts the pages it shared with us before exec (this script grows to
#: ~100 MB reading the tiny-files image), so every command would seem at least
#: that big.  ``time`` is small, and reports the peak of the process it forks.
GNU_TIME = "/usr/bin/time"


def run(
    argv: Sequence[str | os.PathLike[str]], *, cwd: Path | None = None, quiet: bool = True
) -> Sample:
    """Run *argv* to completion; return wall time and peak RSS; raise on failure."""
    args = [os.fspath(a) for a in argv]
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as rss:
        out = subprocess.DEVNULL if quiet else None
        timed = [GNU_TIME, "-f", "%M", "-o", rss.name, *args] if HAVE_GNU_TIME else args
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(
                timed, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd
            )
        except OSError as e:
            raise BenchError(f"cannot start {shlex.join(args)}: {e}") from e
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            message = err.read().decode(errors="replace").strip()
            raise BenchError(
                f"command failed (exit {proc.returncode}): {shlex.join(args)}\n{message}"
            )
        peak_kib = usage.ru_maxrss
        if HAVE_GNU_TIME:
            reported = rss.read().strip().splitlines()
            peak_kib = int(reported[-1]) if reported and reported[-1].isdigit() else peak_kib
    return Sample(seconds=elapsed, rss_mb=peak_kib / 1024.0)  # both are KiB


HAVE_GNU_TIME = os.access(GNU_TIME, os.X_OK)


def capture(argv: Sequence[str | os.PathLike[str]]) -> str:
    """Run *argv* and return its stdout (stripped); raise with stderr on failure."""
    args = [os.fspath(a) for a in argv]
    try:
        done = subprocess.run(args, capture_output=True, text=True, check=False)
    except OSError as e:
        raise BenchError(f"cannot start {shlex.join(args)}: {e}") from e
    if done.returncode != 0:
        raise BenchError(
            f"command failed (exit {done.returncode}): {shlex.join(args)}\n{done.stderr.strip()}"
        )
    return done.stdout.strip()


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def copy_tree(src: Path, dst: Path) -> None:
    """``cp -a`` preserves devices, hardlinks, xattrs and times, which shutil does not."""
    run(["cp", "-a", "--", src, dst])


# --------------------------------------------------------------------------- the image


def apt_mirror() -> str:
    """The first Debian (non-security) mirror listed in this machine's apt sources."""
    uris: list[str] = []
    one_line = Path("/etc/apt/sources.list")
    if one_line.is_file():
        for line in one_line.read_text().splitlines():
            parts = line.split("#", 1)[0].split()
            if parts[:1] == ["deb"]:
                rest = [p for p in parts[1:] if not p.startswith("[")]
                if rest:
                    uris.append(rest[0])
    for sources in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in sources.read_text().splitlines():
            m = re.match(r"URIs:\s*(.+)", line.strip(), re.IGNORECASE)
            if m:
                uris.extend(m.group(1).split())
    plain = [u for u in uris if "security" not in u]
    if not plain:
        raise BenchError("no Debian mirror found in /etc/apt/sources.list{,.d/*.sources}")
    return plain[0]


def ensure_rootfs(cache: Path, mirror: str | None) -> Path:
    rootfs = cache / "rootfs"
    if (cache / "rootfs.done").exists():
        log(f"reusing rootfs {rootfs}")
        return rootfs
    mirror = mirror or apt_mirror()
    tmp = cache / "rootfs.tmp"
    remove(tmp)
    remove(rootfs)
    log(f"debootstrap --variant=minbase {SUITE} {tmp} {mirror} (a few minutes)")
    run(["debootstrap", "--variant=minbase", SUITE, tmp, mirror])
    tmp.rename(rootfs)
    (cache / "rootfs.done").write_text(mirror + "\n")
    return rootfs


def cached_image(cache: Path, name: str, what: str, build: Callable[[Path], None]) -> Path:
    """``cache/name``: built once by ``build(tmp)`` (an empty-image layout), reused after.

    ``build`` gets a fresh layout holding an empty ``base`` tag made by the Go
    umoci; the result is renamed into place and marked done only once whole.
    """
    image = cache / name
    done = cache / f"{name}.done"
    if done.exists():
        log(f"reusing image {image}")
        return image
    tmp = cache / f"{name}.tmp"
    for p in (tmp, image):
        remove(p)
    log(f"building {what}")
    build(tmp)
    tmp.rename(image)
    done.write_text("ok\n")
    return image


def _new_layout(go: Impl, layout: Path) -> None:
    run([*go.argv, "init", "--layout", layout])
    run([*go.argv, "new", "--image", f"{layout}:{BASE_TAG}"])


def ensure_image(cache: Path, rootfs: Path, go: Impl) -> Path:
    """A gzip single-layer image made by the Go umoci (empty image + cp -a + repack)."""

    def build(layout: Path) -> None:
        bundle = cache / "bundle.tmp"
        remove(bundle)
        _new_layout(go, layout)
        run([*go.argv, "unpack", "--image", f"{layout}:{BASE_TAG}", bundle])
        run(["cp", "-a", "--", f"{rootfs}/.", bundle / "rootfs"])
        run([*go.argv, "repack", "--image", f"{layout}:{BASE_TAG}", bundle])
        run([*go.argv, "gc", "--layout", layout])
        remove(bundle)

    return cached_image(cache, "image", "the one-layer image with the Go umoci", build)


#: Layers the rootfs is split into for the multi-layer image (one more whites out).
MULTI_LAYERS = 8
TINY_FILES = 200_000
TINY_PER_DIR = 1000


def _tree_bytes(path: Path) -> int:
    if not path.is_dir() or path.is_symlink():
        return path.lstat().st_size
    total = 0
    for top, _dirs, files in os.walk(path):
        total += sum(os.lstat(os.path.join(top, f)).st_size for f in files)
    return total


def layer_groups(rootfs: Path, count: int = MULTI_LAYERS) -> list[list[str]]:
    """The rootfs's paths split into *count* groups of similar size, one per layer.

    Units are the top-level entries, with ``usr``, ``var`` and ``usr/share``
    (most of the bytes) split into their children; the biggest unit goes to
    the lightest group first.  Deterministic for a given rootfs.
    """
    expand = {"usr", "var", "usr/share"}
    units: list[str] = []
    pending = sorted(os.listdir(rootfs))
    while pending:
        rel = pending.pop(0)
        if rel in expand and (rootfs / rel).is_dir():
            pending += sorted(f"{rel}/{child}" for child in os.listdir(rootfs / rel))
        else:
            units.append(rel)
    sizes = {rel: _tree_bytes(rootfs / rel) + 4096 for rel in units}
    groups: list[list[str]] = [[] for _ in range(count)]
    totals = [0] * count
    for rel in sorted(units, key=lambda r: (-sizes[r], r)):
        lightest = totals.index(min(totals))
        groups[lightest].append(rel)
        totals[lightest] += sizes[rel]
    return [sorted(g) for g in groups if g]


#: What the last layer of the multi-layer image removes and replaces (rootfs paths).
WHITEOUT_REMOVE = ("usr/share/doc", "usr/share/man/man1", "var/cache/apt", "etc/motd")
WHITEOUT_REPLACE_TEXT = ("etc/os-release", "etc/debian_version", "etc/hostname")


def whiteout_changes(rootfs: Path) -> None:
    """Delete whole trees, turn a directory into a file and a file into a directory, rewrite."""
    for rel in WHITEOUT_REMOVE:
        path = rootfs / rel
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    (rootfs / "usr/share/man/man1").write_text("a file where a directory was\n")
    (rootfs / "etc/motd").mkdir()
    (rootfs / "etc/motd/inside").write_text("a directory where a file was\n")
    for rel in WHITEOUT_REPLACE_TEXT:
        path = rootfs / rel
        if path.is_symlink():
            path.unlink()
        path.write_text(f"replaced by the umoci benchmark's top layer: {rel}\n")


def ensure_multi_image(cache: Path, rootfs: Path, go: Impl) -> Path:
    """The rootfs as MULTI_LAYERS gzip layers plus one that whites out, made by the Go umoci."""
    groups = layer_groups(rootfs)

    def build(layout: Path) -> None:
        bundle = cache / "bundle-multi.tmp"
        remove(bundle)
        _new_layout(go, layout)
        for group in [*groups, None]:
            run([*go.argv, "unpack", "--image", f"{layout}:{BASE_TAG}", bundle])
            if group is None:
                whiteout_changes(bundle / "rootfs")
            else:
                run(["cp", "-a", "--parents", "--", *group, bundle / "rootfs"], cwd=rootfs)
            run([*go.argv, "repack", "--image", f"{layout}:{BASE_TAG}", bundle])
            remove(bundle)
        run([*go.argv, "gc", "--layout", layout])

    what = f"the {len(groups)}+1-layer image with the Go umoci"
    return cached_image(cache, "image-multi", what, build)


def write_tiny_tar(path: Path, count: int = TINY_FILES) -> None:
    """An uncompressed tar of *count* tiny files, TINY_PER_DIR per directory."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        for d in range(-(-count // TINY_PER_DIR)):
            info = tarfile.TarInfo(f"tiny/d{d:04d}")
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, FIXED_TIME
            tf.addfile(info)
            for f in range(min(TINY_PER_DIR, count - d * TINY_PER_DIR)):
                data = f"tiny file {d}/{f}\n".encode()
                info = tarfile.TarInfo(f"tiny/d{d:04d}/f{f:04d}")
                info.size, info.mode, info.mtime = len(data), 0o644, FIXED_TIME
                tf.addfile(info, io.BytesIO(data))


def ensure_tiny_image(cache: Path, go: Impl) -> Path:
    """One gzip layer of TINY_FILES tiny files, added by the Go umoci's ``raw add-layer``."""

    def build(layout: Path) -> None:
        tar_path = cache / "tiny.tar"
        write_tiny_tar(tar_path)
        _new_layout(go, layout)
        run([*go.argv, "raw", "add-layer", "--image", f"{layout}:{BASE_TAG}", tar_path])
        run([*go.argv, "gc", "--layout", layout])
        remove(tar_path)

    what = f"the {TINY_FILES}-file image (Python tarfile + the Go umoci's raw add-layer)"
    return cached_image(cache, "image-tiny", what, build)


def read_blob_json(image: Path, digest: str) -> dict[str, object]:
    algo, hexd = digest.split(":", 1)
    data: dict[str, object] = json.loads((image / "blobs" / algo / hexd).read_text())
    return data


def image_layers(image: Path) -> list[Path]:
    """The layer blob paths of the base tag, bottom first."""
    index = json.loads((image / "index.json").read_text())
    manifests = [
        m
        for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == BASE_TAG
    ]
    if len(manifests) != 1:
        raise BenchError(f"{image}: expected one manifest tagged {BASE_TAG}")
    manifest = read_blob_json(image, manifests[0]["digest"])
    layers = manifest["layers"]
    assert isinstance(layers, list)
    paths = []
    for layer in layers:
        if not str(layer["mediaType"]).endswith("tar+gzip"):
            raise BenchError(f"{image}: expected gzip layers, got {layer}")
        algo, hexd = str(layer["digest"]).split(":", 1)
        paths.append(image / "blobs" / algo / hexd)
    return paths


def gunzip_to(blob: Path, target: Path) -> Path:
    with gzip.open(blob, "rb") as src, target.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return target


def warm_bytecode(cache: Path, python: str) -> None:
    """Cache our bytecode outside src/ so no timed run pays for compiling modules.

    This environment sets PYTHONDONTWRITEBYTECODE, so without this every run of
    ours would recompile whatever ``src/umoci/__pycache__`` lacks, which an
    installed package never does.  Children inherit the changed environment.
    """
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(cache / "pycache")
    code = (
        "import importlib, pkgutil, umoci\n"
        "for m in pkgutil.walk_packages(umoci.__path__, 'umoci.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
    )
    run([python, "-c", code])


def count_entries(tar_path: Path) -> int:
    with tarfile.open(tar_path, "r:") as tf:
        return sum(1 for _ in tf)


# --------------------------------------------------------------------------- scenarios


class Bench:
    """Owns the work directory; each ``prepare_*`` returns the argv tail to time."""

    def __init__(
        self,
        work: Path,
        images: dict[str, Path],
        rootfs: Path,
        layer_tars: dict[str, Path],
        python: str,
    ) -> None:
        self.work = work
        self.images = images  # "base" (one layer), "multi", "tiny"
        self.rootfs = rootfs
        self.layer_tars = layer_tars  # the gunzipped one-layer tars of "base" and "tiny"
        self.python = python
        self.seq = 0
        self._copy_inputs: dict[str, Path] = {}
        self._registry: subprocess.Popen[bytes] | None = None
        self._registry_host = ""
        self._push_registry: subprocess.Popen[bytes] | None = None

    def close(self) -> None:
        """Stop the registries of the registry copy rows, if any were started."""
        for process in (self._registry, self._push_registry):
            if process is not None:
                _stop(process)
        self._registry = self._push_registry = None

    def scratch(self) -> Path:
        self.seq += 1
        path = self.work / f"s{self.seq:04d}"
        path.mkdir()
        return path

    def fresh_image(self, scratch: Path, which: str = "base") -> Path:
        copy = scratch / "image"
        copy_tree(self.images[which], copy)
        return copy

    # Each prepare function gets a fresh scratch directory (removed after timing).

    def prepare_unpack(self, impl: Impl, scratch: Path) -> list[str]:
        image = self.fresh_image(scratch)
        return ["unpack", "--image", f"{image}:{BASE_TAG}", str(scratch / "bundle")]

    def prepare_unpack_multi(self, impl: Impl, scratch: Path) -> list[str]:
        image = self.fresh_image(scratch, "multi")
        return ["unpack", "--image", f"{image}:{BASE_TAG}", str(scratch / "bundle")]

    def prepare_unpack_tiny(self, impl: Impl, scratch: Path) -> list[str]:
        image = self.fresh_image(scratch, "tiny")
        return ["unpack", "--image", f"{image}:{BASE_TAG}", str(scratch / "bundle")]

    def _unpacked(self, impl: Impl, scratch: Path) -> tuple[Path, Path]:
        image = self.fresh_image(scratch)
        bundle = scratch / "bundle"
        run([*impl.argv, "unpack", "--image", f"{image}:{BASE_TAG}", bundle])
        return image, bundle

    def prepare_repack_small(self, impl: Impl, scratch: Path) -> list[str]:
        image, bundle = self._unpacked(impl, scratch)
        rootfs = bundle / "rootfs"
        (rootfs / ADDED_FILE).write_text("added by the umoci benchmark\n")
        with (rootfs / CHANGED_FILE).open("a") as f:
            f.write("changed by the umoci benchmark\n")
        (rootfs / DELETED_FILE).unlink()
        return ["repack", "--image", f"{image}:small", str(bundle)]

    def prepare_repack_touch(self, impl: Impl, scratch: Path) -> list[str]:
        image, bundle = self._unpacked(impl, scratch)
        rootfs = bundle / "rootfs"
        times = (FIXED_TIME, FIXED_TIME)
        os.utime(rootfs, times, follow_symlinks=False)
        for top, dirs, files in os.walk(rootfs):
            for name in dirs + files:
                os.utime(os.path.join(top, name), times, follow_symlinks=False)
        return ["repack", "--image", f"{image}:touched", str(bundle)]

    def prepare_repack_full(self, impl: Impl, scratch: Path) -> list[str]:
        image = self.fresh_image(scratch)
        bundle = scratch / "bundle"
        run([*impl.argv, "new", "--image", f"{image}:empty"])
        run([*impl.argv, "unpack", "--image", f"{image}:empty", bundle])
        run(["cp", "-a", "--", f"{self.rootfs}/.", bundle / "rootfs"])
        return ["repack", "--image", f"{image}:full", str(bundle)]

    def prepare_stat(self, impl: Impl, scratch: Path) -> list[str]:
        image = self.fresh_image(scratch)
        return ["stat", "--image", f"{image}:{BASE_TAG}"]

    def prepare_ls(self, impl: Impl, scratch: Path) -> list[str]:
        image = self.fresh_image(scratch)
        return ["ls", "--layout", str(image)]

    def prepare_config(self, impl: Impl, scratch: Path) -> list[str]:
        image = self.fresh_image(scratch)
        return ["config", "--image", f"{image}:{BASE_TAG}", "--tag", "cfg", "--config.env", "A=B"]

    def prepare_gc(self, impl: Impl, scratch: Path) -> list[str]:
        # Give gc something to collect: a config change on a new tag, then drop the tag.
        image = self.fresh_image(scratch)
        run([*impl.argv, "config", "--image", f"{image}:{BASE_TAG}", "--tag", "gone"])
        run([*impl.argv, "rm", "--image", f"{image}:gone"])
        return ["gc", "--layout", str(image)]

    def prepare_validate(self, impl: Impl, scratch: Path) -> list[str]:
        image = self.fresh_image(scratch)
        return ["validate", "--image", f"{image}:{BASE_TAG}"]

    # -- umoci copy against skopeo copy (issue 22) ---------------------------------

    def copy_inputs(self) -> dict[str, Path]:
        """The base image as an oci-archive and a docker-archive, written once by skopeo."""
        if not self._copy_inputs:
            inputs = self.work / "copy-inputs"
            inputs.mkdir()
            source = f"oci:{self.images['base']}:{BASE_TAG}"
            for kind in ("oci-archive", "docker-archive"):
                path = inputs / f"{kind}.tar"
                reference = BASE_TAG if kind == "oci-archive" else f"bench:{BASE_TAG}"
                run([*SKOPEO, "copy", "-q", source, f"{kind}:{path}:{reference}"])
                self._copy_inputs[kind] = path
        return self._copy_inputs

    def registry(self) -> str:
        """``127.0.0.1:PORT`` of a local registry holding the base image as ``bench/base:base``.

        Started on first use (storage in the work directory); the image is
        pushed once by skopeo, untimed.
        """
        if self._registry is None:
            self._registry, self._registry_host = _start_registry(self.work / "registry")
            source = f"oci:{self.images['base']}:{BASE_TAG}"
            target = f"docker://{self._registry_host}/bench/base:{BASE_TAG}"
            run([*SKOPEO, "copy", "-q", "--dest-tls-verify=false", source, target])
        return self._registry_host

    def push_registry(self, scratch: Path) -> str:
        """A new, empty registry for one push (the last one is stopped).

        New each run, on a new port: skopeo remembers where it saw a blob
        (containers/image's blob info cache) and would mount it from an
        earlier run's repository instead of uploading it.
        """
        if self._push_registry is not None:
            _stop(self._push_registry)
        self._push_registry, host = _start_registry(scratch / "registry")
        return host

    def copy_names(self, case: str, scratch: Path) -> list[str]:
        """Flags, SOURCE and DESTINATION of one copy scenario (inputs prepared here)."""
        if case == "docker -> oci":
            host = self.registry()
            return [
                "--src-tls-verify=false",
                f"docker://{host}/bench/base:{BASE_TAG}",
                f"oci:{scratch / 'dest'}:{BASE_TAG}",
            ]
        if case == "oci -> docker":
            host = self.push_registry(scratch)
            image = self.fresh_image(scratch)
            return [
                "--dest-tls-verify=false",
                f"oci:{image}:{BASE_TAG}",
                f"docker://{host}/push/image:{BASE_TAG}",
            ]
        if case == "oci -> oci-archive":
            image = self.fresh_image(scratch)
            return [f"oci:{image}:{BASE_TAG}", f"oci-archive:{scratch / 'out.tar'}:{BASE_TAG}"]
        if case == "oci -> docker-archive":
            image = self.fresh_image(scratch)
            return [f"oci:{image}:{BASE_TAG}", f"docker-archive:{scratch / 'out.tar'}:bench:1"]
        kind = case.partition(" ")[0]
        archive = self.copy_inputs()[kind]
        _warm(archive)
        return [f"{kind}:{archive}", f"oci:{scratch / 'dest'}:{BASE_TAG}"]

    def copy_operation(self, case: str) -> Operation:
        def ours(impl: Impl, scratch: Path) -> list[str]:
            return ["copy", *self.copy_names(case, scratch)]

        def skopeo(scratch: Path) -> list[str]:
            return [*SKOPEO, "copy", "-q", *self.copy_names(case, scratch)]

        floor = Floor("skopeo copy", skopeo, COPY_TARGET)
        return Operation(f"copy ({case})", ours, None, (floor,), go=False)

    def floor_tar(self, scratch: Path) -> list[str]:
        return _tar_into(scratch, "-xf", self.layer_tars["base"])

    def floor_tar_tiny(self, scratch: Path) -> list[str]:
        return _tar_into(scratch, "-xf", self.layer_tars["tiny"])

    def floor_tar_gz(self, scratch: Path) -> list[str]:
        return _tar_into(scratch, "-xzf", image_layers(self.images["base"])[0])

    def floor_verify(self, which: str) -> Callable[[Path], list[str]]:
        """What an unpack must compute whatever it creates: bench/verify_floor.py."""

        def prepare(scratch: Path) -> list[str]:
            layers = image_layers(self.images[which])
            for layer in layers:
                _warm(layer)
            return [
                sys.executable,
                str(Path(__file__).parent / "verify_floor.py"),
                *map(str, layers),
            ]

        return prepare

    def floor_python(self, scratch: Path) -> list[str]:
        return [self.python, "-I", "-c", "pass"]

    def floor_hash(self, scratch: Path) -> list[str]:
        """What any validator must do with the blobs: hash each, and hash each layer gunzipped."""
        image = self.fresh_image(scratch)
        blobs = image / "blobs" / "sha256"
        script = (
            f"sha256sum {blobs}/* >/dev/null && "
            f'for f in {blobs}/*; do zcat -f "$f" 2>/dev/null | sha256sum >/dev/null; done'
        )
        return ["sh", "-c", script]

    def operations(self) -> list[Operation]:
        tar = Floor("tar -xf", self.floor_tar, 1.8)
        tar_tiny = Floor("tar -xf (tiny)", self.floor_tar_tiny, 1.6)
        tar_gz = Floor("tar -xzf", self.floor_tar_gz, None)
        python = Floor(f"{Path(self.python).name} -I -c pass", self.floor_python, 1.5)
        hashes = Floor("sha256sum + zcat | sha256sum", self.floor_hash, None)
        verify = Floor(VERIFY_FLOOR, self.floor_verify("base"), None)
        verify_multi = Floor(f"{VERIFY_FLOOR} (multi)", self.floor_verify("multi"), None)
        verify_tiny = Floor(f"{VERIFY_FLOOR} (tiny)", self.floor_verify("tiny"), None)
        multi = f"unpack ({MULTI_LAYERS}+1 layers)"
        return [
            Operation("unpack", self.prepare_unpack, 0.35, (tar, verify, tar_gz)),
            Operation(multi, self.prepare_unpack_multi, 0.35, (verify_multi,)),
            Operation(
                "unpack (200k tiny files)",
                self.prepare_unpack_tiny,
                0.30,
                (tar_tiny, verify_tiny),
                rss_limit_mb=150.0,
                runs=self.tiny_runs,
            ),
            Operation("repack (small change)", self.prepare_repack_small, 0.10),
            Operation("repack (touch all)", self.prepare_repack_touch, 0.30),
            Operation("repack (full rootfs)", self.prepare_repack_full, 0.33),
            Operation("stat", self.prepare_stat, None, (python,)),
            Operation("ls", self.prepare_ls, None, (python,)),
            Operation("config", self.prepare_config, None, (python,)),
            Operation("gc", self.prepare_gc),
            Operation("validate", self.prepare_validate, None, (hashes,), go=False),
            *(self.copy_operation(case) for case in COPY_CASES if shutil.which(SKOPEO[0])),
            *(
                self.copy_operation(case)
                for case in REGISTRY_CASES
                if shutil.which(SKOPEO[0]) and shutil.which(REGISTRY)
            ),
        ]

    tiny_runs: int | None = None


#: The name of bench/verify_floor.py's floor (every digest an unpack computes, no file created).
VERIFY_FLOOR = "verify floor"


def _start_registry(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``docker-registry`` on a free loopback port with its storage in *root*."""
    root.mkdir()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    host = f"127.0.0.1:{port}"
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {root / 'data'}\nhttp:\n  addr: {host}\n"
    )
    process = subprocess.Popen(
        [REGISTRY, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, host
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                _stop(process)
                raise BenchError(f"{REGISTRY} did not start") from None
            time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _tar_into(scratch: Path, mode: str, archive: Path) -> list[str]:
    """``tar MODE ARCHIVE`` into a new directory, with the archive in the page cache.

    The image copies the implementations read were just written (so are in
    the page cache): tar's input gets the same start.
    """
    target = scratch / "rootfs"
    target.mkdir()
    _warm(archive)
    return ["tar", mode, str(archive), "-C", str(target)]


def _warm(path: Path) -> None:
    """Read *path* once, so a timed command finds it in the page cache."""
    with path.open("rb") as f:
        while f.read(1 << 20):
            pass


def impl_command(op: Operation, impl: Impl) -> Callable[[Path], list[str]]:
    def prepare(scratch: Path) -> list[str]:
        return [*impl.argv, *op.prepare(impl, scratch)]

    return prepare


def settle() -> None:
    """Write back dirty data, so no run pays for an earlier one's writeback.

    Caches are *not* dropped: a cold page cache would bill the start-up
    commands (``ls``, ``stat``, ``python -c pass``) for reading their own
    binaries from disk, which a build loop never does.
    """
    os.sync()


#: How long ext4 refuses to reuse a freed inode (fs/ext4/ialloc.c), plus a second.
_INODE_REUSE_PAUSE_S = 31


def measure(bench: Bench, impls: tuple[Impl, Impl], runs: int, ops: list[Operation]) -> Results:
    """Time every operation *runs* times per implementation (and floor), rotating the order.

    Scratch directories live until all runs of an operation are done (see the
    module docstring: deleting thousands of inodes slows the next creations).
    """
    results: Results = {}
    for op in ops:
        # Whatever was deleted before (the previous operation's scratch
        # directories, an earlier benchmark) must not slow this one down.
        os.sync()
        log(f"{op.name}: pausing {_INODE_REUSE_PAUSE_S} s so no inode was freed recently")
        time.sleep(_INODE_REUSE_PAUSE_S)
        scratches: list[Path] = []
        entries = [
            (impl.name, impl_command(op, impl)) for impl in impls if op.go or impl.name != "go"
        ]
        entries += [(floor.name, floor.prepare) for floor in op.floors]
        results[op.name] = {name: Series() for name, _ in entries}
        for r in range(op.runs or runs):
            shift = r % len(entries)
            for name, prepare in entries[shift:] + entries[:shift]:
                settle()
                scratch = bench.scratch()
                scratches.append(scratch)
                argv = prepare(scratch)
                os.sync()  # the preparation's writeback is not the timed command's
                sample = run(argv)
                results[op.name][name].samples.append(sample)
                log(
                    f"{op.name:<24} run {r + 1}/{op.runs or runs} {name:<5} {sample.seconds:7.3f} s"
                )
        for scratch in scratches:
            remove(scratch)
    return results


# --------------------------------------------------------------------------- report


def machine_info() -> list[str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    return [
        f"- CPUs (nproc): {os.cpu_count()}",
        f"- CPU model: {cpu}",
        f"- memory: {mem_kib / 1024 / 1024:.1f} GiB",
        f"- kernel: {platform.system()} {platform.release()}",
    ]


def _larger_floor(op: Operation, series: dict[str, Series]) -> tuple[str, float] | None:
    """The slower of an unpack's two floors (file creation, verification), if it has both."""
    names = [f.name for f in op.floors if f.name.startswith(("tar -xf", VERIFY_FLOOR))]
    if len(names) < 2:
        return None
    return max(((n, series[n].median_s()) for n in names), key=lambda item: item[1])


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def render(
    *,
    results: Results,
    ops: list[Operation],
    versions: dict[str, str],
    images_desc: list[str],
    command: str,
    runs: int,
    impls: tuple[Impl, Impl],
    go_label: str,
    python: str,
) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `bench/run.py` (see `bench/README.md`); overwritten on every run.",
        "The Go umoci and ours ran in alternating order on fresh copies of the same image;",
        f"times are wall-clock medians of {runs} runs each (unless the table says otherwise);",
        "peak RSS is the largest seen over the runs (GNU time's %M of the command itself).",
        "Floors ran in the same",
        "rotation as the operation they bound.  Our bytecode was precompiled into a",
        "`PYTHONPYCACHEPREFIX` (untimed).",
        "",
        f"- date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- command: `{command}`",
        *machine_info(),
        f"- Go umoci, {go_label} (`{shlex.join(impls[0].argv)}`): {versions['go']}",
        f"- ours (`{shlex.join(impls[1].argv)}`): {versions['ours']}",
        f"- Python (`{python}`): {versions['python']}",
        *(f"- image: {desc}" for desc in images_desc),
        "",
        "## Operations",
        "",
        "| operation | runs | Go median s | ours median s | ratio ours/Go | ours peak RSS MB "
        "| Go peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    summary: list[tuple[str, str, bool]] = []
    floor_rows: list[str] = []
    for op in ops:
        series = results[op.name]
        ours_s = series["ours"]
        go_s = series.get("go")
        ratio = ours_s.median_s() / go_s.median_s() if go_s else None
        lines.append(
            f"| {op.name} | {len(ours_s.samples)} "
            f"| {f'{go_s.median_s():.3f}' if go_s else '—'} | {ours_s.median_s():.3f} "
            f"| {f'{ratio:.2f}' if ratio is not None else '—'} | {ours_s.peak_rss_mb():.0f} "
            f"| {f'{go_s.peak_rss_mb():.0f}' if go_s else '—'} |"
        )
        if op.ratio_target is not None and ratio is not None:
            summary.append(
                (
                    f"{op.name}: ours/Go ≤ {op.ratio_target:.2f}",
                    f"{ratio:.2f}",
                    ratio <= op.ratio_target,
                )
            )
        for floor in op.floors:
            floor_s = series[floor.name]
            ours_f = ours_s.median_s() / floor_s.median_s()
            go_f = f"{go_s.median_s() / floor_s.median_s():.2f}" if go_s else "—"
            if floor.ratio_target is not None:
                summary.append(
                    (
                        f"{op.name} ≤ {floor.ratio_target:g} × `{floor.name}`",
                        f"{ours_f:.2f}",
                        ours_f <= floor.ratio_target,
                    )
                )
            floor_rows.append(
                f"| `{floor.name}` | {op.name} | {floor_s.median_s():.3f} "
                f"| {floor_s.peak_rss_mb():.0f} | {ours_f:.2f} | {go_f} |"
            )
        larger = _larger_floor(op, series)
        if larger is not None:
            name, seconds = larger
            floor_rows.append(
                f"| larger of `tar -xf` and `{VERIFY_FLOOR}`: `{name}` | {op.name} "
                f"| {seconds:.3f} | — | {ours_s.median_s() / seconds:.2f} "
                f"| {f'{go_s.median_s() / seconds:.2f}' if go_s else '—'} |"
            )
        peak = ours_s.peak_rss_mb()
        summary.append(
            (
                f"{op.name}: peak RSS ≤ {op.rss_limit_mb:.0f} MB",
                f"{peak:.0f}",
                peak <= op.rss_limit_mb,
            )
        )

    lines += [
        "",
        "## Floors (same run)",
        "",
        "| floor | bounds | median s | peak RSS MB | ours / floor | Go / floor |",
        "|---|---|---:|---:|---:|---:|",
        *floor_rows,
        "",
        "`tar -xf` extracts the gunzipped layer (decompressed once beforehand, untimed) into an "
        "empty directory; `tar -xzf` extracts the gzip blob itself (GNU tar piping through "
        "gzip: decompression and file creation, but no digest checks and no mtree), for "
        f"comparison only; the start-up floor is `{python} -I -c pass`; the validate floor "
        "hashes every blob and every gunzipped blob (what any validator must read).  "
        f"`{VERIFY_FLOOR}` (`bench/verify_floor.py`) computes every digest an unpack must, "
        "and creates no file: sha256 of each layer blob, isal inflate, sha256 of the "
        "uncompressed stream (the diff_id) and of every regular file's data (the mtree's "
        "sha256digest), all C but a minimal walk over the tar headers, one step after the "
        "other on one core.  An unpack cannot take less than the larger of it and `tar -xf` "
        "on one core; with two it can (the two kinds of work overlap).",
        "",
        "## Targets (issues 15, 22 and 24)",
        "",
        "| target | measured | result |",
        "|---|---:|---|",
        *(f"| {name} | {value} | {verdict(ok)} |" for name, value, ok in summary),
        "",
        "## Scenarios",
        "",
        "- unpack: `unpack --image IMAGE:base BUNDLE` into a new bundle directory.",
        f"- unpack ({MULTI_LAYERS}+1 layers): the same rootfs split into {MULTI_LAYERS} gzip "
        "layers of similar size (top-level directories, `usr`, `var` and `usr/share` by child; "
        "each layer made by the Go umoci's `unpack`, `cp -a --parents`, `repack`), plus a top "
        f"layer that removes {', '.join(f'`/{p}`' for p in WHITEOUT_REMOVE)} (whiteouts), "
        "turns a directory into a file and a file into a directory, and rewrites "
        f"{', '.join(f'`/{p}`' for p in WHITEOUT_REPLACE_TEXT)}.",
        f"- unpack (200k tiny files): one gzip layer of {TINY_FILES:,} files of ~20 bytes, "
        f"{TINY_PER_DIR} per directory (tar written by Python's tarfile, layer added by the Go "
        "umoci's `raw add-layer`).",
        f"- repack (small change): fresh unpack by the same implementation, then add "
        f"`/{ADDED_FILE}`, append to `/{CHANGED_FILE}`, delete `/{DELETED_FILE}`; "
        "only `repack` is timed.",
        "- repack (touch all): fresh unpack, then `os.utime` of every path in the rootfs "
        "(`follow_symlinks=False`) to one fixed time; only `repack` is timed.",
        "- repack (full rootfs): `new` an empty tag, unpack it, `cp -a` the debootstrap rootfs "
        "into `bundle/rootfs`; `repack` to a new tag is timed.",
        "- stat: `stat --image IMAGE:base`; ls: `ls --layout IMAGE`.",
        "- config: `config --image IMAGE:base --tag cfg --config.env A=B`.",
        "- gc: after `config --tag gone` and `rm --image IMAGE:gone` (untimed), "
        "`gc --layout IMAGE`.",
        "- validate: `validate --image IMAGE:base` (ours only: the Go umoci has no such verb).",
        "- copy (A -> B): `umoci copy` against `skopeo --insecure-policy copy -q` with the same "
        "two names (the Go umoci has no such verb): the one-layer image from a fresh layout "
        "copy to a new oci-archive or docker-archive, or from an oci-archive or docker-archive "
        "(written once by skopeo, untimed) to a new layout.",
        "- copy (docker -> oci), (oci -> docker): the same against a local `docker-registry` "
        "(distribution 2.8, plain HTTP on loopback, `--tls-verify=false` for both tools): pull "
        "of the one-layer image (pushed once by skopeo, untimed) into a new layout, and push "
        "from a fresh layout copy to a new, empty registry started for the run (so that every "
        "blob is uploaded: skopeo would otherwise mount blobs it saw in an earlier run).",
        "",
        "Other measurements, each with its own script: the progress line's cost and",
        "`umoci ls` start-up (`bench/progress.py`, docs/benchmarks-api.md); `umoci validate`",
        "of a layout (`bench/validate.py`, docs/benchmarks-validate.md); `umoci copy` against",
        "skopeo (docs/benchmarks-copy.md); issue 21's before/after run",
        "(docs/benchmarks-issue21.md).",
        "",
        "## Raw samples (seconds, in run order)",
        "",
    ]
    for op in ops:
        for name, series in results[op.name].items():
            samples = " ".join(f"{s.seconds:.3f}" for s in series.samples)
            lines.append(f"- {op.name}, {name}: {samples}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main


def default_ours() -> str:
    script = REPO / ".venv" / "bin" / "umoci"
    if script.exists():
        return str(script)
    return shlex.join([sys.executable, "-m", "umoci"])


def default_python() -> str:
    venv_python = REPO / ".venv" / "bin" / "python3"
    return str(venv_python) if venv_python.exists() else sys.executable


#: The Go umoci 0.6 (our contract), where the project's checkout has it beside it.
ORACLE = REPO.parent / "shared" / "oracle" / "umoci-0.6"


def default_go() -> tuple[str, str]:
    """The Go umoci to compare with, and how the report names it."""
    if os.access(ORACLE, os.X_OK):
        return str(ORACLE), "0.6 (the oracle build)"
    return "umoci", "Debian's package (0.4.7: the oracle ../shared/oracle/umoci-0.6 is absent)"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=5, help="timed runs per implementation (5)")
    p.add_argument(
        "--tiny-runs", type=int, default=3, help="runs of the 200k-file unpack (3: it is slow)"
    )
    p.add_argument("--work", type=Path, default=None, help="parent of the scratch dir (/var/tmp)")
    p.add_argument(
        "--cache", type=Path, default=Path.home() / ".cache" / "umoci-bench", help="rootfs+images"
    )
    p.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    p.add_argument(
        "--go",
        default=None,
        help="Go umoci command (default: ../shared/oracle/umoci-0.6, else umoci)",
    )
    p.add_argument("--ours", default=default_ours(), help="our umoci command")
    p.add_argument("--python", default=default_python(), help="interpreter for the start-up floor")
    p.add_argument("--mirror", default=None, help="Debian mirror (default: from apt sources)")
    p.add_argument("--only", action="append", default=None, help="run only these operations")
    p.add_argument("--rebuild", action="store_true", help="rebuild the cached rootfs and images")
    args = p.parse_args(argv)
    if args.runs < 1 or args.tiny_runs < 1:
        p.error("--runs and --tiny-runs must be at least 1")
    return args


def describe_image(name: str, image: Path, tar: Path | None, work: Path) -> str:
    layers = image_layers(image)
    compressed = sum(p.stat().st_size for p in layers)
    if tar is None:  # count through a temporary gunzip of each layer
        entries = size = 0
        for blob in layers:
            tmp = gunzip_to(blob, work / "count.tar")
            entries += count_entries(tmp)
            size += tmp.stat().st_size
            tmp.unlink()
    else:
        entries, size = count_entries(tar), tar.stat().st_size
    return (
        f"{name}: {len(layers)} gzip layer{'s' if len(layers) > 1 else ''}, {entries} entries, "
        f"{size / 1e6:.1f} MB uncompressed, {compressed / 1e6:.1f} MB compressed"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("bench/run.py: run as root (the rootfs has device nodes)", file=sys.stderr)
        return 1
    go_command, go_label = default_go() if args.go is None else (args.go, "as given by --go")
    go = Impl("go", tuple(shlex.split(go_command)))
    ours = Impl("ours", tuple(shlex.split(args.ours)))
    impls = (go, ours)
    cache: Path = args.cache.expanduser().resolve()
    cache.mkdir(parents=True, exist_ok=True)
    if args.rebuild:
        for name in ("rootfs.done", "image.done", "image-multi.done", "image-tiny.done"):
            remove(cache / name)
    parent = (args.work or Path("/var/tmp")).resolve()
    parent.mkdir(parents=True, exist_ok=True)
    free_gb = shutil.disk_usage(parent).free / 1e9
    if free_gb < MIN_FREE_GB:
        print(
            f"bench/run.py: {parent} has {free_gb:.1f} GB free; the scratch directories of"
            f" one operation need up to {MIN_FREE_GB} GB",
            file=sys.stderr,
        )
        return 1
    work = Path(tempfile.mkdtemp(prefix="umoci-bench-", dir=parent))
    bench: Bench | None = None
    try:
        versions = {
            "go": capture([*go.argv, "--version"]),
            "ours": capture([*ours.argv, "--version"]).replace("\n", "; "),
            "python": capture([args.python, "--version"]),
        }
        rootfs = ensure_rootfs(cache, args.mirror)
        images = {
            "base": ensure_image(cache, rootfs, go),
            "multi": ensure_multi_image(cache, rootfs, go),
            "tiny": ensure_tiny_image(cache, go),
        }
        tars = {
            "base": gunzip_to(image_layers(images["base"])[0], work / "layer.tar"),
            "tiny": gunzip_to(image_layers(images["tiny"])[0], work / "tiny.tar"),
        }
        images_desc = [
            describe_image(f"Debian {SUITE} minbase", images["base"], tars["base"], work),
            describe_image(f"the same, {MULTI_LAYERS}+1 layers", images["multi"], None, work),
            describe_image(f"{TINY_FILES:,} tiny files", images["tiny"], tars["tiny"], work),
        ]
        for desc in images_desc:
            log(desc)
        warm_bytecode(cache, args.python)
        bench = Bench(work, images, rootfs, tars, args.python)
        bench.tiny_runs = args.tiny_runs
        ops = bench.operations()
        if args.only:
            ops = [op for op in ops if op.name.split()[0] in args.only or op.name in args.only]
            if not ops:
                raise BenchError(f"--only {args.only}: no such operation")
        results = measure(bench, impls, args.runs, ops)
        command = shlex.join(["python", "bench/run.py", *(argv or sys.argv[1:])])
        report = render(
            results=results,
            ops=ops,
            versions=versions,
            images_desc=images_desc,
            command=command,
            runs=args.runs,
            impls=impls,
            go_label=go_label,
            python=args.python,
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)
        print(report)
        log(f"wrote {args.out}")
    except BenchError as e:
        print(f"bench/run.py: {e}", file=sys.stderr)
        return 1
    finally:
        if bench is not None:
            bench.close()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
