"""The commands that made ``tests/vectors/json-blobs``, as data, and a layout comparer.

Our CLI replays them in tests/cli and the Go umoci 0.6 replays them in the
oracle tier, so the stored vectors, our output and the oracle's are checked
against one list instead of three copies.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

# ("copy", SRC, DST) copies a layout; anything else is one umoci argv.  "{w}"
# is the work directory.
VECTOR_STEPS: list[tuple[str, ...]] = [
    ("init", "--layout", "{w}/v1"),
    ("new", "--image", "{w}/v1:latest"),
    ("copy", "{w}/v1", "{w}/v2"),
    (
        "config",
        "--image",
        "{w}/v2:latest",
        "--config.user",
        "foo:bar",
        "--config.exposedports",
        "80/tcp",
        "--config.exposedports",
        "8080/udp",
        "--config.env",
        "HOME=/",
        "--config.env",
        "ESC=a<b>&c",
        "--config.entrypoint",
        "/bin/sh",
        "--config.entrypoint",
        "-c",
        "--config.cmd",
        "true",
        "--config.volume",
        "/tmp",
        "--config.volume",
        "/var",
        "--config.workingdir",
        "/tmp",
        "--config.stopsignal",
        "SIGKILL",
        "--config.label",
        "a=b",
        "--config.label",
        "z=<x>",
        "--manifest.annotation",
        "ci.umo.abc=foo",
        "--author",
        "A <a@b.c>",
        "--created",
        "2025-09-05T13:05:10.12345+10:00",
        "--history.comment",
        "cfg",
        "--history.author",
        "H <h@i.j>",
        "--history.created",
        "2025-09-05T13:05:10Z",
        "--platform.variant",
        "v8",
        "--os",
        "linux",
        "--architecture",
        "arm64",
    ),
    ("copy", "{w}/v2", "{w}/v3"),
    ("tag", "--image", "{w}/v3:latest", "other"),
    (
        "config",
        "--image",
        "{w}/v3:latest",
        "--tag",
        "derived",
        "--no-history",
        "--clear",
        "config.env",
        "--clear",
        "config.labels",
    ),
]
VECTOR_LAYOUTS = ("v1", "v2", "v3")
VECTOR_EPOCH = "1700000000"  # SOURCE_DATE_EPOCH the vectors were made under


def replay_vector_steps(work: Path, run_umoci: Callable[[list[str]], None]) -> None:
    """Run every step in ``work``; ``run_umoci`` must raise if a command fails."""
    for step in VECTOR_STEPS:
        argv = [arg.replace("{w}", str(work)) for arg in step]
        if argv[0] == "copy":
            shutil.copytree(argv[1], argv[2], symlinks=True)
        else:
            run_umoci(argv)


def assert_same_layout(ours: Path, theirs: Path) -> None:
    """index.json, oci-layout and every blob byte-identical (and named by its digest)."""
    assert (ours / "index.json").read_bytes() == (theirs / "index.json").read_bytes()
    assert (ours / "oci-layout").read_bytes() == (theirs / "oci-layout").read_bytes()
    our_blobs = sorted(p.name for p in (ours / "blobs" / "sha256").iterdir())
    assert our_blobs == sorted(p.name for p in (theirs / "blobs" / "sha256").iterdir())
    for name in our_blobs:
        data = (ours / "blobs" / "sha256" / name).read_bytes()
        assert data == (theirs / "blobs" / "sha256" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == name
