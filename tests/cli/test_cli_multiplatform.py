"""Multi-platform images and digest references, black-box through the CLI.

Layouts are built with our own verbs (three images and ``umoci index
create``) or written by hand for the shapes other tools write: BuildKit's
untagged index holding nested indexes and attestations, Docker manifest
lists, artefacts, buildpacks' configs without ``os``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from multikit import (
    DOCKER_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    PLATFORMS,
    REF_NAME,
    attestation_for,
    entry,
    index_json,
    put_json,
    read_json,
    set_index,
    snapshot,
    three_platforms,
    umoci_ok,
    untagged,
)
from umoci.api import Layout
from umoci.cli import main
from umoci.hostplatform import host_arch
from unpack.imagekit import T, build_tar, write_image


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def ok(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> str:
    status, out, err = run(capsys, *argv)
    assert status == 0, err
    return out


def compact(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def entries_by_arch(layout: Path, index_digest: str) -> dict[str, dict[str, object]]:
    return {m["platform"]["architecture"]: m for m in read_json(layout, index_digest)["manifests"]}


@pytest.fixture
def multi(tmp_path: Path) -> Path:
    return three_platforms(tmp_path)


# -- the round trip of the acceptance list ----------------------------------------------


def test_unpack_one_platform_change_repack_keeps_the_other_two(
    capsys: pytest.CaptureFixture[str], multi: Path, tmp_path: Path
) -> None:
    old_index = entry(multi, "multi")["digest"]
    old_blob = (multi / "blobs" / "sha256" / old_index.split(":")[1]).read_bytes()
    old = entries_by_arch(multi, old_index)
    bundle = tmp_path / "bundle"
    ok(capsys, "unpack", "--image", f"{multi}:multi", "--platform", "linux/arm64", bundle)
    assert (bundle / "rootfs" / "arch").read_text() == "arm64\n"
    walk = json.loads((bundle / "umoci.json").read_bytes())["from_descriptor_path"]
    assert [d["digest"] for d in walk["descriptor_walk"]] == [old_index, old["arm64"]["digest"]]
    (bundle / "rootfs" / "new-file").write_text("changed\n")
    ok(capsys, "repack", "--image", f"{multi}:multi", bundle)

    new_index = entry(multi, "multi")["digest"]
    assert new_index != old_index
    new_blob = (multi / "blobs" / "sha256" / new_index.split(":")[1]).read_bytes()
    new = entries_by_arch(multi, new_index)
    assert list(new) == ["amd64", "arm64", "s390x"], "same platforms, same order"
    for arch in ("amd64", "s390x"):
        assert new[arch] == old[arch]
        assert compact(old[arch]) in old_blob
        assert compact(old[arch]) in new_blob
    assert new["arm64"]["platform"] == old["arm64"]["platform"]
    old_layers = read_json(multi, str(old["arm64"]["digest"]))["layers"]
    new_layers = read_json(multi, str(new["arm64"]["digest"]))["layers"]
    assert new_layers[:-1] == old_layers
    assert len(new_layers) == len(old_layers) + 1
    # The result unpacks per platform: arm64 with the change, the others without.
    for arch, has_change in (("arm64", True), ("amd64", False), ("s390x", False)):
        out = tmp_path / f"check-{arch}"
        ok(capsys, "raw", "unpack", "--image", f"{multi}:multi", "--platform", f"linux/{arch}", out)
        assert (out / "arch").read_text() == f"{arch}\n"
        assert (out / "new-file").exists() == has_change


def test_default_platform_is_the_host(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    layout = tmp_path / "L"
    ok(capsys, "init", "--layout", layout)
    other = "s390x" if host_arch() != "s390x" else "riscv64"
    for name, arch in (("other", other), ("host", host_arch())):
        ok(capsys, "new", "--image", f"{layout}:{name}")
        ok(capsys, "config", "--image", f"{layout}:{name}", "--architecture", arch, "--os", "linux")
        (tmp_path / name).write_text(name)
        ok(capsys, "insert", "--image", f"{layout}:{name}", tmp_path / name, "/which")
    ok(capsys, "index", "create", "--image", f"{layout}:multi", "other", "host")
    ok(capsys, "raw", "unpack", "--image", f"{layout}:multi", tmp_path / "out")
    assert (tmp_path / "out" / "which").read_text() == "host"


def test_config_architecture_on_one_child_relabels_its_entry(
    capsys: pytest.CaptureFixture[str], multi: Path
) -> None:
    ref = f"{multi}:multi"
    ok(capsys, "config", "--image", ref, "--platform", "linux/s390x", "--architecture", "ppc64le")
    archs = list(entries_by_arch(multi, entry(multi, "multi")["digest"]))
    assert archs == ["amd64", "arm64", "ppc64le"]
    out = ok(capsys, "stat", "--image", ref, "--platform", "linux/ppc64le", "--json")
    assert json.loads(out)["config"]["blob"]["architecture"] == "ppc64le"


# -- BuildKit's shape: an untagged index, nested indexes, attestations ------------------


@pytest.fixture
def buildkit(multi: Path) -> tuple[Path, dict[str, str]]:
    """index.json → untagged index → [nested index (amd64, arm64), s390x, attestation]."""
    amd, arm, s390 = (entry(multi, t) for t in ("amd64", "arm64", "s390x"))
    nested = put_json(
        multi,
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                untagged(amd, platform={"os": "linux", "architecture": "amd64"}),
                untagged(arm, platform={"os": "linux", "architecture": "arm64", "variant": "v8"}),
            ],
        },
        OCI_INDEX,
    )
    top = put_json(
        multi,
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                nested,
                untagged(s390, platform={"os": "linux", "architecture": "s390x"}),
                attestation_for(multi, s390["digest"]),
            ],
        },
        OCI_INDEX,
    )
    set_index(multi, [top])
    return multi, {"top": top["digest"], "nested": nested["digest"], "s390x": s390["digest"]}


def test_ls_long_lists_untagged_entries(
    capsys: pytest.CaptureFixture[str], buildkit: tuple[Path, dict[str, str]]
) -> None:
    layout, digests = buildkit
    assert ok(capsys, "ls", "--layout", layout) == ""
    out = ok(capsys, "ls", "--long", "--layout", layout)
    assert out == f"<none>\t{OCI_INDEX}\t{digests['top']}\tlinux/amd64,linux/arm64,linux/s390x\n"


def test_untagged_nested_index_by_digest_prefix(
    capsys: pytest.CaptureFixture[str], buildkit: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    layout, digests = buildkit
    prefix = digests["top"][: len("sha256:") + 12]
    for arch in ("amd64", "arm64", "s390x"):
        out = tmp_path / arch
        ok(
            capsys,
            "raw",
            "unpack",
            "--image",
            f"{layout}@{prefix}",
            "--platform",
            f"linux/{arch}",
            out,
        )
        assert (out / "arch").read_text() == f"{arch}\n"
    # A digest inside the tree names that index (or manifest) directly.
    out = tmp_path / "direct"
    ok(capsys, "raw", "unpack", "--image", f"{layout}@{digests['s390x']}", out)
    assert (out / "arch").read_text() == "s390x\n"


def test_stat_of_an_index_lists_entries_and_attestations(
    capsys: pytest.CaptureFixture[str], buildkit: tuple[Path, dict[str, str]]
) -> None:
    layout, digests = buildkit
    text = ok(capsys, "stat", "--image", f"{layout}@{digests['top']}")
    head, table = text.split("\n== MANIFESTS ==\n")
    assert head.startswith(f"== INDEX ==\nSchema Version: 2\nMedia Type: {OCI_INDEX}\n")
    rows = [line.split() for line in table.splitlines()]
    assert rows[0] == ["PLATFORM", "DIGEST", "SIZE", "MEDIA", "TYPE", "ANNOTATIONS"]
    assert [r[0] for r in rows[1:]] == [
        "<none>",
        "linux/amd64",
        "linux/arm64/v8",
        "linux/s390x",
        "unknown/unknown",
    ]
    assert rows[1][1] == digests["nested"]
    assert "vnd.docker.reference.type=attestation-manifest" in table
    blob = json.loads(ok(capsys, "stat", "--json", "--image", f"{layout}@{digests['top']}"))
    assert blob["index"]["descriptor"]["digest"] == digests["top"]
    assert len(blob["index"]["blob"]["manifests"]) == 3


def test_tag_names_an_untagged_index_and_a_platform(
    capsys: pytest.CaptureFixture[str], buildkit: tuple[Path, dict[str, str]]
) -> None:
    layout, digests = buildkit
    ok(capsys, "tag", "--image", f"{layout}@{digests['top'][:20]}", "all")
    ok(capsys, "tag", "--image", f"{layout}:all", "--platform", "linux/arm64", "arm-only")
    assert ok(capsys, "ls", "--layout", layout) == "all\narm-only\n"
    assert entry(layout, "all")["digest"] == digests["top"]
    arm = entry(layout, "arm-only")
    assert arm["mediaType"] == OCI_MANIFEST
    assert arm["platform"]["architecture"] == "arm64"


def test_write_through_nested_indexes_rewrites_each_parent(
    capsys: pytest.CaptureFixture[str], buildkit: tuple[Path, dict[str, str]]
) -> None:
    layout, digests = buildkit
    old_top = read_json(layout, digests["top"])
    ref = f"{layout}@{digests['top']}"
    ok(
        capsys,
        "config",
        "--image",
        ref,
        "--platform",
        "linux/arm64",
        "--config.user",
        "7",
        "--tag",
        "t",
    )
    new_top = read_json(layout, entry(layout, "t")["digest"])
    assert new_top["manifests"][1:] == old_top["manifests"][1:], "s390x and attestation kept"
    new_nested = read_json(layout, new_top["manifests"][0]["digest"])
    old_nested = read_json(layout, digests["nested"])
    assert new_nested["manifests"][0] == old_nested["manifests"][0], "amd64 kept"
    assert new_nested["manifests"][1]["digest"] != old_nested["manifests"][1]["digest"]
    out = ok(capsys, "stat", "--json", "--image", f"{layout}:t", "--platform", "linux/arm64")
    assert json.loads(out)["config"]["blob"]["config"]["User"] == "7"
    # The untagged original is still there, unchanged.
    assert index_json(layout)["manifests"][0]["digest"] == digests["top"]


def test_attestations_are_never_chosen(
    capsys: pytest.CaptureFixture[str], multi: Path, tmp_path: Path
) -> None:
    s390 = entry(multi, "s390x")
    index = put_json(
        multi,
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                attestation_for(multi, s390["digest"]),
                untagged(s390, platform={"os": "linux", "architecture": "s390x"}),
            ],
        },
        OCI_INDEX,
    )
    index["annotations"] = {REF_NAME: "att"}
    set_index(multi, [*index_json(multi)["manifests"], index])
    # Not the host's platform, but the only image there is: it is chosen.
    ok(capsys, "raw", "unpack", "--image", f"{multi}:att", tmp_path / "out")
    assert (tmp_path / "out" / "arch").read_text() == "s390x\n"
    status, _, err = run(
        capsys,
        "raw",
        "unpack",
        "--image",
        f"{multi}:att",
        "--platform",
        "unknown/unknown",
        tmp_path / "x",
    )
    assert status == 1
    assert "no manifest for platform unknown/unknown" in err


# -- Docker manifest lists ---------------------------------------------------------------


def test_docker_manifest_list_reads_and_writes_as_docker(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    layout = tmp_path / "docker"
    children = []
    for arch in ("amd64", "arm64"):
        image = write_image(
            layout, [build_tar([T.reg("arch", arch.encode())])], tag=arch, docker=True
        )
        child = entry(layout, arch)
        children.append(untagged(child, platform={"os": "linux", "architecture": arch}))
        assert child["digest"] == image.manifest_digest
    listing = put_json(
        layout, {"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": children}, DOCKER_LIST
    )
    listing["annotations"] = {REF_NAME: "list"}
    set_index(layout, [listing])
    ok(
        capsys,
        "raw",
        "unpack",
        "--image",
        f"{layout}:list",
        "--platform",
        "linux/arm64",
        tmp_path / "a",
    )
    assert (tmp_path / "a" / "arch").read_text() == "arm64"
    ok(
        capsys,
        "config",
        "--image",
        f"{layout}:list",
        "--platform",
        "linux/arm64",
        "--config.user",
        "1",
    )
    new = entry(layout, "list")
    assert new["mediaType"] == DOCKER_LIST
    blob = read_json(layout, new["digest"])
    assert blob["mediaType"] == DOCKER_LIST
    assert blob["manifests"][0] == children[0]
    arm = blob["manifests"][1]
    assert arm["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert read_json(layout, arm["digest"])["mediaType"] == arm["mediaType"]
    ok(capsys, "index", "remove", "--image", f"{layout}:list", "--platform", "linux/amd64")
    blob = read_json(layout, entry(layout, "list")["digest"])
    assert blob["mediaType"] == DOCKER_LIST
    assert [m["digest"] for m in blob["manifests"]] == [arm["digest"]]


# -- umoci index -----------------------------------------------------------------------------


def test_index_add_replaces_its_platform_and_drops_its_attestation(
    capsys: pytest.CaptureFixture[str], multi: Path, tmp_path: Path
) -> None:
    arm_digest = entry(multi, "arm64")["digest"]
    old = read_json(multi, entry(multi, "multi")["digest"])
    with_attestation = put_json(
        multi,
        {**old, "manifests": [*old["manifests"], attestation_for(multi, arm_digest)]},
        OCI_INDEX,
    )
    set_index(multi, [*index_json(multi)["manifests"], with_attestation])  # untagged
    ok(capsys, "tag", "--image", f"{multi}@{with_attestation['digest']}", "multi")
    ok(capsys, "new", "--image", f"{multi}:arm64b")
    (tmp_path / "b").write_text("arm64 again\n")
    ok(capsys, "insert", "--image", f"{multi}:arm64b", tmp_path / "b", "/arch")
    ok(capsys, "index", "add", "--image", f"{multi}:multi", "arm64b=linux/arm64/v8")
    new = read_json(multi, entry(multi, "multi")["digest"])
    assert [m["platform"]["architecture"] for m in new["manifests"]] == ["amd64", "s390x", "arm64"]
    assert new["manifests"][:2] == [old["manifests"][0], old["manifests"][2]]
    assert new["manifests"][2]["digest"] == entry(multi, "arm64b")["digest"]
    ok(
        capsys,
        "index",
        "rm",
        "--image",
        f"{multi}:multi",
        "--platform",
        "linux/s390x",
        "--tag",
        "two",
    )
    two = read_json(multi, entry(multi, "two")["digest"])
    assert [m["platform"]["architecture"] for m in two["manifests"]] == ["amd64", "arm64"]


def test_index_create_takes_platforms_from_configs_or_as_given(
    capsys: pytest.CaptureFixture[str], multi: Path
) -> None:
    arm = entry(multi, "arm64")["digest"]
    ok(capsys, "index", "create", "--image", f"{multi}:c", "amd64", f"@{arm}=linux/arm/v7")
    blob = read_json(multi, entry(multi, "c")["digest"])
    assert [m["platform"] for m in blob["manifests"]] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm", "os": "linux", "variant": "v7"},
    ]
    assert all(REF_NAME not in m.get("annotations", {}) for m in blob["manifests"])


# -- writes through an index: what the tag holds now is what is rewritten ---------------------


def unpack_platform(
    capsys: pytest.CaptureFixture[str], layout: Path, arch: str, bundle: Path
) -> Path:
    """Unpack one platform of ``multi`` and change its rootfs (a file named after *arch*)."""
    ok(capsys, "unpack", "--image", f"{layout}:multi", "--platform", f"linux/{arch}", bundle)
    (bundle / "rootfs" / f"changed-{arch}").write_text("changed\n")
    return bundle


def multi_entries(layout: Path) -> list[dict[str, Any]]:
    return list(read_json(layout, entry(layout, "multi")["digest"])["manifests"])


def without_arch(entries: list[dict[str, Any]], arch: str) -> list[dict[str, Any]]:
    return [m for m in entries if m["platform"]["architecture"] != arch]


def unpacked_changes(capsys: pytest.CaptureFixture[str], layout: Path, out: Path) -> set[str]:
    """The ``changed-*`` files of each platform of ``multi``, as ``arch:file``."""
    found = set()
    for arch in PLATFORMS:
        rootfs = out / arch
        ok(
            capsys,
            "raw",
            "unpack",
            "--image",
            f"{layout}:multi",
            "--platform",
            f"linux/{arch}",
            rootfs,
        )
        found |= {f"{arch}:{p.name}" for p in rootfs.glob("changed-*")}
    return found


def test_two_repacks_through_one_index_keep_both(
    capsys: pytest.CaptureFixture[str], multi: Path, tmp_path: Path
) -> None:
    s390x = entries_by_arch(multi, entry(multi, "multi")["digest"])["s390x"]
    amd = unpack_platform(capsys, multi, "amd64", tmp_path / "amd")
    arm = unpack_platform(capsys, multi, "arm64", tmp_path / "arm")
    ok(capsys, "repack", "--image", f"{multi}:multi", amd)
    first = entries_by_arch(multi, entry(multi, "multi")["digest"])["amd64"]
    ok(capsys, "repack", "--image", f"{multi}:multi", arm)
    now = entries_by_arch(multi, entry(multi, "multi")["digest"])
    assert list(now) == ["amd64", "arm64", "s390x"]
    assert now["amd64"] == first, "the first repack's manifest is still the amd64 entry"
    assert now["s390x"] == s390x
    assert unpacked_changes(capsys, multi, tmp_path / "out") == {
        "amd64:changed-amd64",
        "arm64:changed-arm64",
    }


@pytest.mark.parametrize(
    "between",
    [
        ["repack", "--image", "{L}:multi", "{amd}"],
        ["config", "--image", "{L}:multi", "--platform", "linux/amd64", "--config.user", "7"],
        ["insert", "--image", "{L}:multi", "--platform", "linux/amd64", "{file}", "/added"],
        ["index", "remove", "--image", "{L}:multi", "--platform", "linux/s390x"],
    ],
    ids=["repack", "config", "insert", "index-remove"],
)
def test_edits_of_other_platforms_after_the_unpack_are_kept(
    capsys: pytest.CaptureFixture[str], multi: Path, tmp_path: Path, between: list[str]
) -> None:
    arm = unpack_platform(capsys, multi, "arm64", tmp_path / "arm")
    amd = unpack_platform(capsys, multi, "amd64", tmp_path / "amd")
    (tmp_path / "file").write_text("added\n")
    names = {"L": multi, "amd": amd, "file": tmp_path / "file"}
    ok(capsys, *(arg.format(**names) for arg in between))
    others = without_arch(multi_entries(multi), "arm64")
    old_arm = entries_by_arch(multi, entry(multi, "multi")["digest"])["arm64"]
    ok(capsys, "repack", "--image", f"{multi}:multi", arm)
    assert without_arch(multi_entries(multi), "arm64") == others
    new_arm = entries_by_arch(multi, entry(multi, "multi")["digest"])["arm64"]
    assert new_arm["digest"] != old_arm["digest"]
    assert new_arm["platform"] == old_arm["platform"]


@pytest.mark.parametrize(
    "between",
    [
        ["index", "remove", "--image", "{L}:multi", "--platform", "linux/arm64"],
        ["config", "--image", "{L}:multi", "--platform", "linux/arm64", "--config.user", "7"],
        ["repack", "--image", "{L}:multi", "{other}"],
        ["repack", "--image", "{L}:multi", "{bundle}"],
        ["tag", "--image", "{L}:amd64", "multi"],
        ["rm", "--image", "{L}:multi"],
    ],
    ids=[
        "index-remove",
        "config",
        "repack-of-another-bundle",
        "repack-of-this-bundle",
        "tag-moved",
        "tag-removed",
    ],
)
def test_repack_after_its_entry_left_the_index_fails_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], multi: Path, tmp_path: Path, between: list[str]
) -> None:
    arm_digest = entries_by_arch(multi, entry(multi, "multi")["digest"])["arm64"]["digest"]
    bundle = unpack_platform(capsys, multi, "arm64", tmp_path / "arm")
    other = unpack_platform(capsys, multi, "arm64", tmp_path / "other")
    ok(capsys, *(arg.format(L=multi, bundle=bundle, other=other) for arg in between))
    before, bundle_before = snapshot(multi), snapshot(bundle)
    status, out, err = run(
        capsys, "repack", "--refresh-bundle", "--image", f"{multi}:multi", bundle
    )
    assert status == 1
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(
        f"umoci: repack: tag 'multi' no longer lists manifest {arm_digest} (linux/arm64), "
    )
    assert ": the bundle is out of date: unpack the image again" in err
    assert snapshot(multi) == before
    assert snapshot(bundle) == bundle_before


def test_repack_without_changes_or_history_keeps_the_other_repack(
    capsys: pytest.CaptureFixture[str], multi: Path, tmp_path: Path
) -> None:
    amd = unpack_platform(capsys, multi, "amd64", tmp_path / "amd")
    arm = tmp_path / "arm"
    ok(capsys, "unpack", "--image", f"{multi}:multi", "--platform", "linux/arm64", arm)
    ok(capsys, "repack", "--image", f"{multi}:multi", amd)
    after_amd = entry(multi, "multi")
    ok(capsys, "repack", "--no-history", "--image", f"{multi}:multi", arm)
    assert entry(multi, "multi") == after_amd


def test_refreshed_bundles_follow_each_other_through_nested_indexes(
    capsys: pytest.CaptureFixture[str], buildkit: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    layout, digests = buildkit
    old_top = read_json(layout, digests["top"])
    ok(capsys, "tag", "--image", f"{layout}@{digests['top']}", "multi")
    amd = unpack_platform(capsys, layout, "amd64", tmp_path / "amd")
    arm = unpack_platform(capsys, layout, "arm64", tmp_path / "arm")
    for bundle in (amd, arm, amd):
        ok(capsys, "repack", "--refresh-bundle", "--image", f"{layout}:multi", bundle)
        (bundle / "rootfs" / "changed-again").write_text("again\n")
    top = read_json(layout, entry(layout, "multi")["digest"])
    assert top["manifests"][1:] == old_top["manifests"][1:], "s390x and its attestation kept"
    walk = json.loads((amd / "umoci.json").read_bytes())["from_descriptor_path"]["descriptor_walk"]
    assert [d["digest"] for d in walk[:2]] == [
        entry(layout, "multi")["digest"],
        top["manifests"][0]["digest"],
    ]
    assert unpacked_changes(capsys, layout, tmp_path / "out") == {
        "amd64:changed-amd64",
        "amd64:changed-again",
        "arm64:changed-arm64",
    }


# Writes of linux/arm64 through the index ``multi``, by every writer (see write_arm64).
ARM64_WRITES: dict[str, list[str] | None] = {
    "repack": None,
    "config": ["config", "--image", "{L}:multi", "--platform", "linux/arm64", "--config.user", "7"],
    "api-config": None,
    "insert": ["insert", "--image", "{L}:multi", "--platform", "linux/arm64", "{file}", "/added"],
    "raw-add-layer": [
        "raw",
        "add-layer",
        "--image",
        "{L}:multi",
        "--platform",
        "linux/arm64",
        "{tar}",
    ],
    "index-add": ["index", "add", "--image", "{L}:multi", "arm64b=linux/arm64/v8"],
    "index-remove": ["index", "remove", "--image", "{L}:multi", "--platform", "linux/arm64"],
}


def write_arm64(capsys: pytest.CaptureFixture[str], layout: Path, tmp_path: Path, how: str) -> None:
    """Change (or, for index-remove, drop) the arm64 entry of ``multi`` the way *how* says."""
    if how == "repack":
        bundle = unpack_platform(capsys, layout, "arm64", tmp_path / "bundle")
        ok(capsys, "repack", "--image", f"{layout}:multi", bundle)
        return
    if how == "api-config":
        with Layout.open(layout).image("multi", platform="linux/arm64").config() as c:
            c.user = "7"
        return
    (tmp_path / "file").write_text("added\n")
    (tmp_path / "layer.tar").write_bytes(build_tar([T.reg("added", b"added\n")]))
    if how == "index-add":
        ok(capsys, "tag", "--image", f"{layout}:arm64", "arm64b")
        ok(capsys, "config", "--image", f"{layout}:arm64b", "--config.user", "8")
    argv = ARM64_WRITES[how]
    assert argv is not None
    names = {"L": layout, "file": tmp_path / "file", "tar": tmp_path / "layer.tar"}
    ok(capsys, *(arg.format(**names) for arg in argv))


def attest(layout: Path, *archs: str) -> list[dict[str, Any]]:
    """Give ``multi`` an attestation of each of *archs*' manifests; return the entries."""
    digests = {
        arch: m["digest"]
        for arch, m in entries_by_arch(layout, entry(layout, "multi")["digest"]).items()
    }
    attestations = [attestation_for(layout, str(digests[arch])) for arch in archs]
    old = read_json(layout, entry(layout, "multi")["digest"])
    new = put_json(layout, {**old, "manifests": [*old["manifests"], *attestations]}, OCI_INDEX)
    others = [
        d
        for d in index_json(layout)["manifests"]
        if d.get("annotations", {}).get(REF_NAME) != "multi"
    ]
    set_index(layout, [*others, {**new, "annotations": {REF_NAME: "multi"}}])
    return attestations


