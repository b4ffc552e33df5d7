"""Unpack lists its mtree from the extractor's records: the same bytes as walking the rootfs.

Each test unpacks an image with ``umoci unpack`` (the mtree and stat cache
made from the records, the rootfs only ``lstat`` ed), then walks the new
rootfs the way unpack did before and compares both files byte for byte.
The racy margin of the stat cache is set to zero for these tests, so both
sides trust every entry and the cache lines compare whole.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from imagekit import Image, T, image_of, unpack_ok

from umoci import mtree
from umoci.layer import metadata
from umoci.layer.records import Record, RemovedRecord
from umoci.ops import extracted, statcache

NS = 1_000_000_000
CAP = bytes.fromhex("0100000220") + bytes(15)  # vfs_cap_data rev 2: cap_net_bind_service
_UNDEFINED_ID = 0xFFFFFFFF


def posix_acl(named_uid: int) -> bytes:
    """A POSIX ACL xattr value (rwx for the owner and one named user): never just the mode."""
    entries = [(0x01, 7, _UNDEFINED_ID), (0x02, 7, named_uid), (0x04, 5, _UNDEFINED_ID)]
    entries += [(0x10, 7, _UNDEFINED_ID), (0x20, 5, _UNDEFINED_ID)]
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries)


@pytest.fixture(autouse=True)
def settle_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statcache, "RACY_MARGIN_NS", 0)


@pytest.fixture
def walks(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each mtree walk unpack makes is listed (True) or reads the rootfs (False)."""
    calls: list[bool] = []
    real = mtree.walk

    def spy(*args: Any, **kwargs: Any) -> mtree.Spec:
        calls.append(kwargs.get("listing") is not None)
        return real(*args, **kwargs)

    monkeypatch.setattr(mtree, "walk", spy)
    return calls


def _header(data: bytes) -> mtree.Header:
    fields = {}
    for line in data.split(b"\n")[:4]:
        label, _, value = line.removeprefix(b"#").strip().partition(b": ")
        fields[label.decode()] = value.decode("utf-8", "surrogateescape")
    return mtree.Header(
        user=fields.get("user"),
        machine=fields.get("machine"),
        tree=fields.get("tree"),
        date=fields["date"],
    )


def walked_files(bundle: Path, image: Image, *, rootless: bool) -> tuple[bytes, bytes]:
    """The mtree and stat cache a plain walk of the bundle's rootfs writes now."""
    ours = (bundle / image.mtree_name).read_bytes()
    observations = statcache.Observations()
    spec = mtree.walker.walk(
        bundle / "rootfs", header=_header(ours), rootless=rootless, observe=observations.record
    )
    data = mtree.dump(spec)
    out = bundle.parent / "walked"
    out.mkdir()
    statcache.write_cache(
        str(out), image.mtree_name, hashlib.sha256(data).hexdigest(), spec, observations
    )
    return data, (out / statcache.CACHE_NAME).read_bytes()


def cache_lines(data: bytes) -> Iterator[tuple[int, int, bytes, bytes]]:
    """``(ino, ctime, path, rest)`` per line of a stat cache (past its header)."""
    for line in data.splitlines()[1:]:
        ino, ctime, path, rest = line.split(b" ", 3)
        yield int(ino), int(ctime), path, rest


