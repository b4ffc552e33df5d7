"""Walking trees and building specs from known facts."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import umoci.mtree.walker as walk_module
from umoci.errors import MtreeError
from umoci.mtree import (
    Comment,
    FileInfo,
    Header,
    ListingMismatch,
    compare,
    dump,
    parse,
    spec_from_infos,
    walk,
)

HEADER = Header(user="root", machine="vm", tree="rootfs", date="Fri Nov 27 03:23:50 2026")
HEAD = (
    b"#          user: root\n"
    b"#       machine: vm\n"
    b"#          tree: rootfs\n"
    b"#          date: Fri Nov 27 03:23:50 2026\n"
)
UMOCI_HEAD = (
    HEAD + b"#      keywords: size,type,uid,gid,mode,link,nlink,tar_time,sha256digest,xattr\n"
)


@dataclass(frozen=True)
class FakeStat:
    st_mode: int
    st_size: int = 0
    st_uid: int = 0
    st_gid: int = 0
    st_nlink: int = 1
    st_mtime_ns: int = 1_700_000_000_000_000_000
    st_ino: int = 1
    st_ctime_ns: int = 0


def fake(path: bytes, kind: int, perm: int, **kw: int) -> FakeStat:
    del path
    return FakeStat(st_mode=kind | perm, **kw)


def test_spec_from_infos_layout_is_go_mtrees() -> None:
    d, f = stat.S_IFDIR, stat.S_IFREG
    infos = [
        # Deliberately out of order: spec_from_infos sorts.
        FileInfo.from_stat(b"b", fake(b"b", d, 0o755, st_size=4096, st_nlink=2)),
        FileInfo.from_stat(b"a", fake(b"a", f, 0o644, st_size=3), sha256="ab" * 32),
        FileInfo.from_stat(
            b"b/own",
            fake(b"b/own", d, 0o700, st_size=4096, st_nlink=2, st_uid=1000, st_gid=100),
        ),
        FileInfo.from_stat(
            b"b/own/x",
            fake(b"b/own/x", f, 0o600, st_uid=1000, st_gid=100, st_mtime_ns=-1_500_000_000),
            sha256="cd" * 32,
            xattrs=[(b"user.k ey", b"\x00\x01")],
        ),
        FileInfo.from_stat(b"b/l", fake(b"b/l", stat.S_IFLNK, 0o777, st_size=4), link=b"../a"),
        FileInfo.from_stat(b"b/zdir", fake(b"b/zdir", d, 0o1777, st_size=4096, st_nlink=2)),
        FileInfo.from_stat(b"b/dev", fake(b"b/dev", stat.S_IFBLK, 0o4660)),
        FileInfo.from_stat(b".", fake(b".", d, 0o755, st_size=4096, st_nlink=3)),
        FileInfo.from_stat(b"sock", fake(b"sock", stat.S_IFSOCK, 0)),
    ]
    spec = spec_from_infos(infos, header=HEADER)
    t = b"tar_time=1700000000.000000000"
    assert dump(spec) == UMOCI_HEAD + (
        b"\n"
        b"# .\n"
        b"/set type=file nlink=1 mode=0664 uid=0 gid=0\n"
        b". size=4096 type=dir mode=0755 nlink=3 " + t + b"\n"
        b"    a size=3 mode=0644 " + t + b" sha256digest=" + b"ab" * 32 + b"\n"
        b"    sock size=0 type=socket mode=0 " + t + b"\n"
        b"\n"
        b"# b\n"
        b"b size=4096 type=dir mode=0755 nlink=2 " + t + b"\n"
        b"    dev size=0 type=block mode=04660 " + t + b"\n"
        b"    l size=4 type=link mode=0777 link=../a " + t + b"\n"
        b"\n"
        b"# b/own\n"
        b"/set type=file nlink=1 mode=0664 uid=1000 gid=100\n"
        b"own size=4096 type=dir mode=0700 nlink=2 " + t + b"\n"
        b"    x size=0 mode=0600 tar_time=-2.000000000 sha256digest=" + b"cd" * 32 + b""
        b" xattr.user.k\\040ey=AAE=\n"
        b"..\n"
        b"\n"
        b"# b/zdir\n"
        b"/set type=file nlink=1 mode=0664 uid=0 gid=0\n"
        b"zdir size=4096 type=dir mode=01777 nlink=2 " + t + b"\n"
        b"..\n"
        b"..\n"
        b"..\n"
    )


def test_set_follows_the_keywords_asked_for() -> None:
    d, f = stat.S_IFDIR, stat.S_IFREG
    infos = [
        FileInfo.from_stat(b".", fake(b".", d, 0o755)),
        FileInfo.from_stat(b"f", fake(b"f", f, 0o644)),
        FileInfo.from_stat(b"s", fake(b"s", d, 0o755, st_uid=5)),
        FileInfo.from_stat(b"t", fake(b"t", d, 0o755, st_uid=5)),
    ]
    spec = spec_from_infos(infos, ["type", "mode"], header=HEADER)
    lines = dump(spec).decode().splitlines()
    # The first /set always carries uid/gid; later ones only asked-for keywords,
    # so without uid every directory needs a new /set (as in go-mtree).
    assert [line for line in lines if line.startswith("/set")] == [
        "/set type=file mode=0664 uid=0 gid=0",
        "/set type=file mode=0664",
        "/set type=file mode=0664",
    ]
    assert "    f mode=0644" in lines


def test_other_keywords() -> None:
    st = FakeStat(st_mode=stat.S_IFREG | 0o640, st_mtime_ns=1_577_934_245_123_456_789)
    root = FileInfo.from_stat(b".", FakeStat(st_mode=stat.S_IFDIR | 0o755))
    info = FileInfo(b"f", st, digests={"md5digest": "00" * 16})
    spec = spec_from_infos([root, info], ["time", "md5", "flags", "uname"], header=HEADER)
    assert b"    f time=1577934245.123456789 md5digest=" + b"00" * 16 + b" uname=root\n" in dump(
        spec
    )
    with pytest.raises(MtreeError, match="unknown keyword"):
        spec_from_infos([root], ["cksum"], header=HEADER)
    with pytest.raises(MtreeError, match="no digest"):
        spec_from_infos([root, info], ["sha256digest"], header=HEADER)


def test_spec_from_infos_needs_parents() -> None:
    root = FileInfo.from_stat(b".", FakeStat(st_mode=stat.S_IFDIR))
    orphan = FileInfo.from_stat(b"x/y", FakeStat(st_mode=stat.S_IFREG), sha256="00")
    with pytest.raises(MtreeError, match="no parent"):
        spec_from_infos([root, orphan], header=HEADER)
    with pytest.raises(MtreeError, match="no root"):
        spec_from_infos([orphan], header=HEADER)


def make_tree(root: Path) -> None:
    root.mkdir()
    (root / "dir" / "sub").mkdir(parents=True)
    (root / "dir" / "file").write_bytes(b"hello\n")
    os.setxattr(root / "dir" / "file", "user.comment", b"hello world")
    os.setxattr(root / "dir", "trusted.t", b"\xff")
    os.link(root / "dir" / "file", root / "dir" / "hardlink")
    (root / "dir" / "sub" / "symlink").symlink_to("../dir/file")
    os.mkfifo(root / "dir" / "fifo")
    (root / "dir" / "big").write_bytes(os.urandom(3 << 20))
    (root / "with space").mkdir()
    (root / "with space" / "a#b*c").write_bytes(b"x\n")
    (root / os.fsdecode(b"\xffbad\nname")).mkdir()
    (root / "owned").mkdir()
    (root / "owned" / "f").write_bytes(b"")
    os.chown(root / "owned", 1000, 1000)
    os.chmod(root / "owned" / "f", 0o4755)
    os.symlink("dir", root / "link-to-dir")


def infos_from_disk(root: Path) -> list[FileInfo]:
    out = []
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
        for name in [b".", *dirnames, *filenames]:
            full = dirpath if name == b"." else os.path.join(dirpath, name)
            rel = os.path.relpath(full, os.fsencode(root))
            if name == b"." and rel != b".":
                continue
            st = os.lstat(full)
            xattrs: list[tuple[bytes, bytes]] = []
            if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
                xattrs = [
                    (os.fsencode(x), os.getxattr(full, x, follow_symlinks=False))
                    for x in os.listxattr(full, follow_symlinks=False)
                ]
            digest = None
            if stat.S_ISREG(st.st_mode):
                digest = hashlib.sha256(Path(os.fsdecode(full)).read_bytes()).hexdigest()
            link = os.readlink(full) if stat.S_ISLNK(st.st_mode) else None
            out.append(FileInfo.from_stat(rel, st, sha256=digest, xattrs=xattrs, link=link))
    return out


def test_walk_equals_spec_from_recorded_facts(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    make_tree(root)
    walked = walk(root, header=HEADER)
    built = spec_from_infos(infos_from_disk(root), header=HEADER)
    assert dump(walked) == dump(built)
    text = dump(walked)
    assert text.startswith(UMOCI_HEAD + b"\n# .\n/set type=file nlink=1 mode=0664 uid=0 gid=0\n")
    # Symlinks to directories are files; directories come after files.
    order = [e.path for e in walked.entries()]
    assert order.index(b"link-to-dir") < order.index(b"dir")
    assert b"xattr.trusted.t=/w==" in text
    # A newline in a directory name is escaped in its comment only.
    assert b"# \\377bad\\012name\n" in text
    again = parse(text)
    assert [e.path for e in again.entries()] == order
    assert compare(again, walked) == []


def test_walk_refuses_a_root_that_is_not_a_directory(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(MtreeError, match="not a directory"):
        walk(tmp_path / "f", header=HEADER)
    (tmp_path / "l").symlink_to(tmp_path)
    with pytest.raises(MtreeError, match="not a directory"):
        walk(tmp_path / "l", header=HEADER)
    with pytest.raises(FileNotFoundError):
        walk(tmp_path / "missing", header=HEADER)


def test_walk_deeper_than_the_python_stack(tmp_path: Path) -> None:
    deep = tmp_path / "r"
    path = os.fsencode(deep)
    os.mkdir(path)
    for _ in range(1200):
        path += b"/d"
        os.mkdir(path)
    try:
        spec = walk(deep, ["type"], header=HEADER)
        assert sum(1 for _ in spec.entries()) == 1201
    finally:
        # pytest's own clean-up would need an fd per level.
        while path != os.fsencode(tmp_path):
            os.rmdir(path)
            path = os.path.dirname(path)


def test_walk_default_header(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    spec = walk(tmp_path / "r", ["type"])
    comments = [n.raw for n in spec.nodes if isinstance(n, Comment)]
    assert comments[2] == "#          tree: " + str(tmp_path / "r")
    assert comments[4] == "#      keywords: type"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_known_digest_is_recorded_unread(tmp_path: Path) -> None:
    root = tmp_path / "r"
    (root / "d").mkdir(parents=True)
    (root / "f").write_bytes(b"one")
    os.symlink("f", root / "l")
    bogus = "0" * 64
    asked: list[tuple[bytes, int]] = []

    def known(path: bytes, st: os.stat_result) -> str | None:
        asked.append((path, st.st_ino))
        return bogus if path == b"f" else None

    def digest(spec: Any) -> str | None:
        value = spec.index()[b"f"].get("sha256digest")
        return None if value is None else str(value)

    # What the function knows is recorded as it is: the file is not read.
    assert digest(walk(root, header=HEADER, known_digest=known)) == bogus
    # Asked once per regular file (never for directories or symlinks), with its lstat.
    assert asked == [(b"f", os.lstat(root / "f").st_ino)]
    # None, or no function at all: the file is read.
    assert digest(walk(root, header=HEADER, known_digest=lambda path, st: None)) == _sha(b"one")
    assert digest(walk(root, header=HEADER)) == _sha(b"one")
    # It only ever stands in for sha256 alone: with another digest asked for
    # too, every file is read and the function is never asked.
    asked.clear()
    spec = walk(root, ["sha256digest", "md5digest"], header=HEADER, known_digest=known)
    assert digest(spec) == _sha(b"one")
    assert asked == []


class DiskListing:
    """A listing read from the disk beforehand, as a caller that made the tree knows it."""

    def __init__(self, root: Path, bare: frozenset[bytes] = frozenset()) -> None:
        self.asked: list[bytes] = []
        self.dirs: dict[bytes, list[tuple[bytes, bool, bool]]] = {}
        for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
            rel = os.path.relpath(dirpath, os.fsencode(root))
            prefix = b"" if rel == b"." else rel + b"/"
            listed = []
            for name in dirnames + filenames:  # symlinks to directories among dirnames
                is_dir = stat.S_ISDIR(os.lstat(os.path.join(dirpath, name)).st_mode)
                listed.append((name, is_dir, prefix + name in bare))
            self.dirs[rel] = listed

    def entries(self, directory: bytes) -> list[tuple[bytes, bool, bool]]:
        self.asked.append(directory)
        return self.dirs.get(directory, [])


def test_a_listed_walk_reads_no_directory_and_makes_the_same_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "rootfs"
    make_tree(root)
    seen: list[tuple[bytes, int, int]] = []
    walked = walk(root, header=HEADER, observe=lambda p, st, _: seen.append((p, st.st_ino, 0)))
    listing = DiskListing(root)
    monkeypatch.setattr(walk_module.TreeReader, "scan", None)  # never called
    listed_seen: list[tuple[bytes, int, int]] = []
    listed = walk(
        root,
        header=HEADER,
        observe=lambda p, st, _: listed_seen.append((p, st.st_ino, 0)),
        listing=listing,
    )
    assert dump(listed) == dump(walked)
    assert listed_seen == seen
    # Each directory asked for once, in walk order.
    dirs = [e.path for e in walked.entries() if e.get("type") == "dir"]
    assert listing.asked == dirs


def test_a_listed_walk_takes_bare_files_as_bare_only_with_a_known_digest(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    for name in ("known", "unknown"):
        (root / name).write_bytes(b"x")
        os.setxattr(root / name, "user.x", b"1")
    listing = DiskListing(root, bare=frozenset({b"known", b"unknown"}))
    spec = walk(
        root,
        header=HEADER,
        listing=listing,
        known_digest=lambda path, st: _sha(b"x") if path == b"known" else None,
    )
    index = spec.index()
    # Vouched for: recorded without xattrs, unread.  Not: read as always.
    assert "xattr.user.x" not in index[b"known"].all_keywords()
    assert index[b"unknown"].get("xattr.user.x") == "MQ=="
    assert index[b"unknown"].get("sha256digest") == _sha(b"x")


def test_a_listing_the_tree_contradicts_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "r"
    (root / "d").mkdir(parents=True)
    (root / "f").write_bytes(b"")
    for listed, message in (
        ([(b"gone", False, False)], "'gone' is missing"),
        ([(b"f", True, False)], "'f' is not a directory"),
        ([(b"d", False, False)], "'d' is a directory"),
    ):
        listing = DiskListing(root)
        listing.dirs[b"."] = listed
        with pytest.raises(ListingMismatch, match=message):
            walk(root, header=HEADER, listing=listing)
    # Names the listing leaves out are simply not seen (it is trusted for them).
    listing = DiskListing(root)
    listing.dirs[b"."] = [(b"f", False, False)]
    assert [e.path for e in walk(root, header=HEADER, listing=listing).entries()] == [b".", b"f"]


def test_observe_sees_every_entry_before_its_line(tmp_path: Path) -> None:
    root = tmp_path / "r"
    (root / "d" / "e").mkdir(parents=True)
    (root / "d" / "f").write_bytes(b"x")
    os.symlink("d", root / "l")
    seen: list[tuple[bytes, int, int]] = []
    lines: list[bytes] = []

    class Sink:
        @staticmethod
        def append(node: Any) -> None:
            if hasattr(node, "path"):
                lines.append(node.path)
                assert seen[-1][0] == node.path  # observed right before its line

    start = time.time_ns()
    walk(
        root,
        header=HEADER,
        observe=lambda path, st, before_ns: seen.append((path, st.st_ino, before_ns)),
        sink=Sink(),
    )
    assert [path for path, _, _ in seen] == lines == [b".", b"l", b"d", b"d/f", b"d/e"]
    for path, ino, before_ns in seen:
        assert ino == os.lstat(root / os.fsdecode(path)).st_ino
        assert start <= before_ns <= time.time_ns()


def _walk_as(uid: int, root: Path, rootless: bool) -> tuple[bool, bytes]:
    """Walk in a forked child running as ``uid``: (succeeded, dump or error text)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        status = 1
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            try:
                out = dump(walk(root, header=Header(None, None, None, "d"), rootless=rootless))
                status = 0
            except Exception as err:  # report any failure to the parent
                out = repr(err).encode()
            with os.fdopen(write_fd, "wb") as pipe:
                pipe.write(out)
        finally:
            os._exit(status)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0, data


