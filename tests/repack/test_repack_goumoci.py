"""Round trips through the Go umoci (Debian's 0.4.7): bundles and layers either way.

Every test makes the same set of changes (:func:`change_everything`) to a
bundle's rootfs and checks that the image, unpacked again, is that changed
tree: type, mode, owner, size, content hash, link target and xattrs of
every path, and the hardlink groups.

The Go umoci 0.4.7 cannot read zstd layers ("blob is not correct
mediatype: ...tar+zstd"), so the Go side is covered with gzip and
uncompressed layers only.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from repackkit import (
    Unpacked,
    go_umoci,
    layers,
    ok,
    tree,
    tree_diff,
    write_image,
)

pytestmark = [pytest.mark.goumoci, pytest.mark.root]

Capsys = pytest.CaptureFixture[str]


def change_everything(root: Path) -> None:
    """One of each kind of change a repack has to carry."""
    (root / "etc/hostname").write_bytes(b"changed\n")
    (root / "etc/motd").unlink()
    os.chmod(root / "etc/shadow", 0o640)
    os.chown(root / "etc/group", 10, 20)
    shutil.rmtree(root / "opt/tree")
    (root / "srv/file").unlink()
    (root / "srv/file").mkdir(mode=0o750)
    (root / "srv/file/inner").write_bytes(b"inner")
    shutil.rmtree(root / "srv/dir")
    (root / "srv/dir").symlink_to("file/inner")
    (root / "srv/link").unlink()
    (root / "srv/link").write_bytes(b"was a link")
    os.setxattr(root / "srv/xattrs", "user.new", b"n")
    os.removexattr(root / "srv/xattrs", "user.other")
    os.link(root / "etc/passwd", root / "etc/passwd-")
    (root / "usr/bin/tool").write_bytes(b"#!/bin/sh\necho v2\n")
    (root / "usr/bin/héllo wörld ✓").write_bytes(b"unicode")
    (root / "new/deep/er").mkdir(parents=True)
    (root / "new/deep/er/file").write_bytes(b"deep")
    os.chown(root / "new/deep", 1000, 1000)
    (root / "dev").mkdir()
    os.mknod(root / "dev/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.chmod(root / "dev/null", 0o666)
    os.mkfifo(root / "dev/fifo")


HARDLINKS = [("etc/passwd", "etc/passwd-"), ("usr/bin/tool", "usr/bin/tool-alias")]


def assert_same_tree(expected: Path, got: Path) -> None:
    want, have = tree(expected), tree(got)
    # The rootfs directory itself is made by whoever unpacks, not by a layer.
    del want["."], have["."]
    assert tree_diff(want, have) == []
    for a, b in HARDLINKS:
        assert os.path.samefile(got / a, got / b), (a, b)


@pytest.mark.parametrize("compress", ["gzip", "none"])
def test_our_repack_unpacks_with_go(capsys: Capsys, tmp_path: Path, compress: str) -> None:
    img = Unpacked.make(capsys, tmp_path)
    change_everything(img.rootfs)
    img.repack(capsys, "--compress", compress)
    assert len(layers(img.layout, "t")) == 2
    go_umoci("unpack", "--image", f"{img.layout}:t", tmp_path / "go")
    assert_same_tree(img.rootfs, tmp_path / "go/rootfs")


def test_go_bundle_repacks_with_ours(capsys: Capsys, tmp_path: Path) -> None:
    layout, bundle = tmp_path / "image", tmp_path / "bundle"
    write_image(layout, "t")
    go_umoci("unpack", "--image", f"{layout}:t", bundle)
    change_everything(bundle / "rootfs")
    ok(capsys, "repack", "--image", f"{layout}:t", bundle)
    assert len(layers(layout, "t")) == 2
    ok(capsys, "unpack", "--image", f"{layout}:t", tmp_path / "ours")
    assert_same_tree(bundle / "rootfs", tmp_path / "ours/rootfs")
    go_umoci("unpack", "--image", f"{layout}:t", tmp_path / "go")
    assert_same_tree(bundle / "rootfs", tmp_path / "go/rootfs")


def test_go_bundle_without_changes_repacks_to_no_layer(capsys: Capsys, tmp_path: Path) -> None:
    layout, bundle = tmp_path / "image", tmp_path / "bundle"
    write_image(layout, "t")
    go_umoci("unpack", "--image", f"{layout}:t", bundle)
    before = layers(layout, "t")
    ok(capsys, "repack", "--image", f"{layout}:t", bundle)
    assert layers(layout, "t") == before


def test_our_bundle_repacks_with_go(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    change_everything(img.rootfs)
    go_umoci("repack", "--image", f"{img.layout}:t", img.bundle)
    assert len(layers(img.layout, "t")) == 2
    ok(capsys, "unpack", "--image", f"{img.layout}:t", tmp_path / "ours")
    assert_same_tree(img.rootfs, tmp_path / "ours/rootfs")
    go_umoci("unpack", "--image", f"{img.layout}:t", tmp_path / "go")
    assert_same_tree(img.rootfs, tmp_path / "go/rootfs")


def test_refreshed_bundle_keeps_working_with_go(capsys: Capsys, tmp_path: Path) -> None:
    """Our --refresh-bundle writes an mtree and umoci.json the Go umoci repacks from."""
    img = Unpacked.make(capsys, tmp_path)
    (img.rootfs / "etc/hostname").write_bytes(b"first\n")
    img.repack(capsys, "--refresh-bundle")
    change_everything(img.rootfs)
    go_umoci("repack", "--image", f"{img.layout}:t", img.bundle)
    assert len(layers(img.layout, "t")) == 3
    go_umoci("unpack", "--image", f"{img.layout}:t", tmp_path / "go")
    assert_same_tree(img.rootfs, tmp_path / "go/rootfs")