def attestations_of(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in entries if "vnd.docker.reference.type" in m.get("annotations", {})]


@pytest.mark.parametrize("how", list(ARM64_WRITES))
def test_a_write_of_one_platform_drops_only_its_attestation(
    capsys: pytest.CaptureFixture[str], multi: Path, tmp_path: Path, how: str
) -> None:
    old_arm = entries_by_arch(multi, entry(multi, "multi")["digest"])["arm64"]
    amd_attestation, _ = attest(multi, "amd64", "arm64")
    write_arm64(capsys, multi, tmp_path, how)
    entries = multi_entries(multi)
    assert attestations_of(entries) == [amd_attestation]
    arm = [m for m in entries if m["platform"]["architecture"] == "arm64"]
    assert len(arm) == (0 if how == "index-remove" else 1)
    assert old_arm not in arm


def test_index_add_of_the_same_manifest_keeps_its_attestation(
    capsys: pytest.CaptureFixture[str], multi: Path
) -> None:
    attestations = attest(multi, "amd64", "arm64")
    ok(capsys, "index", "add", "--image", f"{multi}:multi", "arm64=linux/arm64/v8")
    assert attestations_of(multi_entries(multi)) == attestations


def _interleave(
    monkeypatch: pytest.MonkeyPatch, module: ModuleType, name: str, *argv: str | Path
) -> None:
    """Run ``umoci *argv*`` (another umoci, in effect) when *module.name* is first called."""
    original = getattr(module, name)
    ran: list[bool] = []

    def interleaved(*args: object, **kwargs: object) -> object:
        if not ran:
            ran.append(True)
            umoci_ok(*argv)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, interleaved)