@pytest.fixture
def public_tmp() -> Iterator[Path]:
    """A temporary directory other users can reach (pytest's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="umoci-mtree-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path)


def test_rootless_walk_reads_unreadable_owned_files(public_tmp: Path) -> None:
    nobody = 65534
    root = public_tmp / "r"
    (root / "locked").mkdir(parents=True)
    (root / "locked" / "secret").write_bytes(b"secret")
    (root / "unreadable").write_bytes(b"data")
    os.setxattr(root / "unreadable", "user.rootlesscontainers", b"\x08\x01")
    for path in (root, root / "locked", root / "locked" / "secret", root / "unreadable"):
        os.chown(path, nobody, nobody)
    os.chmod(root / "locked" / "secret", 0)
    os.chmod(root / "unreadable", 0)
    os.chmod(root / "locked", 0)

    ok, out = _walk_as(nobody, root, rootless=False)
    assert not ok
    assert b"PermissionError" in out
    ok, out = _walk_as(nobody, root, rootless=True)
    assert ok, out.decode()
    assert out == dump(walk(root, header=Header(None, None, None, "d")))
    assert b"xattr.user.rootlesscontainers=CAE=" in out
    assert b"    secret size=6 mode=0 " in out
    # Modes were put back.
    assert stat.S_IMODE(os.lstat(root / "locked").st_mode) == 0
    assert stat.S_IMODE(os.lstat(root / "unreadable").st_mode) == 0


def test_hardlinks_are_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "r"
    root.mkdir()
    (root / "a").write_bytes(b"same")
    os.link(root / "a", root / "b")
    (root / "c").write_bytes(b"same")
    reads: list[bytes] = []
    real = walk_module._Walker._hash

    def counting(self: walk_module._Walker, rel: bytes, *args: Any) -> dict[str, str]:
        reads.append(os.path.basename(rel))
        return real(self, rel, *args)

    monkeypatch.setattr(walk_module._Walker, "_hash", counting)
    asked: list[bytes] = []

    def unknown(path: bytes, st: os.stat_result) -> None:
        asked.append(path)

    spec = walk(root, header=HEADER, known_digest=unknown)
    assert reads == [b"a", b"c"]
    assert {e.get("sha256digest") for e in spec.entries() if e.path != b"."} == {_sha(b"same")}
    # A caller's known digests are asked for every name of the inode first.
    assert asked == [b"a", b"b", b"c"]


def test_fused_umoci_keywords_match_the_generic_functions(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    make_tree(root)
    fused = walk(root, header=HEADER)
    generic_kw = ["size", "type", "uid", "gid", "mode", "link", "nlink", "tar_time", "sha256"]
    generic = walk(root, [*generic_kw, "xattrs"], header=HEADER)
    assert list(fused.entries()) == list(generic.entries())
