"""``umoci repack``: each kind of rootfs change becomes exactly the expected layer entries.

The new layer blob is read back with tarfile (decompressed per its media
type) and compared entry by entry: names, types, modes, owners, contents,
link targets, xattrs, device numbers, whiteouts.  Tests that should not
see the parent directories' mtime change put it back (``same_mtimes``) so
the expected entry list is exact; a directory that gained or lost a
subdirectory is in the layer anyway (its ``nlink`` changed), as in the Go
umoci.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from repackkit import (
    MTIME,
    OCI_GZIP,
    Rec,
    T,
    Unpacked,
    by_name,
    config,
    layers,
    ok,
    same_mtimes,
    tar_bytes,
    top_entries,
    tree,
)

Capsys = pytest.CaptureFixture[str]


def whiteout(name: str) -> Rec:
    return Rec(name, "file", mode=0, data=b"")


def d(name: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> Rec:
    return Rec(name, "dir", mode, uid, gid)


def strip(entries: list[Rec]) -> list[Rec]:
    """Entries without their mtimes (checked separately), sorted by name."""
    out = [
        Rec(e.name, e.type, e.mode, e.uid, e.gid, e.data, e.link, e.xattrs, e.dev) for e in entries
    ]
    return sorted(out, key=lambda e: e.name)


def check_order(entries: list[Rec]) -> None:
    """A directory's entry comes before anything below it (extractors rely on that)."""
    position = {e.name: i for i, e in enumerate(entries)}
    for i, entry in enumerate(entries):
        parent = entry.name.rstrip("/").rpartition("/")[0] + "/"
        assert position.get(parent, -1) < i, f"{entry.name} comes before its parent"
    names = [e.name for e in entries]
    assert len(set(names)) == len(names), f"duplicate entries: {names}"


def repacked(capsys: Capsys, img: Unpacked, *flags: str) -> list[Rec]:
    """Repack, check a layer was added, and return its entries (mtimes stripped)."""
    before = len(layers(img.layout, "t"))
    img.repack(capsys, *flags)
    assert len(layers(img.layout, "t")) == before + 1
    entries = top_entries(img.layout, "t")
    check_order(entries)
    return strip(entries)


