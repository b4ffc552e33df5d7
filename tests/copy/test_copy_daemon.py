"""``docker-daemon:``: the Docker engine API, exercised against podman's compatible service."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from copykit import (
    Podman,
    copy_fails,
    diff_ids,
    manifest,
    podman_service,
    tree,
    two_layer_image,
    umoci_ok,
)

__all__ = ["podman_service"]  # the fixture, imported for the tests below


@pytest.fixture
def engine(podman_service: tuple[Podman, str], monkeypatch: pytest.MonkeyPatch) -> Podman:
    podman, host = podman_service
    monkeypatch.setenv("DOCKER_HOST", host)
    return podman


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return two_layer_image(tmp_path, tmp_path / "src", "v1")


def test_load_into_the_engine_and_read_back(source: Path, tmp_path: Path, engine: Podman) -> None:
    umoci_ok(
        "copy",
        "--additional-tag",
        "example/app:latest",
        f"oci:{source}:v1",
        "docker-daemon:example/app:v1",
    )
    loaded = engine.inspect("docker.io/example/app:v1")
    assert loaded["RootFS"]["Layers"] == diff_ids(source, "v1")
    config = manifest(source, "v1")["config"]["digest"]
    assert f"sha256:{loaded['Id']}" == config
    assert engine.inspect("docker.io/example/app:latest")["Id"] == loaded["Id"]
    back = tmp_path / "back"
    umoci_ok("copy", "docker-daemon:example/app:v1", f"oci:{back}:by-name")
    umoci_ok("copy", f"docker-daemon:{config}", f"oci:{back}:by-id")
    for tag in ("by-name", "by-id"):
        assert manifest(back, tag)["config"]["digest"] == config
        assert diff_ids(back, tag) == diff_ids(source, "v1")
    umoci_ok("validate", "--image", f"{back}:by-name")


def test_rockcraft_tutorial_load(source: Path, tmp_path: Path, engine: Podman) -> None:
    """``skopeo copy oci-archive:X.rock docker-daemon:name:tag``, with umoci."""
    rock = tmp_path / "app_1.0_amd64.rock"
    umoci_ok("--insecure-policy", "copy", f"oci:{source}:v1", f"oci-archive:{rock}:1.0")
    umoci_ok("copy", f"oci-archive:{rock}", "docker-daemon:rock-app:1.0")
    assert engine.inspect("docker.io/library/rock-app:1.0")["RootFS"]["Layers"] == diff_ids(
        source, "v1"
    )


def test_a_failed_load_leaves_nothing_in_the_engine(
    source: Path, engine: Podman, capsys: pytest.CaptureFixture[str]
) -> None:
    layer = source / "blobs" / "sha256" / manifest(source, "v1")["layers"][1]["digest"][7:]
    layer.write_bytes(layer.read_bytes()[:-8])
    line = copy_fails(capsys, f"oci:{source}:v1", "docker-daemon:broken/app:v1")
    assert "digest mismatch" in line
    exists = subprocess.run(
        [*engine.argv, "image", "exists", "docker.io/broken/app:v1"], check=False
    )
    assert exists.returncode == 1


def test_missing_images_and_unreachable_engines(
    tmp_path: Path,
    source: Path,
    engine: Podman,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dest = f"oci:{tmp_path / 'd'}:x"
    assert "no such image in the Docker engine" in copy_fails(capsys, "docker-daemon:nope:1", dest)
    before = tree(source)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no.sock'}")
    line = copy_fails(capsys, f"oci:{source}:v1", "docker-daemon:app:1")
    assert "cannot connect to the Docker engine" in line
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
    assert "only unix:///PATH sockets" in copy_fails(capsys, "docker-daemon:app:1", dest)
    assert "not by image ID" in copy_fails(
        capsys, f"oci:{source}:v1", "docker-daemon:sha256:" + "0" * 64
    )
    assert tree(source) == before
    assert not (tmp_path / "d").exists()
