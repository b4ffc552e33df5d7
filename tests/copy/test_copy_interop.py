"""Interop with the real tools, both ways: skopeo and podman read what we write, we read theirs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from copykit import (
    Podman,
    diff_ids,
    entry,
    manifest,
    podman,
    read_blob,
    tool,
    two_layer_image,
    umoci_ok,
)
from copykit import run as run_tool

from multikit import three_platforms

__all__ = ["podman"]  # the fixture, imported for the tests below


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return two_layer_image(tmp_path, tmp_path / "src", "v1")


def skopeo(*argv: str | Path) -> str:
    return run_tool(tool("skopeo"), "--insecure-policy", *argv)


def test_skopeo_reads_our_oci_archive_with_the_same_digests(source: Path, tmp_path: Path) -> None:
    archive = tmp_path / "ours.tar"
    umoci_ok("copy", f"oci:{source}:v1", f"oci-archive:{archive}:v1")
    digest = entry(source, "v1")["digest"]
    info = json.loads(skopeo("inspect", f"oci-archive:{archive}:v1"))
    assert info["Digest"] == digest
    assert info["Env"] == ["A=1"]
    copied = tmp_path / "by-skopeo"
    skopeo("copy", f"oci-archive:{archive}:v1", f"oci:{copied}:x")
    assert entry(copied, "x")["digest"] == digest


def test_skopeo_reads_our_multi_platform_archive(tmp_path: Path) -> None:
    multi = three_platforms(tmp_path)
    archive = tmp_path / "multi.tar"
    umoci_ok("copy", "--all", f"oci:{multi}:multi", f"oci-archive:{archive}:multi")
    copied = tmp_path / "by-skopeo"
    skopeo("copy", "--all", f"oci-archive:{archive}:multi", f"oci:{copied}:m")
    assert entry(copied, "m")["digest"] == entry(multi, "multi")["digest"]


def test_skopeo_reads_our_docker_archive(source: Path, tmp_path: Path) -> None:
    archive = tmp_path / "ours.tar"
    umoci_ok(
        "copy",
        "--additional-tag",
        "app:latest",
        f"oci:{source}:v1",
        f"docker-archive:{archive}:app:v1",
    )
    info = json.loads(skopeo("inspect", f"docker-archive:{archive}:app:latest"))
    assert info["Layers"] == diff_ids(source, "v1")
    copied = tmp_path / "by-skopeo"
    skopeo("copy", f"docker-archive:{archive}:app:v1", f"oci:{copied}:x")
    # skopeo re-encodes the config (its digest, the image ID, changes); ours keeps it.
    config = read_blob(copied, manifest(copied, "x")["config"]["digest"])
    assert config == read_blob(source, manifest(source, "v1")["config"]["digest"])


def test_we_read_skopeos_archives(source: Path, tmp_path: Path) -> None:
    oci_archive = tmp_path / "skopeo-oci.tar"
    skopeo("copy", f"oci:{source}:v1", f"oci-archive:{oci_archive}:v1")
    ours = tmp_path / "ours"
    umoci_ok("copy", f"oci-archive:{oci_archive}:v1", f"oci:{ours}:from-oci")
    assert entry(ours, "from-oci")["digest"] == entry(source, "v1")["digest"]
    docker_archive = tmp_path / "skopeo-docker.tar"
    skopeo("copy", f"oci:{source}:v1", f"docker-archive:{docker_archive}:app:v1")
    umoci_ok("copy", f"docker-archive:{docker_archive}", f"oci:{ours}:from-docker")
    config = manifest(source, "v1")["config"]["digest"]
    assert manifest(ours, "from-docker")["config"]["digest"] == config
    assert diff_ids(ours, "from-docker") == diff_ids(source, "v1")
    umoci_ok("validate", "--image", f"{ours}:from-docker")


def test_podman_loads_our_docker_archive(source: Path, tmp_path: Path, podman: Podman) -> None:
    archive = tmp_path / "ours.tar"
    umoci_ok(
        "copy",
        "--additional-tag",
        "example/app:latest",
        f"oci:{source}:v1",
        f"docker-archive:{archive}:example/app:v1",
    )
    podman("load", "-i", archive)
    loaded = podman.inspect("docker.io/example/app:v1")
    assert loaded["RootFS"]["Layers"] == diff_ids(source, "v1")
    assert f"sha256:{loaded['Id']}" == manifest(source, "v1")["config"]["digest"]
    assert podman.inspect("docker.io/example/app:latest")["Id"] == loaded["Id"]
    assert loaded["Config"]["Cmd"] == ["/bin/sh"]


def test_we_read_podmans_archives(tmp_path: Path, podman: Podman) -> None:
    """podman save of one image, and of two (manifest.json with two entries)."""
    first = two_layer_image(tmp_path, tmp_path / "first", "a")
    second = two_layer_image(tmp_path, tmp_path / "second", "b")
    for layout, tag in ((first, "a"), (second, "b")):
        archive = tmp_path / f"{tag}.tar"
        umoci_ok("copy", f"oci:{layout}:{tag}", f"docker-archive:{archive}:test/{tag}:1")
        podman("load", "-i", archive)
    single = tmp_path / "single.tar"
    podman("save", "-o", single, "docker.io/test/a:1")
    both = tmp_path / "both.tar"
    podman("save", "-m", "-o", both, "docker.io/test/a:1", "docker.io/test/b:1")
    ours = tmp_path / "ours"
    umoci_ok("copy", f"docker-archive:{single}", f"oci:{ours}:single")
    umoci_ok("copy", f"docker-archive:{both}:test/a:1", f"oci:{ours}:a")
    umoci_ok("copy", f"docker-archive:{both}:test/b:1", f"oci:{ours}:b")
    assert diff_ids(ours, "single") == diff_ids(first, "a") == diff_ids(ours, "a")
    assert diff_ids(ours, "b") == diff_ids(second, "b")
    config = read_blob(ours, manifest(ours, "b")["config"]["digest"])
    assert config["config"]["Env"] == ["A=1"]
