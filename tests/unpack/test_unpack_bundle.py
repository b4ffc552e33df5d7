"""The bundle unpack makes, where it may make it; ``raw unpack`` and ``raw runtime-config``."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from imagekit import (
    OCI_GZIP,
    Layer,
    T,
    build_tar,
    check_bundle_files,
    image_of,
    tree,
    umoci,
    unpack_fails,
    unpack_ok,
    write_image,
)

from umoci import mtree

PASSWD = b"root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1001:Alice:/home/alice:/bin/sh\n"
GROUP = b"root:x:0:\nstaff:x:50:alice\nusers:x:1001:\n"
CONFIG = {
    "User": "alice",
    "Env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"],
    "Entrypoint": ["/bin/sh", "-c"],
    "Cmd": ["echo hi"],
    "WorkingDir": "/home/alice",
    "Volumes": {"/data": {}, "/cache": {}},
    "Labels": {"org.example.label": "yes"},
    "StopSignal": "SIGTERM",
}


def layers() -> list[list]:
    return [
        [
            T.dir("etc"),
            T.reg("etc/passwd", PASSWD),
            T.reg("etc/group", GROUP),
            T.dir("home"),
            T.dir("home/alice", uid=1000, gid=1001, mode=0o700),
        ],
        [T.reg("home/alice/.profile", b"export X=1\n", uid=1000, gid=1001)],
    ]


@pytest.mark.root  # a plain (not rootless) bundle: tests/cli covers the rootless one
def test_bundle_contents(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = image_of(tmp_path / "image", *layers(), config=CONFIG)
    bundle = tmp_path / "bundle"
    rootfs = unpack_ok(capsys, image, bundle)
    check_bundle_files(bundle, image)
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o700
    assert stat.S_IMODE(rootfs.stat().st_mode) == 0o755
    assert (rootfs / "home/alice/.profile").read_bytes() == b"export X=1\n"

    config = json.loads((bundle / "config.json").read_bytes())
    assert config["root"] == {"path": "rootfs"}
    process = config["process"]
    assert process["args"] == ["/bin/sh", "-c", "echo hi"]
    assert process["cwd"] == "/home/alice"
    assert process["user"]["uid"] == 1000
    assert process["user"]["gid"] == 1001
    assert 50 in process["user"]["additionalGids"]
    assert "LANG=C.UTF-8" in process["env"]
    assert "HOME=/home/alice" in process["env"]
    assert config["annotations"]["org.example.label"] == "yes"
    assert config["annotations"]["org.opencontainers.image.stopSignal"] == "SIGTERM"
    volumes = [m for m in config["mounts"] if m["destination"] in ("/data", "/cache")]
    assert [m["destination"] for m in volumes] == ["/cache", "/data"]
    assert "uidMappings" not in config["linux"]

    meta = json.loads((bundle / "umoci.json").read_bytes())
    walk = meta["from_descriptor_path"]["descriptor_walk"]
    assert walk[-1]["digest"] == image.manifest_digest
    assert walk[-1]["annotations"]["org.opencontainers.image.ref.name"] == "latest"
    assert meta["map_options"]["rootless"] is False

    spec = mtree.parse((bundle / image.mtree_name).read_bytes())
    assert mtree.check(rootfs, spec) == []


def test_image_without_layers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = write_image(tmp_path / "image", [])
    bundle = tmp_path / "bundle"
    rootfs = unpack_ok(capsys, image, bundle)
    assert list(rootfs.iterdir()) == []
    check_bundle_files(bundle, image)


def test_tag_defaults_to_latest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = image_of(tmp_path / "image", [T.reg("f", b"latest")])
    image_of(tmp_path / "image", [T.reg("f", b"other")], tag="other")
    res = umoci(capsys, "unpack", "--image", image.layout, tmp_path / "b1")
    assert res.status == 0, res.err
    assert (tmp_path / "b1/rootfs/f").read_bytes() == b"latest"
    res = umoci(capsys, "unpack", "--image", f"{image.layout}:other", tmp_path / "b2")
    assert res.status == 0, res.err
    assert (tmp_path / "b2/rootfs/f").read_bytes() == b"other"


def test_existing_empty_bundle_is_used_and_locked_down(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = image_of(tmp_path / "image", [T.reg("f", b"x")])
    bundle = tmp_path / "bundle"
    bundle.mkdir(mode=0o777)
    os.chmod(bundle, 0o777)
    unpack_ok(capsys, image, bundle)
    check_bundle_files(bundle, image)
    # Device nodes and setuid files inside must not be reachable by others.
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o700


def test_missing_parents_are_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = image_of(tmp_path / "image", [T.reg("f", b"x")])
    bundle = tmp_path / "a/b/bundle"
    unpack_ok(capsys, image, bundle)
    check_bundle_files(bundle, image)


@pytest.mark.parametrize("content", ["file", "dir", "hidden"])
def test_non_empty_bundle_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    image = image_of(tmp_path / "image", [T.reg("f", b"x")])
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    match content:
        case "file":
            (bundle / "config.json").write_text("mine")
        case "dir":
            (bundle / "rootfs").mkdir()
        case _:
            (bundle / ".hidden").write_text("")
    before = sorted(os.listdir(bundle))
    res = umoci(capsys, "unpack", "--image", image.ref, bundle)
    assert res.status == 1
    assert res.err.startswith("umoci: unpack: ")
    assert res.err.count("\n") == 1
    assert sorted(os.listdir(bundle)) == before
    if content == "file":
        assert (bundle / "config.json").read_text() == "mine"


@pytest.mark.parametrize("kind", ["file", "symlink-to-dir", "dangling-symlink"])
def test_bundle_path_that_is_not_a_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    image = image_of(tmp_path / "image", [T.reg("f", b"x")])
    bundle = tmp_path / "bundle"
    (tmp_path / "elsewhere").mkdir()
    match kind:
        case "file":
            bundle.write_text("not a dir")
        case "symlink-to-dir":
            bundle.symlink_to("elsewhere")
        case _:
            bundle.symlink_to("nowhere")
    res = umoci(capsys, "unpack", "--image", image.ref, bundle)
    assert res.status == 1
    assert res.err.startswith("umoci: unpack: ")
    assert os.listdir(tmp_path / "elsewhere") == []
    assert not (tmp_path / "nowhere").exists()
    assert os.path.lexists(bundle)


def test_failure_in_a_later_layer_removes_everything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = Layer(
        build_tar([T.dir("locked", mode=0), T.dir("locked/inner", mode=0), T.reg("x", b"x")]),
        OCI_GZIP,
    )
    image = write_image(tmp_path / "image", [first, Layer(b"\x02" * 1024)])
    unpack_fails(capsys, image, tmp_path / "bundle")


def test_raw_unpack_gives_the_same_rootfs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = image_of(tmp_path / "image", *layers(), config=CONFIG)
    rootfs = unpack_ok(capsys, image, tmp_path / "bundle")
    res = umoci(capsys, "raw", "unpack", "--image", image.ref, tmp_path / "raw")
    assert res.status == 0, res.err
    assert stat.S_IMODE((tmp_path / "raw").stat().st_mode) == 0o755
    ours, raw = tree(rootfs), tree(tmp_path / "raw")
    del ours["."], raw["."]  # the top directory's mtime is when it was made
    assert ours == raw
    # raw unpack writes nothing but the rootfs.
    assert sorted(os.listdir(tmp_path)) == ["bundle", "image", "raw"]


def test_raw_unpack_into_a_non_empty_directory_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = image_of(tmp_path / "image", *layers())
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw/keep").write_text("k")
    res = umoci(capsys, "raw", "unpack", "--image", image.ref, tmp_path / "raw")
    assert res.status == 1
    assert res.err.startswith("umoci: raw unpack: ")
    assert os.listdir(tmp_path / "raw") == ["keep"]


def test_raw_unpack_failure_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = write_image(tmp_path / "image", [build_tar([T.reg("x")]), b"\x03" * 1024])
    res = umoci(capsys, "raw", "unpack", "--image", image.ref, tmp_path / "raw")
    assert res.status == 1
    assert res.err.startswith("umoci: raw unpack: ")
    assert not (tmp_path / "raw").exists()


def test_raw_runtime_config_matches_unpack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = image_of(tmp_path / "image", *layers(), config=CONFIG)
    bundle = tmp_path / "bundle"
    unpack_ok(capsys, image, bundle)
    out = tmp_path / "config.json"
    res = umoci(
        capsys, "raw", "runtime-config", "--image", image.ref, "--rootfs", bundle / "rootfs", out
    )
    assert res.status == 0, res.err
    assert out.read_bytes() == (bundle / "config.json").read_bytes()
    # Without --rootfs a user name cannot be resolved: Go warns and uses root.
    res = umoci(capsys, "raw", "runtime-config", "--image", image.ref, tmp_path / "nofs.json")
    assert res.status == 0, res.err
    assert "without a rootfs" in res.err
    user = json.loads((tmp_path / "nofs.json").read_bytes())["process"]["user"]
    assert (user["uid"], user["gid"]) == (0, 0)


@pytest.mark.parametrize(("rootfs", "path"), [(None, "."), ("myroot", "myroot"), ("a/b/", "b")])
def test_raw_runtime_config_root_path_names_the_rootfs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rootfs: str | None, path: str
) -> None:
    # 0.6 writes filepath.Base(--rootfs) as root.path: "." when it is not given.
    image = image_of(tmp_path / "image", *layers())
    given = [] if rootfs is None else ["--rootfs", tmp_path / rootfs]
    if rootfs is not None:
        (tmp_path / rootfs).mkdir(parents=True)
    out = tmp_path / "config.json"
    res = umoci(capsys, "raw", "runtime-config", "--image", image.ref, *given, out)
    assert res.status == 0, res.err
    assert json.loads(out.read_bytes())["root"] == {"path": path}
