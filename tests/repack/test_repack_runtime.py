"""Repacked images in other tools: skopeo copies them, runc runs their bundles."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from repackkit import OCI_GZIP, T, Unpacked, layers, ok, tar_bytes

pytestmark = pytest.mark.root

Capsys = pytest.CaptureFixture[str]

BUSYBOX = Path("/bin/busybox")  # busybox-static, installed by scripts/test


def repacked_image(capsys: Capsys, tmp_path: Path, compress: str) -> Unpacked:
    img = Unpacked.make(capsys, tmp_path)
    (img.rootfs / "etc/hostname").write_bytes(b"repacked\n")
    shutil.rmtree(img.rootfs / "opt/tree")
    img.repack(capsys, "--compress", compress)
    assert len(layers(img.layout, "t")) == 2
    return img


def skopeo_copy(source: str, dest: str) -> None:
    proc = subprocess.run(
        ["skopeo", "copy", source, dest], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("compress", ["gzip", "none"])
def test_skopeo_copies_a_repacked_image_to_docker_archive(
    capsys: Capsys, tmp_path: Path, compress: str
) -> None:
    img = repacked_image(capsys, tmp_path, compress)
    archive = tmp_path / "x.tar"
    skopeo_copy(f"oci:{img.layout}:t", f"docker-archive:{archive}")
    with tarfile.open(archive) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        (docker_manifest,) = json.loads(member.read())
    assert len(docker_manifest["Layers"]) == 2


def test_skopeo_copies_a_zstd_repacked_image_to_another_layout(
    capsys: Capsys, tmp_path: Path
) -> None:
    # Docker image formats cannot carry zstd layers (skopeo: "zstd compression
    # is not supported for docker images"), so the zstd image goes to a layout.
    img = repacked_image(capsys, tmp_path, "zstd")
    skopeo_copy(f"oci:{img.layout}:t", f"oci:{tmp_path / 'copy'}:c")
    assert layers(tmp_path / "copy", "c") == layers(img.layout, "t")


def busybox_image() -> list[T]:
    entries = [T.dir("bin"), T.reg("bin/busybox", BUSYBOX.read_bytes(), mode=0o755)]
    entries += [T.sym(f"bin/{tool}", "busybox") for tool in ("sh", "cat", "echo", "ls", "id")]
    entries += [T.dir("etc"), T.reg("etc/greeting", b"hello from the base layer\n")]
    return entries


def test_runc_runs_a_repacked_bundle(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path, layers=[(tar_bytes(busybox_image()), OCI_GZIP)])
    script = img.rootfs / "usr/local/bin/run.sh"
    script.parent.mkdir(parents=True)
    script.write_text('#!/bin/sh\ncat /etc/greeting\necho "added by repack as $(id -u)"\nls /etc\n')
    script.chmod(0o755)
    (img.rootfs / "etc/greeting").unlink()
    (img.rootfs / "etc/greeting2").write_bytes(b"hello from the new layer\n")
    (img.rootfs / "etc/greeting").symlink_to("greeting2")
    img.repack(capsys)
    assert len(layers(img.layout, "t")) == 2

    bundle = tmp_path / "run-bundle"
    ok(capsys, "unpack", "--image", f"{img.layout}:t", bundle)
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["/usr/local/bin/run.sh"]
    (bundle / "config.json").write_text(json.dumps(spec))
    state = tmp_path / "runc-state"
    container = f"umoci-test-{os.getpid()}"
    try:
        result = subprocess.run(
            ["runc", "--root", state, "run", "-b", bundle, container],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    finally:
        subprocess.run(
            ["runc", "--root", state, "delete", "--force", container],
            capture_output=True,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "hello from the new layer\nadded by repack as 0\ngreeting\ngreeting2\n"
    )