def unpack_listed(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    walks: list[bool],
    *layers: list,
    flags: tuple[str, ...] = (),
    strict_cache: bool = True,
) -> Path:
    """Unpack ``layers`` (listed, no fallback); the mtree and cache are a walk's. The bundle.

    ``strict_cache=False``: a cache line may differ from the walk's if it
    can never vouch for its inode (untrusted, or a ctime that has moved on).
    """
    image = image_of(tmp_path / "image", *layers)
    bundle = tmp_path / "bundle"
    unpack_ok(capsys, image, bundle, *flags)
    assert walks == [True], "unpack walked the rootfs instead of listing it"
    mtree_bytes, cache_bytes = walked_files(bundle, image, rootless="--rootless" in flags)
    assert (bundle / image.mtree_name).read_bytes() == mtree_bytes
    ours = (bundle / statcache.CACHE_NAME).read_bytes()
    if strict_cache:
        assert ours == cache_bytes
        return bundle
    assert ours.splitlines()[0] == cache_bytes.splitlines()[0]
    theirs = list(cache_lines(cache_bytes))
    mine = list(cache_lines(ours))
    assert [(p, r) for _, _, p, r in mine] == [(p, r) for _, _, p, r in theirs]
    for (ino, ctime, path, _), (their_ino, their_ctime, _, _) in zip(mine, theirs, strict=True):
        if (ino, ctime) != (their_ino, their_ctime):
            assert ino == -1 or ctime != their_ctime, path
    return bundle


def lower() -> list:
    return [
        T.dir("a", mtime_ns=10 * NS),
        T.reg("a/f", b"lower f", mtime_ns=11 * NS),
        T.dir("a/sub", mode=0o750),
        T.reg("a/sub/deep", b"deep"),
        T.sym("a/link", "sub"),
        T.reg("top", b"top"),
        T.dir("opaque"),
        T.reg("opaque/old", b"old"),
        T.dir("opaque/olddir"),
        T.reg("opaque/olddir/x", b"x"),
        T.dir("keep"),
        T.reg("keep/k", b"k"),
    ]


def test_whiteouts_plain_and_opaque(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], walks: list[bool]
) -> None:
    bundle = unpack_listed(
        tmp_path,
        capsys,
        walks,
        lower(),
        # A file, a directory and a symlink whited out; an opaque directory
        # refilled in the same layer; the parents' sizes and times move.
        [
            T.wh(".wh.top"),
            T.wh("a/.wh.sub"),
            T.wh("a/.wh.link"),
            T.dir("opaque", mtime_ns=20 * NS),
            T.wh("opaque/.wh..wh..opq"),
            T.reg("opaque/new", b"new"),
        ],
        # A later layer whites out a child of a directory it has no entry for.
        [T.wh("keep/.wh.k")],
    )
    assert sorted(os.listdir(bundle / "rootfs")) == ["a", "keep", "opaque"]
    assert os.listdir(bundle / "rootfs/opaque") == ["new"]
    assert os.listdir(bundle / "rootfs/keep") == []


def test_directories_replaced_by_files_and_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], walks: list[bool]
) -> None:
    bundle = unpack_listed(
        tmp_path,
        capsys,
        walks,
        lower(),
        [T.reg("a", b"now a file", mode=0o600), T.dir("top", mode=0o700), T.reg("top/in", b"i")],
        # Back to directories, one of them at a path below the first "a".
        [T.dir("a", mode=0o755), T.reg("a/sub/again", b"again"), T.sym("top", "a")],
    )
    assert os.listdir(bundle / "rootfs/a") == ["sub"]
    assert os.listdir(bundle / "rootfs/a/sub") == ["again"]


def test_implicit_parents_and_replaced_components(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], walks: list[bool]
) -> None:
    """Directories the extractor makes on its own (no entry, no record) are listed too."""
    unpack_listed(
        tmp_path,
        capsys,
        walks,
        [T.reg("x/y/z", b"z"), T.reg("file", b"f"), T.sym("dangling", "made/here")],
        # A file and a symlink to a file become directories on the way to
        # an entry; a dangling symlink's target is made; a whiteout then
        # empties the middle of an implicit chain.
        [
            T.reg("file/g/h", b"h"),
            T.sym("tofile", "x/y/z"),
            T.reg("tofile/q/r", b"r"),
            T.reg("dangling/s", b"s"),
        ],
        [T.wh("file/.wh.g")],
    )


