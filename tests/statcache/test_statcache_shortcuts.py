"""The stat cache never hides a change from repack (issue: performance shortcuts).

Each test unpacks an image, changes the rootfs in a way a naive
(size, mtime) cache would miss, repacks, and checks the new layer holds
the change.  The caches are made old enough to be trusted first (the racy
margin would otherwise make every recent file be re-hashed anyway, which
would let the test pass without exercising the cache).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from statkit import Seen, last_layer, layer_count, make_image, run, sha256, trust_cache

from umoci.ops import statcache


def age_cache(bundle: Path) -> None:
    """Trust every entry that is still as recorded (see statkit.trust_cache)."""
    trust_cache(bundle, bundle / "rootfs")


@pytest.fixture
def unpacked(tmp_path: Path) -> tuple[Path, Path]:
    layout = make_image(tmp_path)
    bundle = tmp_path / "bundle"
    run("unpack", "--image", f"{layout}:t", str(bundle))
    assert (bundle / statcache.CACHE_NAME).is_file()
    age_cache(bundle)
    return layout, bundle


def mtree_name(bundle: Path) -> str:
    return next(p.name for p in bundle.glob("*.mtree"))


def load(bundle: Path) -> statcache.Snapshot:
    name = mtree_name(bundle)
    snapshot = statcache.read_cache(str(bundle), name, (bundle / name).read_bytes())
    assert snapshot is not None
    return snapshot


def no_full_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make repack fail if it walks the whole rootfs (the slow path)."""
    from umoci import mtree

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("repack walked the whole rootfs")

    monkeypatch.setattr(mtree, "walk", refuse)


