"""Confined resolution, removal and rootless permission handling in umoci.fs."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from umoci.fs import Rootfs, RootlessOps, RootOps, Target, fs_for, remove_path, running_in_userns
from umoci.fs import ops as ops_module


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    base = tmp_path / "base"
    root = base / "root"
    root.mkdir(parents=True)
    (base / "outside").mkdir()
    (base / "outside" / "secret").write_bytes(b"host")
    return root


def resolved(fs: Rootfs, rel: str, **kw) -> str:
    with fs.resolve_dir(rel, **kw) as d:
        return d.rel


@pytest.mark.parametrize(
    ("target", "expect"),
    [
        ("/", ""),
        ("/..", ""),
        ("../../..", ""),
        ("/../outside", "outside"),
        ("../outside", "outside"),
        ("sub/../../../outside", "outside"),
        ("/./sub/./", "sub"),
    ],
)
def test_symlinks_resolve_inside(tree, target, expect):
    (tree / "sub").mkdir()
    (tree / "outside").mkdir()
    os.symlink(target, tree / "link")
    with Rootfs(tree, RootOps()) as fs:
        assert resolved(fs, "link") == expect
        assert resolved(fs, "sub/../link") == expect


def test_chain_and_loop(tree):
    os.symlink("b", tree / "a")
    os.symlink("/c/../d", tree / "b")
    (tree / "c").mkdir()
    (tree / "d").mkdir()
    os.symlink("loop", tree / "loop")
    with Rootfs(tree, RootOps()) as fs:
        assert resolved(fs, "a") == "d"
        # Resolution is physical, like the kernel's: a missing directory
        # before ".." is an error, not skipped lexically.
        os.rmdir(tree / "c")
        fs.invalidate()
        with pytest.raises(FileNotFoundError):
            fs.resolve_dir("a")
        with pytest.raises(OSError, match="Too many levels") as info:
            fs.resolve_dir("loop/x")
        assert info.value.errno == errno.ELOOP


def test_missing_and_not_a_directory(tree):
    (tree / "file").write_bytes(b"")
    with Rootfs(tree, RootOps()) as fs:
        with pytest.raises(FileNotFoundError):
            fs.resolve_dir("nope/x")
        with pytest.raises(NotADirectoryError):
            fs.resolve_dir("file/x")


def test_create_through_dangling_symlink(tree):
    os.symlink("/../made/here", tree / "dangling")
    with Rootfs(tree, RootOps()) as fs:
        assert resolved(fs, "dangling/sub", create=True) == "made/here/sub"
    assert (tree / "made/here/sub").is_dir()
    assert not (tree.parent / "made").exists()


def test_replace_file_and_link_to_file(tree):
    (tree / "file").write_bytes(b"")
    (tree / "target").write_bytes(b"keep")
    os.symlink("target", tree / "link")
    with Rootfs(tree, RootOps()) as fs:
        assert resolved(fs, "file/x", create=True, replace=True) == "file/x"
        assert resolved(fs, "link/y", create=True, replace=True) == "link/y"
    assert (tree / "target").read_bytes() == b"keep"
    assert (tree / "link").is_dir()


def test_cache_invalidated_when_dir_replaced_by_symlink(tree):
    (tree / "a").mkdir()
    (tree / "elsewhere").mkdir()
    with Rootfs(tree, RootOps()) as fs:
        assert resolved(fs, "a") == "a"
        with fs.root() as root:
            fs.remove(root, "a")
            os.symlink("elsewhere", "a", dir_fd=root.fd)
        assert resolved(fs, "a") == "elsewhere"


def test_cache_eviction_and_dotdot_reopen(tree):
    # Deeper than the fd cache, with ".." needing directories reopened.
    deep = tree
    names = [f"d{i}" for i in range(100)]
    for n in names:
        deep = deep / n
    deep.mkdir(parents=True)
    (deep / "file").write_bytes(b"")
    os.symlink("/".join([".."] * 50), deep / "up")
    (tree / "a").mkdir()
    os.symlink("../" + "/".join(names) + "/file", tree / "a" / "s")
    with Rootfs(tree, RootOps()) as fs:
        assert resolved(fs, "/".join(names) + "/up") == "/".join(names[:50])
        for i in range(200):
            assert resolved(fs, f"wide{i}", create=True) == f"wide{i}"
        # A link (in a cached directory) to a file, with a long target walk
        # evicting that directory from the cache meanwhile: the link is
        # replaced by a directory, the file it pointed to is untouched.
        assert resolved(fs, "a/s/x", create=True, replace=True) == "a/s/x"
    assert (deep / "file").exists()


def test_remove_with_keep_and_clear_dir(tree):
    for p in ("d/keep/new", "d/keep/old", "d/gone/x", "d/file"):
        (tree / p).parent.mkdir(parents=True, exist_ok=True)
        (tree / p).write_bytes(b"")
    removed: list[str] = []
    with Rootfs(tree, RootOps()) as fs, fs.root() as root:
        fs.remove(root, "d", keep={"d", "d/keep", "d/keep/new"}, on_removed=removed.append)
    assert sorted(removed) == ["d/file", "d/gone", "d/keep/old"]
    assert [p.name for p in (tree / "d").iterdir()] == ["keep"]
    with Rootfs(tree, RootOps()) as fs, fs.resolve_dir("d") as d:
        fs.clear_dir(d)
    assert list((tree / "d").iterdir()) == []


def test_remove_does_not_follow_symlinks(tree):
    (tree / "d").mkdir()
    os.symlink("/../outside", tree / "d" / "abs")
    os.symlink(str(tree.parent / "outside"), tree / "d" / "host")
    with Rootfs(tree, RootOps()) as fs, fs.root() as root:
        fs.remove(root, "d")
    assert (tree.parent / "outside/secret").read_bytes() == b"host"


def test_very_deep_tree_removal(tree):
    # Deeper than Python's recursion limit: removal must be iterative.
    fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(1500):
            os.mkdir("d", dir_fd=fd)
            new = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = new
        with open(os.open("f", os.O_CREAT | os.O_WRONLY, dir_fd=fd), "wb"):
            pass
    finally:
        os.close(fd)
    with Rootfs(tree, RootOps()) as fs, fs.root() as root:
        fs.remove(root, "d")
    assert list(tree.iterdir()) == []


def test_rootless_temp_modes_restored(tree):
    (tree / "locked" / "inner").mkdir(parents=True)
    os.chmod(tree / "locked" / "inner", 0o500)
    os.chmod(tree / "locked", 0o000)
    with Rootfs(tree, RootlessOps()) as fs:
        with fs.resolve_dir("locked/inner/new", create=True) as d:
            assert d.rel == "locked/inner/new"
            # Usable while we work...
            assert stat.S_IMODE((tree / "locked").lstat().st_mode) == 0o700
        with fs.resolve_dir("locked/inner") as d:
            fs.chmod_dir(d, "new", 0o000)
        fs.finish()
    # ...and put back afterwards, the new directory's mode included.
    assert stat.S_IMODE((tree / "locked").lstat().st_mode) == 0o000
    os.chmod(tree / "locked", 0o700)
    assert stat.S_IMODE((tree / "locked/inner").lstat().st_mode) == 0o500
    assert stat.S_IMODE((tree / "locked/inner/new").lstat().st_mode) == 0o000


def test_root_ops_leave_modes_alone(tree):
    (tree / "locked").mkdir(mode=0o000)
    os.chmod(tree / "locked", 0o000)
    with Rootfs(tree, RootOps()) as fs:
        if os.geteuid() == 0:
            assert resolved(fs, "locked/x", create=True) == "locked/x"
    assert stat.S_IMODE((tree / "locked").lstat().st_mode) == 0o000


def test_remove_path_rootless(tree):
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "f").write_bytes(b"")
    os.chmod(tree / "a" / "b", 0o000)
    os.chmod(tree / "a", 0o500)
    remove_path(tree, RootlessOps())
    assert not tree.exists()


def test_fs_for():
    assert isinstance(fs_for(rootless=True), RootlessOps)
    ops = fs_for(rootless=False)
    assert ops.rootless is (os.geteuid() != 0)
    assert isinstance(running_in_userns(), bool)


def test_xattrs_without_proc(tree, monkeypatch):
    (tree / "f").write_bytes(b"")
    (tree / "d").mkdir()
    os.mkfifo(tree / "p")
    monkeypatch.setattr(ops_module, "proc_fd_works", lambda: False)
    ops = RootOps()
    with Rootfs(tree, ops) as fs, fs.root() as root:
        # The suite needs a filesystem with user xattrs (tmpfs, ext4, xfs).
        ops.setxattr(Target(root.fd, "f"), "user.x", b"1")
        ops.setxattr(Target(root.fd, "d"), "user.y", b"2")
        assert ops.listxattr(Target(root.fd, "f")) == ["user.x"]
        assert ops.getxattr(Target(root.fd, "d"), "user.y") == b"2"
        ops.removexattr(Target(root.fd, "d"), "user.y")
        with pytest.raises(OSError, match="special files") as info:
            ops.setxattr(Target(root.fd, "p"), "user.z", b"3")
        assert info.value.errno == errno.EOPNOTSUPP


def test_create_refuses_existing_symlink(tree):
    os.symlink("/../outside/secret", tree / "f")
    with Rootfs(tree, RootOps()) as fs, fs.root() as root, pytest.raises(FileExistsError):
        fs.ops.create(root.fd, "f")
    assert (tree.parent / "outside/secret").read_bytes() == b"host"


def test_absolute_symlink_in_subdirectory_restarts_at_root(tree):
    (tree / "x" / "y").mkdir(parents=True)
    (tree / "etc").mkdir()
    os.symlink("/etc", tree / "x" / "y" / "abs")
    os.symlink("/../../etc/", tree / "x" / "y" / "abs2")
    with Rootfs(tree, RootOps()) as fs:
        assert resolved(fs, "x/y/abs") == "etc"
        assert resolved(fs, "x/y/abs2") == "etc"


def test_a_repeated_peek_never_outlives_what_it_names(tree):
    (tree / "d").mkdir()
    with Rootfs(tree, RootOps()) as fs:
        first = fs.peek_dir("d")
        assert fs.peek_dir("d") is first  # nothing changed in between
        with fs.resolve_dir("") as top:
            fs.remove(top, "d")
            os.close(fs.ops.create(top.fd, "d"))  # a file now
        with pytest.raises(NotADirectoryError):
            fs.peek_dir("d")
        # Pushed out of the fd cache by other lookups: looked up again.
        os.unlink(tree / "d")
        (tree / "d").mkdir()
        for i in range(100):
            (tree / f"e{i}").mkdir()
        ref = fs.peek_dir("d")
        for i in range(100):
            fs.peek_dir(f"e{i}")
        again = fs.peek_dir("d")
        assert os.fstat(again.fd).st_ino == os.lstat(tree / "d").st_ino
        assert again is not ref
