"""``docker-archive:``: ``docker save``'s format, written for ``docker load`` and read back."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from copykit import (
    copy_fails,
    diff_ids,
    entry,
    file_info,
    gunzip,
    make_tar,
    manifest,
    read_blob,
    sha256,
    tar_member,
    two_layer_image,
    umoci_ok,
)

from multikit import three_platforms

OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return two_layer_image(tmp_path, tmp_path / "src", "v1")


def manifest_json(archive: Path) -> list[dict[str, Any]]:
    value: list[dict[str, Any]] = json.loads(tar_member(archive, "manifest.json"))
    return value


def test_written_as_docker_save_writes_it(source: Path, tmp_path: Path) -> None:
    archive = tmp_path / "image.tar"
    umoci_ok(
        "copy",
        "--additional-tag",
        "example/app:latest",
        "--additional-tag",
        "quay.io/x/app:1",
        f"oci:{source}:v1",
        f"docker-archive:{archive}:example/app:v1",
    )
    config_digest = manifest(source, "v1")["config"]["digest"]
    ids = diff_ids(source, "v1")
    (listed,) = manifest_json(archive)
    assert listed == {
        "Config": f"{config_digest[7:]}.json",
        "RepoTags": [
            "docker.io/example/app:v1",
            "docker.io/example/app:latest",
            "quay.io/x/app:1",
        ],
        "Layers": [f"{d[7:]}.tar" for d in ids],
    }
    # The config as it is (its digest is the image ID); plain tar layers named by diff_id.
    config = tar_member(archive, listed["Config"])
    assert sha256(config) == config_digest
    for name, diff_id in zip(listed["Layers"], ids, strict=True):
        assert sha256(tar_member(archive, name)) == diff_id
    # For loaders older than manifest.json: repositories and a directory per layer.
    repositories = json.loads(tar_member(archive, "repositories"))
    top = repositories["docker.io/example/app"]["v1"]
    assert repositories == {
        "docker.io/example/app": {"v1": top, "latest": top},
        "quay.io/x/app": {"1": top},
    }
    legacy = json.loads(tar_member(archive, f"{top}/json"))
    assert legacy["id"] == top
    assert legacy["config"] == json.loads(config)["config"]
    parent = json.loads(tar_member(archive, f"{legacy['parent']}/json"))
    assert "parent" not in parent
    assert tar_member(archive, f"{top}/VERSION") == b"1.0"
    with tarfile.open(archive) as opened:
        link = opened.getmember(f"{top}/layer.tar")
    assert link.issym()
    assert link.linkname == f"../{listed['Layers'][1]}"


def test_round_trip_through_a_docker_archive(source: Path, tmp_path: Path) -> None:
    archive = tmp_path / "image.tar"
    umoci_ok("copy", f"oci:{source}:v1", f"docker-archive:{archive}:app:v1")
    back = tmp_path / "back"
    umoci_ok("copy", f"docker-archive:{archive}", f"oci:{back}:v1")
    # The config keeps its bytes (same image ID); layers are gzip-compressed again.
    assert manifest(back, "v1")["config"]["digest"] == manifest(source, "v1")["config"]["digest"]
    assert diff_ids(back, "v1") == diff_ids(source, "v1")
    for layer, diff_id in zip(manifest(back, "v1")["layers"], diff_ids(back, "v1"), strict=True):
        assert layer["mediaType"] == OCI_LAYER_GZIP
        blob = (back / "blobs" / "sha256" / layer["digest"][7:]).read_bytes()
        assert sha256(gunzip(blob)) == diff_id
    umoci_ok("validate", "--image", f"{back}:v1")
    bundle = tmp_path / "bundle"
    umoci_ok("unpack", "--image", f"{back}:v1", bundle)
    assert (bundle / "rootfs" / "etc" / "link").readlink() == Path("hello")
    # Kept plain on request: then each layer's digest is its diff_id.
    plain = tmp_path / "plain"
    umoci_ok(
        "copy", "--dest-compress-format", "none", f"docker-archive:{archive}", f"oci:{plain}:v1"
    )
    assert [layer["digest"] for layer in manifest(plain, "v1")["layers"]] == diff_ids(source, "v1")


def test_selecting_an_image_of_an_archive(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "image.tar"
    umoci_ok(
        "copy",
        "--additional-tag",
        "other:1",
        f"oci:{source}:v1",
        f"docker-archive:{archive}:app:v1",
    )
    config = manifest(source, "v1")["config"]["digest"]
    for name in ("app:v1", "docker.io/library/app:v1", "index.docker.io/library/other:1", "@0", ""):
        back = tmp_path / f"back-{len(name)}"
        suffix = f":{name}" if name else ""
        umoci_ok("copy", f"docker-archive:{archive}{suffix}", f"oci:{back}:x")
        assert manifest(back, "x")["config"]["digest"] == config
    line = copy_fails(capsys, f"docker-archive:{archive}:app:v2", f"oci:{tmp_path / 'd'}:x")
    assert "no image tagged docker.io/library/app:v2" in line
    assert "tags: docker.io/library/app:v1, docker.io/library/other:1" in line
    assert "no image @1" in copy_fails(
        capsys, f"docker-archive:{archive}:@1", f"oci:{tmp_path / 'd'}:x"
    )
    assert not (tmp_path / "d").exists()


def test_untagged_and_to_standard_output(source: Path, tmp_path: Path) -> None:
    archive = tmp_path / "image.tar"
    umoci_ok("copy", f"oci:{source}:v1", f"docker-archive:{archive}")
    assert manifest_json(archive)[0]["RepoTags"] == []
    assert json.loads(tar_member(archive, "repositories")) == {}
    out = subprocess.run(
        [sys.executable, "-m", "umoci", "copy", f"oci:{source}:v1", "docker-archive:-"],
        capture_output=True,
        check=True,
    ).stdout
    assert out == archive.read_bytes()


def test_one_image_per_archive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    multi = three_platforms(tmp_path)
    archive = tmp_path / "multi.tar"
    line = copy_fails(capsys, "--all", f"oci:{multi}:multi", f"docker-archive:{archive}:m:1")
    assert "holds a single image" in line
    assert "choose one with --platform" in line
    assert not archive.exists()
    umoci_ok("copy", "--platform", "linux/arm64", f"oci:{multi}:multi", f"docker-archive:{archive}")
    config = tar_member(archive, manifest_json(archive)[0]["Config"])
    assert json.loads(config)["architecture"] == "arm64"


def test_layers_that_do_not_match_their_diff_ids_are_refused(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A config whose diff_ids lie: converting the layer checks them, and nothing is written."""
    config_digest = manifest(source, "v1")["config"]["digest"]
    config = read_blob(source, config_digest)
    config["rootfs"]["diff_ids"][1] = "sha256:" + "0" * 64
    data = json.dumps(config).encode()
    (source / "blobs" / "sha256" / sha256(data)[7:]).write_bytes(data)
    doc = manifest(source, "v1")
    doc["config"].update(digest=sha256(data), size=len(data))
    mdata = json.dumps(doc).encode()
    (source / "blobs" / "sha256" / sha256(mdata)[7:]).write_bytes(mdata)
    index = json.loads((source / "index.json").read_bytes())
    index["manifests"][0].update(digest=sha256(mdata), size=len(mdata))
    (source / "index.json").write_text(json.dumps(index))
    archive = tmp_path / "image.tar"
    line = copy_fails(capsys, f"oci:{source}:v1", f"docker-archive:{archive}:app:v1")
    assert "the config's diff_id says sha256:000000000000" in line
    assert not archive.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".image.tar")] == []


