"""TreeReader: a tree read without following symlinks, rootless modes relaxed and put back."""

from __future__ import annotations

import errno
import itertools
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fskit import NOBODY, as_nobody, mode_of, needs_root, public_tmp_fixture  # noqa: F401 (fixtures)

from umoci.fs import tree as tree_module
from umoci.fs.rootfs import NotADirComponentError
from umoci.fs.tree import TreeReader


def test_symlinks_are_refused_not_followed(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"x")
    os.symlink("d", tmp_path / "link")
    os.symlink("/", tmp_path / "abs")
    with TreeReader(tmp_path, rootless=False) as tree:
        assert sorted(tree.names(tree.peek_dir("d"))) == ["f"]
        for where in ("link", "abs/etc", "d/../link"):
            with pytest.raises(NotADirComponentError) as info:
                tree.peek_dir(where)
            assert info.value.symlink
        with pytest.raises(NotADirComponentError) as info:
            tree.peek_dir("d/f")
        assert (info.value.path, info.value.symlink) == ("d/f", False)
        # The symlink itself can be read, of course.
        assert tree.readlink(tree.peek_dir(""), "abs") == "/"


def test_the_root_must_be_a_directory_itself(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    os.symlink("d", tmp_path / "link")
    (tmp_path / "f").write_bytes(b"")
    for root in ("link", "f"):
        with pytest.raises(NotADirectoryError):
            TreeReader(tmp_path / root, rootless=False)


def test_scan_reports_lstat(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"abc")
    os.symlink("f", tmp_path / "l")
    with TreeReader(tmp_path, rootless=False) as tree:
        found = dict(tree.scan(tree.peek_dir("")))
    assert found["f"].st_size == 3
    assert stat.S_ISLNK(found["l"].st_mode)


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_lstat_tree_lists_every_directory_as_scan_does(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "a" / "f").write_bytes(b"abc")
    (root / "e").mkdir()
    outside.mkdir()
    (outside / "secret").write_bytes(b"")
    os.symlink(outside, root / "a" / "link")  # a symlink to a directory is an entry
    before = _open_fds()
    with TreeReader(root, rootless=False) as tree:
        walked = list(tree.lstat_tree())
        assert walked[0][0] == ""  # the root first
        assert sorted(where for where, _ in walked) == ["", "a", "a/b", "a/b/c", "e"]
        for where, entries in walked:
            expected = tree.scan(tree.peek_dir(where))
            assert sorted((n, st.st_ino, st.st_mode) for n, st in entries) == sorted(
                (n, st.st_ino, st.st_mode) for n, st in expected
            )
        assert stat.S_ISLNK(dict(dict(walked)["a"])["link"].st_mode)
    # Depth first: a directory's subtree before its next sibling.
    order = [where for where, _ in walked]
    assert order.index("a/b/c") == order.index("a/b") + 1
    assert _open_fds() == before


def test_lstat_tree_releases_its_fds_when_left_early(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    before = _open_fds()
    with TreeReader(tmp_path, rootless=False) as tree:
        walk = tree.lstat_tree()
        assert [next(walk)[0], next(walk)[0], next(walk)[0]] == ["", "a", "a/b"]
        walk.close()
    assert _open_fds() == before
    # Or when listing a directory fails, the root's or another's.
    real = tree_module._listing
    for failing in (1, 3):
        listed = itertools.count(1)

        def fail_one(
            fd: int, listed: Iterator[int] = listed, failing: int = failing
        ) -> list[tuple[str, os.stat_result]]:
            if next(listed) == failing:
                raise PermissionError(13, "Permission denied")
            return real(fd)

        monkeypatch.setattr(tree_module, "_listing", fail_one)
        with TreeReader(tmp_path, rootless=False) as tree, pytest.raises(PermissionError):
            list(tree.lstat_tree())
        assert _open_fds() == before


def test_lstat_tree_never_enters_a_symlink_swapped_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "d").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret").write_bytes(b"")
    real = tree_module._listing
    swapped = []

    def swap_after_listing_root(fd: int) -> list[tuple[str, os.stat_result]]:
        entries = real(fd)
        if not swapped:  # "d" was seen as a directory: make it a symlink now
            swapped.append(True)
            os.rmdir(root / "d")
            os.symlink(outside, root / "d")
        return entries

    monkeypatch.setattr(tree_module, "_listing", swap_after_listing_root)
    with TreeReader(root, rootless=False) as tree:
        walk = tree.lstat_tree()
        assert next(walk)[0] == ""
        # O_NOFOLLOW|O_DIRECTORY on a symlink: ELOOP (ENOTDIR on some kernels).
        with pytest.raises(OSError, match=r"symbolic links|Not a directory") as info:
            next(walk)
    assert info.value.errno in (errno.ELOOP, errno.ENOTDIR)


def _locked_tree(base: Path) -> Path:
    root = base / "r"
    (root / "locked" / "inner").mkdir(parents=True)
    (root / "locked" / "inner" / "secret").write_bytes(b"secret")
    os.setxattr(root / "locked" / "inner" / "secret", "user.k", b"v")
    for path in (root, root / "locked", root / "locked" / "inner"):
        os.chown(path, NOBODY, NOBODY)
    os.chown(root / "locked" / "inner" / "secret", NOBODY, NOBODY)
    os.chmod(root / "locked" / "inner" / "secret", 0)
    os.chmod(root / "locked" / "inner", 0o100)
    os.chmod(root / "locked", 0)
    return root


@needs_root
def test_rootless_reads_what_its_user_owns_and_puts_the_modes_back(public_tmp: Path) -> None:
    root = _locked_tree(public_tmp)
    with as_nobody():
        with TreeReader(root, rootless=False) as tree, pytest.raises(PermissionError):
            tree.scan(tree.peek_dir("locked"))
        with TreeReader(root, rootless=True) as tree:
            inner = tree.peek_dir("locked/inner")
            (name, st), *_ = tree.scan(inner)
            assert name == "secret"
            assert tree.xattrs(inner, name, st) == {"user.k": b"v"}
            fd = tree.open_file(inner, name, st)
            try:
                assert os.read(fd, 100) == b"secret"
            finally:
                os.close(fd)
            assert mode_of(root / "locked" / "inner" / "secret") == 0  # put back already
            # Directories stay usable until the reader closes, and report
            # the mode they will get back.
            assert mode_of(root / "locked") == 0o500
            assert tree.final_mode("locked/inner", os.lstat(root / "locked/inner")) == 0o100
    assert mode_of(root / "locked") == 0
    os.chmod(root / "locked", 0o700)
    assert mode_of(root / "locked" / "inner") == 0o100


@needs_root
def test_modes_are_put_back_after_an_error_too(public_tmp: Path) -> None:
    root = _locked_tree(public_tmp)

    def fail_while_reading() -> None:
        with TreeReader(root, rootless=True) as tree:
            tree.scan(tree.peek_dir("locked/inner"))
            raise RuntimeError

    with as_nobody(), pytest.raises(RuntimeError):
        fail_while_reading()
    assert mode_of(root / "locked") == 0


def test_xattrs_without_proc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"")
    os.symlink("f", tmp_path / "d" / "l")
    for path in (tmp_path / "d", tmp_path / "d" / "f"):
        os.setxattr(path, "user.k", path.name.encode())
    monkeypatch.setattr(tree_module, "proc_fd_works", lambda: False)
    with TreeReader(tmp_path, rootless=False) as tree:
        top, d = tree.peek_dir(""), tree.peek_dir("d")
        assert tree.xattrs(top, "d", os.lstat(tmp_path / "d")) == {"user.k": b"d"}
        assert tree.xattrs(d, "f", os.lstat(tmp_path / "d" / "f")) == {"user.k": b"f"}
        assert tree.xattrs(d, "l", os.lstat(tmp_path / "d" / "l")) == {}
        assert tree.xattrs(d, "f", os.lstat(tmp_path / "d" / "f"), skip={"user.k"}) == {}
