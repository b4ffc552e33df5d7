"""Black-box CLI tests of the layout verbs: the json-blobs vectors and every user error."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from conftest import VECTORS, snapshot
from umoci.cli import main
from vectorkit import VECTOR_EPOCH, VECTOR_LAYOUTS, assert_same_layout, replay_vector_steps


def umoci(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def ok(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    status, out, err = umoci(capsys, *argv)
    assert status == 0, err
    return out


def test_json_blob_vectors_are_byte_identical(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", VECTOR_EPOCH)

    def our_umoci(argv: list[str]) -> None:
        ok(capsys, *argv)

    replay_vector_steps(tmp_path, our_umoci)
    for v in VECTOR_LAYOUTS:
        ours = tmp_path / v
        assert_same_layout(ours, VECTORS / "json-blobs" / v)
        text = ok(capsys, "stat", "--image", f"{ours}:latest")
        assert text == (VECTORS / "json-blobs" / f"{v}.stat.txt").read_text()
        js = ok(capsys, "stat", "--json", "--image", f"{ours}:latest")
        assert js == (VECTORS / "json-blobs" / f"{v}.stat.json").read_text()


def test_ls_prints_tag_names_only(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    layout = str(tmp_path / "l")
    ok(capsys, "init", "--layout", layout)
    assert ok(capsys, "ls", "--layout", layout) == ""
    ok(capsys, "new", "--image", f"{layout}:b")
    ok(capsys, "new", "--image", layout)
    ok(capsys, "tag", "--image", f"{layout}:b", "c/d:e")
    assert ok(capsys, "list", "--layout", layout) == "b\nlatest\nc/d:e\n"
    ok(capsys, "remove", "--image", f"{layout}:b")
    ok(capsys, "rm", "--image", f"{layout}:latest")
    assert ok(capsys, "ls", "--layout", layout) == "c/d:e\n"
    blobs = tmp_path / "l" / "blobs" / "sha256"
    ok(capsys, "gc", "--grace", "10m", "--layout", layout)
    assert len(list(blobs.iterdir())) == 4, "unreachable but younger than --grace 10m: kept"
    ok(capsys, "gc", "--layout", layout)
    assert len(list(blobs.iterdir())) == 2, "the default sweeps every unreachable blob (as Go)"


def _reachable_blobs(layout: Path) -> set[str]:
    """The blob paths index.json reaches, read with nothing but json (not our gc's marking)."""
    found: set[str] = set()
    pending = json.loads((layout / "index.json").read_text())["manifests"]
    while pending:
        descriptor = pending.pop()
        algorithm, hexdigest = descriptor["digest"].split(":")
        found.add(f"{algorithm}/{hexdigest}")
        if descriptor["mediaType"].endswith(("manifest.v1+json", "index.v1+json")):
            document = json.loads((layout / "blobs" / algorithm / hexdigest).read_text())
            pending += document.get("manifests", [])
            pending += [document["config"], *document["layers"]] if "config" in document else []
    return found


def _blob_files(layout: Path) -> set[str]:
    return {f"{p.parent.name}/{p.name}" for p in (layout / "blobs").glob("*/*")}


def _kiwi_derived_build(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Path:
    """KIWI's derived-image build up to its gc: base image, unpack, change, repack, config --tag."""
    layout = tmp_path / "layout"
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "os-release").write_text("ID=base\n")
    ok(capsys, "init", "--layout", str(layout))
    ok(capsys, "new", "--image", f"{layout}:base_layer")
    ok(capsys, "insert", "--image", f"{layout}:base_layer", str(tree), "/")
    bundle = tmp_path / "bundle"
    ok(capsys, "unpack", "--image", f"{layout}:base_layer", str(bundle))
    (bundle / "rootfs" / "etc" / "derived").write_text("yes\n")
    ok(capsys, "repack", "--image", f"{layout}:base_layer", str(bundle))
    ok(
        capsys,
        "config",
        "--image",
        f"{layout}:base_layer",
        "--tag",
        "derived:1.0",
        "--config.cmd",
        "/bin/sh",
    )
    ok(capsys, "rm", "--image", f"{layout}:base_layer")
    return layout


def test_kiwi_derived_build_gc_leaves_exactly_the_reachable_blobs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    layout = _kiwi_derived_build(capsys, tmp_path)
    assert _blob_files(layout) > _reachable_blobs(layout), "the build left unreachable blobs"
    ok(capsys, "gc", "--layout", str(layout))
    assert _blob_files(layout) == _reachable_blobs(layout)
    assert ok(capsys, "ls", "--layout", str(layout)) == "derived:1.0\n"


@pytest.mark.oracle
def test_gc_sweeps_what_the_go_umoci_sweeps(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, oracle_umoci: Path
) -> None:
    import shutil
    import subprocess

    ours = _kiwi_derived_build(capsys, tmp_path)
    theirs = shutil.copytree(ours, tmp_path / "theirs", symlinks=True)
    subprocess.run([oracle_umoci, "gc", "--layout", theirs], check=True, timeout=60)
    ok(capsys, "gc", "--layout", str(ours))
    assert _blob_files(ours) == _blob_files(theirs) == _reachable_blobs(theirs)


# -- user errors: one line, exit 1, layout unchanged ------------------------


def _write_blob(layout: Path, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return digest


def _retarget(layout: Path, tag: str, **descriptor: object) -> None:
    index = json.loads((layout / "index.json").read_text())
    for d in index["manifests"]:
        if d["annotations"]["org.opencontainers.image.ref.name"] == tag:
            d.update(descriptor)
    (layout / "index.json").write_text(json.dumps(index))


def _corrupt_manifest_content(layout: Path) -> None:
    index = json.loads((layout / "index.json").read_text())
    digest = index["manifests"][0]["digest"].split(":")[1]
    path = layout / "blobs" / "sha256" / digest
    path.write_bytes(path.read_bytes().replace(b"schemaVersion", b"schemaVersioN"))


def _corrupt_config_content(layout: Path) -> None:
    for path in (layout / "blobs" / "sha256").iterdir():
        if b'"rootfs"' in path.read_bytes():
            path.write_bytes(path.read_bytes().replace(b"linux", b"LINUX"))


def _wrong_size(layout: Path) -> None:
    index = json.loads((layout / "index.json").read_text())
    _retarget(layout, "t", size=index["manifests"][0]["size"] + 1)


def _negative_size(layout: Path) -> None:
    _retarget(layout, "t", size=-5)


def _bad_json_manifest(layout: Path) -> None:
    data = b"{not json"
    _retarget(layout, "t", digest="sha256:" + _write_blob(layout, data), size=len(data))


def _missing_manifest(layout: Path) -> None:
    _retarget(layout, "t", digest="sha256:" + "0" * 64)


def _index_typed_as_manifest(layout: Path) -> None:
    data = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [],
        }
    ).encode()
    _retarget(layout, "t", digest="sha256:" + _write_blob(layout, data), size=len(data))