def docker_archive(
    path: Path, images: list[tuple[list[str], bytes, list[bytes]]], *, compress_layers: bool = False
) -> Path:
    """A legacy archive by hand: per image (RepoTags, config, layers), files in HEX/layer.tar."""
    entries: list[tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]] = []
    listed = []
    for tags, config, layers in images:
        names = []
        for layer in layers:
            name = f"{sha256(layer)[7:]}/layer.tar"
            data = gzip.compress(layer) if compress_layers else layer
            entries.append((file_info(name), data))
            names.append(name)
        config_name = f"{sha256(config)[7:]}.json"
        entries.append((file_info(config_name), config))
        listed.append({"Config": config_name, "RepoTags": tags, "Layers": names})
    entries.append((file_info("manifest.json"), json.dumps(listed).encode()))
    return make_tar(path, entries)


def layer_tar(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in files.items():
            info = file_info(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def image_config(layers: list[bytes], arch: str = "amd64") -> bytes:
    return json.dumps(
        {
            "architecture": arch,
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [sha256(layer) for layer in layers]},
            "history": [{"created_by": "test"} for _ in layers],
        }
    ).encode()


@pytest.mark.parametrize("compress_layers", [False, True], ids=["plain", "gzip-layers"])
def test_legacy_archives_with_several_images(tmp_path: Path, compress_layers: bool) -> None:
    one = [layer_tar({"a": b"one"})]
    two = [layer_tar({"a": b"two"}), layer_tar({"b": b"more"})]
    archive = docker_archive(
        tmp_path / "two.tar",
        [(["one:1"], image_config(one), one), (["two:2"], image_config(two, "arm64"), two)],
        compress_layers=compress_layers,
    )
    dest = tmp_path / "dest"
    umoci_ok("copy", f"docker-archive:{archive}:two:2", f"oci:{dest}:two")
    umoci_ok("copy", f"docker-archive:{archive}:@0", f"oci:{dest}:one")
    assert diff_ids(dest, "two") == [sha256(layer) for layer in two]
    assert diff_ids(dest, "one") == [sha256(layer) for layer in one]
    bundle = tmp_path / "bundle"
    umoci_ok("raw", "unpack", "--image", f"{dest}:two", "--platform", "linux/arm64", bundle)
    assert (bundle / "b").read_bytes() == b"more"


def test_docker_25_archives_keep_their_manifests(source: Path, tmp_path: Path) -> None:
    """Docker 25+ writes an OCI layout with manifest.json beside it: its manifest is used.

    Its index.json may list platforms whose blobs it did not save: passed over.
    """
    oci = tmp_path / "oci.tar"
    umoci_ok("copy", f"oci:{source}:v1", f"oci-archive:{oci}:v1")
    doc = manifest(source, "v1")
    listed = [
        {
            "Config": f"blobs/sha256/{doc['config']['digest'][7:]}",
            "RepoTags": ["app:v1"],
            "Layers": [f"blobs/sha256/{layer['digest'][7:]}" for layer in doc["layers"]],
        }
    ]
    both = tmp_path / "docker25.tar"
    with tarfile.open(oci) as original, tarfile.open(both, "w") as combined:
        for member in original.getmembers():
            body = original.extractfile(member) if member.isfile() else None
            if member.name == "index.json":
                assert body is not None
                index = json.loads(body.read())
                missing = {**index["manifests"][0], "digest": "sha256:" + "1" * 64}
                index["manifests"].insert(0, missing)
                data = json.dumps(index).encode()
                member.size = len(data)
                body = io.BytesIO(data)
            combined.addfile(member, body)
        info = file_info("manifest.json")
        data = json.dumps(listed).encode()
        info.size = len(data)
        combined.addfile(info, io.BytesIO(data))
    back = tmp_path / "back"
    umoci_ok("copy", f"docker-archive:{both}:app:v1", f"oci:{back}:v1")
    assert entry(back, "v1")["digest"] == entry(source, "v1")["digest"]


def test_an_archive_of_symlinked_layers(source: Path, tmp_path: Path) -> None:
    """skopeo's legacy ID/layer.tar entries are symlinks to HEX.tar: followed inside the archive."""
    archive = tmp_path / "image.tar"
    umoci_ok("copy", f"oci:{source}:v1", f"docker-archive:{archive}:app:v1")
    (listed,) = manifest_json(archive)
    top = json.loads(tar_member(archive, "repositories"))["docker.io/library/app"]["v1"]
    legacy = json.loads(tar_member(archive, f"{top}/json"))
    listed["Layers"] = [f"{legacy['parent']}/layer.tar", f"./{top}//layer.tar"]
    relinked = tmp_path / "relinked.tar"
    with tarfile.open(archive) as original, tarfile.open(relinked, "w") as out:
        for member in original.getmembers():
            if member.name == "manifest.json":
                data = json.dumps([listed]).encode()
                member.size = len(data)
                out.addfile(member, io.BytesIO(data))
            else:
                out.addfile(member, original.extractfile(member) if member.isfile() else None)
    back = tmp_path / "back"
    umoci_ok("copy", f"docker-archive:{relinked}", f"oci:{back}:v1")
    assert diff_ids(back, "v1") == diff_ids(source, "v1")
