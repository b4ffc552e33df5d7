"""SIGTERM and SIGHUP unwind a verb like Ctrl-C: temporary files go, destinations stay as they were.

``timeout``, CI cancellation and systemd stop a process with SIGTERM; before
the ``umoci`` process turned it into an exception, a copy stopped that way
left a partly written ``.FILE.umoci-*`` beside its destination for ever.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from multikit import umoci_ok

#: Random data does not compress: converting it (gzip -> plain tar) takes a
#: while, so the temporary archive exists long enough to be seen.
LAYER_BYTES = 48 << 20


@pytest.fixture(scope="module")
def big_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("big")
    tree = root / "tree"
    tree.mkdir()
    with open(tree / "noise", "wb") as f:
        for _ in range(LAYER_BYTES >> 20):
            f.write(os.urandom(1 << 20))
    layout = root / "layout"
    umoci_ok("init", "--layout", layout)
    umoci_ok("new", "--image", f"{layout}:t")
    umoci_ok("insert", "--image", f"{layout}:t", tree, "/")
    return layout


def _stop_once_started(argv: list[str], started: Path, signum: int) -> int:
    """Run our umoci, send *signum* as soon as *started* has an entry; its exit status."""
    process = subprocess.Popen(
        [sys.executable, "-m", "umoci", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        while process.poll() is None and not any(started.iterdir()):
            time.sleep(0.002)
        assert process.poll() is None, "the verb ended before it wrote anything: nothing to stop"
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert b"Traceback" not in err, err
    return process.returncode


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
def test_a_stopped_copy_leaves_no_archive_and_no_temporary_file(
    big_image: Path, tmp_path: Path, signum: int
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    argv = ["copy", f"oci:{big_image}:t", f"docker-archive:{out / 'd.tar'}:a:b"]
    assert _stop_once_started(argv, out, signum) == 128 + signum
    assert list(out.iterdir()) == []


def test_a_stopped_unpack_leaves_no_bundle(big_image: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    argv = ["unpack", "--image", f"{big_image}:t", str(bundle)]
    assert _stop_once_started(argv, bundle, signal.SIGTERM) == 128 + signal.SIGTERM
    assert list(bundle.iterdir()) == [], "a half-extracted rootfs would pass for a bundle"
