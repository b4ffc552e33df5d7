"""Rootless repack, insert, add-layer and mtree-validate through the CLI.

Runs as root and again as an unprivileged user (scripts/test re-runs
tests/cli as ``nobody``): everything here must work without privileges.
Owners in the layers come from the ``user.rootlesscontainers`` xattr the
rootless unpack wrote (0:0 when there is none), never from the files'
real owner, which is whoever ran the test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from repack.repackkit import (
    Rec,
    T,
    Unpacked,
    by_name,
    fail,
    layers,
    layout_state,
    ok,
    same_mtimes,
    tags,
    tar_bytes,
    top_entries,
    tree,
    tree_diff,
    umoci,
    write_image,
)

Capsys = pytest.CaptureFixture[str]

ROOTLESS_XATTR = "user.rootlesscontainers"


def rootless_bundle(capsys: Capsys, tmp_path: Path) -> Unpacked:
    return Unpacked.make(capsys, tmp_path, "--rootless")


def test_rootless_repack_records_image_owners(capsys: Capsys, tmp_path: Path) -> None:
    img = rootless_bundle(capsys, tmp_path)
    root = img.rootfs
    assert ROOTLESS_XATTR in os.listxattr(root / "home/user/.profile")
    with same_mtimes(root, "etc"):
        (root / "home/user/.profile").write_bytes(b"PS1='# '\n")
        (root / "etc/new").write_bytes(b"new")
        os.chmod(root / "etc/new", 0o640)
        (root / "etc/motd").unlink()
    img.repack(capsys)
    entries = top_entries(img.layout, "t")
    found = {e.name: (e.type, e.mode, e.uid, e.gid, e.data) for e in entries}
    assert found == {
        "etc/new": ("file", 0o640, 0, 0, b"new"),
        "etc/.wh.motd": ("file", 0, 0, 0, b""),
        "home/user/.profile": ("file", 0o644, 1000, 1000, b"PS1='# '\n"),
    }
    # The marker xattr is how rootless mode remembers owners: never in a layer.
    assert all(ROOTLESS_XATTR not in e.xattrs for e in entries)


def test_rootless_repack_reads_files_and_dirs_without_permissions(
    capsys: Capsys, tmp_path: Path
) -> None:
    img = rootless_bundle(capsys, tmp_path)
    root = img.rootfs
    (root / "locked").mkdir()
    (root / "locked/secret").write_bytes(b"secret")
    os.chmod(root / "locked/secret", 0)
    os.chmod(root / "locked", 0)
    try:
        img.repack(capsys)
    finally:
        os.chmod(root / "locked", 0o700)
    found = {e.name: (e.type, e.mode, e.data) for e in top_entries(img.layout, "t")}
    assert found["locked/"] == ("dir", 0, None)
    assert found["locked/secret"] == ("file", 0, b"secret")
    # The modes were put back after reading.
    assert (root / "locked/secret").stat().st_mode & 0o777 == 0


def test_rootless_round_trip(capsys: Capsys, tmp_path: Path) -> None:
    img = rootless_bundle(capsys, tmp_path)
    root = img.rootfs
    (root / "srv/file").unlink()
    (root / "srv/file").mkdir()
    (root / "srv/file/inner").write_bytes(b"inner")
    os.setxattr(root / "srv/xattrs", "user.new", b"n")
    os.link(root / "etc/passwd", root / "etc/passwd-")
    (root / "opt/tree/a/b/2").unlink()
    img.repack(capsys)
    assert len(layers(img.layout, "t")) == 2
    ok(capsys, "unpack", "--rootless", "--image", f"{img.layout}:t", tmp_path / "again")
    want, have = tree(root), tree(tmp_path / "again/rootfs")
    del want["."], have["."]
    assert tree_diff(want, have) == []


def test_rootless_refresh_bundle(capsys: Capsys, tmp_path: Path) -> None:
    img = rootless_bundle(capsys, tmp_path)
    (img.rootfs / "etc/hostname").write_bytes(b"1")
    img.repack(capsys, "--refresh-bundle")
    before = layers(img.layout, "t")
    img.repack(capsys, "--refresh-bundle")
    assert layers(img.layout, "t") == before
    (img.rootfs / "etc/motd").write_bytes(b"2")
    img.repack(capsys, "--refresh-bundle")
    assert [e.name for e in top_entries(img.layout, "t")] == ["etc/motd"]


def test_rootless_mtree_validate(capsys: Capsys, tmp_path: Path) -> None:
    img = rootless_bundle(capsys, tmp_path)
    (spec,) = img.bundle.glob("sha256_*.mtree")
    argv = ("raw", "mtree-validate", "--rootless", "-f", spec, "-p", img.rootfs)
    assert umoci(capsys, *argv) == (0, "", "")
    os.chmod(img.rootfs / "etc/motd", 0o600)
    status, out, err = umoci(capsys, *argv)
    assert status == 1
    assert out == '"etc/motd": keyword "mode": expected 0644; got 0600\n'
    assert len(err.splitlines()) == 1


def test_rootless_repack_failure_changes_nothing(capsys: Capsys, tmp_path: Path) -> None:
    img = rootless_bundle(capsys, tmp_path)
    (img.rootfs / "etc/hostname").write_bytes(b"changed")
    (img.rootfs / "etc/.wh.bad").write_bytes(b"")
    before = layout_state(img.layout)
    err = fail(capsys, "repack", "--image", f"{img.layout}:t", img.bundle)
    assert ".wh.bad" in err
    assert layout_state(img.layout) == before


def test_rootless_insert(capsys: Capsys, tmp_path: Path) -> None:
    layout = tmp_path / "image"
    write_image(layout, "t")
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub/f").write_bytes(b"f")
    os.chmod(src / "sub/f", 0o600)
    if os.geteuid() == 0:  # make the real owner something other than root
        for path in (src, src / "sub", src / "sub/f"):
            os.chown(path, 1234, 5678)
    ok(capsys, "insert", "--rootless", "--image", f"{layout}:t", "--tag", "new", src, "/opt/src")
    entries = by_name(top_entries(layout, "new"))
    assert sorted(entries) == ["opt/src/", "opt/src/sub/", "opt/src/sub/f"]
    assert {(e.uid, e.gid) for e in entries.values()} == {(0, 0)}
    assert entries["opt/src/sub/f"].mode == 0o600
    assert len(layers(layout, "t")) == 1
    ok(capsys, "insert", "--rootless", "--whiteout", "--image", f"{layout}:new", "/etc/motd")
    assert [e.name for e in top_entries(layout, "new")] == ["etc/.wh.motd"]


def test_rootless_raw_add_layer(capsys: Capsys, tmp_path: Path) -> None:
    layout = tmp_path / "image"
    write_image(layout, "t")
    archive = tmp_path / "layer.tar"
    archive.write_bytes(tar_bytes([T.reg("etc/hostname", b"added", uid=5, gid=6)]))
    ok(capsys, "raw", "add-layer", "--image", f"{layout}:t", "--tag", "added", archive)
    assert tags(layout)["t"] != tags(layout)["added"]
    (entry,) = top_entries(layout, "added")
    assert Rec(entry.name, entry.type, entry.mode, entry.uid, entry.gid, entry.data) == Rec(
        "etc/hostname", "file", 0o644, 5, 6, b"added"
    )
