"""Bundles shaped by an attacker: metadata that is a FIFO, a link to /dev/zero, or endless.

Each verb runs as a subprocess with a timeout, so a hang fails the test
instead of the suite.  A refusal is one line on stderr and exit 1, and
leaves the layout and the bundle as they were.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import snapshot
from multikit import umoci_ok

KINDS = ["fifo", "dev-zero", "huge"]
#: Longer than any mtree line we accept, and than umoci.json may be.
HUGE = 17 << 20


def umoci(*argv: str | Path, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "umoci", *map(str, argv)],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def plant(path: Path, kind: str) -> None:
    """Put a hostile *kind* of file where *path* is."""
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    else:
        path.write_bytes(b"file a=" + b"x" * HUGE + b"\n")  # an entry, but no end in sight


def one_line(stderr: bytes, prefix: str) -> str:
    text = stderr.decode()
    assert text.count("\n") == 1, text
    assert text.startswith(prefix), text
    return text


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    layout = tmp_path / "layout"
    umoci_ok("init", "--layout", layout)
    umoci_ok("new", "--image", f"{layout}:a")
    (tmp_path / "src").write_text("content")
    umoci_ok("insert", "--image", f"{layout}:a", tmp_path / "src", "/file")
    return layout


@pytest.fixture
def bundle(layout: Path, tmp_path: Path) -> Path:
    bundle = tmp_path / "bundle"
    umoci_ok("unpack", "--image", f"{layout}:a", bundle)
    return bundle


def change(bundle: Path) -> None:
    (bundle / "rootfs" / "added").write_text("a change for repack")


def metadata(bundle: Path, which: str) -> Path:
    if which == "mtree":
        (path,) = bundle.glob("*.mtree")
        return path
    return bundle / which


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("which", ["mtree", "umoci.json"])
def test_repack_refuses_hostile_metadata(layout: Path, bundle: Path, which: str, kind: str) -> None:
    change(bundle)
    plant(metadata(bundle, which), kind)
    layout_before, bundle_before = snapshot(layout), snapshot(bundle)
    result = umoci("repack", "--image", f"{layout}:b", bundle)
    assert result.returncode == 1
    error = one_line(result.stderr, "umoci: repack: ")
    reason = {
        "fifo": "not a regular file",
        "dev-zero": "not a regular file",
        "huge": "longer than" if which == "mtree" else "larger than",
    }[kind]
    assert reason in error
    assert snapshot(layout) == layout_before
    assert snapshot(bundle) == bundle_before


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("which", "check"),
    [("config.json", "bundle-config"), ("umoci.json", "bundle-meta"), ("mtree", "bundle-mtree")],
)
def test_validate_reports_hostile_metadata(
    layout: Path, bundle: Path, which: str, check: str, kind: str
) -> None:
    path = metadata(bundle, which)
    plant(path, kind)
    layout_before, bundle_before = snapshot(layout), snapshot(bundle)
    result = umoci("validate", "--bundle", bundle)
    assert result.returncode == 1
    one_line(result.stderr, "umoci: validate: validation failed")
    findings = [line for line in result.stdout.decode().splitlines() if f" {check} " in line]
    assert len(findings) == 1, result.stdout
    assert path.name in findings[0]
    if kind != "huge":
        assert findings[0].endswith("not a regular file")
    elif which != "config.json":  # a 17 MiB config.json is read, and is not JSON
        assert "longer than" in findings[0] or "larger than" in findings[0]
    assert snapshot(layout) == layout_before
    assert snapshot(bundle) == bundle_before


@pytest.mark.parametrize("kind", KINDS)
def test_repack_ignores_a_hostile_stat_cache(
    layout: Path, bundle: Path, tmp_path: Path, kind: str
) -> None:
    # The stat cache only saves work: a repack without it compares everything.
    change(bundle)
    plant(bundle / "umoci-statcache", kind)
    result = umoci("repack", "--image", f"{layout}:b", bundle)
    assert result.returncode == 0, result.stderr
    if kind != "huge":
        assert b"ignoring the stat cache" in result.stderr
        assert b"not a regular file" in result.stderr
    check = tmp_path / "check"
    umoci_ok("unpack", "--image", f"{layout}:b", check)
    assert (check / "rootfs" / "added").read_text() == "a change for repack"


@pytest.mark.parametrize(
    ("line", "flags"),
    [
        ("1 2 ghost x", []),  # no size, mtime and keywords (the fast path's scan)
        ("5 6 file x y sha256digest=" + "0" * 64, ["--refresh-bundle"]),  # the walk's digests
    ],
)
def test_repack_survives_a_malformed_stat_cache_line(
    layout: Path, bundle: Path, tmp_path: Path, line: str, flags: list[str]
) -> None:
    change(bundle)
    with (bundle / "umoci-statcache").open("a") as cache:
        cache.write(line + "\n")
    result = umoci("repack", *flags, "--image", f"{layout}:b", bundle)
    assert result.returncode == 0, result.stderr
    check = tmp_path / "check"
    umoci_ok("unpack", "--image", f"{layout}:b", check)
    assert (check / "rootfs" / "added").read_text() == "a change for repack"
    assert (check / "rootfs" / "file").read_text() == "content"


def test_repack_refresh_writes_through_no_planted_link(
    layout: Path, bundle: Path, tmp_path: Path
) -> None:
    # The names the stat cache and the new mtree were once written under.
    change(bundle)
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (bundle / "umoci-statcache.tmp").symlink_to(victim)
    (mtree,) = bundle.glob("*.mtree")
    Path(f"{mtree}.tmp").symlink_to(victim)
    result = umoci("repack", "--refresh-bundle", "--image", f"{layout}:b", bundle)
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == "precious"
    assert (bundle / "umoci-statcache").is_file()
    assert not (bundle / "umoci-statcache").is_symlink()
    assert not [p for p in bundle.iterdir() if p.name.endswith(".tmp") and not p.is_symlink()]


@pytest.mark.parametrize("kind", ["dev-zero", "huge"])
def test_mtree_validate_refuses_a_hostile_spec(bundle: Path, kind: str) -> None:
    spec = metadata(bundle, "mtree")
    plant(spec, kind)
    result = umoci("raw", "mtree-validate", "-f", spec, "-p", bundle / "rootfs")
    assert result.returncode == 1
    error = one_line(result.stderr, "umoci: raw mtree-validate: ")
    assert ("not a regular file" if kind == "dev-zero" else "longer than") in error


def test_mtree_validate_reads_a_fifo_no_one_writes_as_empty(bundle: Path) -> None:
    spec = metadata(bundle, "mtree")
    plant(spec, "fifo")
    result = umoci("raw", "mtree-validate", "-f", spec, "-p", bundle / "rootfs")
    assert result.returncode == 1  # an empty spec: every path is unexpected
    assert b'"file": unexpected path' in result.stdout


def test_mtree_validate_reads_a_spec_from_a_pipe(bundle: Path) -> None:
    # As the Go umoci does: -f <(gomtree -c ...), -f /dev/stdin.
    spec = metadata(bundle, "mtree").read_bytes()
    result = umoci("raw", "mtree-validate", "-f", "/dev/stdin", "-p", bundle / "rootfs", stdin=spec)
    assert result.returncode == 0, result.stderr


def test_a_rootfs_that_is_a_symlink_is_neither_packed_nor_walked(
    layout: Path, bundle: Path, tmp_path: Path
) -> None:
    """rootfs -> a directory outside: repack would put its files in a layer (0.6 crashes)."""
    outside = tmp_path / "outside"
    (outside / "etc").mkdir(parents=True)
    (outside / "etc" / "shadow").write_text("root:secret\n")
    os.rename(bundle / "rootfs", tmp_path / "real-rootfs")
    (bundle / "rootfs").symlink_to(outside)
    before = snapshot(layout), snapshot(bundle)
    result = umoci("repack", "--image", f"{layout}:b", bundle)
    assert result.returncode == 1
    assert "rootfs: is a symlink" in one_line(result.stderr, "umoci: repack: ")
    assert (snapshot(layout), snapshot(bundle)) == before
    result = umoci("validate", "--bundle", bundle)
    assert result.returncode == 1
    assert b"rootfs: is a symlink" in result.stdout + result.stderr
