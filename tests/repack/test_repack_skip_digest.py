"""Which files a repack without ``--refresh-bundle`` may leave unread."""

from __future__ import annotations

from types import SimpleNamespace

from umoci import mtree
from umoci.ops.bundle_repack import _known_changed

_SPEC = b"""\
# .
/set type=file nlink=1 mode=0664 uid=0 gid=0
. size=4096 type=dir mode=0755 tar_time=1600000000.000000000
    same size=5 mode=0644 tar_time=1600000000.000000000 sha256digest=00
    grown size=5 mode=0644 tar_time=1600000000.000000000 sha256digest=00
    touched size=5 mode=0644 tar_time=1600000000.000000000 sha256digest=00
..
"""


def _st(size: int, seconds: int) -> SimpleNamespace:
    return SimpleNamespace(st_size=size, st_mtime_ns=seconds * 1_000_000_000 + 123)


def test_only_files_whose_digest_could_matter_are_read() -> None:
    changed = _known_changed(mtree.parse(_SPEC))
    # Same size and tar_time: only the digest can tell, so it must be read.
    assert not changed(b"same", _st(5, 1600000000))  # type: ignore[arg-type]
    # Already known to differ: the digest changes nothing.
    assert changed(b"grown", _st(6, 1600000000))  # type: ignore[arg-type]
    assert changed(b"touched", _st(5, 1600000001))  # type: ignore[arg-type]
    # Not in the old spec: an addition whatever it holds.
    assert changed(b"new", _st(5, 1600000000))  # type: ignore[arg-type]
