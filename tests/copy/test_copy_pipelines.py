"""The callers' pipelines end to end, with no skopeo (nor any other program) on PATH.

KIWI imports a base from a docker-archive, derives the image and exports
an oci-archive and a docker-archive; rockcraft turns a layout into a
``.rock`` (an oci-archive) that tutorials then load into the Docker engine.
Their outputs must load with podman.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from copykit import (
    Podman,
    diff_ids,
    manifest,
    podman,
    podman_service,
    two_layer_image,
    umoci_ok,
)

__all__ = ["podman", "podman_service"]  # fixtures, imported for the tests below

ROOT = Path(__file__).resolve().parents[2]


def without_programs(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH finds nothing: a spawned skopeo (or anything) would fail."""
    empty = tmp_path / "empty-path"
    empty.mkdir(exist_ok=True)
    return {**os.environ, "PATH": str(empty)}


def test_kiwi_pipeline(tmp_path: Path, podman: Podman) -> None:
    base_layout = two_layer_image(tmp_path, tmp_path / "base", "base")
    base = tmp_path / "base.tar"
    umoci_ok("copy", f"oci:{base_layout}:base", f"docker-archive:{base}:base:1")
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run(
        [sys.executable, ROOT / "examples" / "kiwi_pipeline.py", base, work, "example/kiwi:1.0"],
        capture_output=True,
        text=True,
        check=False,
        env=without_programs(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    oci_archive, docker_archive = work / "image.oci.tar", work / "image.docker.tar"
    assert result.stdout.splitlines()[0].startswith(f"{oci_archive}: sha256:")
    layout = work / "layout"
    expected = diff_ids(layout, "1.0")
    assert expected[:2] == diff_ids(base_layout, "base")  # the base's layers, then the change
    assert len(expected) == 3
    podman("load", "-i", docker_archive)
    loaded = podman.inspect("docker.io/example/kiwi:1.0")
    assert loaded["RootFS"]["Layers"] == expected
    assert loaded["Config"]["Entrypoint"] == ["/bin/sh", "-c"]
    assert loaded["Config"]["Labels"] == {"org.opencontainers.image.version": "1.0"}
    assert podman.inspect("docker.io/example/kiwi:latest")["Id"] == loaded["Id"]
    podman("load", "-i", oci_archive)
    (image_id,) = podman("images", "-q", "--no-trunc", "--filter", "reference=*:1.0").split()
    assert image_id == f"sha256:{loaded['Id']}"


def test_rockcraft_pipeline(tmp_path: Path, podman_service: tuple[Podman, str]) -> None:
    engine, host = podman_service
    layout = two_layer_image(tmp_path, tmp_path / "images" / "app", "1.0")
    rock = tmp_path / "app_1.0_amd64.rock"
    env = without_programs(tmp_path)
    umoci = [sys.executable, "-m", "umoci"]
    # rockcraft's own command line, with umoci for skopeo.
    subprocess.run(
        [*umoci, "--insecure-policy", "copy", f"oci:{layout}:1.0", f"oci-archive:{rock}:1.0"],
        check=True,
        env=env,
    )
    # And the tutorials' next step: into the engine.
    subprocess.run(
        [*umoci, "copy", f"oci-archive:{rock}", "docker-daemon:app:1.0"],
        check=True,
        env={**env, "DOCKER_HOST": host},
    )
    loaded = engine.inspect("docker.io/library/app:1.0")
    assert loaded["RootFS"]["Layers"] == diff_ids(layout, "1.0")
    assert f"sha256:{loaded['Id']}" == manifest(layout, "1.0")["config"]["digest"]
