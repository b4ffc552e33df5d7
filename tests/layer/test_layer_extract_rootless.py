"""Rootless extraction: forced here (we run as root), and for real as nobody via setpriv."""

from __future__ import annotations

import io
import logging
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from layerkit import build_fixture, env_fixture, t_fixture  # noqa: F401 (fixtures)

from umoci.fs.ops import RootlessOps
from umoci.layer import rootless_xattr
from umoci.layer.extract import ExtractOptions

ROOTLESS = ExtractOptions(rootless=True)


def owner(path: Path) -> bytes | None:
    try:
        return os.getxattr(path, rootless_xattr.XATTR_NAME, follow_symlinks=False)
    except OSError:
        return None


def test_owner_recorded_in_xattr(env, t):
    env.apply(
        [
            t.dir("home/user", uid=1000, gid=1000),
            t.reg("home/user/f", b"x", uid=1000, gid=0),
            t.reg("rootfile", b"x", uid=0, gid=0),
            t.reg("groupfile", b"x", uid=0, gid=42),
        ],
        ROOTLESS,
    )
    # The bundle vector says: a 1000:1000 directory carries uid 1000, gid 1000.
    assert owner(env.rootfs / "home/user") == bytes.fromhex("08e80710e807")
    assert rootless_xattr.owner_from_xattr(owner(env.rootfs / "home/user/f")) == (1000, None)
    assert rootless_xattr.owner_from_xattr(owner(env.rootfs / "groupfile")) == (None, 42)
    assert owner(env.rootfs / "rootfile") is None
    # Nothing was chowned.
    me = (os.geteuid(), os.getegid())
    for p in ("home/user", "home/user/f", "groupfile"):
        st = (env.rootfs / p).lstat()
        assert (st.st_uid, st.st_gid) == me


def test_layer_supplied_owner_xattr_is_ignored(env, t, caplog):
    caplog.set_level(logging.WARNING, logger="umoci")
    f = t.reg("f", b"", uid=0, gid=0)
    f.info.pax_headers = {"SCHILY.xattr.user.rootlesscontainers": "\x08\x01"}
    env.apply([f], ROOTLESS)
    assert owner(env.rootfs / "f") is None
    assert any("rootlesscontainers" in r.getMessage() for r in caplog.records)


def test_owner_xattr_replaced_when_owner_changes(env, t):
    env.apply_layers(
        [[t.dir("d", uid=5, gid=5)], [t.dir("d", uid=0, gid=0)]],
        ROOTLESS,
    )
    assert owner(env.rootfs / "d") is None


def test_devices_become_empty_files(env, t, caplog):
    caplog.set_level(logging.WARNING, logger="umoci")
    env.apply([t.chr("dev/null", 1, 3, mode=0o666), t.blk("dev/sda", 8, 0, mode=0o660)], ROOTLESS)
    for name, mode in (("dev/null", 0o666), ("dev/sda", 0o660)):
        st = (env.rootfs / name).lstat()
        assert stat.S_ISREG(st.st_mode)
        assert st.st_size == 0
        assert stat.S_IMODE(st.st_mode) == mode
    assert any("device" in r.getMessage() for r in caplog.records)


def test_fifo_still_a_fifo(env, t):
    env.apply([t.fifo("f")], ROOTLESS)
    assert stat.S_ISFIFO((env.rootfs / "f").lstat().st_mode)


def test_unwritable_dirs_extracted_into_and_restored(env, t):
    env.apply_layers(
        [
            [
                t.dir("locked", mode=0o000),
                t.dir("locked/inner", mode=0o500),
                t.reg("locked/inner/f", b"x", mode=0o000),
                t.dir("ro", mode=0o555),
                t.reg("ro/f", b"x"),
            ],
            # A later layer writes into, and whites out inside, them.
            [t.reg("locked/inner/g", b"y"), t.wh("ro/.wh.f"), t.reg("ro/new", b"z")],
        ],
        ROOTLESS,
    )
    assert stat.S_IMODE((env.rootfs / "locked").lstat().st_mode) == 0o000
    assert stat.S_IMODE((env.rootfs / "locked/inner").lstat().st_mode) == 0o500
    assert stat.S_IMODE((env.rootfs / "ro").lstat().st_mode) == 0o555
    os.chmod(env.rootfs / "locked", 0o700)
    assert sorted(os.listdir(env.rootfs / "locked/inner")) == ["f", "g"]
    assert sorted(os.listdir(env.rootfs / "ro")) == ["new"]


