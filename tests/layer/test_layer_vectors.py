"""The Go umoci's own image (tests/vectors): our unpack must match its mtree."""

from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest

from umoci.compress import HashingReader, open_decompressor
from umoci.layer.extract import ExtractOptions, LayerExtractor

SECOND = 10**9
# path: (type, mode, nlink, mtime seconds, sha256 prefix or link target)
EXPECTED = {
    ".": ("dir", 0o755, 5, 1700000000, None),
    "dir": ("dir", 0o755, 3, 1700000000, None),
    "dir/fifo": ("fifo", 0o644, 1, 1700000000, None),
    "dir/file": ("file", 0o644, 2, 1577934245, "5891b5b522d5df08"),
    "dir/hardlink": ("file", 0o644, 2, 1577934245, "5891b5b522d5df08"),
    "dir/null": ("char", 0o644, 1, 1700000000, None),
    "dir/suid": ("file", 0o4755, 1, 1700000000, "b37e50cedcd3e3f1"),
    "dir/tab\tfile": ("file", 0o644, 1, 1700000000, "db31d5fe8a494417"),
    "dir/sub": ("dir", 0o1777, 2, 1700000000, None),
    "dir/sub/symlink": ("link", 0o777, 1, 1577934245, "../dir/file"),
    "with space": ("dir", 0o755, 2, 1700000000, None),
    "with space/a#b*c": ("file", 0o644, 1, 1700000000, "73cb3858a687a849"),
    "ünïcødé": ("dir", 0o755, 2, 1700000000, None),
}
TYPES = {
    stat.S_IFDIR: "dir",
    stat.S_IFREG: "file",
    stat.S_IFLNK: "link",
    stat.S_IFCHR: "char",
    stat.S_IFIFO: "fifo",
}


def unpack(vectors, rootfs, options):
    image = vectors / "bundle" / "image"
    blobs = image / "blobs" / "sha256"
    index = json.loads((image / "index.json").read_text())
    manifest = json.loads((blobs / index["manifests"][0]["digest"][7:]).read_bytes())
    config = json.loads((blobs / manifest["config"]["digest"][7:]).read_bytes())
    rootfs.mkdir()
    extractor = LayerExtractor(rootfs, options)
    for desc, diff_id in zip(manifest["layers"], config["rootfs"]["diff_ids"], strict=True):
        with open(blobs / desc["digest"][7:], "rb") as raw:
            reader = HashingReader(open_decompressor(desc["mediaType"], raw))
            extractor.apply(reader)
        assert reader.digest() == diff_id


@pytest.mark.skipif(os.geteuid() != 0, reason="devices and security xattrs need root")
def test_go_umoci_vector_as_root(vectors, tmp_path):
    rootfs = tmp_path / "rootfs"
    unpack(vectors, rootfs, ExtractOptions())
    seen = {"."} | {str(p.relative_to(rootfs)) for p in rootfs.rglob("*")}
    assert seen == set(EXPECTED)
    for path, (kind, mode, nlink, mtime, extra) in EXPECTED.items():
        p = rootfs / path
        st = p.lstat()
        assert TYPES[stat.S_IFMT(st.st_mode)] == kind, path
        assert stat.S_IMODE(st.st_mode) == mode, path
        assert st.st_nlink == nlink, path
        assert st.st_mtime_ns == mtime * SECOND, path
        owner = (1000, 1000) if path == "ünïcødé" else (0, 0)
        assert (st.st_uid, st.st_gid) == owner, path
        if kind == "file":
            assert hashlib.sha256(p.read_bytes()).hexdigest().startswith(extra), path
        if kind == "link":
            assert os.readlink(p) == extra
    assert os.getxattr(rootfs / "dir/file", "user.comment") == b"hello world"
    assert os.getxattr(rootfs / "dir/suid", "security.capability").startswith(b"\x01\x00\x00\x02")
    null = (rootfs / "dir/null").lstat()
    assert (os.major(null.st_rdev), os.minor(null.st_rdev)) == (1, 3)


def test_go_umoci_vector_rootless(vectors, tmp_path):
    rootfs = tmp_path / "rootfs"
    unpack(vectors, rootfs, ExtractOptions(rootless=True))
    # README: the 1000:1000 directory carries uid 1000, gid 1000 in the xattr.
    assert os.getxattr(rootfs / "ünïcødé", "user.rootlesscontainers") == bytes.fromhex(
        "08e80710e807"
    )
    assert "user.rootlesscontainers" not in os.listxattr(rootfs / "dir")
    null = (rootfs / "dir/null").lstat()
    assert stat.S_ISREG(null.st_mode)
    assert stat.S_IMODE(null.st_mode) == 0o644
    assert (rootfs / "dir/file").lstat().st_ino == (rootfs / "dir/hardlink").lstat().st_ino
