"""The one rootless permission rule (umoci.fs.access) and the removal that uses it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from fskit import NOBODY, as_nobody, mode_of, needs_root, public_tmp_fixture  # noqa: F401 (fixtures)

from umoci.fs import RootlessOps, RootOps
from umoci.fs.access import MODIFY, READ, SEARCH, relaxed, relaxed_mode
from umoci.fs.rmtree import remove_tree


@pytest.mark.parametrize(
    ("mode", "uid", "want", "expect"),
    [
        (0o000, 1000, READ, 0o400),
        (0o4010, 1000, SEARCH, 0o4510),  # special bits survive
        (0o555, 1000, MODIFY, 0o755),
        (0o755, 1000, MODIFY, None),  # nothing lacking
        (0o000, 1001, MODIFY, None),  # not ours: chmod would fail
    ],
)
def test_the_rule_adds_only_missing_owner_bits_to_our_own_inodes(
    mode: int, uid: int, want: int, expect: int | None
) -> None:
    assert relaxed_mode(stat.S_IFDIR | mode, uid, want, 1000) == expect


def test_root_ops_never_relax() -> None:
    assert RootOps().relaxed_mode(0, os.geteuid(), MODIFY) is None
    assert RootlessOps().relaxed_mode(0, os.geteuid(), READ) == 0o400


def test_relaxed_restores_the_exact_mode_also_on_error(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"")
    os.chmod(f, 0o2001)
    fd = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY)
    try:
        st = os.lstat(f)
        seen: list[int] = []

        def fail_while_relaxed() -> None:
            with relaxed(RootlessOps(), fd, "f", st, READ) as changed:
                assert changed
                seen.append(mode_of(f))
                raise RuntimeError

        with pytest.raises(RuntimeError):
            fail_while_relaxed()
        assert seen == [0o2401]
        assert mode_of(f) == 0o2001
        with relaxed(RootOps(), fd, "f", st, READ) as changed:
            assert not changed
            assert mode_of(f) == 0o2001
    finally:
        os.close(fd)


def test_relaxed_changes_only_the_inode_it_was_shown(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    (tmp_path / "g").write_bytes(b"")
    os.chmod(tmp_path / "f", 0)
    os.chmod(tmp_path / "g", 0)
    os.symlink("f", tmp_path / "link")
    fd = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY)
    try:
        wrong_inode = relaxed(RootlessOps(), fd, "g", os.lstat(tmp_path / "f"), READ)
        with pytest.raises(FileNotFoundError, match="replaced"):  # g's name, f's inode
            wrong_inode.__enter__()
        # A symlink is never changed (nor what it points to).
        with relaxed(RootlessOps(), fd, "link", os.lstat(tmp_path / "link"), READ) as changed:
            assert not changed
    finally:
        os.close(fd)
    assert mode_of(tmp_path / "f") == mode_of(tmp_path / "g") == 0


@needs_root
def test_remove_tree_relaxes_what_it_removes_and_puts_back_what_stays(public_tmp: Path) -> None:
    top = public_tmp / "top"
    (top / "gone" / "deep").mkdir(parents=True)
    (top / "gone" / "deep" / "f").write_bytes(b"")
    (top / "stays" / "roots").mkdir(parents=True)
    (top / "stays" / "roots" / "f").write_bytes(b"")
    for path in (top, top / "gone", top / "gone" / "deep", top / "stays"):
        os.chown(path, NOBODY, NOBODY)
    os.chmod(top / "gone" / "deep", 0)
    os.chmod(top / "gone", 0o500)
    os.chmod(top / "stays", 0o550)
    os.chmod(top, 0o500)
    # stays/roots is root's: nobody can empty it, so it and "stays" remain (and top,
    # in a directory of root's).
    with as_nobody(), pytest.raises(PermissionError):
        remove_tree(str(top))
    assert not (top / "gone").exists()
    assert (top / "stays" / "roots" / "f").exists()
    assert mode_of(top / "stays") == 0o550
    assert mode_of(top) == 0o500
