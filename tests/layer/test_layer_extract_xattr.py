"""PAX xattrs: extracted, cleared on update, forbidden ones and host refusals skipped."""

from __future__ import annotations

import errno
import logging
import os

import pytest
from layerkit import env_fixture, t_fixture  # noqa: F401 (fixtures)

from umoci.fs.ops import RootOps, Target
from umoci.layer.extract import ExtractOptions


def _user_xattrs_supported(path) -> bool:
    probe = path / ".probe"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, "user.probe", b"1")
    except OSError:
        return False
    finally:
        probe.unlink()
    return True


@pytest.fixture
def xattrs_ok(env):
    # The suite needs a filesystem with user xattrs (tmpfs/ext4/xfs all have them).
    assert _user_xattrs_supported(env.rootfs), "the test filesystem lacks user xattrs"


def with_xattrs(entry, **xattrs: bytes):
    entry.info.pax_headers = {
        **entry.info.pax_headers,
        **{
            f"SCHILY.xattr.{k.replace('__', '.')}": v.decode("utf-8", "surrogateescape")
            for k, v in xattrs.items()
        },
    }
    return entry


def test_xattrs_extracted(env, t, xattrs_ok):
    binary = b"\x00\xff\x01binary"
    env.apply(
        [
            with_xattrs(t.reg("f", b"x"), user__comment=b"hello world", user__bin=binary),
            with_xattrs(t.dir("d"), user__dir=b"yes"),
        ]
    )
    assert os.getxattr(env.rootfs / "f", "user.comment") == b"hello world"
    assert os.getxattr(env.rootfs / "f", "user.bin") == binary
    assert os.getxattr(env.rootfs / "d", "user.dir") == b"yes"


def test_dir_update_replaces_xattrs(env, t, xattrs_ok):
    env.apply_layers(
        [
            [with_xattrs(t.dir("d"), user__old=b"1", user__both=b"a")],
            [with_xattrs(t.dir("d"), user__both=b"b")],
        ]
    )
    assert set(os.listxattr(env.rootfs / "d")) == {"user.both"}
    assert os.getxattr(env.rootfs / "d", "user.both") == b"b"


def test_forbidden_xattr_skipped_with_one_warning(env, t, caplog):
    caplog.set_level(logging.WARNING, logger="umoci")
    env.apply(
        [
            with_xattrs(t.reg(f"f{i}", b""), security__selinux=b"system_u:object_r:etc_t:s0")
            for i in range(5)
        ]
    )
    for i in range(5):
        assert "security.selinux" not in os.listxattr(env.rootfs / f"f{i}")
    warnings = [r for r in caplog.records if "security.selinux" in r.getMessage()]
    assert len(warnings) == 1


class RefusingOps(RootOps):
    """Simulates a host that refuses some xattrs."""

    def __init__(self, refused: dict[str, int]) -> None:
        super().__init__()
        self.refused = refused
        self.attempts: list[str] = []

    def setxattr(self, t: Target, key: str, value: bytes) -> None:
        self.attempts.append(key)
        for prefix, err in self.refused.items():
            if key.startswith(prefix):
                raise OSError(err, os.strerror(err))
        super().setxattr(t, key, value)


def test_refused_xattrs_warn_once_per_name(env, t, caplog, xattrs_ok):
    caplog.set_level(logging.WARNING, logger="umoci")
    ops = RefusingOps(
        {"trusted.": errno.EPERM, "security.": errno.EOPNOTSUPP, "user.nope": errno.ENOTSUP}
    )
    entries = []
    for i in range(4):
        entries.append(
            with_xattrs(
                t.reg(f"f{i}", b""),
                trusted__a=b"1",
                trusted__b=b"2",
                security__capability=b"\x01\x00\x00\x02",
                user__nope=b"x",
                user__ok=b"ok",
            )
        )
    entries.append(with_xattrs(t.dir("d"), trusted__a=b"1"))
    entries.append(with_xattrs(t.sym("s", "f0"), trusted__a=b"1"))
    env.apply(entries, ExtractOptions(fs=ops))
    for i in range(4):
        assert os.listxattr(env.rootfs / f"f{i}") == ["user.ok"]
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for name in ("trusted.a", "trusted.b", "security.capability", "user.nope"):
        assert sum(name in m for m in messages) == 1, (name, messages)
    assert ops.attempts.count("trusted.a") == 6  # still tried each time, just not reported


def test_other_xattr_errors_are_fatal(env, t):
    from umoci.errors import LayerError

    ops = RefusingOps({"user.": errno.EIO})
    with pytest.raises(LayerError, match=r"unpack entry f: set xattrs"):
        env.apply([with_xattrs(t.reg("f", b""), user__x=b"1")], ExtractOptions(fs=ops))


@pytest.mark.skipif(os.geteuid() != 0, reason="trusted xattrs need root")
def test_trusted_xattr_on_symlink(env, t):
    env.apply([with_xattrs(t.sym("s", "target"), trusted__x=b"on the link")])
    assert os.getxattr(env.rootfs / "s", "trusted.x", follow_symlinks=False) == b"on the link"
    assert not (env.rootfs / "target").exists()


def test_user_xattr_on_symlink_is_refused_not_fatal(env, t, caplog, xattrs_ok):
    # The kernel refuses user.* on symlinks (EPERM): a warning, not a failure.
    caplog.set_level(logging.WARNING, logger="umoci")
    env.apply([t.reg("target", b""), with_xattrs(t.sym("s", "target"), user__x=b"1")])
    assert "user.x" not in os.listxattr(env.rootfs / "target")
    assert any("user.x" in r.getMessage() for r in caplog.records)