def test_hardlinks_across_layers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], walks: list[bool]
) -> None:
    """Link counts (and ctimes) move with later links and whiteouts of other names."""
    bundle = unpack_listed(
        tmp_path,
        capsys,
        walks,
        [T.reg("a", b"shared", mode=0o640), T.reg("solo", b"solo"), T.dir("d")],
        [T.hard("d/b", "a"), T.hard("c", "a"), T.sym("s", "a"), T.hard("s2", "s")],
        [T.wh(".wh.c"), T.hard("solo2", "solo"), T.reg("a", b"a new a")],
        [T.hard("d/e", "d/b")],
    )
    rootfs = bundle / "rootfs"
    assert os.lstat(rootfs / "d/b").st_nlink == 2
    assert os.lstat(rootfs / "solo").st_nlink == 2
    assert os.lstat(rootfs / "a").st_nlink == 1


def test_overwritten_files_symlinks_and_the_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], walks: list[bool]
) -> None:
    unpack_listed(
        tmp_path,
        capsys,
        walks,
        [
            T.dir(".", mode=0o750, mtime_ns=5 * NS, xattrs={"user.root": b"r"}),
            T.reg("f", b"first", mode=0o644, mtime_ns=6 * NS),
            T.sym("l", "f"),
            T.sym("abs", "/no/such/target"),
            T.reg("d/nested", b"n"),
        ],
        # No root entry: the root's times and size still move.
        [T.reg("f", b"second, longer", mode=0o4755, uid=3, gid=4), T.sym("l", "d")],
        [T.dir(".", mode=0o711, mtime_ns=7 * NS), T.reg("d/nested", b"three")],
    )


@pytest.mark.root  # trusted.* and security.capability
def test_xattrs_on_files_and_directories(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], walks: list[bool]
) -> None:
    """Files with xattrs are read back (the kernel's order and values); bare ones are not."""
    unpack_listed(
        tmp_path,
        capsys,
        walks,
        [
            T.dir("d", xattrs={"user.dir": b"1", "trusted.dir": b"\xff"}),
            T.reg("d/one", b"1", xattrs={"user.a": b"a"}),
            T.reg("d/many", b"m", xattrs={"user.z": b"z", "trusted.y": b"y", "user.a": b"a"}),
            T.reg("d/cap", b"c", xattrs={"security.capability": CAP}),
            T.reg("d/bare", b"b"),
            T.hard("d/hard", "d/many"),
        ],
        # The same directory with other xattrs; a file losing its xattrs.
        [T.dir("d", xattrs={"user.other": b"2"}), T.reg("d/one", b"1")],
    )


@pytest.mark.root
def test_devices_and_fifos(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], walks: list[bool]
) -> None:
    unpack_listed(
        tmp_path,
        capsys,
        walks,
        [
            T.chr("dev/null", 1, 3, mode=0o666),
            T.blk("dev/loop0", 7, 0, mode=0o660, gid=6),
            T.fifo("dev/fifo", mode=0o600),
            T.hard("dev/null2", "dev/null"),
        ],
        [T.wh("dev/.wh.fifo"), T.fifo("dev/fifo2")],
    )


def test_rootless(tmp_path: Path, capsys: pytest.CaptureFixture[str], walks: list[bool]) -> None:
    """Owners in xattrs, devices as empty files, read-only directories put back at the end."""
    unpack_listed(
        tmp_path,
        capsys,
        walks,
        [
            T.dir("ro", mode=0o555, uid=5, gid=5),
            T.reg("ro/owned", b"o", uid=1000, gid=1000),
            T.reg("ro/mine", b"m"),
            T.chr("ro/null", 1, 3, mode=0o666),
            T.dir("ro/sub", mode=0o500),
            T.reg("ro/sub/f", b"f", mode=0o400),
        ],
        [T.reg("ro/added", b"a", uid=7), T.wh("ro/.wh.mine"), T.hard("ro/sub/h", "ro/owned")],
        flags=("--rootless",),
    )


