"""Layout locks (umoci.cas.locks) and the durations their flags take."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from umoci import ops
from umoci.cas import locks
from umoci.cas.dir import DirStore
from umoci.cli.stat_json import stat_json as render_json
from umoci.durations import parse_duration
from umoci.errors import LayoutError, UsageError


@pytest.fixture
def short_timeout() -> object:
    old = locks.TIMEOUT
    locks.set_timeout(0.2)
    yield
    locks.set_timeout(old)


def hold(layout: Path, name: str, *, exclusive: bool) -> subprocess.Popen[str]:
    """Another process holding a layout lock until its stdin closes."""
    code = (
        "import sys; from umoci.cas import locks; "
        f"lock = locks.acquire({str(layout)!r}, {name!r}, exclusive={exclusive}); "
        "print('held', flush=True); sys.stdin.read()"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "held\n"
    return process


def release(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.close()
    process.wait(timeout=10)
    process.stdout.close()


@pytest.mark.usefixtures("short_timeout")
def test_a_held_index_lock_times_out_with_a_clear_error(layout: Path) -> None:
    ops.new_image(str(layout), "a")
    before = (layout / "index.json").read_bytes()
    holder = hold(layout, locks.INDEX_LOCK, exclusive=True)
    try:
        started = time.monotonic()
        with pytest.raises(LayoutError, match=r"another umoci still holds it after 0.2 s"):
            ops.tag_image(str(layout), "a", "b")
        assert time.monotonic() - started < 5
    finally:
        release(holder)
    assert (layout / "index.json").read_bytes() == before
    ops.tag_image(str(layout), "a", "b")
    assert ops.list_tags(str(layout)) == ["a", "b"]


@pytest.mark.usefixtures("short_timeout")
def test_gc_waits_for_writers_and_writers_for_gc(layout: Path) -> None:
    ops.new_image(str(layout), "a")
    writer = hold(layout, locks.BLOB_LOCK, exclusive=False)
    try:
        with pytest.raises(LayoutError, match="blobs: another umoci still holds it"):
            ops.gc(str(layout), grace=0)
        # Readers and other writers share the blob lock.
        ops.tag_image(str(layout), "a", "b")
    finally:
        release(writer)
    collector = hold(layout, locks.BLOB_LOCK, exclusive=True)
    try:
        with pytest.raises(LayoutError, match="blobs: another umoci"):
            ops.new_image(str(layout), "c")
        assert render_json(ops.stat(str(layout), "a"))  # readers need no lock
    finally:
        release(collector)
    ops.gc(str(layout), grace=0)


def test_locks_are_on_entries_every_layout_has(layout: Path) -> None:
    before = sorted(p.name for p in layout.iterdir())
    with DirStore(str(layout)) as store:
        store.hold_blobs()
        store.update_index(lambda index: index)
    with DirStore(str(layout)) as store, store.lock_for_gc():
        pass
    assert sorted(p.name for p in layout.iterdir()) == before


def test_lock_timeout_flag(layout: Path) -> None:
    code = "import sys; from umoci.cli import main; sys.exit(main(sys.argv[1:]))"
    holder = hold(layout, locks.INDEX_LOCK, exclusive=True)
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                code,
                "--lock-timeout",
                "300ms",
                "new",
                "--image",
                f"{layout}:x",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    finally:
        release(holder)
    assert result.returncode == 1
    assert result.stderr.endswith(
        "another umoci still holds it after 0.3 s (wait longer with --lock-timeout)\n"
    )
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("600", 600.0),
        ("1.5", 1.5),
        ("30s", 30.0),
        ("10m", 600.0),
        ("1h30m", 5400.0),
        ("250ms", 0.25),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, "--grace") == seconds


@pytest.mark.parametrize("text", ["", "-1", "10x", "m", "1.2.3s", "1e3", "١٠"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(UsageError, match="invalid --grace"):
        parse_duration(text, "--grace")


def test_a_symlinked_blob_pool_still_locks(layout: Path) -> None:
    pool = layout / "pool"  # inside the layout: one outside is never written (test_store)
    (layout / "blobs").rename(pool)
    (layout / "blobs").symlink_to("pool")
    ops.new_image(str(layout), "a")
    ops.gc(str(layout), grace=0)
    assert ops.list_tags(str(layout)) == ["a"]
