"""The stat cache's records: known digests and what a loaded cache offers a walk."""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import pytest
from statkit import Seen, sha256

from umoci import mtree
from umoci.ops import statcache
from umoci.ops.statcache import _all_confined, _confined


def _bump_ctime_and_rewrite(path: Path, data: bytes) -> None:
    """Rewrite a file keeping size and mtime; loop until the kernel's ctime tick moved."""
    before = os.lstat(path)
    for _ in range(200):
        time.sleep(0.01)
        path.write_bytes(data)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        if os.lstat(path).st_ctime_ns != before.st_ctime_ns:
            return
    raise AssertionError("ctime never changed")


def test_known_digests_need_the_same_inode_unchanged(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"one")
    st = os.lstat(f)
    digest = sha256(b"one")
    record = statcache.known_record(st, digest)
    assert statcache.vouched_digest(record, st) == digest
    assert statcache.vouched_digest(record + b"holder's own", st) == digest
    moved = {
        "inode": Seen(st.st_ino + 1, st.st_ctime_ns, st.st_size, st.st_mtime_ns),
        "ctime": Seen(st.st_ino, st.st_ctime_ns + 1, st.st_size, st.st_mtime_ns),
        "size": Seen(st.st_ino, st.st_ctime_ns, st.st_size + 1, st.st_mtime_ns),
        "mtime": Seen(st.st_ino, st.st_ctime_ns, st.st_size, st.st_mtime_ns + 1),
    }
    for what, now in moved.items():
        assert statcache.vouched_digest(record, now) is None, what
    # On disk: the same size, the mtime put back, but the ctime moved.
    _bump_ctime_and_rewrite(f, b"two")
    assert os.lstat(f).st_mtime_ns == st.st_mtime_ns
    assert statcache.vouched_digest(record, os.lstat(f)) is None
    # The container of them, by path: taken once (a walk asks once per path).
    known = statcache.KnownDigests()
    ino, ctime_ns, size, mtime_ns = st.st_ino, st.st_ctime_ns, st.st_size, st.st_mtime_ns
    known.add(b"f", digest, ino=ino, ctime_ns=ctime_ns, size=size, mtime_ns=mtime_ns)
    assert list(known) == [b"f"]
    assert len(known) == 1
    assert known.take(b"f", st) == digest
    assert known.take(b"f", st) is None
    assert len(known) == 0


def test_a_new_hardlink_keeps_the_digest_of_the_same_inode(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"one")
    st = os.lstat(f)
    digest = sha256(b"one")
    record = statcache.known_record(st, digest)
    time.sleep(0.02)  # past a tick of the ctime clock: link(2) moves it
    os.link(f, tmp_path / "g")
    linked = os.lstat(tmp_path / "g")
    assert linked.st_ctime_ns != st.st_ctime_ns
    assert statcache.vouched_digest(record, linked) is None
    relinked = statcache.relinked(record, linked)
    assert relinked is not None
    assert statcache.vouched_digest(relinked, linked) == digest
    assert statcache.vouched_digest(relinked, os.lstat(f)) == digest
    # Another inode with the same contents is not the one linked.
    (tmp_path / "other").write_bytes(b"one")
    assert statcache.relinked(record, os.lstat(tmp_path / "other")) is None
    assert statcache.relinked(record, Seen(st.st_ino, 0, st.st_size + 1, st.st_mtime_ns)) is None


@pytest.mark.parametrize(
    "value",
    ["z" * 64, "A" * 64, "0" * 62 + " 0", "0" * 63 + "\u00e9"],
    ids=["not-hex", "upper-case", "space", "non-ascii"],
)
def test_snapshot_digests_are_real_digests(tmp_path: Path, value: str) -> None:
    """A cache line whose sha256 is not 64 lowercase hex digits: that file is hashed again."""
    (tmp_path / "f").write_bytes(b"x")
    (tmp_path / "g").write_bytes(b"y")
    spec = mtree.walk(tmp_path)
    data = mtree.dump(spec)
    observations = statcache.Observations()
    for entry in spec.entries():
        st = os.lstat(tmp_path / os.fsdecode(entry.path))
        observations.record(entry.path, st, st.st_ctime_ns + statcache.RACY_MARGIN_NS + 1)
    statcache.write_cache(str(tmp_path), "m.mtree", sha256(data), spec, observations)
    cache = tmp_path / statcache.CACHE_NAME
    text = cache.read_text()
    cache.write_text(text.replace(sha256(b"y"), value))
    snapshot = statcache.read_cache(str(tmp_path), "m.mtree", data)
    assert snapshot is not None
    assert set(snapshot.digests()) == {b"f"}


def test_inode_numbers_use_all_64_bits(tmp_path: Path) -> None:
    """An inode number >= 2**63 (st_ino is unsigned) is recorded, not a crash."""
    ino = 2**64 - 2
    seen = Seen(ino, 1_600_000_000 * 10**9, 3, 1_500_000_000 * 10**9)
    observations = statcache.Observations()
    observations.record(b"f", seen, seen.st_ctime_ns + statcache.RACY_MARGIN_NS + 1)
    assert observations[b"f"] == (ino, seen.st_ctime_ns, 3, seen.st_mtime_ns, observations[b"f"][4])
    record = statcache.known_record(seen, sha256(b"one"))
    assert statcache.vouched_digest(record, seen) == sha256(b"one")
    # Through the cache file and back.
    (tmp_path / "f").write_bytes(b"one")
    spec = mtree.walk(tmp_path)
    data = mtree.dump(spec)
    statcache.write_cache(str(tmp_path), "m.mtree", sha256(data), spec, observations)
    snapshot = statcache.read_cache(str(tmp_path), "m.mtree", data)
    assert snapshot is not None
    assert snapshot.entries[b"f"][0] == ino
    assert snapshot.digests().take(b"f", seen) == sha256(b"one")


def _paths_to_check() -> list[bytes]:
    parts = [b"", b".", b"..", b"a", b".a", b"a.", b"..a", b"\x00"]
    paths = {b"/".join(combo) for combo in itertools.product(parts, repeat=3)}
    paths |= {b"/".join(combo) for combo in itertools.product(parts, repeat=2)}
    return sorted(paths | set(parts))


def test_the_bulk_path_check_is_the_single_path_rule() -> None:
    """The loader checks all plain names at once: exactly what checking each would decide."""
    verdicts = {path: _confined(path) for path in _paths_to_check()}
    assert {True, False} == set(verdicts.values())
    for path, ok in verdicts.items():
        assert _all_confined([path]) is ok, path
    good = [path for path, ok in verdicts.items() if ok]
    assert _all_confined(good)
    assert _all_confined([])
    for path, ok in verdicts.items():
        if not ok:
            assert not _all_confined([*good[:50], path, *good[50:]]), path