# A function each writer calls after it read the image and before it tags its result.
WRITER_HOOKS = {
    "config": "config_image.apply_changes",
    "insert": "layer_add.write_layer",
    "raw-add-layer": "layer_add.write_layer",
    "index-add": "index_edit.child_descriptor",
}


@pytest.mark.parametrize("how", list(WRITER_HOOKS))
def test_a_change_made_while_a_writer_runs_is_kept(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    multi: Path,
    tmp_path: Path,
    how: str,
) -> None:
    module_name, name = WRITER_HOOKS[how].split(".")
    module = importlib.import_module(f"umoci.ops.{module_name}")
    old_arm = entries_by_arch(multi, entry(multi, "multi")["digest"])["arm64"]
    meanwhile = ["--platform", "linux/amd64", "--config.user", "9"]
    _interleave(monkeypatch, module, name, "config", "--image", f"{multi}:multi", *meanwhile)
    write_arm64(capsys, multi, tmp_path, how)
    out = ok(capsys, "stat", "--json", "--image", f"{multi}:multi", "--platform", "linux/amd64")
    assert json.loads(out)["config"]["blob"]["config"]["User"] == "9", "the other change is kept"
    arm = entries_by_arch(multi, entry(multi, "multi")["digest"])["arm64"]
    assert arm["digest"] != old_arm["digest"], "and so is the writer's"


