"""Differential tests against the Go umoci (Debian's ``umoci`` package).

The Go umoci unpacks an image built from a tree full of awkward cases and
writes its mtree; our walk of the same rootfs must dump to the same bytes
(the header's user/machine/tree/date are taken from the Go file).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from umoci.mtree import Header, compare, dump, parse, walk

pytestmark = pytest.mark.goumoci

GO_UMOCI = "/usr/bin/umoci"


def go_umoci(*args: str) -> None:
    assert os.path.exists(GO_UMOCI), (
        f"{GO_UMOCI} is missing: these differential tests need the Go umoci "
        "(apt-get install -y umoci)"
    )
    proc = subprocess.run([GO_UMOCI, *args], capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")


def awkward_tree(src: Path, *, newline: bool) -> None:
    src.mkdir()
    (src / "etc").mkdir()
    (src / "etc" / "passwd").write_bytes(b"root:x:0:0::/root:/bin/sh\n")
    d = src / "dir"
    (d / "sub" / "deeper").mkdir(parents=True)
    (d / "file").write_bytes(b"hello\n")
    os.setxattr(d / "file", "user.comment", b"hello world")
    os.setxattr(d / "file", "trusted.bin", bytes(range(256)))
    os.setxattr(d, "user.dirattr", b"")
    os.link(d / "file", d / "hardlink")
    (d / "sub" / "symlink").symlink_to("../file")
    os.symlink(os.fsdecode(b"we ird\\tar\xffget*?"), d / "oddlink")
    os.mkfifo(d / "fifo")
    os.mknod(d / "null", 0o666 | 0o020000, os.makedev(1, 3))
    os.mknod(d / "loop", 0o660 | 0o060000, os.makedev(7, 0))
    (d / "suid").write_bytes(b"#!/bin/sh\n")
    os.chmod(d / "suid", 0o6755)
    os.chmod(d / "sub", 0o1777)
    (d / "none").write_bytes(b"")
    os.chmod(d / "none", 0)
    (d / "big").write_bytes(bytes(range(256)) * 8192)
    (src / "empty").mkdir()
    names = [b"with space", b"tab\tname", b"a#b*c?d[e]", b"back\\slash", b"eq=sign", b"\x01ctl"]
    names += ["ünïcødé".encode(), b"bad\xff\xfeutf8", b"...", b"-dash"]
    if newline:
        names.append(b"new\nline")
    for name in names:
        os.mkdir(os.path.join(os.fsencode(src), name))
        with open(os.path.join(os.fsencode(src), name, name), "wb") as f:
            f.write(name)
    # Ownership that goes back and forth exercises /set re-emission.
    for i, (uid, gid) in enumerate([(1000, 1000), (0, 0), (1000, 1000), (1000, 5), (7, 7)]):
        sub = src / f"own{i}"
        (sub / "inner").mkdir(parents=True)
        (sub / "f").write_bytes(b"x")
        for path in (sub, sub / "inner", sub / "f"):
            os.chown(path, uid, gid)
    os.chown(src / "own3" / "inner", 0, 0)
    os.utime(d / "file", ns=(0, 1_577_934_245_123_456_789))
    os.utime(src / "empty", ns=(0, -1_500_000_000))


def go_unpack(tmp_path: Path, *, newline: bool) -> Path:
    src = tmp_path / "src"
    awkward_tree(src, newline=newline)
    image = str(tmp_path / "image")
    go_umoci("init", "--layout", image)
    go_umoci("new", "--image", image + ":latest")
    go_umoci("insert", "--image", image + ":latest", str(src), "/")
    bundle = tmp_path / "bundle"
    go_umoci("unpack", "--image", image + ":latest", str(bundle))
    return bundle


def go_mtree(bundle: Path) -> tuple[bytes, Header]:
    (path,) = bundle.glob("sha256_*.mtree")
    data = path.read_bytes()
    values = [line.split(b": ", 1)[1].decode() for line in data.splitlines()[:4]]
    return data, Header(user=values[0], machine=values[1], tree=values[2], date=values[3])


def test_walk_dump_equals_go_umoci_mtree(tmp_path: Path) -> None:
    bundle = go_unpack(tmp_path, newline=False)
    data, header = go_mtree(bundle)
    ours = dump(walk(bundle / "rootfs", header=header))
    assert ours == data
    assert b"xattr.trusted.bin=" in data
    spec = parse(data)
    assert dump(spec) == data
    assert compare(spec, walk(bundle / "rootfs", header=header)) == []


def test_newline_names_differ_from_go_only_in_the_comment(tmp_path: Path) -> None:
    bundle = go_unpack(tmp_path, newline=True)
    data, header = go_mtree(bundle)
    ours = dump(walk(bundle / "rootfs", header=header))
    assert ours != data
    assert ours.replace(b"# new\\012line\n", b"# new\nline\n") == data


def test_changes_are_found_against_the_go_mtree(tmp_path: Path) -> None:
    bundle = go_unpack(tmp_path, newline=False)
    data, header = go_mtree(bundle)
    rootfs = bundle / "rootfs"
    (rootfs / "dir" / "file").unlink()
    (rootfs / "dir" / "added").write_bytes(b"new")
    os.chmod(rootfs / "etc" / "passwd", 0o600)
    os.removexattr(rootfs / "dir" / "hardlink", "user.comment")
    os.utime(rootfs / "dir", ns=(0, 0))
    deltas = compare(parse(data), walk(rootfs, header=header))
    summary = [(d.type.value, d.path, tuple(k.name for k in d.keys)) for d in deltas]
    assert summary == [
        ("modified", b"dir", ("tar_time",)),  # now 0
        ("extra", b"dir/added", ()),
        ("missing", b"dir/file", ()),
        ("modified", b"dir/hardlink", ("nlink", "xattr.user.comment")),
        ("modified", b"etc/passwd", ("mode",)),
    ]


def test_walk_equals_go_walk_of_a_modified_rootfs(tmp_path: Path) -> None:
    """``repack --refresh-bundle`` makes the Go umoci walk the rootfs as it is now."""
    bundle = go_unpack(tmp_path, newline=False)
    rootfs = bundle / "rootfs"
    # States a tar round trip would not produce.
    os.utime(rootfs / "empty", ns=(0, -1_500_000_000))
    os.utime(rootfs / "etc", ns=(0, 1_700_000_000_999_999_999))
    os.setxattr(rootfs / "dir" / "suid", "user.empty", b"")
    os.setxattr(rootfs / "empty", "security.capability", b"\x01\x00\x00\x02" + bytes(16))
    os.link(rootfs / "dir" / "hardlink", rootfs / "etc" / "third")
    os.chmod(rootfs / "own1", 0o2750)
    os.chown(rootfs / "own1" / "inner", 1000, 0)
    (rootfs / "tab\tname" / "new").write_bytes(b"")
    os.chmod(rootfs / "tab\tname" / "new", 0o7777)
    image = str(tmp_path / "image")
    (before,) = bundle.glob("sha256_*.mtree")
    go_umoci("repack", "--refresh-bundle", "--image", image + ":latest", str(bundle))
    data, header = go_mtree(bundle)
    assert not before.exists()
    assert b"tar_time=-2.000000000" in data
    assert b"xattr.user.empty=\n" in data
    assert dump(walk(rootfs, header=header)) == data


def test_walk_of_the_vector_image_equals_the_vector_mtree(tmp_path: Path, vectors: Path) -> None:
    """The stored vector was written by Go umoci 0.6; the Debian one unpacks the same rootfs."""
    (vector,) = (vectors / "bundle").glob("sha256_*.mtree")
    expected = vector.read_bytes()
    _, header = go_mtree(vectors / "bundle")
    bundle = tmp_path / "bundle"
    go_umoci("unpack", "--image", str(vectors / "bundle" / "image") + ":latest", str(bundle))
    assert dump(walk(bundle / "rootfs", header=header)) == expected
