"""Helpers for the ``umoci copy`` tests: real images built with our own verbs, and archive tools.

:func:`two_layer_image` builds an image with two gzip layers (a directory
tree with a symlink, then a file) and a config with env and cmd, through
the CLI in-process; :func:`make_tar` writes hand-made (possibly hostile)
archives byte by byte with :mod:`tarfile`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from umoci.cli import main

REF_NAME = "org.opencontainers.image.ref.name"


def umoci_ok(*argv: str | Path) -> None:
    status = main([str(a) for a in argv])
    assert status == 0, f"umoci {' '.join(map(str, argv))} exited {status}"


def copy_fails(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> str:
    """Run ``umoci copy ARGV``; it must fail with exactly one stderr line: return it."""
    capsys.readouterr()
    status = main(["copy", *(str(a) for a in argv)])
    out, err = capsys.readouterr()
    assert status == 1, f"exit {status}: {err}"
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("umoci: copy: "), lines[0]
    assert "Traceback" not in err
    return lines[0]


def two_layer_image(tmp_path: Path, layout: Path, tag: str = "latest") -> Path:
    """*layout* (created if missing) with *tag*: two layers and a config with env and cmd."""
    if not layout.exists():
        umoci_ok("init", "--layout", layout)
    umoci_ok("new", "--image", f"{layout}:{tag}")
    tree = tmp_path / f"tree-{tag}"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "hello").write_text(f"hello from {tag}\n")
    (tree / "etc" / "link").symlink_to("hello")
    umoci_ok("insert", "--image", f"{layout}:{tag}", tree, "/")
    extra = tmp_path / f"extra-{tag}"
    extra.write_bytes(os.urandom(64 << 10))  # incompressible: layers of some size
    umoci_ok("insert", "--image", f"{layout}:{tag}", extra, "/extra")
    umoci_ok(
        "config", "--image", f"{layout}:{tag}", "--config.env", "A=1", "--config.cmd", "/bin/sh"
    )
    return layout


def index_json(layout: Path) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((layout / "index.json").read_bytes())
    return value


def entry(layout: Path, tag: str) -> dict[str, Any]:
    (found,) = [
        d for d in index_json(layout)["manifests"] if d.get("annotations", {}).get(REF_NAME) == tag
    ]
    return found


def blob_path(layout: Path, digest: str) -> Path:
    algorithm, _, encoded = digest.partition(":")
    return layout / "blobs" / algorithm / encoded


def read_blob(layout: Path, digest: str) -> Any:
    return json.loads(blob_path(layout, digest).read_bytes())


def manifest(layout: Path, tag: str) -> dict[str, Any]:
    value: dict[str, Any] = read_blob(layout, entry(layout, tag)["digest"])
    return value


def diff_ids(layout: Path, tag: str) -> list[str]:
    config = read_blob(layout, manifest(layout, tag)["config"]["digest"])
    return list(config["rootfs"]["diff_ids"])


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tree(root: Path) -> dict[str, bytes | str]:
    """Every path below *root*: file bytes, link targets, or "dir" (to compare before/after)."""
    out: dict[str, bytes | str] = {}
    if not root.exists():
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = "symlink:" + os.readlink(path)
            elif path.is_file():
                out[rel] = path.read_bytes()
            else:
                out[rel] = "dir"
    return out


def tar_names(path: Path) -> list[str]:
    with tarfile.open(path) as archive:
        return archive.getnames()


def tar_member(path: Path, name: str) -> bytes:
    with tarfile.open(path) as archive:
        f = archive.extractfile(name)
        assert f is not None, name
        return f.read()


def make_tar(path: Path, entries: list[tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]]) -> Path:
    """Write *entries* (headers, with data for files) as a tar file at *path*."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as archive:
        for item in entries:
            if isinstance(item, tuple):
                info, data = item
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
            else:
                archive.addfile(item)
    return path


def file_info(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    return info


def link_info(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def gunzip(data: bytes) -> bytes:
    return gzip.decompress(data)


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed (scripts/test installs it with apt)"
    return path


def run(*argv: str | Path, stdin: bytes | None = None) -> str:
    proc = subprocess.run(
        [str(a) for a in argv], input=stdin, capture_output=True, check=False, timeout=300
    )
    assert proc.returncode == 0, f"{argv}: {proc.stderr.decode(errors='replace')}"
    return proc.stdout.decode(errors="replace")


class Podman:
    """podman with a private vfs store under one directory (nothing of the host's is touched)."""

    def __init__(self, root: Path) -> None:
        exe = shutil.which("podman")
        if exe is None:
            pytest.skip("podman is not installed (scripts/test installs it with apt)")
        if os.geteuid() != 0:
            pytest.skip("podman's vfs storage is used as root here")
        self.root = root
        self.argv = [
            exe,
            "--storage-driver",
            "vfs",
            "--root",
            str(root / "storage"),
            "--runroot",
            str(root / "run"),
            "--tmpdir",
            str(root / "tmp"),
            "--events-backend",
            "none",
            "--cgroup-manager",
            "cgroupfs",
        ]

    def __call__(self, *argv: str | Path) -> str:
        return run(*self.argv, *argv)

    def inspect(self, image: str) -> dict[str, Any]:
        (value,) = json.loads(self("image", "inspect", image))
        assert isinstance(value, dict)
        return value


@pytest.fixture
def podman() -> Iterator[Podman]:
    # Not under tmp_path: podman refuses a run root longer than 50 characters.
    root = Path(tempfile.mkdtemp(prefix="umoci-podman-"))
    try:
        yield Podman(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def podman_service() -> Iterator[tuple[Podman, str]]:
    """podman's Docker-compatible API on a unix socket: (the podman of its store, DOCKER_HOST)."""
    root = Path(tempfile.mkdtemp(prefix="umoci-podman-"))
    engine = Podman(root)
    socket_path = root / "api.sock"
    service = subprocess.Popen(
        [*engine.argv, "system", "service", "--time=0", f"unix://{socket_path}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not _answers(socket_path):
            if service.poll() is not None or time.monotonic() > deadline:
                stderr = service.stderr.read() if service.stderr else b""
                pytest.fail(f"podman system service did not start: {stderr.decode()}")
            time.sleep(0.1)
        yield engine, f"unix://{socket_path}"
    finally:
        service.terminate()
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()
        if service.stderr is not None:
            service.stderr.close()
        shutil.rmtree(root, ignore_errors=True)


def _answers(socket_path: Path) -> bool:
    """Does the engine API at *socket_path* answer ``GET /_ping``?"""
    if not socket_path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.settimeout(5)
            sock.connect(str(socket_path))
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: localhost\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.")
        except OSError:
            return False
