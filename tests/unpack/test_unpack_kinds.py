"""Every tar entry kind, end to end through ``umoci unpack`` (as root: owners, devices)."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest
from imagekit import MTIME, Layer, T, build_tar, image_of, tree, unpack_ok, write_image

from umoci import mtree

pytestmark = pytest.mark.root

NS = 1_000_000_000
LONG_DIR = "deep/" + "d" * 120
LONG_FILE = LONG_DIR + "/" + "f" * 200  # > 255 bytes: PAX path / GNU LONGNAME
LONG_TARGET = "../" + "t" * 180  # > 100 bytes: PAX linkpath / GNU LONGLINK
CAP = bytes.fromhex("0100000220") + bytes(15)  # vfs_cap_data rev 2: cap_net_bind_service


def all_kinds() -> list:
    return [
        T.dir(".", mode=0o755, mtime_ns=1_111 * NS),
        T.dir("d", mode=0o750, uid=12, gid=34, mtime_ns=1_500_000_000_123_456_789),
        T.reg(
            "d/file",
            b"hello\n",
            mode=0o640,
            uid=1000,
            gid=1001,
            xattrs={"user.comment": b"hello world", "trusted.bin": bytes(range(256))},
        ),
        T.hard("d/hard", "d/file"),
        T.sym("d/rel", "file", mtime_ns=1_400_000_000_000_000_001, uid=5, gid=6),
        T.sym("d/abs", "/d/file"),
        T.sym("d/dangling", "../no/such/thing"),
        T.chr("d/null", 1, 3, mode=0o666),
        T.blk("d/loop", 7, 0, mode=0o660, uid=0, gid=6),
        T.fifo("d/fifo", mode=0o600),
        T.reg("d/empty", b"", mode=0o000),
        T.reg("suid", b"#!/bin/sh\n", mode=0o4755),
        T.reg("sgid", b"#!/bin/sh\n", mode=0o2755),
        T.reg("both", b"", mode=0o6711, xattrs={"security.capability": CAP}),
        T.dir("tmp", mode=0o1777),
        T.dir("sgiddir", mode=0o2775, gid=50),
        T.reg("big", bytes(range(256)) * 4096),
        T.reg("ns", b"n", mtime_ns=1_234_567_890_987_654_321),
        T.reg("old", b"o", mtime_ns=5),  # 1970, 5 ns
    ]


def test_every_entry_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = image_of(tmp_path / "image", all_kinds())
    rootfs = unpack_ok(capsys, image, tmp_path / "bundle")
    t = tree(rootfs)
    assert t["."].mode == 0o755
    assert t["."].mtime_ns == 1_111 * NS
    d = t["d"]
    assert (d.kind, d.mode, d.uid, d.gid) == ("dir", 0o750, 12, 34)
    assert d.mtime_ns == 1_500_000_000_123_456_789  # restored after its children
    f = t["d/file"]
    assert (f.kind, f.mode, f.uid, f.gid, f.size) == ("file", 0o640, 1000, 1001, 6)
    assert dict(f.xattrs) == {"user.comment": b"hello world", "trusted.bin": bytes(range(256))}
    assert f.mtime_ns == MTIME * NS
    assert f.links == ("d/file", "d/hard")
    assert t["d/hard"] == f
    rel = t["d/rel"]
    assert (rel.kind, rel.link, rel.uid, rel.gid) == ("symlink", "file", 5, 6)
    assert rel.mtime_ns == 1_400_000_000_000_000_001  # symlinks get their own times
    assert t["d/abs"].link == "/d/file"
    assert t["d/dangling"].link == "../no/such/thing"
    assert (t["d/null"].kind, t["d/null"].rdev, t["d/null"].mode) == ("char", (1, 3), 0o666)
    loop = t["d/loop"]
    assert (loop.kind, loop.rdev, loop.mode, loop.gid) == ("block", (7, 0), 0o660, 6)
    assert (t["d/fifo"].kind, t["d/fifo"].mode) == ("fifo", 0o600)
    assert (t["d/empty"].mode, t["d/empty"].size) == (0, 0)
    assert t["suid"].mode == 0o4755
    assert t["sgid"].mode == 0o2755
    assert t["both"].mode == 0o6711  # chown before chmod: setuid bits survive
    assert dict(t["both"].xattrs) == {"security.capability": CAP}
    assert (t["tmp"].mode, t["sgiddir"].mode, t["sgiddir"].gid) == (0o1777, 0o2775, 50)
    assert t["big"].size == 256 * 4096
    assert t["ns"].mtime_ns == 1_234_567_890_987_654_321
    assert t["old"].mtime_ns == 5
    assert set(t) == {os.path.normpath(e.info.name) for e in all_kinds()}


def test_mtree_describes_the_rootfs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = image_of(tmp_path / "image", all_kinds())
    bundle = tmp_path / "bundle"
    rootfs = unpack_ok(capsys, image, bundle)
    text = (bundle / image.mtree_name).read_bytes()
    assert b"keywords: size,type,uid,gid,mode,link,nlink,tar_time,sha256digest,xattr" in text
    spec = mtree.parse(text)
    # Nothing in the rootfs differs from what the bundle's mtree records.
    assert mtree.check(rootfs, spec) == []
    assert b"xattr.user.comment=aGVsbG8gd29ybGQ=" in text
    assert b"tar_time=1234567890.000000000" in text  # go-mtree: whole seconds


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT], ids=["pax", "gnu"])
def test_long_names_and_link_targets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: int
) -> None:
    entries = [
        T.dir("deep"),
        T.dir(LONG_DIR),
        T.reg(LONG_FILE, b"long name"),
        T.sym("deep/longlink", LONG_TARGET),
        T.hard(LONG_DIR + "/" + "h" * 200, LONG_FILE),
        T.reg("ünïcødé name", b"u"),
    ]
    image = write_image(tmp_path / "image", [Layer(build_tar(entries, fmt))])
    rootfs = unpack_ok(capsys, image, tmp_path / "bundle")
    assert (rootfs / LONG_FILE).read_bytes() == b"long name"
    assert os.readlink(rootfs / "deep/longlink") == LONG_TARGET
    assert (rootfs / LONG_DIR / ("h" * 200)).stat().st_ino == (rootfs / LONG_FILE).stat().st_ino
    assert (rootfs / "ünïcødé name").read_bytes() == b"u"


def test_ustar_prefix_split_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = "p" * 90 + "/" + "q" * 90 + "/file"  # fits only via the ustar prefix field
    entries = [T.dir("p" * 90), T.dir("p" * 90 + "/" + "q" * 90), T.reg(name, b"split")]
    image = write_image(tmp_path / "image", [build_tar(entries, tarfile.USTAR_FORMAT)])
    rootfs = unpack_ok(capsys, image, tmp_path / "bundle")
    assert (rootfs / name).read_bytes() == b"split"


def test_gnu_non_utf8_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = b"bad\xff\xfename"
    entries = [T.reg(os.fsdecode(raw), b"b"), T.sym("link", os.fsdecode(b"to\xff"))]
    buf = build_tar(entries, tarfile.GNU_FORMAT)
    assert raw in buf
    image = write_image(tmp_path / "image", [buf])
    rootfs = unpack_ok(capsys, image, tmp_path / "bundle")
    assert set(os.listdir(os.fsencode(rootfs))) == {raw, b"link"}
    assert os.readlink(os.path.join(os.fsencode(rootfs), b"link")) == b"to\xff"


def test_later_layers_replace_entries_of_every_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lower = [
        T.dir("a"),
        T.reg("a/x", b"x"),
        T.reg("file", b"old"),
        T.sym("link", "file"),
        T.fifo("fifo"),
        T.dir("dir"),
        T.reg("dir/inner", b"i"),
    ]
    upper = [
        T.sym("file", "a"),  # file → symlink
        T.reg("link", b"now a file"),  # symlink → file (the target is not written)
        T.dir("fifo", mode=0o700),  # fifo → dir
        T.reg("dir", b"was a dir"),  # non-empty dir → file
        T.reg("a/x", b"newer", mode=0o600),  # file → file (a new inode)
    ]
    image = image_of(tmp_path / "image", lower, upper)
    rootfs = unpack_ok(capsys, image, tmp_path / "bundle")
    t = tree(rootfs)
    assert (t["file"].kind, t["file"].link) == ("symlink", "a")
    assert (rootfs / "link").read_bytes() == b"now a file"
    assert (t["fifo"].kind, t["fifo"].mode) == ("dir", 0o700)
    assert (rootfs / "dir").read_bytes() == b"was a dir"
    assert (t["a/x"].mode, (rootfs / "a/x").read_bytes()) == (0o600, b"newer")
    assert "dir/inner" not in t


def test_hardlink_across_layers_and_to_a_symlink(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lower = [T.reg("target", b"t", mode=0o600), T.sym("sym", "target")]
    upper = [T.hard("h1", "target"), T.hard("h2", "sym"), T.hard("h3", "h1")]
    image = image_of(tmp_path / "image", lower, upper)
    t = tree(unpack_ok(capsys, image, tmp_path / "bundle"))
    assert t["target"].links == ("h1", "h3", "target")
    assert t["sym"].links == ("h2", "sym")
    assert t["h2"].link == "target"
