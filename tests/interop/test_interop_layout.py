"""Layouts we write are read by the Go umoci and skopeo, and we read theirs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from umoci import ops
from umoci.cli.stat_json import stat_json as render_json
from umoci.ops.options import ConfigChanges, HistoryOptions

pytestmark = pytest.mark.goumoci


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed (.ci/run installs it with apt)"
    return path


def run(*argv: str) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{argv}: {proc.stderr}"
    return proc.stdout


@pytest.fixture
def our_image(layout: Path) -> Path:
    ops.new_image(str(layout), "latest")
    ops.config(
        str(layout),
        "latest",
        new_tag="cfg",
        changes=ConfigChanges(
            env=("A=1",), cmd=("/bin/true",), labels=("l=v",), manifest_annotations=("a=b",)
        ),
        history=HistoryOptions(comment="c"),
    )
    return layout


def test_go_umoci_reads_our_layout(our_image: Path, tmp_path: Path) -> None:
    umoci = tool("umoci")
    assert run(umoci, "ls", "--layout", str(our_image)).split() == ["latest", "cfg"]
    out = run(umoci, "stat", "--json", "--image", f"{our_image}:cfg")
    assert json.loads(out)["history"][0]["comment"] == "c"
    bundle = tmp_path / "bundle"
    run(umoci, "unpack", "--image", f"{our_image}:cfg", str(bundle))
    config = json.loads((bundle / "config.json").read_text())
    assert config["process"]["args"] == ["/bin/true"]
    assert "A=1" in config["process"]["env"]


def test_we_read_go_umoci_layout(tmp_path: Path) -> None:
    umoci = tool("umoci")
    layout = tmp_path / "go"
    run(umoci, "init", "--layout", str(layout))
    run(umoci, "new", "--image", f"{layout}:base")
    run(umoci, "config", "--image", f"{layout}:base", "--tag", "x", "--config.user", "u")
    assert ops.list_tags(str(layout)) == ["base", "x"]
    out = json.loads(render_json(ops.stat(str(layout), "x")))
    assert out["config"]["blob"]["config"]["User"] == "u"
    ops.config(
        str(layout), "x", new_tag=None, changes=ConfigChanges(user="v"), history=HistoryOptions()
    )
    out = json.loads(run(umoci, "stat", "--json", "--image", f"{layout}:x"))
    assert [h["created_by"] for h in out["history"]] == ["umoci config"] * 2
    ops.gc(str(layout))
    run(umoci, "gc", "--layout", str(layout))
    assert ops.list_tags(str(layout)) == ["base", "x"]


def test_skopeo_copies_and_inspects_our_layout(our_image: Path, tmp_path: Path) -> None:
    skopeo = tool("skopeo")
    info = json.loads(run(skopeo, "inspect", f"oci:{our_image}:cfg"))
    assert info["Labels"] == {"l": "v"}
    copy = tmp_path / "copy"
    run(skopeo, "copy", f"oci:{our_image}:cfg", f"oci:{copy}:cfg")
    assert ops.list_tags(str(copy)) == ["cfg"]
    ours = json.loads(render_json(ops.stat(str(our_image), "cfg")))
    theirs = json.loads(render_json(ops.stat(str(copy), "cfg")))
    assert theirs["config"]["blob"]["config"] == ours["config"]["blob"]["config"]
