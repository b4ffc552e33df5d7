"""The optional per-entry reports (for building an mtree while extracting)."""

from __future__ import annotations

import hashlib
import os
import stat

from layerkit import env_fixture, t_fixture  # noqa: F401 (fixtures)

from umoci.layer.extract import ExtractOptions
from umoci.layer.records import EntryRecord, RemovedRecord


def collect(env, layers, **opts):
    records: list = []
    env.apply_layers(layers, ExtractOptions(on_entry=records.append, **opts))
    return records


def test_records_match_disk(env, t):
    data = os.urandom(3 << 20)
    records = collect(
        env,
        [
            [
                t.dir("d", mtime=77),
                t.reg("d/big", data, mode=0o600),
                t.reg("d/small", b"hi"),
                t.hard("d/hard", "d/small"),
                t.sym("d/link", "small"),
                t.fifo("d/fifo"),
            ]
        ],
    )
    by_path = {r.path: r for r in records if isinstance(r, EntryRecord)}
    assert by_path["d/big"].sha256 == hashlib.sha256(data).hexdigest()
    assert by_path["d/small"].sha256 == hashlib.sha256(b"hi").hexdigest()
    assert by_path["d/hard"].hardlink_to == "d/small"
    assert by_path["d/hard"].stat.st_nlink == 2
    assert by_path["d/link"].sha256 is None
    for path, rec in by_path.items():
        on_disk = (env.rootfs / path).lstat() if path != "." else env.rootfs.lstat()
        assert stat.S_IFMT(rec.stat.st_mode) == stat.S_IFMT(on_disk.st_mode), path
        assert rec.stat.st_mode == on_disk.st_mode, path
        if not stat.S_ISDIR(on_disk.st_mode) and path != "d/small":
            assert rec.stat.st_mtime_ns == on_disk.st_mtime_ns, path
    # Directories are reported at the end, with their final times.
    last = [r for r in records if isinstance(r, EntryRecord) and r.path == "d"][-1]
    assert last.stat.st_mtime_ns == 77 * 10**9
    assert records.index(last) > records.index(by_path["d/fifo"])


def test_removals_reported(env, t):
    records = collect(
        env,
        [
            [t.dir("a"), t.reg("a/f", b""), t.reg("b", b""), t.dir("c"), t.reg("c/x", b"")],
            [t.wh(".wh.a"), t.dir("b"), t.wh("c/.wh..wh..opq")],
        ],
    )
    removed = [r.path for r in records if isinstance(r, RemovedRecord)]
    assert removed == ["a", "b", "c/x"]


def test_no_callback_no_hashing(env, t, monkeypatch):
    import hashlib as real_hashlib

    calls = []
    monkeypatch.setattr(
        "umoci.layer.extract.hashlib.sha256",
        lambda *a: calls.append(1) or real_hashlib.sha256(*a),
    )
    env.apply([t.reg("f", b"data")])
    assert calls == []