def _manifest_with_wrong_types(layout: Path) -> None:
    data = b'{"schemaVersion":2,"config":"nope","layers":{}}'
    _retarget(layout, "t", digest="sha256:" + _write_blob(layout, data), size=len(data))


CORRUPTIONS = [
    _corrupt_manifest_content,
    _corrupt_config_content,
    _wrong_size,
    _negative_size,
    _bad_json_manifest,
    _missing_manifest,
    _index_typed_as_manifest,
    _manifest_with_wrong_types,
]

READ_AND_WRITE_VERBS = [
    ["stat", "--image", "{L}:t"],
    ["stat", "--json", "--image", "{L}:t"],
    ["config", "--image", "{L}:t", "--config.user", "x"],
    ["config", "--image", "{L}:t", "--tag", "n", "--config.user", "x"],
]


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("argv", READ_AND_WRITE_VERBS, ids=lambda a: "-".join(a[:2]))
def test_corrupted_images_fail_cleanly(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, corrupt: object, argv: list[str]
) -> None:
    layout = tmp_path / "img"
    ok(capsys, "init", "--layout", str(layout))
    ok(capsys, "new", "--image", f"{layout}:t")
    corrupt(layout)  # type: ignore[operator]
    before = snapshot(layout)
    status, out, err = umoci(capsys, *[a.replace("{L}", str(layout)) for a in argv])
    assert status == 1
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"umoci: {argv[0]}: ")
    assert "Traceback" not in err
    assert snapshot(layout) == before


@pytest.mark.parametrize(
    "argv",
    [
        ["init", "--layout", "{L}"],
        ["new", "--image", "{L}:bad tag"],
        ["new", "--image", "{L}:"],
        ["new", "--image", "{M}:t"],
        ["tag", "--image", "{L}:t", "bad tag"],
        ["tag", "--image", "{L}:missing", "x"],
        ["tag", "--image", "{L}:t"],
        ["stat", "--image", "{L}:missing"],
        ["stat", "--image", "{M}:t"],
        ["config", "--image", "{L}:missing", "--config.user", "x"],
        ["config", "--image", "{L}:t", "--clear", "rootfs.diffids"],
        ["config", "--image", "{L}:t", "--clear", "nonsense"],
        ["config", "--image", "{L}:t", "--config.env", "NOEQ"],
        ["config", "--image", "{L}:t", "--config.label", "=v"],
        ["config", "--image", "{L}:t", "--created", "yesterday"],
        ["config", "--image", "{L}:t", "--history.created", "2020"],
        ["config", "--image", "{L}:t", "--manifest.annotation", "x"],
        ["config", "--image", "{L}:t", "--tag", "bad tag", "--config.user", "x"],
        ["config", "--image", "{L}:t", "--no-such-flag"],
        ["config", "--image", "{L}:t", "positional"],
        ["ls", "--layout", "{M}"],
        ["ls"],
        ["gc", "--layout", "{M}"],
        ["rm", "--image", "{L}:bad tag"],
    ],
)
def test_user_errors_are_one_line_and_change_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]
) -> None:
    layout = tmp_path / "img"
    ok(capsys, "init", "--layout", str(layout))
    ok(capsys, "new", "--image", f"{layout}:t")
    before = snapshot(tmp_path)
    args = [a.replace("{L}", str(layout)).replace("{M}", str(tmp_path / "missing")) for a in argv]
    status, out, err = umoci(capsys, *args)
    assert status == 1, (out, err)
    assert len(err.splitlines()) == 1, err
    assert err.startswith("umoci: ")
    assert "Traceback" not in err
    assert snapshot(tmp_path) == before


