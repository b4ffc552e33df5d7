"""No false alarms: layouts that real tools write validate without errors; bundles too.

Our verbs (single images, multi-platform indexes, BuildKit-shaped untagged
indexes with attestations, Docker schema 2, OCI 1.1 artefacts), skopeo's
copies, Debian's Go umoci 0.4.7 and the Go umoci 0.6 oracle.  Warnings
(unreferenced blobs before a gc) are allowed; errors are not.  Then the
bundle checks, on a good bundle and on one broken in each way.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from multikit import (
    attestation_for,
    entry,
    put_json,
    set_index,
    three_platforms,
    umoci_ok,
    untagged,
)
from umoci import ops
from unpack.imagekit import T, build_tar, write_image


def errors(report: object) -> list[str]:
    return [f.line() for f in report.findings if f.level == "error"]  # type: ignore[attr-defined]


def assert_valid(layout: Path) -> None:
    report = ops.validate_layout(str(layout))
    assert errors(report) == []
    assert report.blobs_checked > 0


def test_our_multi_platform_layout_after_a_repack(tmp_path: Path) -> None:
    layout = three_platforms(tmp_path)
    bundle = tmp_path / "bundle"
    umoci_ok("unpack", "--image", f"{layout}:multi", "--platform", "linux/arm64", bundle)
    (bundle / "rootfs" / "new").write_text("x")
    umoci_ok("repack", "--image", f"{layout}:multi", bundle)
    umoci_ok(
        "config", "--image", f"{layout}:multi", "--platform", "linux/s390x", "--config.user", "7"
    )
    assert_valid(layout)
    report = ops.validate_bundle(str(bundle))
    assert [f.line() for f in report.findings if f.check != "bundle-rootfs"] == []
    # One image of it, by tag and platform, and by digest.
    digest = entry(layout, "amd64")["digest"]
    assert errors(ops.validate_image(str(layout), "multi", platform="linux/arm64")) == []
    assert errors(ops.validate_image(str(layout), f"@{digest}")) == []


def test_buildkit_shaped_untagged_index_with_attestations(tmp_path: Path) -> None:
    layout = three_platforms(tmp_path)
    amd, s390 = entry(layout, "amd64"), entry(layout, "s390x")
    top = put_json(
        layout,
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                untagged(amd, platform={"os": "linux", "architecture": "amd64"}),
                untagged(s390, platform={"os": "linux", "architecture": "s390x"}),
                attestation_for(layout, s390["digest"]),
            ],
        },
        "application/vnd.oci.image.index.v1+json",
    )
    set_index(layout, [top])
    umoci_ok("gc", "--grace", "0", "--layout", layout)
    report = ops.validate_layout(str(layout))
    assert [f.line() for f in report.findings] == []


def test_docker_schema_2_and_artefacts(tmp_path: Path) -> None:
    layout = tmp_path / "docker"
    write_image(layout, [build_tar([T.reg("f", b"x")])], tag="d", docker=True)
    assert_valid(layout)
    # An OCI 1.1 artefact: empty config, a blob of its own type, a subject.
    umoci_ok("new", "--image", f"{layout}:img")
    subject = entry(layout, "img")
    empty = put_json(layout, {}, "application/vnd.oci.empty.v1+json")
    sbom = put_json(layout, {"spdxVersion": "SPDX-2.3"}, "application/spdx+json")
    artefact = put_json(
        layout,
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/spdx+json",
            "config": empty,
            "layers": [sbom],
            "subject": untagged(subject),
        },
        "application/vnd.oci.image.manifest.v1+json",
    )
    artefact["annotations"] = {"org.opencontainers.image.ref.name": "sbom"}
    index = json.loads((layout / "index.json").read_bytes())
    set_index(layout, [*index["manifests"], artefact])
    assert_valid(layout)


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed (.ci/run installs it with apt)"
    return path


@pytest.mark.goumoci
def test_skopeo_and_debian_umoci_layouts(tmp_path: Path) -> None:
    ours = three_platforms(tmp_path)
    copy = tmp_path / "copy"
    subprocess.run(
        [_tool("skopeo"), "copy", "--all", f"oci:{ours}:multi", f"oci:{copy}:multi"], check=True
    )
    assert_valid(copy)
    go = tmp_path / "go"
    umoci = _tool("umoci")
    subprocess.run([umoci, "init", "--layout", go], check=True)
    subprocess.run([umoci, "new", "--image", f"{go}:a"], check=True)
    subprocess.run([umoci, "config", "--image", f"{go}:a", "--config.env", "A=1"], check=True)
    (tmp_path / "src").write_text("x")
    subprocess.run([umoci, "insert", "--image", f"{go}:a", tmp_path / "src", "/x"], check=True)
    assert_valid(go)


@pytest.mark.oracle
def test_go_umoci_06_layout(oracle_umoci: Path, tmp_path: Path) -> None:
    layout = tmp_path / "oracle"
    run = [str(oracle_umoci)]
    subprocess.run([*run, "init", "--layout", layout], check=True)
    subprocess.run([*run, "new", "--image", f"{layout}:a"], check=True)
    (tmp_path / "src").write_text("x")
    subprocess.run([*run, "insert", "--image", f"{layout}:a", tmp_path / "src", "/x"], check=True)
    subprocess.run([*run, "config", "--image", f"{layout}:a", "--config.user", "1"], check=True)
    subprocess.run([*run, "unpack", "--image", f"{layout}:a", tmp_path / "b"], check=True)
    (tmp_path / "b" / "rootfs" / "y").write_text("y")
    subprocess.run([*run, "repack", "--image", f"{layout}:b", tmp_path / "b"], check=True)
    assert_valid(layout)
    # A bundle the Go umoci made (and repacked without --refresh-bundle, so
    # its rootfs now differs from the mtree by exactly the repacked change).
    report = ops.validate_bundle(str(tmp_path / "b"))
    assert {f.check for f in report.findings} <= {"bundle-rootfs"}


# -- bundles ------------------------------------------------------------------------------


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    layout = tmp_path / "layout"
    umoci_ok("init", "--layout", layout)
    umoci_ok("new", "--image", f"{layout}:a")
    (tmp_path / "src").write_text("x")
    umoci_ok("insert", "--image", f"{layout}:a", tmp_path / "src", "/x")
    umoci_ok("unpack", "--image", f"{layout}:a", tmp_path / "bundle")
    return tmp_path / "bundle"


def bundle_findings(bundle: Path) -> list[tuple[str, str]]:
    return [(f.check, f.where) for f in ops.validate_bundle(str(bundle)).findings]


def test_a_fresh_bundle_is_valid(bundle: Path) -> None:
    assert bundle_findings(bundle) == []


def test_broken_bundles(bundle: Path, tmp_path: Path) -> None:
    def copy() -> Path:
        target = tmp_path / f"copy-{len(list(tmp_path.iterdir()))}"
        shutil.copytree(bundle, target, symlinks=True)
        return target

    b = copy()
    (b / "config.json").unlink()
    assert bundle_findings(b) == [("bundle-config", "config.json")]
    b = copy()
    config = json.loads((b / "config.json").read_bytes())
    config["process"]["cwd"] = 5
    (b / "config.json").write_text(json.dumps(config))
    assert bundle_findings(b) == [("bundle-config", "config.json")]
    b = copy()
    (b / "umoci.json").write_text("{")
    assert bundle_findings(b) == [("bundle-meta", "umoci.json")]
    b = copy()
    (mtree,) = b.glob("*.mtree")
    mtree.unlink()
    assert bundle_findings(b) == [("bundle-mtree", mtree.name)]
    b = copy()
    (b / "rootfs" / "x").write_text("changed")
    assert ("bundle-rootfs", "rootfs/x") in bundle_findings(b)