def test_rootless_closed_directories(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], walks: list[bool]
) -> None:
    """A mode-000 directory: the walk opens it up and back, moving its ctime.

    So its cache line cannot match the inode any more: that of a plain
    walk has the same fate.
    """
    unpack_listed(
        tmp_path,
        capsys,
        walks,
        [T.dir("closed", mode=0o000), T.reg("closed/f", b"f", mode=0o000)],
        [T.reg("closed/g", b"g")],
        flags=("--rootless",),
        strict_cache=False,
    )


def test_keep_dirlinks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], walks: list[bool]
) -> None:
    bundle = unpack_listed(
        tmp_path,
        capsys,
        walks,
        [T.dir("real"), T.reg("real/old", b"o"), T.sym("link", "real")],
        [T.dir("link", mode=0o700, mtime_ns=9 * NS), T.reg("link/new", b"n")],
        flags=("--keep-dirlinks",),
    )
    assert os.path.islink(bundle / "rootfs/link")
    assert sorted(os.listdir(bundle / "rootfs/real")) == ["new", "old"]


def xattrs_left_on_fresh_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the extractor leave a new file's xattrs alone when the layer wants none.

    (Setting nothing on a file just made changes nothing, unless the file
    came with xattrs of its own: then the walk sees them.)
    """
    real = metadata.XattrApplier.apply

    def apply(self: Any, ops: Any, t: Any, wanted: dict[str, bytes]) -> dict[str, bytes]:
        return {} if not wanted else real(self, ops, t, wanted)

    monkeypatch.setattr(metadata.XattrApplier, "apply", apply)


def test_files_with_xattrs_of_their_own(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    walks: list[bool],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A default ACL above the bundle gives every new file an ACL: files are then read."""
    xattrs_left_on_fresh_files(monkeypatch)
    os.setxattr(tmp_path, "system.posix_acl_default", posix_acl(1234))
    bundle = unpack_listed(tmp_path, capsys, walks, [T.reg("f", b"f"), T.reg("d/g", b"g")])
    assert "system.posix_acl_access" in os.listxattr(bundle / "rootfs/d/g")


def test_files_below_a_default_acl_from_the_image(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    walks: list[bool],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A directory the image gives a default ACL passes it to the files made below it."""
    xattrs_left_on_fresh_files(monkeypatch)
    acl = {"system.posix_acl_default": posix_acl(1234)}
    bundle = unpack_listed(
        tmp_path,
        capsys,
        walks,
        [
            T.reg("before", b"b"),
            T.dir("acl", xattrs=acl),
            T.reg("acl/f", b"f"),
            T.reg("acl/sub/h", b"h"),
        ],
        [T.reg("acl/g", b"g"), T.reg("after", b"a")],
    )
    for inherited in ("acl/f", "acl/sub/h", "acl/g"):
        assert "system.posix_acl_access" in os.listxattr(bundle / "rootfs" / inherited)


def test_records_that_miss_a_removal_fall_back_to_the_walk(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    walks: list[bool],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A listing the rootfs contradicts is dropped, and the rootfs walked: still the same bytes."""
    real = extracted.ExtractedTree.__call__

    def lossy(self: extracted.ExtractedTree, record: Record) -> None:
        if not (isinstance(record, RemovedRecord) and record.path == "a/sub"):
            real(self, record)

    monkeypatch.setattr(extracted.ExtractedTree, "__call__", lossy)
    image = image_of(tmp_path / "image", lower(), [T.wh("a/.wh.sub")])
    bundle = tmp_path / "bundle"
    unpack_ok(capsys, image, bundle)
    assert walks == [True, False]
    mtree_bytes, cache_bytes = walked_files(bundle, image, rootless=False)
    assert (bundle / image.mtree_name).read_bytes() == mtree_bytes
    assert (bundle / statcache.CACHE_NAME).read_bytes() == cache_bytes