def test_index_add_to_an_index_with_null_manifests(
    capsys: pytest.CaptureFixture[str], multi: Path
) -> None:
    empty = put_json(
        multi, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": None}, OCI_INDEX
    )
    set_index(multi, [*index_json(multi)["manifests"], {**empty, "annotations": {REF_NAME: "e"}}])
    ok(capsys, "index", "add", "--image", f"{multi}:e", "amd64")
    assert [m["digest"] for m in read_json(multi, entry(multi, "e")["digest"])["manifests"]] == [
        entry(multi, "amd64")["digest"]
    ]


# -- errors: one line, exit 1, layout unchanged ----------------------------------------------


def _error_cases(layout: Path, tmp_path: Path) -> list[tuple[list[str | Path], str]]:
    index = entry(layout, "multi")["digest"]
    arm = entry(layout, "arm64")["digest"]
    bundle = tmp_path / "b"
    return [
        (
            ["raw", "unpack", "--image", f"{layout}:multi", "--platform", "linux/ppc64le", bundle],
            "umoci: raw unpack: tag 'multi': no manifest for platform linux/ppc64le: "
            "the index offers linux/amd64, linux/arm64, linux/s390x",
        ),
        (
            [
                "stat",
                "--image",
                f"{layout}@{index[:-1]}0" if index[-1] != "0" else f"{layout}@{index[:-1]}1",
            ],
            "digest not in the layout",
        ),
        (
            ["stat", "--image", f"{layout}@{index[:17]}"],
            "umoci: stat: invalid --image: invalid digest reference "
            f"{index[:17]}: give at least 12 hex digits",
        ),
        (
            ["config", "--image", f"{layout}@{arm}", "--config.user", "x"],
            f"umoci: config: --image names {arm} by digest: give --tag NEW",
        ),
        (
            ["insert", "--image", f"{layout}@{arm}", str(tmp_path), "/x"],
            f"umoci: insert: --image names {arm} by digest: give --tag NEW",
        ),
        (["repack", "--image", f"{layout}@{arm}", bundle], "must name a tag here, not a digest"),
        (["rm", "--image", f"{layout}@{arm}"], "must name a tag here, not a digest"),
        (
            ["unpack", "--image", f"{layout}:multi", "--platform", "linux", bundle],
            "invalid --platform 'linux'",
        ),
        (
            ["index", "add", "--image", f"{layout}:amd64", "arm64"],
            "names a 'application/vnd.oci.image.manifest.v1+json', not an index",
        ),
        (
            ["index", "remove", "--image", f"{layout}:multi", "--platform", "linux/arm/v7"],
            "no entry for platform linux/arm/v7: "
            "the index has linux/amd64, linux/arm64, linux/s390x",
        ),
        (
            ["index", "create", "--image", f"{layout}:dup", "amd64", "amd64"],
            "two children for platform linux/amd64",
        ),
        (["index", "create", "--image", f"{layout}:dup", "nosuchtag"], "tag not found: nosuchtag"),
        (["index", "create", "--image", f"{layout}:empty"], "needs at least one <child>"),
    ]


