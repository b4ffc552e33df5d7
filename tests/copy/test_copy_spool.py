"""Spooling to ``--tmpdir``: unnamed temporary files for archives read from pipes or
decompressed, and for converted layers bound for an archive."""

from __future__ import annotations

import errno
import gzip
import os
from pathlib import Path

import pytest
from copykit import copy_fails, entry, tar_names, two_layer_image, umoci_ok


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return two_layer_image(tmp_path, tmp_path / "src", "v1")


@pytest.mark.parametrize("refusal", [errno.EOPNOTSUPP, errno.EISDIR], ids=["eopnotsupp", "eisdir"])
def test_without_o_tmpfile_a_named_file_is_unlinked_at_once(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refusal: int
) -> None:
    """overlayfs, FUSE, some ZFS (EOPNOTSUPP) and old kernels (EISDIR) have no O_TMPFILE."""
    real_open = os.open

    def no_tmpfile(path: str, flags: int, mode: int = 0o777, **kwargs: int | None) -> int:
        if flags & os.O_TMPFILE == os.O_TMPFILE:
            raise OSError(refusal, os.strerror(refusal), path)
        return real_open(path, flags, mode, **kwargs)

    plain = tmp_path / "image.tar"
    umoci_ok("copy", f"oci:{source}:v1", f"oci-archive:{plain}:v1")
    packed = tmp_path / "image.tar.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(os, "open", no_tmpfile)
    # A compressed archive is spooled decompressed ...
    umoci_ok("copy", "--tmpdir", spool, f"oci-archive:{packed}:v1", f"oci:{tmp_path / 'back'}:v1")
    assert entry(tmp_path / "back", "v1")["digest"] == entry(source, "v1")["digest"]
    # ... and layers decompressed for a docker-archive are spooled before they are added.
    docker = tmp_path / "docker.tar"
    umoci_ok("copy", "--tmpdir", spool, f"oci:{source}:v1", f"docker-archive:{docker}:a:b")
    assert "manifest.json" in tar_names(docker)
    assert list(spool.iterdir()) == []


def test_the_temporary_directory_is_checked_only_when_a_copy_spools(
    source: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A bad $TMPDIR fails no copy that needs no spool file, and errors say where it came from."""
    plain = tmp_path / "image.tar"
    umoci_ok("copy", f"oci:{source}:v1", f"oci-archive:{plain}:v1")
    packed = tmp_path / "image.tar.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    missing = tmp_path / "nonexistent"
    monkeypatch.setenv("TMPDIR", str(missing))
    umoci_ok("copy", f"oci-archive:{plain}:v1", f"oci:{tmp_path / 'a'}:v1")  # read in place
    umoci_ok("copy", f"oci:{source}:v1", f"oci-archive:{tmp_path / 'b.tar'}:v1")  # as stored
    line = copy_fails(capsys, f"oci-archive:{packed}:v1", f"oci:{tmp_path / 'c'}:v1")
    assert line.endswith(
        f"temporary file in {missing} (from $TMPDIR): No such file or directory"
    ), line
    line = copy_fails(
        capsys, "--tmpdir", plain, f"oci-archive:{packed}:v1", f"oci:{tmp_path / 'c'}:v1"
    )
    assert line.endswith(f"temporary file in {plain} (from --tmpdir): Not a directory"), line
    assert not (tmp_path / "c").exists()


def test_a_compression_bomb_stops_at_the_spool_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A compressed archive is decompressed into --tmpdir up to MAX_SPOOL, not until it is full."""
    from umoci.transport import tarindex

    monkeypatch.setattr(tarindex, "MAX_SPOOL", 1 << 20)
    bomb = tmp_path / "bomb.tar.gz"
    bomb.write_bytes(gzip.compress(bytes(4 << 20)))
    spool = tmp_path / "spool"
    spool.mkdir()
    line = copy_fails(
        capsys, "--tmpdir", spool, f"oci-archive:{bomb}", f"oci:{tmp_path / 'dest'}:v1"
    )
    assert "decompressed, the archive is larger than " in line
    assert line.endswith(f"{spool} (from --tmpdir): decompress it to a file first")
    assert list(spool.iterdir()) == []
    assert not (tmp_path / "dest").exists()
