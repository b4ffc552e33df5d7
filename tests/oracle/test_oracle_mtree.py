"""mtree both ways with go-mtree: its specs judged by us as it judges them, ours accepted by it.

1. ``gomtree -c`` writes a spec of a varied tree (default keywords, and
   ``-K sha256digest``); after each kind of change to the tree, ``umoci raw
   mtree-validate`` must reach gomtree's verdict and print the same
   difference lines.
2. The ``sha256_*.mtree`` of a bundle we unpacked (as root and rootless)
   passes ``gomtree validate`` with the default keywords and with umoci's.
3. ``-k``/``-K`` keywords the spec does not carry, and entries that lack a
   keyword others have, are judged as the Go umoci 0.6's ``raw
   mtree-validate`` judges them (go-mtree 0.7: a keyword on one side only
   is a difference, ``expected ; got VALUE``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from oraclekit import run_ok, run_ours, run_tool

from conftest import VECTORS
from umoci.cli import main

pytestmark = pytest.mark.oracle

UMOCI_KEYWORDS = "size,type,uid,gid,mode,link,nlink,tar_time,sha256digest,xattr"


def make_tree(root: Path) -> None:
    (root / "dir" / "sub").mkdir(parents=True)
    (root / "dir" / "file").write_bytes(b"hello\n")
    (root / "dir" / "sub" / "deep").write_bytes(b"x" * 5000)
    (root / "with space").write_bytes(b"spaced\n")
    (root / "glob*?[#]").write_bytes(b"glob\n")
    (root / "ünï").write_bytes(b"unicode\n")
    os.link(root / "dir" / "file", root / "dir" / "hardlink")
    os.symlink("file", root / "dir" / "link")
    os.mkfifo(root / "fifo")
    (root / "empty").mkdir()
    os.chmod(root / "dir" / "sub" / "deep", 0o600)


def _rewrite_same_size(root: Path) -> None:
    (root / "dir" / "file").write_bytes(b"HELLO\n")


def _grow(root: Path) -> None:
    (root / "dir" / "sub" / "deep").write_bytes(b"y" * 5001)


def _chmod(root: Path) -> None:
    os.chmod(root / "with space", 0o700)


def _delete(root: Path) -> None:
    (root / "glob*?[#]").unlink()


def _add(root: Path) -> None:
    (root / "empty" / "new").write_bytes(b"new\n")


def _retarget(root: Path) -> None:
    (root / "dir" / "link").unlink()
    os.symlink("sub", root / "dir" / "link")


def _touch(root: Path) -> None:
    os.utime(root / "ünï", (0, 86400))


def _chown(root: Path) -> None:
    os.lchown(root / "dir" / "link", 1234, 5678)


def _replace_dir_by_file(root: Path) -> None:
    shutil.rmtree(root / "empty")
    (root / "empty").write_bytes(b"")


CHANGES: list[Callable[[Path], None] | None] = [
    None,
    _rewrite_same_size,
    _grow,
    _chmod,
    _delete,
    _add,
    _retarget,
    _touch,
    _replace_dir_by_file,
]
if os.geteuid() == 0:
    CHANGES.append(_chown)


def _paths(text: str) -> list[str]:
    """The paths named by difference lines (``"path": ...``), sorted.

    gomtree reports one keyword per path, the first it meets in a Go map,
    and Go randomises map order: the same run twice can name ``time`` once
    and ``size`` the next.  The paths it reports are stable, so those are
    what must agree (and the verdict).
    """
    return sorted(line.partition('": ')[0] for line in text.splitlines() if line.strip())


@pytest.mark.parametrize("keywords", [[], ["-K", "sha256digest"]], ids=["default", "sha256"])
@pytest.mark.parametrize("change", CHANGES, ids=lambda c: c.__name__.strip("_") if c else "none")
def test_gomtree_specs_are_judged_alike(
    tmp_path: Path,
    oracle_gomtree: Path,
    keywords: list[str],
    change: Callable[[Path], None] | None,
) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    make_tree(tree)
    spec = tmp_path / "spec.mtree"
    spec.write_text(run_ok(oracle_gomtree, "-c", "-p", tree, *keywords))
    if change is not None:
        change(tree)
    theirs = run_tool(oracle_gomtree, "validate", "-f", spec, "-p", tree)
    mine = run_ours("raw", "mtree-validate", "-f", spec, "-p", tree)
    if change is None:
        assert theirs.returncode == 0, theirs.stdout
    assert (mine.returncode == 0) == (theirs.returncode == 0), (theirs.stdout, mine.stdout)
    assert _paths(mine.stdout) == _paths(theirs.stdout)


@pytest.mark.parametrize("rootless", [False, True], ids=["root", "rootless"])
@pytest.mark.parametrize("keywords", [[], ["-k", UMOCI_KEYWORDS]], ids=["default", "umoci"])
def test_our_bundle_mtrees_pass_gomtree(
    tmp_path: Path,
    oracle_gomtree: Path,
    capsys: pytest.CaptureFixture[str],
    rootless: bool,
    keywords: list[str],
) -> None:
    if os.geteuid() != 0 and not rootless:
        pytest.skip("a rootful unpack needs root")
    bundle = tmp_path / "bundle"
    argv = ["unpack", "--image", f"{VECTORS / 'bundle' / 'image'}:latest", str(bundle)]
    assert main([*argv[:1], *(["--rootless"] if rootless else []), *argv[1:]]) == 0
    capsys.readouterr()
    (spec,) = bundle.glob("sha256_*.mtree")
    result = run_tool(oracle_gomtree, "validate", "-f", spec, "-p", bundle / "rootfs", *keywords)
    assert result.returncode == 0, result.stdout + result.stderr


KEYWORD_ARGS = [
    ["-k", "sha1digest"],
    ["-K", "sha1digest"],
    ["-k", "type,sha1digest"],
    ["-k", "sha256digest"],
    ["-K", "sha256digest"],
    ["-k", "size"],
    ["-k", "nlink"],
    ["-k", "md5digest"],
    ["-k", "uid"],
    ["-k", "xattr"],
    ["-K", "tar_time"],
]


def _drop_keyword_from_one_entry(spec: Path, name: str, keyword: str) -> None:
    lines = spec.read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        words = line.split()
        if words and words[0] == name:
            lines[i] = " ".join(w for w in words if not w.startswith(f"{keyword}=")) + "\n"
    spec.write_text("".join(lines))


@pytest.mark.parametrize("keywords", KEYWORD_ARGS, ids=" ".join)
@pytest.mark.parametrize("entry_lacks", [None, "size"], ids=["whole-spec", "entry-lacks-size"])
def test_keywords_the_spec_lacks_are_judged_as_the_go_umoci(
    tmp_path: Path,
    oracle_gomtree: Path,
    oracle_umoci: Path,
    keywords: list[str],
    entry_lacks: str | None,
) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    make_tree(tree)
    spec = tmp_path / "spec.mtree"
    spec.write_text(run_ok(oracle_gomtree, "-c", "-K", "sha256digest", "-p", tree))
    if entry_lacks is not None:
        _drop_keyword_from_one_entry(spec, "file", entry_lacks)
    argv = ("raw", "mtree-validate", *keywords, "-f", spec, "-p", tree)
    theirs = run_tool(oracle_umoci, *argv)
    mine = run_ours(*argv)
    assert (mine.returncode, _paths(mine.stdout)) == (theirs.returncode, _paths(theirs.stdout)), (
        theirs.stdout + theirs.stderr,
        mine.stdout + mine.stderr,
    )
    if keywords[1].endswith("sha1digest"):  # the Go suite's -k/-K case, whatever the oracle says
        assert mine.returncode == 1
        assert 'keyword "sha1digest": expected ; got ' in mine.stdout


def _new_layer_paths(layout: Path, tag: str) -> list[str]:
    import json
    import tarfile

    index = json.loads((layout / "index.json").read_text())
    (manifest,) = (
        m
        for m in index["manifests"]
        if m["annotations"]["org.opencontainers.image.ref.name"] == tag
    )
    blobs = layout / "blobs" / "sha256"
    layers = json.loads((blobs / manifest["digest"].split(":")[1]).read_text())["layers"]
    with tarfile.open(blobs / layers[-1]["digest"].split(":")[1]) as tar:
        return sorted(tar.getnames())


def test_repack_counts_a_keyword_on_one_side_as_a_change_like_the_go_umoci(
    tmp_path: Path, oracle_umoci: Path
) -> None:
    """A bundle mtree entry without sha256digest: go-mtree 0.7 repacks the file."""
    tree = tmp_path / "tree"
    tree.mkdir()
    make_tree(tree)
    layout = tmp_path / "layout"
    for argv in (["init", "--layout", layout], ["new", "--image", f"{layout}:t"]):
        run_ok(oracle_umoci, *argv)
    run_ok(oracle_umoci, "insert", "--image", f"{layout}:t", tree, "/")
    runners: dict[str, Callable[..., subprocess.CompletedProcess[str]]] = {
        "go": lambda *argv: run_tool(oracle_umoci, *argv),
        "ours": run_ours,
    }
    new_layers = {}
    for who, run in runners.items():
        copy = shutil.copytree(layout, tmp_path / f"layout-{who}", symlinks=True)
        bundle = tmp_path / f"bundle-{who}"
        assert run("unpack", "--image", f"{copy}:t", bundle).returncode == 0
        (spec,) = bundle.glob("sha256_*.mtree")
        _drop_keyword_from_one_entry(spec, "file", "sha256digest")
        result = run("repack", "--image", f"{copy}:t2", bundle)
        assert result.returncode == 0, result.stderr
        new_layers[who] = _new_layer_paths(copy, "t2")
    assert new_layers["ours"] == new_layers["go"]
    assert "dir/file" in new_layers["ours"]