def test_errors_are_one_line_and_change_nothing(
    capsys: pytest.CaptureFixture[str], multi: Path, tmp_path: Path
) -> None:
    for argv, message in _error_cases(multi, tmp_path):
        before = snapshot(multi)
        status, out, err = run(capsys, *argv)
        assert status == 1, argv
        assert out == "", argv
        assert err.count("\n") == 1, (argv, err)
        assert err.startswith("umoci: "), (argv, err)
        assert message in err, (argv, err)
        assert snapshot(multi) == before, argv
        assert not (tmp_path / "b").exists()


def test_ambiguous_digest_prefix(capsys: pytest.CaptureFixture[str], multi: Path) -> None:
    # Two descriptors whose digests share 12 hex digits cannot be made by
    # hashing; index.json may still list a digest of a blob that is not there.
    index = index_json(multi)
    real = entry(multi, "amd64")["digest"]
    fake = real[:-4] + ("0000" if not real.endswith("0000") else "1111")
    index["manifests"].append({"mediaType": OCI_MANIFEST, "digest": fake, "size": 1})
    (multi / "index.json").write_text(json.dumps(index))
    before = snapshot(multi)
    status, _, err = run(capsys, "stat", "--image", f"{multi}@{real[:19]}")
    assert status == 1
    assert err.count("\n") == 1
    assert f"digest prefix {real[:19]} is ambiguous: it matches 2 descriptors" in err
    assert snapshot(multi) == before


