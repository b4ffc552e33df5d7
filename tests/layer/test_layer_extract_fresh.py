"""Fresh regular files: owner and mode are checked, not set, and still come out exact.

The extractor creates a new file with its mode and sets owner and mode only
when an fstat shows the host made them differ (umask, a setgid parent, a
default ACL), and lists xattrs only where the host may add some.  Each way
the host can interfere is tried here.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from layerkit import Env, env_fixture, t_fixture  # noqa: F401 (fixtures)

from umoci.fs.rootfs import fresh_files_get_xattrs
from umoci.layer.extract import ExtractOptions
from umoci.layer.records import EntryRecord, Record

MODES = (0o644, 0o755, 0o666, 0o600, 0o000, 0o777, 0o4755, 0o2711, 0o1777)
ACL_ACCESS = "system.posix_acl_access"
ACL_DEFAULT = "system.posix_acl_default"


@pytest.fixture
def umask_077() -> Iterator[None]:
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def _records(env: Env, entries: list[object]) -> dict[str, EntryRecord]:
    """Apply *entries* as unpack does: the filesystem asked first, records kept."""
    seen: dict[str, EntryRecord] = {}

    def keep(record: Record) -> None:
        if isinstance(record, EntryRecord):
            seen[record.path] = record

    bare = not fresh_files_get_xattrs(env.rootfs)
    options = ExtractOptions(on_entry=keep, fresh_files_bare=bare)
    env.apply(entries, options)  # type: ignore[arg-type]
    return seen


@pytest.mark.usefixtures("umask_077")
def test_modes_are_exact_whatever_the_umask(env: Env, t: type) -> None:
    records = _records(env, [t.reg(f"f{mode:o}", b"data", mode=mode) for mode in MODES])
    for mode in MODES:
        st = os.lstat(env.rootfs / f"f{mode:o}")
        assert stat.S_IMODE(st.st_mode) == mode, f"{mode:o}"
        # The record the mtree is built from says what is on disk.
        assert records[f"f{mode:o}"].stat.st_mode == st.st_mode
        assert records[f"f{mode:o}"].stat.st_ctime_ns == st.st_ctime_ns


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another group needs root")
def test_a_setgid_parent_does_not_choose_the_group(env: Env, t: type) -> None:
    records = _records(
        env,
        [
            t.dir("g", mode=0o2775, gid=5),
            t.reg("g/root-group", b"x", uid=0, gid=0),
            t.reg("g/its-group", b"y", uid=0, gid=5),
            t.reg("g/other", b"z", uid=7, gid=9, mode=0o640),
        ],
    )
    for name, (uid, gid, mode) in {
        "root-group": (0, 0, 0o644),
        "its-group": (0, 5, 0o644),
        "other": (7, 9, 0o640),
    }.items():
        st = os.lstat(env.rootfs / "g" / name)
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (uid, gid, mode), name
        assert records[f"g/{name}"].stat.st_gid == gid


def _acl(*entries: tuple[int, int, int]) -> bytes:
    """A Linux ACL xattr value (version 2; entries of tag, permissions, id)."""
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries)


#: user::rwx user:1234:rwx group::r-x mask::rwx other::r-x (a named user: new files get an ACL)
DEFAULT_ACL = _acl(
    (0x01, 7, 0xFFFFFFFF),
    (0x02, 7, 1234),
    (0x04, 5, 0xFFFFFFFF),
    (0x10, 7, 0xFFFFFFFF),
    (0x20, 5, 0xFFFFFFFF),
)


def _set_default_acl(path: Path) -> None:
    try:
        os.setxattr(path, ACL_DEFAULT, DEFAULT_ACL)
    except OSError as err:
        pytest.fail(f"the test filesystem refuses POSIX ACLs: {err}")


def test_a_default_acl_on_the_rootfs_does_not_stick_to_new_files(env: Env, t: type) -> None:
    _set_default_acl(env.rootfs)
    probe = env.rootfs / "probe"
    probe.write_bytes(b"")
    assert ACL_ACCESS in os.listxattr(probe)  # what the host does to a new file here
    probe.unlink()
    assert fresh_files_get_xattrs(env.rootfs)
    records = _records(env, [t.reg("f", b"x", mode=0o640)])
    assert ACL_ACCESS not in os.listxattr(env.rootfs / "f")
    assert stat.S_IMODE(os.lstat(env.rootfs / "f").st_mode) == 0o640
    assert records["f"].xattrs == {}


def test_a_default_acl_from_the_layer_does_not_stick_to_new_files(env: Env, t: type) -> None:
    assert not fresh_files_get_xattrs(env.rootfs)  # until the layer's directory has its ACL
    directory = t.dir("d")
    directory.info.pax_headers = {
        f"SCHILY.xattr.{ACL_DEFAULT}": DEFAULT_ACL.decode("utf-8", "surrogateescape")
    }
    _records(env, [directory, t.reg("d/f", b"x", mode=0o604)])
    assert os.getxattr(env.rootfs / "d", ACL_DEFAULT) == DEFAULT_ACL
    assert ACL_ACCESS not in os.listxattr(env.rootfs / "d" / "f")
    assert stat.S_IMODE(os.lstat(env.rootfs / "d" / "f").st_mode) == 0o604
