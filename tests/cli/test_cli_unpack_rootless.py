"""``umoci unpack`` for rootless users: run as root and again as ``nobody`` (scripts/test).

As root these tests pass ``--rootless``; as anyone else they pass nothing,
because a non-root unpack implies it.  Either way: nothing is chowned (owners
are recorded in ``user.rootlesscontainers``), device nodes become empty
regular files, directories we may not read or write are still filled (and
keep their modes), a failed unpack still removes everything, and config.json
and umoci.json are the rootless variants of the bundle vector's, with the
id mappings pointing at whoever ran the unpack.

The image helpers live in tests/unpack/imagekit.py (imported as a namespace
package, since tests/ is on sys.path for conftest).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import VECTORS
from unpack.imagekit import (
    OCI_GZIP,
    Image,
    Layer,
    T,
    build_tar,
    check_bundle_files,
    image_of,
    make_sentinel,
    snapshot_outside,
    umoci,
    unpack_fails,
    unpack_ok,
    write_image,
)

ROOT = os.geteuid() == 0
#: As root, ask for rootless; otherwise it is implied.
FLAGS: tuple[str, ...] = ("--rootless",) if ROOT else ()
OWNER_XATTR = "user.rootlesscontainers"
CAP = bytes.fromhex("0100000220") + bytes(15)


def owner_xattr(path: Path) -> bytes | None:
    try:
        return os.getxattr(path, OWNER_XATTR, follow_symlinks=False)
    except OSError:
        return None


@pytest.fixture
def opened_up() -> Iterator[list[Path]]:
    """Directories a test made accessible for inspection; restored afterwards."""
    paths: list[Path] = []
    yield paths
    for p in paths:
        p.chmod(0o700)


def test_non_root_unpack_is_rootless(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = image_of(tmp_path / "image", [T.reg("f", b"x", uid=0, gid=0)])
    bundle = tmp_path / "bundle"
    unpack_ok(capsys, image, bundle)  # no flag at all
    meta = json.loads((bundle / "umoci.json").read_bytes())
    assert meta["map_options"]["rootless"] is not ROOT
    config = json.loads((bundle / "config.json").read_bytes())
    assert ("uidMappings" in config["linux"]) is not ROOT


def test_owners_are_recorded_not_applied(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = [
        T.dir("home", uid=1000, gid=1000),
        T.reg("home/f", b"x", uid=0, gid=42),
        T.reg("uidonly", b"x", uid=7, gid=0),
        T.reg("rootfile", b"x", uid=0, gid=0),
        T.sym("link", "rootfile", uid=1000, gid=1000),
    ]
    image = image_of(tmp_path / "image", entries)
    rootfs = unpack_ok(capsys, image, tmp_path / "bundle", *FLAGS)
    me = (os.geteuid(), os.getegid())
    for name in ("home", "home/f", "uidonly", "rootfile", "link"):
        st = (rootfs / name).lstat()
        assert (st.st_uid, st.st_gid) == me, name
    # protobuf (rootlesscontainers.proto): field 1 uid, field 2 gid, 2**32-1 = unchanged.
    assert owner_xattr(rootfs / "home") == bytes.fromhex("08e80710e807")
    assert owner_xattr(rootfs / "home/f") == bytes.fromhex("08ffffffff0f102a")
    assert owner_xattr(rootfs / "uidonly") == bytes.fromhex("080710ffffffff0f")
    assert owner_xattr(rootfs / "rootfile") is None
    mtree = (tmp_path / "bundle" / image.mtree_name).read_text()
    assert "xattr.user.rootlesscontainers=COgHEOgH" in mtree


def test_devices_become_empty_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entries = [
        T.dir("dev"),
        T.chr("dev/null", 1, 3, mode=0o666),
        T.blk("dev/loop0", 7, 0, mode=0o660),
        T.fifo("dev/fifo", mode=0o600),
    ]
    image = image_of(tmp_path / "image", entries)
    res = umoci(capsys, "unpack", *FLAGS, "--image", image.ref, tmp_path / "bundle")
    assert res.status == 0, res.err
    assert "dev/null" in res.err  # warned about
    rootfs = tmp_path / "bundle/rootfs"
    for name, mode in (("dev/null", 0o666), ("dev/loop0", 0o660)):
        st = (rootfs / name).lstat()
        assert stat.S_ISREG(st.st_mode), name
        assert (st.st_size, stat.S_IMODE(st.st_mode)) == (0, mode)
    assert stat.S_ISFIFO((rootfs / "dev/fifo").lstat().st_mode)


def test_directories_without_access_are_filled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], opened_up: list[Path]
) -> None:
    layers = [
        [
            T.dir("locked", mode=0o000),
            T.reg("locked/inner", b"i", mode=0o000),
            T.dir("locked/sub", mode=0o000),
            T.reg("locked/sub/deep", b"d"),
            T.dir("rx", mode=0o500),
            T.reg("rx/file", b"r", mode=0o400),
            T.dir("wx", mode=0o300),
            T.reg("wx/file", b"w"),
        ],
        [T.reg("locked/later", b"l"), T.wh("rx/.wh.file"), T.reg("rx/new", b"n")],
    ]
    image = image_of(tmp_path / "image", *layers)
    bundle = tmp_path / "bundle"
    rootfs = unpack_ok(capsys, image, bundle, *FLAGS)
    modes = {n: stat.S_IMODE((rootfs / n).lstat().st_mode) for n in ("locked", "rx", "wx")}
    assert modes == {"locked": 0o000, "rx": 0o500, "wx": 0o300}
    mtree = (bundle / image.mtree_name).read_text()
    for name in ("inner", "deep", "later", "new"):
        assert f"    {name} size=" in mtree, name
    assert "    file size=1 mode=0400" not in mtree  # rx/file was whited out
    for d in ("locked", "locked/sub", "rx", "wx"):
        (rootfs / d).chmod(0o700)
        opened_up.append(rootfs / d)
    assert sorted(os.listdir(rootfs / "locked")) == ["inner", "later", "sub"]
    assert (rootfs / "locked/sub/deep").read_bytes() == b"d"
    assert sorted(os.listdir(rootfs / "rx")) == ["new"]
    assert (rootfs / "wx/file").read_bytes() == b"w"


def test_unsettable_xattrs_are_skipped_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    xattrs = {"user.kept": b"1", "trusted.t": b"t", "security.capability": CAP}
    image = image_of(tmp_path / "image", [T.reg("f", b"", mode=0o4755, xattrs=xattrs)])
    res = umoci(capsys, "unpack", *FLAGS, "--image", image.ref, tmp_path / "bundle")
    assert res.status == 0, res.err
    f = tmp_path / "bundle/rootfs/f"
    assert os.getxattr(f, "user.kept") == b"1"
    assert stat.S_IMODE(f.stat().st_mode) == 0o4755
    if not ROOT:
        assert "trusted.t" in res.err
        assert set(os.listxattr(f)) == {"user.kept"}


def test_failed_unpack_removes_inaccessible_directories(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = build_tar([T.dir("locked", mode=0), T.dir("locked/in", mode=0), T.reg("locked/in/f")])
    image = write_image(tmp_path / "image", [Layer(first, OCI_GZIP), Layer(b"\x04" * 1024)])
    unpack_fails(capsys, image, tmp_path / "bundle", *FLAGS)
    (tmp_path / "existing").mkdir()
    unpack_fails(capsys, image, tmp_path / "existing", *FLAGS)


def test_escapes_stay_inside(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outside = make_sentinel(tmp_path)
    bundle = tmp_path / "bundle"
    layers = [
        [T.sym("rel", "../../outside"), T.sym("abs", str(outside)), T.reg("../../file", b"c")],
        [
            T.reg("rel/file", b"c"),
            T.reg("abs/file", b"c"),
            T.wh("rel/.wh.sub"),
            T.chr("rel/null", 1, 3),
            T.reg("abs/etc/passwd", b"c"),
        ],
    ]
    image = image_of(tmp_path / "image", *layers)
    before = snapshot_outside(tmp_path, bundle)
    unpack_ok(capsys, image, bundle, *FLAGS)
    assert snapshot_outside(tmp_path, bundle) == before
    check_bundle_files(bundle, image)


def test_root_symlink_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outside = make_sentinel(tmp_path)
    image = image_of(tmp_path / "image", [T.sym(".", str(outside)), T.reg("x")])
    before = snapshot_outside(tmp_path, tmp_path / "bundle")
    assert "root" in unpack_fails(capsys, image, tmp_path / "bundle", *FLAGS)
    assert snapshot_outside(tmp_path, tmp_path / "bundle") == before


def with_our_ids(vector: bytes) -> bytes:
    """A vector made as root (mapped to 0:0), as it reads for the current user."""
    uid = b'"hostID": %d' % os.geteuid()
    gid = b'"hostID": %d' % os.getegid()
    compact_uid, compact_gid = uid.replace(b" ", b""), gid.replace(b" ", b"")
    out = vector.replace(b'"hostID": 0', b"\0", 2)
    out = out.replace(b"\0", uid, 1).replace(b"\0", gid, 1)
    out = out.replace(b'"hostID":0', b"\0", 2)
    return out.replace(b"\0", compact_uid, 1).replace(b"\0", compact_gid, 1)


def test_bundle_vector_rootless(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vector = VECTORS / "bundle"
    image = Image(vector / "image", "latest", "", "")
    bundle = tmp_path / "bundle"
    unpack_ok(capsys, image, bundle, *FLAGS)
    expected_config = with_our_ids((vector / "config-rootless.json").read_bytes())
    assert (bundle / "config.json").read_bytes() == expected_config
    expected_meta = with_our_ids((vector / "umoci-rootless.json").read_bytes())
    assert (bundle / "umoci.json").read_bytes() == expected_meta
    config = json.loads(expected_config)
    assert config["linux"]["uidMappings"] == [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
    rootfs = bundle / "rootfs"
    assert (rootfs / "dir/null").is_file()
    owned = [p for p in rootfs.rglob("*") if owner_xattr(p) is not None]
    assert [owner_xattr(p) for p in owned] == [bytes.fromhex("08e80710e807")]