# -- what buildpacks and artefact tools write ------------------------------------------------


def _hand_image(
    layout: Path,
    config: dict[str, object],
    tag: str,
    rootfs_type: str = "layers",
    **manifest_extra: object,
) -> None:
    tar = build_tar([T.reg("hello", b"hi")])
    layer_digest = "sha256:" + hashlib.sha256(tar).hexdigest()
    (layout / "blobs" / "sha256" / layer_digest.split(":")[1]).write_bytes(tar)
    layer = {
        "mediaType": "application/vnd.oci.image.layer.v1.tar",
        "digest": layer_digest,
        "size": len(tar),
    }
    config = {**config, "rootfs": {"type": rootfs_type, "diff_ids": [layer_digest]}}
    config_descriptor = put_json(layout, config, "application/vnd.oci.image.config.v1+json")
    if "config_media_type" in manifest_extra:
        config_descriptor["mediaType"] = manifest_extra.pop("config_media_type")
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config_descriptor,
        "layers": [layer],
        **manifest_extra,
    }
    descriptor = put_json(layout, manifest, OCI_MANIFEST)
    descriptor["annotations"] = {REF_NAME: tag}
    set_index(layout, [*index_json(layout)["manifests"], descriptor])


def test_config_without_os_unpacks_as_linux_with_one_warning(
    capsys: pytest.CaptureFixture[str], layout: Path, tmp_path: Path
) -> None:
    _hand_image(layout, {"architecture": "amd64"}, "noos")
    status, _, err = run(capsys, "unpack", "--image", f"{layout}:noos", tmp_path / "b")
    assert status == 0, err
    assert err == "umoci: warn: image config has no os: taking it to be linux\n"
    assert (tmp_path / "b" / "rootfs" / "hello").read_bytes() == b"hi"


