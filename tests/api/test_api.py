"""The object API (umoci.api) against real layouts, and the examples/ programs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from multikit import entry, read_json, snapshot, three_platforms
from umoci.api import (
    Bundle,
    BundleError,
    GoTime,
    HistoryOptions,
    IdMap,
    ImageStat,
    IndexStat,
    InsertMode,
    InvalidArgumentError,
    Layout,
    LayoutError,
    RefNotFoundError,
    UsageError,
)

ROOT = Path(__file__).resolve().parents[2]


def blobs(layout: Path) -> set[str]:
    return {p.name for p in (layout / "blobs" / "sha256").iterdir()}


def test_init_open_tags_new_tag_remove_gc(tmp_path: Path) -> None:
    layout = Layout.init(tmp_path / "L")
    assert layout.tags() == []
    image = layout.new_image("a")
    assert image.stat().config is not None
    layout.tag("a", "b")
    assert Layout.open(tmp_path / "L").tags() == ["a", "b"]
    digest = layout.resolve("b").digest
    assert layout.resolve(f"@{digest}").digest == digest
    layout.remove("a")
    layout.remove("b")
    layout.gc()
    assert blobs(tmp_path / "L") == set()
    with pytest.raises(LayoutError):
        Layout.open(tmp_path / "nothing")
    with pytest.raises(LayoutError):
        Layout.init(tmp_path / "L")


def test_fifteen_config_changes_are_one_config_one_manifest_one_history_entry(
    tmp_path: Path,
) -> None:
    layout = Layout.init(tmp_path / "L")
    layout.new_image("a")
    before = blobs(tmp_path / "L")
    with layout.image("a").config(tag="b") as c:
        for i in range(10):
            c.env[f"K{i}"] = str(i)
        c.cmd = ["/bin/sh", "-c", "true"]
        c.entrypoint = ["/init"]
        c.labels["org.example.l"] = "v"
        c.annotations["org.example.a"] = "w"
        c.user = "1000:1000"
    new = blobs(tmp_path / "L") - before
    assert len(new) == 2, "one config blob and one manifest blob"
    stat = layout.image("b").stat()
    assert stat.config is not None
    assert [h.created_by for h in stat.config.history] == ["umoci config"]
    container = stat.config.config
    assert container.env[:10] == tuple(f"K{i}={i}" for i in range(10))
    assert (container.cmd, container.entrypoint, container.user) == (
        ("/bin/sh", "-c", "true"),
        ("/init",),
        "1000:1000",
    )
    assert container.labels == {"org.example.l": "v"}
    assert stat.manifest.annotations == {"org.example.a": "w"}
    assert layout.tags() == ["a", "b"]


def test_a_config_block_that_raises_writes_nothing(tmp_path: Path) -> None:
    layout = Layout.init(tmp_path / "L")
    layout.new_image("a")
    before = snapshot(tmp_path / "L")

    def change_then_fail() -> None:
        with layout.image("a").config() as c:
            c.env["X"] = "1"
            raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError):
        change_then_fail()
    assert snapshot(tmp_path / "L") == before


def test_config_errors_are_typed_and_change_nothing(tmp_path: Path) -> None:
    layout = Layout.init(tmp_path / "L")
    layout.new_image("a")
    before = snapshot(tmp_path / "L")
    with pytest.raises(RefNotFoundError), layout.image("missing").config():
        pass
    digest = layout.resolve("a").digest
    with pytest.raises(UsageError, match="give --tag NEW"), layout.image(f"@{digest}").config():
        pass
    with pytest.raises(UsageError, match="not an RFC 3339 time"):
        GoTime.parse("not a time")
    # A time is a GoTime, not the text the CLI parses into one.
    with (
        pytest.raises(InvalidArgumentError, match=r"history\.created: want GoTime"),
        layout.image("a").config(history=HistoryOptions(created="2025-01-01T00:00:00Z")),
    ):
        pass
    assert snapshot(tmp_path / "L") == before


def test_config_without_history_and_through_a_platform(tmp_path: Path) -> None:
    path = three_platforms(tmp_path)
    layout = Layout.open(path)
    old = read_json(path, entry(path, "multi")["digest"])
    with layout.image("multi", platform="linux/s390x").config(
        history=HistoryOptions(enabled=False)
    ) as c:
        c.architecture = "ppc64le"
    new = read_json(path, entry(path, "multi")["digest"])
    assert new["manifests"][:2] == old["manifests"][:2]
    assert new["manifests"][2]["platform"]["architecture"] == "ppc64le"
    stat = layout.image("multi", platform="linux/ppc64le").stat()
    assert stat.config is not None
    assert stat.config.history == old_history(path, old["manifests"][2]["digest"])


def old_history(layout: Path, manifest_digest: str) -> tuple[object, ...]:
    from umoci.oci.models import ImageConfig

    config = read_json(layout, read_json(layout, manifest_digest)["config"]["digest"])
    return ImageConfig.from_json(config).history


def test_unpack_edit_repack_and_bundle_open(tmp_path: Path) -> None:
    layout = Layout.init(tmp_path / "L")
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "f").write_text("x")
    image = layout.new_image("a").insert(tmp_path / "tree", "/opt/tree")
    bundle = image.unpack(tmp_path / "bundle", rootless=os.geteuid() != 0)
    assert (bundle.rootfs / "opt" / "tree" / "f").read_text() == "x"
    (bundle.rootfs / "added").write_text("y")
    derived = Bundle.open(tmp_path / "bundle").repack(layout, tag="b")
    assert len(derived.stat().manifest.layers) == 2
    assert derived.ref == "b"
    with pytest.raises(BundleError):
        Bundle.open(tmp_path / "not-a-bundle")


@pytest.mark.parametrize(
    "program",
    ["build_from_tree", "derive_image", "retag_and_gc"],
)
def test_examples_run(tmp_path: Path, program: str) -> None:
    layout = tmp_path / "L"
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "run.sh").write_text("#!/bin/sh\necho hi\n")

    def run(name: str, *args: str | Path) -> str:
        result = subprocess.run(
            [sys.executable, str(ROOT / "examples" / f"{name}.py"), *map(str, args)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    out = run("build_from_tree", layout, tree)
    assert out == f"{layout}:app has 1 layer(s)\n"
    if program == "build_from_tree":
        config = json.loads(
            subprocess.run(
                [sys.executable, "-m", "umoci", "stat", "--json", "--image", f"{layout}:app"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )["config"]["blob"]["config"]
        assert config["Cmd"] == ["/app/run.sh"]
        assert "APP_HOME=/app" in config["Env"]
        return
    out = run("derive_image", layout, "app", "derived")
    assert out.endswith("last: umoci repack\n")
    if program == "retag_and_gc":
        out = run("retag_and_gc", layout, "derived")
        assert out.startswith("tags: ['stable']; blobs: ")
        before, after = (int(n) for n in out.rsplit(": ", 1)[1].split(" -> "))
        assert after < before


def test_entry_point_errors_are_typed_and_change_nothing(tmp_path: Path) -> None:
    layout = Layout.init(tmp_path / "L")
    image = layout.new_image("a")
    before = snapshot(tmp_path / "L")
    with pytest.raises(RefNotFoundError):
        layout.image("nope").stat()
    with pytest.raises(RefNotFoundError):
        layout.resolve("nope")
    with pytest.raises(RefNotFoundError):
        layout.tag("nope", "x")
    with pytest.raises(UsageError):
        image.insert(tmp_path / "no-such-source", "/x")
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "file").write_text("mine")
    with pytest.raises(BundleError):
        image.unpack(occupied)
    with pytest.raises(UsageError, match="size must be positive"):
        image.unpack(tmp_path / "b", uid_map=(IdMap(0, 0, 0),))
    with pytest.raises(UsageError, match="range overflows 32 bits"):
        image.unpack(tmp_path / "b", gid_map=[IdMap(1, 2**32 - 1, 2)])
    with pytest.raises(UsageError, match="no SOURCE"):
        image.insert(tmp_path / "occupied", "/x", mode=InsertMode.WHITEOUT)
    assert snapshot(tmp_path / "L") == before
    assert not (tmp_path / "b").exists()
    assert (occupied / "file").read_text() == "mine"


def test_insert_modes_and_stat_of_an_index(tmp_path: Path) -> None:
    layout = Layout.init(tmp_path / "L")
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "f").write_text("x")
    base = layout.new_image("a").insert(tmp_path / "tree", "/opt/tree")
    base.insert(None, "/opt/tree/f", tag="gone", mode=InsertMode.WHITEOUT)
    bundle = layout.image("gone").unpack(tmp_path / "bundle", rootless=os.geteuid() != 0)
    assert (bundle.rootfs / "opt" / "tree").is_dir()
    assert not (bundle.rootfs / "opt" / "tree" / "f").exists()
    info = layout.stat("gone")
    assert isinstance(info, ImageStat)
    assert [row.history.created_by for row in info.history][-2:] == ["umoci insert"] * 2
    multi = Layout.open(three_platforms(tmp_path))
    listing = multi.stat("multi")
    assert isinstance(listing, IndexStat)
    platforms = [e.descriptor.platform for e in listing.entries]
    assert [p.architecture if p else None for p in platforms] == ["amd64", "arm64", "s390x"]
    one = multi.stat("multi", platform="linux/s390x")
    assert isinstance(one, ImageStat)
    assert one.config is not None
    assert one.config.architecture == "s390x"
