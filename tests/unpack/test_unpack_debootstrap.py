"""Slow tier: a real Debian rootfs (debootstrap minbase) unpacked by us and by the Go umoci.

The rootfs is built once with ``debootstrap --variant=minbase bookworm``
from the mirror this machine's apt uses, packed with GNU tar (``--xattrs
--numeric-owner``, PAX format, sorted names) and gzipped; the layer blob and
its diff_id are cached in ``$UMOCI_TEST_CACHE`` (default
``~/.cache/umoci-tests``) and reused by later runs.  Run with ``pytest -m slow``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import zstandard
from imagekit import (
    OCI_GZIP,
    OCI_ZSTD,
    Layer,
    comparable_config,
    go_umoci,
    load_json,
    mtree_body,
    same_trees,
    umoci,
    write_image,
)

pytestmark = [pytest.mark.slow, pytest.mark.goumoci, pytest.mark.root]

SUITE = "bookworm"
TAR_FLAGS = (
    "tar",
    "--xattrs",
    "--xattrs-include=*",
    "--numeric-owner",
    "--sort=name",
    "--format=pax",
)
CONFIG = {
    "Cmd": ["/bin/bash"],
    "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    "User": "nobody:nogroup",
    "WorkingDir": "/var/tmp",
    "Volumes": {"/var/cache": {}},
}


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "umoci-tests"
    path = Path(os.environ.get("UMOCI_TEST_CACHE", default))
    path.mkdir(parents=True, exist_ok=True)
    return path


def apt_mirror() -> str:
    """The Debian mirror this machine's apt uses (the only network we can reach)."""
    sources = Path("/etc/apt/sources.list.d")
    for path in sorted(sources.glob("*.sources")):
        for stanza in path.read_text().split("\n\n"):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.MULTILINE))
            if SUITE in fields.get("Suites", "").split() and "deb" in fields.get("Types", ""):
                return fields["URIs"].split()[0]
    for path in [Path("/etc/apt/sources.list"), *sorted(sources.glob("*.list"))]:
        if path.is_file():
            for line in path.read_text().splitlines():
                words = re.sub(r"\[[^]]*\]", "", line).split()
                if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
                    return words[1]
    raise AssertionError(f"no Debian {SUITE} mirror in /etc/apt/sources.list*")


def build_layer(cache: Path) -> tuple[Path, str]:
    """The cached rootfs layer (gzip) and its diff_id, built on first use."""
    blob, diff_id_file = cache / f"debian-{SUITE}-minbase.tar.gz", cache / "diff_id"
    if blob.is_file() and diff_id_file.is_file():
        return blob, diff_id_file.read_text().strip()
    debootstrap = shutil.which("debootstrap")
    assert debootstrap is not None, "debootstrap is missing: apt-get install debootstrap"
    with tempfile.TemporaryDirectory(dir=cache) as work:
        rootfs = Path(work) / "rootfs"
        subprocess.run(
            [debootstrap, "--variant=minbase", SUITE, str(rootfs), apt_mirror()],
            check=True,
            capture_output=True,
            timeout=1800,
        )
        partial = Path(work) / "layer.tar.gz"
        h = hashlib.sha256()
        with (
            subprocess.Popen(
                [*TAR_FLAGS, "-C", str(rootfs), "-cf", "-", "."], stdout=subprocess.PIPE
            ) as tar,
            open(partial, "wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz,
        ):
            assert tar.stdout is not None
            while chunk := tar.stdout.read(1 << 20):
                h.update(chunk)
                gz.write(chunk)
        assert tar.returncode == 0
        diff_id_file.write_text(f"sha256:{h.hexdigest()}\n")
        partial.rename(blob)  # last: a blob without a diff_id file is rebuilt
    return blob, f"sha256:{h.hexdigest()}"


@pytest.fixture(scope="module")
def debian_layer() -> tuple[Path, str]:
    return build_layer(cache_dir())


def test_debian_rootfs_same_as_go(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], debian_layer: tuple[Path, str]
) -> None:
    blob, diff_id = debian_layer
    image = write_image(
        tmp_path / "image",
        [Layer(b"", OCI_GZIP, path=blob, diff_id=diff_id)],
        config=CONFIG,
    )
    res = umoci(capsys, "unpack", "--image", image.ref, tmp_path / "ours")
    assert res.status == 0, res.err
    go_umoci("unpack", "--image", image.ref, tmp_path / "go")
    same_trees(tmp_path / "ours", tmp_path / "go")
    assert mtree_body(tmp_path / "ours") == mtree_body(tmp_path / "go")
    ours = comparable_config(load_json(tmp_path / "ours/config.json"), go=False)
    go = comparable_config(load_json(tmp_path / "go/config.json"), go=True)
    assert ours == go
    assert ours["process"]["user"]["uid"] == 65534  # resolved from the image's /etc/passwd
    rootfs = tmp_path / "ours/rootfs"
    assert (rootfs / "etc/debian_version").read_text().startswith("12.")
    assert (rootfs / "dev/null").is_char_device()


def test_debian_rootfs_as_zstd_same_as_go_gzip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], debian_layer: tuple[Path, str]
) -> None:
    blob, diff_id = debian_layer
    zst = tmp_path / "layer.tar.zst"
    with gzip.open(blob, "rb") as src, open(zst, "wb") as dst:
        zstandard.ZstdCompressor(threads=-1).copy_stream(src, dst)
    ours_image = write_image(
        tmp_path / "zimage", [Layer(b"", OCI_ZSTD, path=zst, diff_id=diff_id)], config=CONFIG
    )
    go_image = write_image(
        tmp_path / "gimage", [Layer(b"", OCI_GZIP, path=blob, diff_id=diff_id)], config=CONFIG
    )
    res = umoci(capsys, "unpack", "--image", ours_image.ref, tmp_path / "ours")
    assert res.status == 0, res.err
    go_umoci("unpack", "--image", go_image.ref, tmp_path / "go")
    same_trees(tmp_path / "ours", tmp_path / "go")


def test_debian_rootfs_rootless_same_as_go(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], debian_layer: tuple[Path, str]
) -> None:
    blob, diff_id = debian_layer
    image = write_image(
        tmp_path / "image", [Layer(b"", OCI_GZIP, path=blob, diff_id=diff_id)], config=CONFIG
    )
    res = umoci(capsys, "unpack", "--rootless", "--image", image.ref, tmp_path / "ours")
    assert res.status == 0, res.err
    go_umoci("unpack", "--rootless", "--image", image.ref, tmp_path / "go")
    same_trees(tmp_path / "ours", tmp_path / "go")
    assert mtree_body(tmp_path / "ours") == mtree_body(tmp_path / "go")