@pytest.mark.root
def test_added_files_and_directories(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    root = img.rootfs
    with same_mtimes(root, ".", "etc"):
        (root / "etc/new").write_bytes(b"new file\n")
        os.chmod(root / "etc/new", 0o640)
        os.chown(root / "etc/new", 12, 34)
        (root / "newdir/sub").mkdir(parents=True)
        os.chmod(root / "newdir", 0o751)
        (root / "newdir/sub/f").write_bytes(b"f")
        (root / "newdir/sub/empty").touch()
        (root / "newdir/link").symlink_to("sub/f")
    assert repacked(capsys, img) == [
        d("."),  # a new subdirectory: nlink changed
        Rec("etc/new", "file", 0o640, 12, 34, b"new file\n"),
        d("newdir/", 0o751),
        Rec("newdir/link", "symlink", 0o777, link="sub/f"),
        d("newdir/sub/"),
        Rec("newdir/sub/empty", "file", data=b""),
        Rec("newdir/sub/f", "file", data=b"f"),
    ]


def test_a_changed_parent_directory_is_its_own_entry(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    (img.rootfs / "etc/new").write_bytes(b"n")
    os.utime(img.rootfs / "etc", (MTIME + 60, MTIME + 60))
    img.repack(capsys)
    entries = by_name(top_entries(img.layout, "t"))
    assert sorted(entries) == ["etc/", "etc/new"]
    assert entries["etc/"].mtime == MTIME + 60
    assert entries["etc/"].data is None


@pytest.mark.root
def test_modified_content_mode_owner_and_mtime(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    root = img.rootfs
    (root / "etc/hostname").write_bytes(b"changed\n")
    os.chmod(root / "etc/motd", 0o600)
    os.chown(root / "etc/group", 5, 6)
    os.utime(root / "var/log/old.log", (MTIME + 100, MTIME + 100))
    os.chmod(root / "home/user", 0o750)
    os.chown(root / "usr/lib/libfoo.so", 7, 8, follow_symlinks=False)
    entries = repacked(capsys, img)
    assert entries == [
        Rec("etc/group", "file", 0o644, 5, 6, b"root:x:0:\nuser:x:1000:\n"),
        Rec("etc/hostname", "file", data=b"changed\n"),
        Rec("etc/motd", "file", 0o600, data=b"welcome\n"),
        Rec("home/user/", "dir", 0o750, 1000, 1000),
        Rec("usr/lib/libfoo.so", "symlink", 0o777, 7, 8, link="libfoo.so.1"),
        Rec("var/log/old.log", "file", data=b"old\n"),
    ]
    assert by_name(top_entries(img.layout, "t"))["var/log/old.log"].mtime == MTIME + 100


def test_deleted_file_is_one_whiteout(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    with same_mtimes(img.rootfs, "etc"):
        (img.rootfs / "etc/motd").unlink()
    img.repack(capsys)
    entries = top_entries(img.layout, "t")
    assert strip(entries) == [whiteout("etc/.wh.motd")]
    (wh,) = entries
    assert (wh.uid, wh.gid, wh.mtime) == (0, 0, 0)


def test_deleted_tree_is_exactly_one_whiteout(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    with same_mtimes(img.rootfs, "opt"):
        shutil.rmtree(img.rootfs / "opt/tree")
    assert repacked(capsys, img) == [d("opt/"), whiteout("opt/.wh.tree")]


def test_deleted_trees_whiteout_count(capsys: Capsys, tmp_path: Path) -> None:
    """Deleting whole top-level trees: one whiteout per tree, the root entry, nothing else."""
    img = Unpacked.make(capsys, tmp_path)
    for name in ("opt", "srv", "usr", "home"):
        shutil.rmtree(img.rootfs / name)
    names = [e.name for e in repacked(capsys, img)]
    assert names == [".", ".wh.home", ".wh.opt", ".wh.srv", ".wh.usr"]


def test_no_whiteouts_for_paths_the_lower_layers_never_had(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    root = img.rootfs
    with same_mtimes(root, ".", "etc", "srv"):
        # Created and deleted again between unpack and repack: nothing to say.
        (root / "etc/tmp").write_bytes(b"t")
        (root / "etc/tmp").unlink()
        (root / "scratch/deep").mkdir(parents=True)
        shutil.rmtree(root / "scratch")
        # A directory deleted and recreated: whiteouts only for what was below it before.
        shutil.rmtree(root / "srv/dir")
        (root / "srv/dir").mkdir()
        (root / "srv/dir/new").write_bytes(b"new")
    os.utime(root / "srv/dir", ns=((root / "srv").stat().st_mtime_ns,) * 2)
    assert repacked(capsys, img) == [
        whiteout("srv/dir/.wh.child"),
        Rec("srv/dir/new", "file", data=b"new"),
    ]


def _file_to_dir(root: Path) -> None:
    (root / "srv/file").unlink()
    (root / "srv/file").mkdir()
    (root / "srv/file/inner").write_bytes(b"inner")


def _dir_to_symlink(root: Path) -> None:
    shutil.rmtree(root / "srv/dir")
    (root / "srv/dir").symlink_to("file")


def _dir_to_file(root: Path) -> None:
    shutil.rmtree(root / "srv/dir")
    (root / "srv/dir").write_bytes(b"was a dir")


def _symlink_to_file(root: Path) -> None:
    (root / "srv/link").unlink()
    (root / "srv/link").write_bytes(b"was a link")


def _symlink_to_dir(root: Path) -> None:
    (root / "srv/link").unlink()
    (root / "srv/link").mkdir(mode=0o700)


def _file_to_symlink(root: Path) -> None:
    (root / "srv/file").unlink()
    (root / "srv/file").symlink_to("/etc/motd")


def _tree_to_file(root: Path) -> None:
    shutil.rmtree(root / "opt/tree")
    (root / "opt/tree").write_bytes(b"flat")


REPLACEMENTS: list[tuple[Callable[[Path], None], list[Rec]]] = [
    # The parent is in the layer when it gained or lost a subdirectory (nlink).
    (_file_to_dir, [d("srv/"), d("srv/file/"), Rec("srv/file/inner", "file", data=b"inner")]),
    (_dir_to_symlink, [d("srv/"), Rec("srv/dir", "symlink", 0o777, link="file")]),
    (_dir_to_file, [d("srv/"), Rec("srv/dir", "file", data=b"was a dir")]),
    (_symlink_to_file, [Rec("srv/link", "file", data=b"was a link")]),
    (_symlink_to_dir, [d("srv/"), d("srv/link/", 0o700)]),
    (_file_to_symlink, [Rec("srv/file", "symlink", 0o777, link="/etc/motd")]),
    (_tree_to_file, [d("opt/"), Rec("opt/tree", "file", data=b"flat")]),
]


@pytest.mark.parametrize(
    ("change", "expected"), REPLACEMENTS, ids=lambda v: getattr(v, "__name__", "")
)
def test_replaced_types(
    capsys: Capsys, tmp_path: Path, change: Callable[[Path], None], expected: list[Rec]
) -> None:
    img = Unpacked.make(capsys, tmp_path)
    with same_mtimes(img.rootfs, "srv", "opt"):
        change(img.rootfs)
    assert repacked(capsys, img) == expected
    # And the image unpacks to the changed tree (no stale children below a replaced dir).
    again = tmp_path / "again"
    ok(capsys, "unpack", "--image", f"{img.layout}:t", again)
    assert tree(again / "rootfs") == tree(img.rootfs)


def test_hardlinks(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    root = img.rootfs
    with same_mtimes(root, ".", "etc"):
        # A new name for a lower file: its nlink changed, so both names are written.
        os.link(root / "etc/passwd", root / "etc/passwd-")
        # A new file with two names.
        (root / "pair").mkdir()
        (root / "pair/a").write_bytes(b"shared")
        os.link(root / "pair/a", root / "pair/b")
        # A lower hardlinked pair whose content changed (both names see it).
        (root / "usr/bin/tool").write_bytes(b"#!/bin/sh\necho new\n")
    passwd = (root / "etc/passwd").read_bytes()
    assert repacked(capsys, img) == [
        d("."),
        Rec("etc/passwd", "file", data=passwd),
        Rec("etc/passwd-", "hardlink", link="etc/passwd"),
        d("pair/"),
        Rec("pair/a", "file", data=b"shared"),
        Rec("pair/b", "hardlink", link="pair/a"),
        Rec("usr/bin/tool", "file", 0o755, data=b"#!/bin/sh\necho new\n"),
        Rec("usr/bin/tool-alias", "hardlink", 0o755, link="usr/bin/tool"),
    ]
    again = tmp_path / "again"
    ok(capsys, "unpack", "--image", f"{img.layout}:t", again)
    for a, b in (("etc/passwd", "etc/passwd-"), ("pair/a", "pair/b")):
        assert os.path.samefile(again / "rootfs" / a, again / "rootfs" / b)


@pytest.mark.root
def test_xattrs(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    root = img.rootfs
    with same_mtimes(root, "etc"):
        os.setxattr(root / "srv/xattrs", "user.new", b"n\x00binary\xff")
        os.removexattr(root / "srv/xattrs", "user.other")
        os.setxattr(root / "etc/motd", "trusted.umoci-test", b"t")
        (root / "etc/labelled").write_bytes(b"l")
        os.setxattr(root / "etc/labelled", "user.label", b"v")
    assert repacked(capsys, img) == [
        Rec("etc/labelled", "file", data=b"l", xattrs={"user.label": b"v"}),
        Rec("etc/motd", "file", data=b"welcome\n", xattrs={"trusted.umoci-test": b"t"}),
        Rec(
            "srv/xattrs",
            "file",
            data=b"has xattrs\n",
            xattrs={"user.base": b"1", "user.new": b"n\x00binary\xff"},
        ),
    ]


def test_removing_every_xattr(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    for name in ("user.base", "user.other"):
        os.removexattr(img.rootfs / "srv/xattrs", name)
    assert repacked(capsys, img) == [Rec("srv/xattrs", "file", data=b"has xattrs\n")]


UNUSUAL_NAMES = ["héllo wörld ✓", "tab\tname", "new\nline", "back\\slash", "#hash", "日本語"]


def test_unicode_and_unusual_names(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    with same_mtimes(img.rootfs, "etc", "srv/dir"):
        for name in UNUSUAL_NAMES:
            (img.rootfs / "etc" / name).write_bytes(name.encode())
        (img.rootfs / "srv/dir/child").rename(img.rootfs / "srv/dir/çhild")
    expected = [Rec(f"etc/{n}", "file", data=n.encode()) for n in UNUSUAL_NAMES]
    expected += [whiteout("srv/dir/.wh.child"), Rec("srv/dir/çhild", "file", data=b"child\n")]
    assert repacked(capsys, img) == sorted(expected, key=lambda e: e.name)


def test_non_utf8_name(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    with (
        same_mtimes(img.rootfs, "etc"),
        open(os.path.join(os.fsencode(img.rootfs), b"etc/latin1-\xe9"), "wb") as f,
    ):
        f.write(b"e")
    name = os.fsdecode(b"etc/latin1-\xe9")
    assert repacked(capsys, img) == [Rec(name, "file", data=b"e")]


@pytest.mark.root
def test_devices_and_fifos(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    dev = img.rootfs / "dev"
    dev.mkdir()
    os.mknod(dev / "null", stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(dev / "loop9", stat.S_IFBLK, os.makedev(7, 9))
    os.mkfifo(dev / "fifo")
    for name, mode in (("null", 0o666), ("loop9", 0o660), ("fifo", 0o600)):
        os.chmod(dev / name, mode)
    assert repacked(capsys, img) == [
        d("."),
        d("dev/"),
        Rec("dev/fifo", "fifo", 0o600),
        Rec("dev/loop9", "block", 0o660, dev=(7, 9)),
        Rec("dev/null", "char", 0o666, dev=(1, 3)),
    ]
    again = tmp_path / "again"
    ok(capsys, "unpack", "--image", f"{img.layout}:t", again)
    assert tree(again / "rootfs") == tree(img.rootfs)


def test_sockets_are_skipped_with_a_warning(capsys: Capsys, tmp_path: Path) -> None:
    import socket

    img = Unpacked.make(capsys, tmp_path)
    sock = socket.socket(socket.AF_UNIX)
    try:
        with same_mtimes(img.rootfs, "etc"):
            (img.rootfs / "etc/new").write_bytes(b"n")
            sock.bind(str(img.rootfs / "etc/sock"))
        entries = repacked(capsys, img)
    finally:
        sock.close()
    assert entries == [Rec("etc/new", "file", data=b"n")]


def test_no_change_adds_no_layer(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    before_layers = layers(img.layout, "t")
    before_diff_ids = config(img.layout, "t")["rootfs"]["diff_ids"]
    before_history = config(img.layout, "t").get("history", [])
    img.repack(capsys)
    assert layers(img.layout, "t") == before_layers
    assert config(img.layout, "t")["rootfs"]["diff_ids"] == before_diff_ids
    # The Go umoci 0.6 still records the repack, as an empty-layer entry.
    history = config(img.layout, "t")["history"]
    assert history[:-1] == before_history
    assert history[-1]["created_by"] == "umoci repack"
    assert history[-1]["empty_layer"] is True


def test_changes_that_cancel_out_add_no_layer(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    root = img.rootfs
    before = layers(img.layout, "t")
    with same_mtimes(root, "etc", "etc/hostname"):
        (root / "etc/tmp").write_bytes(b"t")
        (root / "etc/tmp").unlink()
        (root / "etc/hostname").write_bytes(b"other\n")
        (root / "etc/hostname").write_bytes(b"base\n")
        os.chmod(root / "etc/motd", 0o777)
        os.chmod(root / "etc/motd", 0o644)
    img.repack(capsys)
    assert layers(img.layout, "t") == before


def test_image_volumes_are_masked(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path, config={"Volumes": {"/data": {}, "/var/log": {}}})
    before = layers(img.layout, "t")
    (img.rootfs / "data/new").write_bytes(b"n")
    (img.rootfs / "data/seed").write_bytes(b"changed")
    (img.rootfs / "var/log/old.log").unlink()
    img.repack(capsys)
    assert layers(img.layout, "t") == before
    # With another change, the volumes still stay out of the layer.
    (img.rootfs / "etc/hostname").write_bytes(b"h")
    assert repacked(capsys, img) == [Rec("etc/hostname", "file", data=b"h")]


def test_no_mask_volumes_keeps_volume_contents(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path, config={"Volumes": {"/data": {}}})
    with same_mtimes(img.rootfs, "data"):
        (img.rootfs / "data/new").write_bytes(b"n")
        (img.rootfs / "data/seed").unlink()
    assert repacked(capsys, img, "--no-mask-volumes") == [
        whiteout("data/.wh.seed"),
        Rec("data/new", "file", data=b"n"),
    ]


def test_mask_path_is_repeatable(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    root = img.rootfs
    (root / "var/log/new.log").write_bytes(b"log")
    (root / "var/log/old.log").unlink()
    (root / "opt/tree/x").write_bytes(b"changed")
    shutil.rmtree(root / "opt/tree/a")
    (root / "etc/hostname").write_bytes(b"kept")
    entries = repacked(capsys, img, "--mask-path", "/var/log", "--mask-path", "/opt/tree")
    assert entries == [Rec("etc/hostname", "file", data=b"kept")]


def test_mask_path_masks_a_prefix_not_a_string_prefix(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    with same_mtimes(img.rootfs, "etc"):
        (img.rootfs / "etc/hostname").write_bytes(b"h")
        (img.rootfs / "etc/hostname.d").write_bytes(b"d")
    assert repacked(capsys, img, "--mask-path", "/etc/hostname") == [
        Rec("etc/hostname.d", "file", data=b"d")
    ]


@pytest.mark.root
def test_owners_are_mapped_back_through_the_bundle_id_maps(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(
        capsys, tmp_path, "--uid-map", "0:100000:65536", "--gid-map", "0:200000:65536"
    )
    root = img.rootfs
    assert (root / "home/user").stat().st_uid == 101000
    with same_mtimes(root, "home/user"):
        (root / "home/user/new").write_bytes(b"n")
    os.chown(root / "home/user/new", 101000, 200005)
    os.chown(root / "etc/motd", 100003, 200004)
    assert repacked(capsys, img) == [
        Rec("etc/motd", "file", 0o644, 3, 4, b"welcome\n"),
        Rec("home/user/new", "file", 0o644, 1000, 5, b"n"),
    ]


def test_layers_on_top_of_several_base_layers(capsys: Capsys, tmp_path: Path) -> None:
    lower = [T.dir("a"), T.reg("a/one", b"1"), T.reg("a/gone", b"g")]
    upper = [T.dir("a"), T.reg("a/.wh.gone"), T.reg("a/two", b"2")]
    img = Unpacked.make(
        capsys, tmp_path, layers=[(tar_bytes(lower), OCI_GZIP), (tar_bytes(upper), OCI_GZIP)]
    )
    assert sorted(os.listdir(img.rootfs / "a")) == ["one", "two"]
    with same_mtimes(img.rootfs, "a"):
        (img.rootfs / "a/one").unlink()
        (img.rootfs / "a/two").write_bytes(b"22")
    assert repacked(capsys, img) == [whiteout("a/.wh.one"), Rec("a/two", "file", data=b"22")]


@pytest.mark.parametrize("full_hash", [False, True], ids=["stat-cache", "full-hash"])
def test_same_size_same_mtime_content_change_is_found(
    capsys: Capsys, tmp_path: Path, full_hash: bool
) -> None:
    """Size and mtime put back: only the content (and the ctime) tell the change."""
    img = Unpacked.make(capsys, tmp_path)
    with same_mtimes(img.rootfs, "etc/hostname"):
        (img.rootfs / "etc/hostname").write_bytes(b"BASE\n")
    flags = ["--full-hash"] if full_hash else []
    assert repacked(capsys, img, *flags) == [Rec("etc/hostname", "file", data=b"BASE\n")]