def test_read_verbs_do_not_write_to_layout(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    layout = tmp_path / "img"
    ok(capsys, "init", "--layout", str(layout))
    ok(capsys, "new", "--image", f"{layout}:t")
    before = snapshot(layout)
    ok(capsys, "ls", "--layout", str(layout))
    ok(capsys, "stat", "--image", f"{layout}:t")
    ok(capsys, "stat", "--json", "--image", f"{layout}:t")
    assert snapshot(layout) == before


def test_stat_tolerates_artifact_manifests(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    layout = tmp_path / "img"
    ok(capsys, "init", "--layout", str(layout))
    empty = _write_blob(layout, b"{}")
    payload = _write_blob(layout, b"signature bytes")
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/vnd.example.sig",
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": "sha256:" + empty,
                "size": 2,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.example.sig.v1",
                    "digest": "sha256:" + payload,
                    "size": 15,
                }
            ],
        }
    ).encode()
    digest = _write_blob(layout, manifest)
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": "sha256:" + digest,
                "size": len(manifest),
                "annotations": {"org.opencontainers.image.ref.name": "sig"},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index))
    text = ok(capsys, "stat", "--image", f"{layout}:sig")
    assert "Artifact Type: application/vnd.example.sig" in text
    assert "application/vnd.example.sig.v1" in text
    # 0.6's shape for the empty config: its descriptor only, no history.
    assert text.endswith(
        "\n\n== CONFIG ==\nDescriptor:\n\tMedia Type: application/vnd.oci.empty.v1+json\n"
        f"\tDigest: sha256:{empty}\n\tSize: 2B\n"
    )
    assert "== HISTORY ==" not in text
    js = json.loads(ok(capsys, "stat", "--json", "--image", f"{layout}:sig"))
    assert js["config"]["blob"] == {}
    assert "history" not in js
    ok(capsys, "gc", "--layout", str(layout))
    assert len(list((layout / "blobs" / "sha256").iterdir())) == 3
    status, _, err = umoci(capsys, "config", "--image", f"{layout}:sig", "--config.user", "x")
    assert status == 1
    assert "not an image config" in err


def test_stat_reads_docker_schema2_manifests(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    layout = tmp_path / "img"
    ok(capsys, "init", "--layout", str(layout))
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["sh"]},
            "container_config": {"Hostname": "abc"},
            "rootfs": {"type": "layers", "diff_ids": []},
            "docker_version": "20.10",
        }
    ).encode()
    cfg = _write_blob(layout, config)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": "sha256:" + cfg,
                "size": len(config),
            },
            "layers": [],
        }
    ).encode()
    digest = _write_blob(layout, manifest)
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "digest": "sha256:" + digest,
                "size": len(manifest),
                "annotations": {"org.opencontainers.image.ref.name": "d"},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index))
    assert "Command:\n\t\tsh" in ok(capsys, "stat", "--image", f"{layout}:d")
    ok(capsys, "config", "--image", f"{layout}:d", "--config.user", "u")
    js = json.loads(ok(capsys, "stat", "--json", "--image", f"{layout}:d"))
    assert js["manifest"]["descriptor"]["mediaType"].startswith("application/vnd.docker")
    assert js["config"]["descriptor"]["mediaType"].startswith("application/vnd.docker")
    assert js["config"]["blob"]["docker_version"] == "20.10"
    assert js["config"]["blob"]["container_config"] == {"Hostname": "abc"}


def test_read_only_layout_serves_read_commands(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Run as "nobody" by scripts/test, this checks real permission refusals;
    # as root it still checks that nothing is written.
    import os

    layout = tmp_path / "img"
    ok(capsys, "init", "--layout", str(layout))
    ok(capsys, "new", "--image", f"{layout}:t")
    paths = [Path(d) / n for d, dirs, files in os.walk(layout) for n in dirs + files]
    for path in [*paths, layout]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        before = snapshot(layout)
        assert ok(capsys, "ls", "--layout", str(layout)) == "t\n"
        assert "== MANIFEST ==" in ok(capsys, "stat", "--image", f"{layout}:t")
        ok(capsys, "stat", "--json", "--image", f"{layout}:t")
        # unpack holds the blob lock (a flock on blobs/): read-only is fine.
        ok(capsys, "raw", "unpack", "--image", f"{layout}:t", str(tmp_path / "rootfs"))
        assert ok(capsys, "validate", "--layout", str(layout)).endswith(
            "0 errors, 0 warnings (2 blobs checked)\n"
        )
        assert snapshot(layout) == before
    finally:
        for path in [layout, *paths]:
            if path.is_dir():
                path.chmod(0o755)