def test_forced_rootless_uses_rootless_ops():
    from umoci.fs.ops import fs_for

    assert isinstance(fs_for(rootless=True), RootlessOps)


def _build_layer(t, build) -> bytes:
    return build(
        [
            t.dir("etc", mode=0o755),
            t.reg("etc/passwd", b"root:x:0:0::/root:/bin/sh\n", mode=0o644),
            t.dir("home/user", uid=1000, gid=1000, mode=0o750),
            t.reg("home/user/suid", b"x", uid=1000, gid=1000, mode=0o4755),
            t.chr("dev/null", 1, 3, mode=0o666),
            t.fifo("run/fifo"),
            t.dir("locked", mode=0o000),
            t.reg("locked/secret", b"s", mode=0o400),
            t.sym("escape", "/../../../../"),
            t.reg("escape/pwned", b"no"),
            t.hard("hard", "etc/passwd"),
        ]
    )


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root+setpriv")
def test_real_unprivileged_user(t, build):
    base = Path(tempfile.mkdtemp(prefix="umoci-rootless-"))
    try:
        os.chown(base, 65534, 65534)
        layer = base / "layer.tar"
        layer.write_bytes(_build_layer(t, build))
        os.chown(layer, 65534, 65534)
        script = textwrap.dedent(
            f"""
            import os
            from umoci.layer.extract import apply_layer
            assert os.geteuid() == 65534
            os.mkdir({str(base / "rootfs")!r})
            with open({str(layer)!r}, "rb") as f:
                apply_layer(f, {str(base / "rootfs")!r})
            """
        )
        src = str(Path(__file__).resolve().parents[2] / "src")
        subprocess.run(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                sys.executable,
                "-c",
                script,
            ],
            check=True,
            cwd=base,
            env={"PYTHONPATH": src, "PATH": os.environ.get("PATH", "")},
            capture_output=True,
        )
        rootfs = base / "rootfs"
        assert (rootfs / "etc/passwd").read_bytes().startswith(b"root:")
        assert owner(rootfs / "home/user") == bytes.fromhex("08e80710e807")
        assert stat.S_IMODE((rootfs / "home/user/suid").lstat().st_mode) == 0o4755
        assert stat.S_ISREG((rootfs / "dev/null").lstat().st_mode)
        assert stat.S_ISFIFO((rootfs / "run/fifo").lstat().st_mode)
        assert stat.S_IMODE((rootfs / "locked").lstat().st_mode) == 0o000
        assert (rootfs / "pwned").read_bytes() == b"no"
        assert not (base / "pwned").exists()
        assert (rootfs / "hard").lstat().st_ino == (rootfs / "etc/passwd").lstat().st_ino
        for p in rootfs.rglob("*"):
            assert p.lstat().st_uid == 65534
    finally:
        subprocess.run(["chmod", "-R", "u+rwx", str(base)], check=False)
        shutil.rmtree(base)


def test_rootless_stream_helper_roundtrip(env, t, build):
    # apply() accepts any reader with read(n).
    from umoci.layer.extract import LayerExtractor

    data = build([t.reg("f", b"x", uid=7, gid=7)])
    LayerExtractor(env.rootfs, ROOTLESS).apply(io.BytesIO(data))
    assert rootless_xattr.owner_from_xattr(owner(env.rootfs / "f")) == (7, 7)


def test_symlink_owner_not_recorded_quietly(env, t, caplog):
    # Linux refuses user.* xattrs on symlinks: do not try (and do not warn).
    caplog.set_level(logging.WARNING, logger="umoci")
    env.apply([t.sym("l", "target", uid=1000, gid=1000)], ROOTLESS)
    assert owner(env.rootfs / "l") is None
    assert not [r for r in caplog.records if "rootlesscontainers" in r.getMessage()]