def test_cache_is_used_and_unchanged_tree_adds_no_layer(
    unpacked: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    layout, bundle = unpacked
    snapshot = load(bundle)
    assert {b".", b"d", b"d/a.txt", b"d/b.txt", b"d/c.txt"} <= set(snapshot.entries)
    assert {b"d/a.txt", b"d/b.txt", b"d/c.txt"} <= set(snapshot.digests())
    no_full_walk(monkeypatch)
    run("repack", "--image", f"{layout}:t2", str(bundle))
    assert layer_count(layout, "t2") == layer_count(layout, "t")


def test_fast_path_finds_additions_changes_and_deletions(
    unpacked: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    layout, bundle = unpacked
    d = bundle / "rootfs" / "d"
    (d / "new.txt").write_bytes(b"new")
    (d / "a.txt").write_bytes(b"changed")
    (d / "b.txt").unlink()
    run("repack", "--full-hash", "--image", f"{layout}:slow", str(bundle))
    no_full_walk(monkeypatch)
    run("repack", "--image", f"{layout}:t2", str(bundle))
    entries = last_layer(layout, "t2")
    assert {"d/.wh.b.txt", "d/a.txt", "d/new.txt"} <= set(entries)
    assert sorted(entries) == sorted(last_layer(layout, "slow"))


def test_fast_path_deleted_directory_is_one_whiteout(
    unpacked: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    layout, bundle = unpacked
    shutil.rmtree(bundle / "rootfs" / "d")
    run("repack", "--full-hash", "--image", f"{layout}:slow", str(bundle))
    no_full_walk(monkeypatch)
    run("repack", "--image", f"{layout}:t2", str(bundle))
    entries = last_layer(layout, "t2")
    assert ".wh.d" in entries
    assert not any(name.startswith("d/") for name in entries)
    assert sorted(entries) == sorted(last_layer(layout, "slow"))


def test_edited_mtree_makes_the_cache_unusable(unpacked: tuple[Path, Path]) -> None:
    _, bundle = unpacked
    mtree = bundle / mtree_name(bundle)
    data = mtree.read_bytes()
    assert statcache.read_cache(str(bundle), mtree.name, data) is not None
    assert statcache.read_cache(str(bundle), mtree.name, data + b"\n") is None


def test_content_changed_with_mtime_restored(unpacked: tuple[Path, Path]) -> None:
    layout, bundle = unpacked
    f = bundle / "rootfs" / "d" / "a.txt"
    st = f.stat()
    f.write_bytes(b"AAAA")  # same size
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    run("repack", "--image", f"{layout}:t2", str(bundle))
    assert list(last_layer(layout, "t2")) == ["d/a.txt"]


def test_inode_swap_by_rename(unpacked: tuple[Path, Path]) -> None:
    layout, bundle = unpacked
    d = bundle / "rootfs" / "d"
    st = (d / "b.txt").stat()
    (d / "new").write_bytes(b"BBBB")
    os.utime(d / "new", ns=(st.st_atime_ns, st.st_mtime_ns))
    os.rename(d / "new", d / "b.txt")
    run("repack", "--image", f"{layout}:t2", str(bundle))
    assert "d/b.txt" in last_layer(layout, "t2")


def test_hardlink_change(unpacked: tuple[Path, Path]) -> None:
    layout, bundle = unpacked
    d = bundle / "rootfs" / "d"
    os.link(d / "c.txt", d / "c-link")
    run("repack", "--image", f"{layout}:t2", str(bundle))
    entries = last_layer(layout, "t2")
    assert entries["d/c-link"].islnk() or entries["d/c.txt"].islnk()


def test_mode_only_and_xattr_only_changes(unpacked: tuple[Path, Path]) -> None:
    layout, bundle = unpacked
    d = bundle / "rootfs" / "d"
    os.chmod(d / "a.txt", 0o600)
    os.setxattr(d / "b.txt", "user.note", b"x")
    run("repack", "--image", f"{layout}:t2", str(bundle))
    entries = last_layer(layout, "t2")
    assert entries["d/a.txt"].mode & 0o777 == 0o600
    assert entries["d/b.txt"].pax_headers.get("SCHILY.xattr.user.note") == "x"


def test_copied_bundle_falls_back_to_hashing(unpacked: tuple[Path, Path], tmp_path: Path) -> None:
    layout, bundle = unpacked
    copy = tmp_path / "copy"
    shutil.copytree(bundle, copy, symlinks=True, copy_function=shutil.copy2)
    f = copy / "rootfs" / "d" / "c.txt"
    st = f.stat()
    f.write_bytes(b"CCCC")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    run("repack", "--image", f"{layout}:t2", str(copy))
    assert list(last_layer(layout, "t2")) == ["d/c.txt"]


def test_stale_or_foreign_cache_is_ignored(unpacked: tuple[Path, Path]) -> None:
    layout, bundle = unpacked
    f = bundle / "rootfs" / "d" / "a.txt"
    st = f.stat()
    # A lying cache (right stat, wrong digest) is only trusted for the
    # mtree it names: after pointing it at another mtree it is ignored.
    path = bundle / statcache.CACHE_NAME
    path.write_text(path.read_text().replace(".mtree", ".other", 1))
    f.write_bytes(b"ZZZZ")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    run("repack", "--image", f"{layout}:t2", str(bundle))
    assert list(last_layer(layout, "t2")) == ["d/a.txt"]
    (bundle / statcache.CACHE_NAME).write_text("garbage")
    run("repack", "--image", f"{layout}:t3", str(bundle))


def test_full_hash_ignores_a_lying_cache(unpacked: tuple[Path, Path]) -> None:
    layout, bundle = unpacked
    f = bundle / "rootfs" / "d" / "a.txt"
    before = f.stat()
    f.write_bytes(b"QQQQ")
    os.utime(f, ns=(before.st_atime_ns, before.st_mtime_ns))
    # Forge the cache so it matches the new stat but keeps the old keywords
    # (and digest): only --full-hash can see through that.
    st = f.stat()
    path = bundle / statcache.CACHE_NAME
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines[1:], 1):
        _ino, _ctime, name, _size, _mtime, keywords = line.split(" ", 5)
        if name == "d/a.txt":
            stamp = [
                str(st.st_ino),
                str(st.st_ctime_ns),
                name,
                str(st.st_size),
                str(st.st_mtime_ns),
            ]
            lines[i] = " ".join([*stamp, keywords])
    path.write_text("\n".join(lines) + "\n")
    age_cache(bundle)
    run("repack", "--image", f"{layout}:fooled", str(bundle))
    assert layer_count(layout, "fooled") == layer_count(layout, "t")  # the cache was used
    run("repack", "--full-hash", "--image", f"{layout}:t2", str(bundle))
    assert list(last_layer(layout, "t2")) == ["d/a.txt"]


def test_recent_entries_are_not_trusted(tmp_path: Path) -> None:
    from umoci import mtree

    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "old").write_bytes(b"old")
    walked = statcache.Observations()
    spec = mtree.walk(root, observe=walked.record)
    data = mtree.dump(spec)
    now = time.time_ns()
    old_ctime = now - 10**9
    observed = statcache.Observations()

    def aged(path: bytes, ctime_ns: int) -> None:
        ino, _, size, mtime_ns, _ = walked[path]
        observed.record(path, Seen(ino, ctime_ns, size, mtime_ns), now)

    for path in walked:
        aged(path, old_ctime)
    aged(b"sub", now - 10**6)  # 1 ms before: racy
    statcache.write_cache(str(tmp_path), "x.mtree", sha256(data), spec, observed)
    snapshot = statcache.read_cache(str(tmp_path), "x.mtree", data)
    assert snapshot is not None
    assert snapshot.entries[b"old"][0] == (root / "old").stat().st_ino
    assert snapshot.entries[b"sub"][0] == -1  # kept, but never matches
    assert set(snapshot.digests()) == {b"old"}
    assert statcache.read_cache(str(tmp_path), "y.mtree", data) is None


def test_refresh_bundle_rewrites_cache(unpacked: tuple[Path, Path]) -> None:
    layout, bundle = unpacked
    (bundle / "rootfs" / "d" / "a.txt").write_bytes(b"new content")
    run("repack", "--refresh-bundle", "--image", f"{layout}:t2", str(bundle))
    mtrees = list(bundle.glob("*.mtree"))
    assert len(mtrees) == 1
    header = (bundle / statcache.CACHE_NAME).read_text().splitlines()[0]
    assert mtrees[0].name in header
    age_cache(bundle)
    f = bundle / "rootfs" / "d" / "b.txt"
    st = f.stat()
    f.write_bytes(b"XXXX")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    run("repack", "--image", f"{layout}:t3", str(bundle))
    assert list(last_layer(layout, "t3")) == ["d/b.txt"]


def test_racy_window_is_measured_from_the_walk_not_the_write(tmp_path: Path) -> None:
    """A file changed just before the walk stays untrusted however late the cache is written.

    Its ctime could otherwise hide a second change made after the walk's
    lstat within the same clock tick.
    """
    from umoci import mtree

    root = tmp_path / "root"
    root.mkdir()
    (root / "f").write_bytes(b"x")
    observations = statcache.Observations()
    spec = mtree.walk(root, observe=observations.record)
    data = mtree.dump(spec)
    time.sleep(0.2)  # layer generation or a slow disk between walk and write
    statcache.write_cache(str(tmp_path), "x.mtree", sha256(data), spec, observations)
    snapshot = statcache.read_cache(str(tmp_path), "x.mtree", data)
    assert snapshot is not None
    assert snapshot.entries[b"f"][0] == -1


def test_walk_times_each_directory_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock is read right before each directory is listed, not once per walk.

    Unpack restores every directory's times at its very end: with one
    reading for the whole walk, all of them would be recorded as racy.
    """
    from umoci import mtree
    from umoci.mtree import walker

    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f").write_bytes(b"x")
    ticks = iter(range(1, 1000))
    monkeypatch.setattr(walker.time, "time_ns", lambda: next(ticks))
    observations = statcache.Observations()
    mtree.walk(root, observe=observations.record)
    seen = {path: observation[4] for path, observation in observations.items()}
    assert set(seen) == {b".", b"a", b"a/b", b"a/b/f"}
    assert seen[b"."] < seen[b"a"] < seen[b"a/b"] < seen[b"a/b/f"]


@pytest.mark.parametrize(
    "name", ["../escape", "d/../../x", "/etc/passwd", "d//a.txt", "d/./a.txt", "d/\\000x", ""]
)
def test_cache_naming_paths_outside_the_rootfs_is_refused(
    unpacked: tuple[Path, Path], name: str
) -> None:
    layout, bundle = unpacked
    path = bundle / statcache.CACHE_NAME
    lines = path.read_text().splitlines()
    ino, ctime, _, rest = lines[-1].split(" ", 3)
    lines.append(f"{ino} {ctime} {name} {rest}")
    path.write_text("\n".join(lines) + "\n")
    assert load_or_none(bundle) is None
    # Repack falls back to the full walk: no whiteout for the bogus path.
    run("repack", "--image", f"{layout}:t2", str(bundle))
    assert layer_count(layout, "t2") == layer_count(layout, "t")


def load_or_none(bundle: Path) -> statcache.Snapshot | None:
    name = mtree_name(bundle)
    return statcache.read_cache(str(bundle), name, (bundle / name).read_bytes())
