"""Repack's fast path reports exactly what a full walk and comparison report.

Each case records a tree (mtree + stat cache, aged so every entry is
trusted), changes it, and compares :func:`scan_deltas` with
``compare(recorded spec, walk(tree))``: same paths, same kinds, same keyword
differences.  A difference in either direction would be a change lost or
invented by the shortcut.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from statkit import trust_cache

from umoci import mtree
from umoci.fs.ops import RootOps
from umoci.fs.rootfs import DirRef
from umoci.fs.tree import TreeReader
from umoci.ops import statcache
from umoci.ops.repack_scan import scan_deltas

Change = Callable[[Path], None]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build(root: Path) -> None:
    (root / "d" / "sub").mkdir(parents=True)
    (root / "e").mkdir()
    (root / "d" / "a.txt").write_bytes(b"aaaa")
    (root / "d" / "b.txt").write_bytes(b"bbbb")
    (root / "d" / "sub" / "c.txt").write_bytes(b"cccc")
    (root / "e" / "big").write_bytes(os.urandom(200_000))
    os.symlink("d/a.txt", root / "link")
    os.link(root / "d" / "b.txt", root / "e" / "b-hard")
    os.setxattr(root / "d" / "a.txt", "user.k", b"v")
    for path in (root, *root.rglob("*")):
        os.utime(path, ns=(1_600_000_000 * 10**9, 1_600_000_000 * 10**9), follow_symlinks=False)


def record(tmp_path: Path) -> tuple[Path, mtree.Spec, statcache.Snapshot]:
    root = tmp_path / "rootfs"
    root.mkdir()
    build(root)
    observations = statcache.Observations()
    spec = mtree.walk(root, observe=observations.record)
    data = mtree.dump(spec)
    statcache.write_cache(str(tmp_path), "m.mtree", sha256(data), spec, observations)
    trust_cache(tmp_path, root)  # made moments ago: every entry starts racy
    snapshot = statcache.read_cache(str(tmp_path), "m.mtree", data)
    assert snapshot is not None
    assert all(fp[0] >= 0 for fp in snapshot.entries.values())
    return root, mtree.parse(data), snapshot


def _append(path: Path) -> None:
    with path.open("ab") as f:
        f.write(b"more")


def _same_size_rewrite(root: Path) -> None:
    f = root / "d" / "a.txt"
    st = f.stat()
    with f.open("r+b") as fh:
        fh.write(b"AAAA")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))


def _rename_over(root: Path) -> None:
    f = root / "d" / "b.txt"
    st = f.stat()
    tmp = root / "d" / "tmp"
    tmp.write_bytes(b"BBBB")
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.rename(tmp, f)


def _swap_names(root: Path) -> None:
    d = root / "d"
    os.rename(d / "a.txt", d / "x")
    os.rename(d / "b.txt", d / "a.txt")
    os.rename(d / "x", d / "b.txt")


def _retarget_link(root: Path) -> None:
    (root / "link").unlink()
    os.symlink("d/b.txt", root / "link")


def _file_to_dir(root: Path) -> None:
    (root / "d" / "a.txt").unlink()
    (root / "d" / "a.txt").mkdir()


def _dir_to_file(root: Path) -> None:
    shutil.rmtree(root / "d" / "sub")
    (root / "d" / "sub").write_bytes(b"now a file")


def _touch_all(root: Path) -> None:
    for path in (root, *root.rglob("*")):
        os.utime(path, ns=(1_700_000_000 * 10**9, 1_700_000_000 * 10**9), follow_symlinks=False)


CASES: dict[str, Change] = {
    "nothing": lambda root: None,
    "add file": lambda root: (root / "d" / "new").write_bytes(b"new"),
    "add empty dir": lambda root: (root / "e" / "newdir").mkdir(),
    "append": lambda root: _append(root / "e" / "big"),
    "same-size rewrite, mtime restored": _same_size_rewrite,
    "rename over": _rename_over,
    "swap two names": _swap_names,
    "chmod": lambda root: os.chmod(root / "d" / "b.txt", 0o600),
    "set xattr": lambda root: os.setxattr(root / "e" / "big", "user.new", b"1"),
    "remove xattr": lambda root: os.removexattr(root / "d" / "a.txt", "user.k"),
    "change xattr": lambda root: os.setxattr(root / "d" / "a.txt", "user.k", b"w"),
    "add hardlink": lambda root: os.link(root / "d" / "a.txt", root / "a-hard"),
    "drop hardlink": lambda root: (root / "e" / "b-hard").unlink(),
    "retarget symlink": _retarget_link,
    "file becomes dir": _file_to_dir,
    "dir becomes file": _dir_to_file,
    "delete tree": lambda root: shutil.rmtree(root / "d"),
    "fifo": lambda root: os.mkfifo(root / "e" / "fifo"),
    "touch all": _touch_all,
}
if os.geteuid() == 0:  # only root may give a file away
    CASES["chown"] = lambda root: os.chown(root / "d" / "b.txt", 123, 456)


def _summary(deltas: list[mtree.Delta]) -> list[tuple[bytes, str, list[tuple[str, str | None]]]]:
    return [
        (d.path, d.type.value, sorted((k.name, k.new) for k in d.keys if k.name != "sha256digest"))
        for d in deltas
    ]


@pytest.mark.parametrize("name", list(CASES))
def test_scan_matches_full_walk(tmp_path: Path, name: str) -> None:
    root, old_spec, snapshot = record(tmp_path)
    CASES[name](root)
    fast = scan_deltas(str(root), snapshot, rootless=False)
    assert fast is not None
    slow = mtree.compare(old_spec, mtree.walk(root), mtree.UMOCI_KEYWORDS)
    assert _summary(fast) == _summary(slow)
    # Digests: the scan may skip reading a file whose size or time already
    # differs, but a digest difference alone must be seen.
    slow_digest_only = {
        d.path for d in slow if d.keys and all(k.name == "sha256digest" for k in d.keys)
    }
    fast_digest_only = {
        d.path for d in fast if d.keys and all(k.name == "sha256digest" for k in d.keys)
    }
    assert fast_digest_only == slow_digest_only


def test_unlistable_directory_gives_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, _, snapshot = record(tmp_path)
    real = RootOps.open_dir_listing

    def refuse(self: RootOps, dfd: int, name: str) -> int:
        if name == "e":
            raise PermissionError(13, "Permission denied")
        return real(self, dfd, name)

    monkeypatch.setattr(RootOps, "open_dir_listing", refuse)
    assert scan_deltas(str(root), snapshot, rootless=True) is None


def test_new_paths_are_added_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new path is an addition whatever it holds: nothing but its lstat is read."""
    root, _, snapshot = record(tmp_path)
    (root / "new-dir").mkdir()
    (root / "new-dir" / "file").write_bytes(b"new contents")
    os.setxattr(root / "new-dir" / "file", "user.k", b"v")
    os.symlink("d/a.txt", root / "new-link")
    (root / "d" / "a.txt").write_bytes(b"changed")  # a recorded path, read as before
    read: list[str] = []

    def refuse_new(real: Callable[..., object]) -> Callable[..., object]:
        def reader(self: TreeReader, directory: DirRef, name: str, *args: object, **kw: object):
            read.append(name)
            if name.startswith("new") or directory.rel.startswith("new"):
                raise AssertionError(f"read {directory.rel}/{name}")
            return real(self, directory, name, *args, **kw)

        return reader

    for method in ("xattrs", "readlink", "open_file"):
        monkeypatch.setattr(TreeReader, method, refuse_new(getattr(TreeReader, method)))
    deltas = scan_deltas(str(root), snapshot, rootless=False)
    assert deltas is not None
    kinds = {d.path: d.type for d in deltas}
    assert {path: kinds[path] for path in (b"new-dir", b"new-dir/file", b"new-link")} == {
        b"new-dir": mtree.DeltaType.EXTRA,
        b"new-dir/file": mtree.DeltaType.EXTRA,
        b"new-link": mtree.DeltaType.EXTRA,
    }
    assert kinds[b"d/a.txt"] is mtree.DeltaType.MODIFIED
    assert "a.txt" in read  # the recorded path was read
