"""Helpers shared by the stat-cache tests."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

from umoci.cli import main
from umoci.ops import statcache


def trust_cache(bundle: Path, rootfs: Path) -> int:
    """Mark every entry that is still as recorded trusted, as if it had aged.

    Files made by a test moments before the cache was written are recorded
    as untrusted (racy); a test that wants the shortcuts exercised gives
    each unchanged entry back its inode number.  Returns how many it changed.
    """
    path = bundle / statcache.CACHE_NAME
    header, *lines = path.read_text(errors="surrogateescape").splitlines()
    changed = 0
    for i, line in enumerate(lines):
        ino, ctime, name, rest = line.split(" ", 3)
        if ino != "-1":
            continue
        target = rootfs if name == "." else rootfs / name
        st = os.lstat(target)
        if st.st_ctime_ns == int(ctime):
            lines[i] = f"{st.st_ino} {ctime} {name} {rest}"
            changed += 1
    path.write_text("\n".join([header, *lines]) + "\n", errors="surrogateescape")
    return changed


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run(*argv: str) -> None:
    assert main(list(argv)) == 0


def make_image(tmp_path: Path) -> Path:
    layout = tmp_path / "img"
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "d" / "a.txt").write_bytes(b"aaaa")
    (src / "d" / "b.txt").write_bytes(b"bbbb")
    (src / "d" / "c.txt").write_bytes(b"cccc")
    run("init", "--layout", str(layout))
    run("new", "--image", f"{layout}:t")
    run("insert", "--image", f"{layout}:t", str(src), "/")
    return layout


def last_layer(layout: Path, tag: str) -> dict[str, tarfile.TarInfo]:
    stat = json.loads(_capture("stat", "--json", "--image", f"{layout}:{tag}"))
    layer = stat["manifest"]["blob"]["layers"][-1]
    blob = layout / "blobs" / "sha256" / layer["digest"].split(":")[1]
    data = gzip.decompress(blob.read_bytes())
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: m for m in tar.getmembers()}


def layer_count(layout: Path, tag: str) -> int:
    stat = json.loads(_capture("stat", "--json", "--image", f"{layout}:{tag}"))
    return len(stat["manifest"]["blob"]["layers"])


def _capture(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(argv)) == 0
    return out.getvalue()


@dataclass(frozen=True)
class Seen:
    """An lstat result as an observation records it (``st_`` fields only)."""

    st_ino: int
    st_ctime_ns: int
    st_size: int
    st_mtime_ns: int
