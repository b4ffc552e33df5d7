"""Differential check of user resolution against the Debian Go umoci (0.4.7).

0.4.7 resolves ``Config.User`` with the same algorithm as 0.6 (runc's, now
moby's, user package); other parts of its config.json differ from 0.6
(annotations, HOME clobbering), so only ``process.user`` and the error/no
error outcome are compared.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from umoci.errors import BlobInvalidError
from umoci.oci.models import ImageConfig
from umoci.runtime import rootfs_opener, runtime_config

GO_UMOCI = shutil.which("umoci")  # installed by scripts/test (Debian package)

pytestmark = pytest.mark.goumoci

PASSWD = (
    b"root:x:0:0:root:/root:/bin/sh\n"
    b"alice:x:1000:1000::/home/alice:/bin/sh\n"
    b"  carol:x:abc:12:x:/c\n"
    b":x:7:7::/anon:\n"
    b"neg:x:-3:-4::/neg:\n"
)
GROUP = b"root:x:0:\nwheel:x:10:alice,root\n # c:x:11:alice\nusers:x:100:alice\nbad:x:zz:alice\n"
SPECS = [
    "",
    "alice",
    "1000",
    "carol",
    "7",
    "4242:4343",
    "alice:wheel",
    ":wheel",
    "neg",
    "nobody",
    "alice:nogroup",
    "-1",
    "2147483648",
]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert GO_UMOCI is not None
    return subprocess.run([GO_UMOCI, *args], cwd=cwd, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def go_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("goumoci")
    (work / "rootfs/etc").mkdir(parents=True)
    (work / "rootfs/etc/passwd").write_bytes(PASSWD)
    (work / "rootfs/etc/group").write_bytes(GROUP)
    assert _run("init", "--layout", "img", cwd=work).returncode == 0
    assert _run("new", "--image", "img:base", cwd=work).returncode == 0
    results: dict[str, Any] = {}
    for i, spec in enumerate(SPECS):
        tag = f"t{i}"
        done = _run("config", "--image", "img:base", "--tag", tag, "--config.user", spec, cwd=work)
        assert done.returncode == 0, done.stderr
        out = work / f"{tag}.json"
        done = _run(
            "raw", "runtime-config", "--image", f"img:{tag}", "--rootfs", "rootfs", out.name,
            cwd=work,
        )  # fmt: skip
        results[spec] = None if done.returncode else json.loads(out.read_bytes())["process"]["user"]
    return results


@pytest.mark.parametrize("spec", SPECS)
def test_user_matches_go(spec: str, go_results: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_bytes(PASSWD)
    (tmp_path / "etc/group").write_bytes(GROUP)
    config = ImageConfig.from_json({"os": "linux", "config": {"User": spec}})
    expected = go_results[spec]
    if expected is None:
        with pytest.raises(BlobInvalidError):
            runtime_config(config, rootfs_opener=rootfs_opener(str(tmp_path)))
    else:
        ours = runtime_config(config, rootfs_opener=rootfs_opener(str(tmp_path)))
        assert ours["process"]["user"] == expected