def test_empty_rootfs_type_reads_as_layers_with_one_warning(
    capsys: pytest.CaptureFixture[str], layout: Path, tmp_path: Path
) -> None:
    _hand_image(layout, {"architecture": "amd64", "os": "linux"}, "norootfs", rootfs_type="")
    status, _, err = run(capsys, "raw", "unpack", "--image", f"{layout}:norootfs", tmp_path / "r")
    assert status == 0, err
    config = entry(layout, "norootfs")["digest"]
    config = read_json(layout, read_json(layout, config)["config"]["digest"])
    assert config["rootfs"]["type"] == ""
    assert err.startswith("umoci: warn: config sha256:")
    assert err.count("\n") == 1
    assert err.endswith(": empty rootfs.type: reading it as 'layers'\n")
    assert (tmp_path / "r" / "hello").read_bytes() == b"hi"


def test_artefacts_are_refused_by_unpack_and_shown_by_stat(
    capsys: pytest.CaptureFixture[str], layout: Path, tmp_path: Path
) -> None:
    _hand_image(
        layout,
        {},
        "sbom",
        artifactType="application/spdx+json",
        config_media_type="application/vnd.oci.empty.v1+json",
    )
    before = snapshot(layout)
    status, _, err = run(capsys, "unpack", "--image", f"{layout}:sbom", tmp_path / "b")
    assert status == 1
    assert err.count("\n") == 1
    assert 'is an artifact of type "application/spdx+json", not an image' in err
    assert snapshot(layout) == before
    assert not (tmp_path / "b").exists()
    assert "Artifact Type: application/spdx+json" in ok(capsys, "stat", "--image", f"{layout}:sbom")


def test_index_remove_counts_the_attestations_that_go_with_the_image(
    capsys: pytest.CaptureFixture[str], multi: Path
) -> None:
    """[amd64, arm64, ...] minus all but amd64, then amd64 with its attestation: refused."""
    for arch in ("arm64", "s390x"):
        ok(capsys, "index", "remove", "--image", f"{multi}:multi", "--platform", f"linux/{arch}")
    assert [m["platform"]["architecture"] for m in multi_entries(multi)] == ["amd64"]
    attest(multi, "amd64")
    before = snapshot(multi)
    status = main(["index", "remove", "--image", f"{multi}:multi", "--platform", "linux/amd64"])
    err = capsys.readouterr().err
    assert status == 1
    assert err.endswith("would leave the index empty (remove the tag with umoci rm instead)\n")
    assert err.count("\n") == 1
    assert snapshot(multi) == before
