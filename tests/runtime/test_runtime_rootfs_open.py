"""The confined opener: hostile symlinks in an image must never reach host files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from umoci.errors import BlobInvalidError, BundleError, UnsafePathError
from umoci.fs.rootfs import MAX_SYMLINKS
from umoci.oci.models import ImageConfig
from umoci.runtime import open_in_root, rootfs_opener, runtime_config


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "rootfs"
    (r / "etc").mkdir(parents=True)
    return r


@pytest.fixture
def host_secret(tmp_path: Path) -> Path:
    """A file outside the rootfs that a hostile image would like us to read."""
    secret = tmp_path / "secret"
    secret.write_bytes(b"evil:x:4242:4242::/evil:/bin/sh\n")
    return secret


def read(root: Path, path: str) -> bytes | None:
    f = open_in_root(str(root), path)
    if f is None:
        return None
    with f:
        return f.read()


def test_plain_file(root: Path) -> None:
    (root / "etc/passwd").write_bytes(b"root:x:0:0::/root:\n")
    assert read(root, "/etc/passwd") == b"root:x:0:0::/root:\n"
    assert read(root, "etc/passwd") == b"root:x:0:0::/root:\n"
    assert read(root, "//etc/./passwd") == b"root:x:0:0::/root:\n"


def test_missing(root: Path) -> None:
    assert read(root, "/etc/passwd") is None
    assert read(root, "/nope/passwd") is None


def test_parent_not_a_directory(root: Path) -> None:
    (root / "etc").rmdir()
    (root / "etc").write_bytes(b"x")
    assert read(root, "/etc/passwd") is None


def test_absolute_symlink_is_clamped(root: Path, host_secret: Path) -> None:
    (root / "etc/passwd").symlink_to(host_secret)
    assert read(root, "/etc/passwd") is None
    # The same absolute path *inside* the rootfs is what it resolves to.
    inside = root / str(host_secret).lstrip("/")
    inside.parent.mkdir(parents=True)
    inside.write_bytes(b"inside\n")
    assert read(root, "/etc/passwd") == b"inside\n"


def test_dotdot_symlink_is_clamped(root: Path, host_secret: Path) -> None:
    (root / "etc/passwd").symlink_to("../../../../../../../" + host_secret.name)
    assert read(root, "/etc/passwd") is None
    (root / host_secret.name).write_bytes(b"top\n")
    assert read(root, "/etc/passwd") == b"top\n"


def test_dotdot_in_path_is_clamped(root: Path, host_secret: Path) -> None:
    assert read(root, "/../../" + host_secret.name) is None
    assert read(root, "../" + host_secret.name) is None


def test_symlinked_directory_chain(root: Path, host_secret: Path) -> None:
    real = root / "real/etc"
    real.mkdir(parents=True)
    (real / "passwd").write_bytes(b"chained\n")
    (root / "etc").rmdir()
    (root / "l1").symlink_to("/l2")
    (root / "l2").symlink_to("real/etc/../etc")
    (root / "etc").symlink_to("l1")
    assert read(root, "/etc/passwd") == b"chained\n"
    # A directory link pointing outside resolves inside instead.
    (root / "etc").unlink()
    (root / "etc").symlink_to(host_secret.parent)
    assert read(root, "/etc/secret") is None


def test_symlink_loop_is_an_error(root: Path) -> None:
    (root / "etc/passwd").symlink_to("passwd2")
    (root / "etc/passwd2").symlink_to("/etc/passwd")
    with pytest.raises(UnsafePathError, match="too many levels"):
        read(root, "/etc/passwd")


def test_self_referencing_directory_loop(root: Path) -> None:
    (root / "etc").rmdir()
    (root / "etc").symlink_to("etc/x")
    with pytest.raises(UnsafePathError, match="too many levels"):
        read(root, "/etc/passwd")


def test_long_chain_within_limit(root: Path) -> None:
    (root / "etc/target").write_bytes(b"end\n")
    previous = "target"
    for i in range(MAX_SYMLINKS - 1):
        (root / f"etc/link{i}").symlink_to(previous)
        previous = f"link{i}"
    (root / "etc/passwd").symlink_to(previous)
    assert read(root, "/etc/passwd") == b"end\n"
    (root / "etc/passwd").unlink()
    (root / "etc/extra").symlink_to(previous)
    (root / "etc/passwd").symlink_to("extra")
    with pytest.raises(UnsafePathError):
        read(root, "/etc/passwd")


def test_dangling_symlink_is_missing(root: Path) -> None:
    (root / "etc/passwd").symlink_to("/does/not/exist")
    assert read(root, "/etc/passwd") is None


def test_directory_is_refused(root: Path) -> None:
    (root / "etc/passwd").mkdir()
    with pytest.raises(UnsafePathError, match="not a regular file"):
        read(root, "/etc/passwd")
    with pytest.raises(UnsafePathError, match="not a regular file"):
        read(root, "/etc/..")


def test_fifo_is_refused_without_blocking(root: Path) -> None:
    os.mkfifo(root / "etc/passwd")
    with pytest.raises(UnsafePathError, match="not a regular file"):
        read(root, "/etc/passwd")


def test_symlink_to_host_device_is_clamped(root: Path) -> None:
    (root / "etc/passwd").symlink_to("/dev/zero")
    assert read(root, "/etc/passwd") is None


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_device_node_is_refused(root: Path) -> None:
    os.mknod(root / "etc/passwd", stat.S_IFCHR | 0o644, os.makedev(1, 5))  # /dev/zero
    with pytest.raises(UnsafePathError, match="not a regular file"):
        read(root, "/etc/passwd")


def test_missing_rootfs_is_bundle_error(tmp_path: Path) -> None:
    with pytest.raises(BundleError):
        open_in_root(str(tmp_path / "nope"), "/etc/passwd")


def test_runtime_config_never_reads_host_passwd(root: Path, host_secret: Path) -> None:
    (root / "etc/passwd").symlink_to(host_secret)
    (root / "etc/group").symlink_to("../../../../../../" + str(host_secret))
    config = ImageConfig.from_json({"os": "linux", "config": {"User": "evil"}})
    with pytest.raises(BlobInvalidError, match="unable to find user evil"):
        runtime_config(config, rootfs_opener=rootfs_opener(str(root)))
    # The same file placed inside the rootfs is used.
    (root / "etc/passwd").unlink()
    (root / "etc/passwd").write_bytes(host_secret.read_bytes())
    spec = runtime_config(config, rootfs_opener=rootfs_opener(str(root)))
    assert spec["process"]["user"] == {"uid": 4242, "gid": 4242}
    assert "HOME=/evil" in spec["process"]["env"]
