"""A bundle we unpack runs under ``runc run`` (Debian's runc; as root).

The image holds Debian's static busybox (package ``busybox-static``) as
/bin/busybox with /bin/sh linking to it.  ``process.terminal`` is turned off
(there is no tty here); everything else in config.json is what unpack wrote.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from imagekit import OCI_GZIP, Image, T, image_of, unpack_ok

pytestmark = pytest.mark.root

BUSYBOX = Path("/bin/busybox")


def busybox() -> bytes:
    assert BUSYBOX.is_file(), f"{BUSYBOX} is missing: apt-get install busybox-static"
    return BUSYBOX.read_bytes()


def runc_run(bundle: Path, state: Path) -> subprocess.CompletedProcess[str]:
    runc = shutil.which("runc")
    assert runc is not None, "runc is missing: apt-get install runc"
    config_path = bundle / "config.json"
    config = json.loads(config_path.read_bytes())
    config["process"]["terminal"] = False
    config_path.write_text(json.dumps(config))
    container = f"umoci-test-{uuid.uuid4().hex[:12]}"
    try:
        return subprocess.run(
            [runc, "--root", str(state), "run", "--bundle", str(bundle), container],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    finally:
        subprocess.run(
            [runc, "--root", str(state), "delete", "--force", container],
            capture_output=True,
            check=False,
        )


def image(base: Path, config: dict[str, object]) -> Image:
    layer = [
        T.dir("bin"),
        T.reg("bin/busybox", busybox(), mode=0o755),
        T.sym("bin/sh", "busybox"),
        T.dir("tmp", mode=0o1777),
        T.dir("etc"),
        T.reg("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n"),
        T.reg("etc/group", b"root:x:0:\nbob:x:1000:\n"),
        T.reg("etc/motd", b"unpacked by umoci\n"),
    ]
    return image_of(base / "image", layer, media_type=OCI_GZIP, config=config)


def test_runc_runs_the_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = {
        "Cmd": ["/bin/sh", "-c", 'echo hello; id -u; id -g; pwd; echo "$GREETING"; cat /etc/motd'],
        "Env": ["PATH=/bin", "GREETING=hi there"],
        "WorkingDir": "/tmp",
        "User": "bob",
    }
    bundle = tmp_path / "bundle"
    unpack_ok(capsys, image(tmp_path, config), bundle)
    done = runc_run(bundle, tmp_path / "runc-state")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hello\n1000\n1000\n/tmp\nhi there\nunpacked by umoci\n"


def test_runc_runs_a_rootless_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # --rootless as root maps container root to uid 0 through a user namespace.
    config = {"Cmd": ["/bin/sh", "-c", "echo hello; id -u; cat /proc/self/uid_map"]}
    bundle = tmp_path / "bundle"
    unpack_ok(capsys, image(tmp_path, config), bundle, "--rootless")
    done = runc_run(bundle, tmp_path / "runc-state")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["hello", "0"]
    assert lines[2].split() == ["0", str(os.geteuid()), "1"]
