"""Lines besides the output proper that scripts and users read: --version, warnings."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from oraclekit import run_ok, run_ours, run_tool

pytestmark = pytest.mark.oracle


def test_version_names_the_same_specs_in_the_same_words(oracle_umoci: Path) -> None:
    theirs = run_ok(oracle_umoci, "--version").splitlines()
    ours = run_ours("--version").stdout.splitlines()
    assert ours[0].startswith("umoci version ")
    # Line 1 is each program's own version and line 4 its toolchain ("go: …", "python: …").
    assert ours[1:3] == theirs[1:3]
    assert len(ours) == len(theirs)
    assert ours[3].partition(": ")[0] == "python"


@pytest.mark.parametrize("verb", ["insert", "repack", "raw add-layer", "config"])
def test_no_history_warns_of_a_new_layer_without_an_entry(
    tmp_path: Path, oracle_umoci: Path, verb: str
) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "file").write_text("x")
    layout = tmp_path / "layout"
    run_ok(oracle_umoci, "init", "--layout", layout)
    run_ok(oracle_umoci, "new", "--image", f"{layout}:t")
    run_ok(oracle_umoci, "insert", "--image", f"{layout}:t", tree, "/base")
    bundle = tmp_path / "bundle"
    run_ok(oracle_umoci, "unpack", "--image", f"{layout}:t", bundle)
    (bundle / "rootfs" / "changed").write_text("y")
    layer = tmp_path / "layer.tar"
    with tarfile.open(layer, "w") as tar:
        tar.add(tree / "file", "added")
    argv = {
        "insert": ["insert", "--no-history", "--image", f"{layout}:t", tree, "/again"],
        "repack": ["repack", "--no-history", "--image", f"{layout}:t2", bundle],
        "raw add-layer": ["raw", "add-layer", "--no-history", "--image", f"{layout}:t", layer],
        "config": ["config", "--no-history", "--image", f"{layout}:t", "--config.user", "1"],
    }[verb]
    warning = "new layer has no history entry -- this will confuse many tools!"
    theirs = run_tool(oracle_umoci, *argv)
    assert theirs.returncode == 0, theirs.stderr
    ours = run_ours(*argv)
    assert ours.returncode == 0, ours.stderr
    assert (warning in theirs.stderr) == (verb != "config")
    assert (warning in ours.stderr) == (warning in theirs.stderr), ours.stderr
    if verb != "config":
        assert ours.stderr == f"umoci: warn: {warning}\n"
