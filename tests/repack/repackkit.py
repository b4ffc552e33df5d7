"""Helpers for the repack/insert/add-layer tests: base images, layer readers, tree snapshots.

Not a conftest.py on purpose (a second conftest would shadow ``from
conftest import ...``).  Modules in tests/repack import it as
``repackkit``; tests/cli (which also runs as an unprivileged user) imports
it as ``repack.repackkit``.

Base images are written here byte by byte (tar built with :mod:`tarfile`,
JSON by hand), and new layers are read back with :mod:`tarfile` after
decompressing them by media type, so the code under test checks neither
its own input nor its own output.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import stat
import subprocess
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import zstandard

from umoci.cli import main

GO_UMOCI = "/usr/bin/umoci"  # Debian's umoci 0.4.7, installed by scripts/test

OCI_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"
SIZE_ANNOTATION = "ci.umo.uncompressed_blob_size"

#: Every mtime in the base images (and what tests set changed parents back to).
MTIME = 1_600_000_000


# -- the CLI, in-process -------------------------------------------------------------


def umoci(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def ok(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> str:
    status, out, err = umoci(capsys, *argv)
    assert status == 0, err
    return out


def fail(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> str:
    """Run a command that must fail the umoci way: status 1, one stderr line, no traceback."""
    status, out, err = umoci(capsys, *argv)
    assert status == 1, (out, err)
    assert len(err.splitlines()) == 1, err
    assert err.startswith("umoci: "), err
    assert "Traceback" not in err
    return err


def go_umoci(*argv: str | Path) -> str:
    """Run the Go umoci; fail the test with its stderr if it fails."""
    proc = subprocess.run(
        [GO_UMOCI, *(str(a) for a in argv)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# -- tar entries for base layers -------------------------------------------------------


def _info(name: str, kind: bytes, mode: int, **attrs: Any) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = MTIME
    xattrs: dict[str, bytes] = attrs.pop("xattrs", {})
    for key, value in attrs.items():
        setattr(info, key, value)
    info.pax_headers = {
        f"SCHILY.xattr.{key}": value.decode("utf-8", "surrogateescape")
        for key, value in xattrs.items()
    }
    return info


@dataclass
class T:
    """One entry of a base layer; build with the constructors below."""

    info: tarfile.TarInfo
    data: bytes | None = None

    @classmethod
    def reg(cls, name: str, data: bytes = b"", mode: int = 0o644, **attrs: Any) -> T:
        info = _info(name, tarfile.REGTYPE, mode, **attrs)
        info.size = len(data)
        return cls(info, data)

    @classmethod
    def dir(cls, name: str, mode: int = 0o755, **attrs: Any) -> T:
        return cls(_info(name, tarfile.DIRTYPE, mode, **attrs))

    @classmethod
    def sym(cls, name: str, target: str, **attrs: Any) -> T:
        return cls(_info(name, tarfile.SYMTYPE, 0o777, linkname=target, **attrs))

    @classmethod
    def hard(cls, name: str, target: str, **attrs: Any) -> T:
        return cls(_info(name, tarfile.LNKTYPE, 0o644, linkname=target, **attrs))


def tar_bytes(entries: Iterable[T]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            tar.addfile(entry.info, io.BytesIO(entry.data) if entry.data is not None else None)
    return buf.getvalue()


#: The tree most tests start from: every kind of entry a change can hit.
BASE_TREE: list[T] = [
    T.dir("etc"),
    T.reg("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n"),
    T.reg("etc/group", b"root:x:0:\nuser:x:1000:\n"),
    T.reg("etc/hostname", b"base\n"),
    T.reg("etc/motd", b"welcome\n"),
    T.reg("etc/shadow", b"root:*:1::::::\n", mode=0o600),
    T.dir("home"),
    T.dir("home/user", mode=0o700, uid=1000, gid=1000),
    T.reg("home/user/.profile", b"PS1='$ '\n", uid=1000, gid=1000),
    T.dir("opt"),
    T.dir("opt/tree"),
    T.reg("opt/tree/x", b"x\n"),
    T.dir("opt/tree/a"),
    T.reg("opt/tree/a/1", b"1\n"),
    T.dir("opt/tree/a/b"),
    T.reg("opt/tree/a/b/2", b"2\n"),
    T.sym("opt/tree/a/b/up", "../.."),
    T.dir("srv"),
    T.reg("srv/file", b"a file\n"),
    T.dir("srv/dir"),
    T.reg("srv/dir/child", b"child\n"),
    T.sym("srv/link", "file"),
    T.reg("srv/xattrs", b"has xattrs\n", xattrs={"user.base": b"1", "user.other": b"o"}),
    T.dir("usr"),
    T.dir("usr/bin"),
    T.reg("usr/bin/tool", b"#!/bin/sh\necho tool\n", mode=0o755),
    T.hard("usr/bin/tool-alias", "usr/bin/tool"),
    T.dir("usr/lib"),
    T.reg("usr/lib/libfoo.so.1", b"\x7fELF not really\n", mode=0o755),
    T.sym("usr/lib/libfoo.so", "libfoo.so.1"),
    T.dir("data"),
    T.reg("data/seed", b"seed\n"),
    T.dir("var"),
    T.dir("var/log"),
    T.reg("var/log/old.log", b"old\n"),
]


# -- layouts written by hand ------------------------------------------------------------


def _compress(data: bytes, media_type: str) -> bytes:
    if media_type == OCI_GZIP:
        return gzip.compress(data, mtime=0)
    if media_type == OCI_ZSTD:
        return zstandard.ZstdCompressor().compress(data)
    assert media_type == OCI_TAR, media_type
    return data


def _put(layout: Path, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return "sha256:" + digest


def write_image(
    layout: Path,
    tag: str,
    layers: Iterable[tuple[bytes, str]] = ((tar_bytes(BASE_TREE), OCI_GZIP),),
    *,
    config: dict[str, Any] | None = None,
) -> None:
    """Add an image tagged ``tag`` to ``layout`` (created if missing).

    ``layers`` are (uncompressed tar, layer media type) pairs; ``config``
    is the image config's ``config`` object (``Volumes`` and so on).
    """
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    layer_descriptors, diff_ids = [], []
    for tar, media_type in layers:
        blob = _compress(tar, media_type)
        layer_descriptors.append(
            {"mediaType": media_type, "digest": _put(layout, blob), "size": len(blob)}
        )
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
    config_blob = json.dumps(
        {
            "created": "2020-09-13T12:26:40Z",
            "architecture": "amd64",
            "os": "linux",
            "config": config or {},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [
                {"created": "2020-09-13T12:26:40Z", "created_by": f"base layer {i}"}
                for i in range(len(diff_ids))
            ],
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG,
                "digest": _put(layout, config_blob),
                "size": len(config_blob),
            },
            "layers": layer_descriptors,
        }
    ).encode()
    index_path = layout / "index.json"
    index: dict[str, Any] = (
        json.loads(index_path.read_text())
        if index_path.exists()
        else {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json"}
    )
    entries = [
        d for d in index.get("manifests", []) if d.get("annotations", {}).get(REF_NAME) != tag
    ]
    entries.append(
        {
            "mediaType": OCI_MANIFEST,
            "digest": _put(layout, manifest),
            "size": len(manifest),
            "annotations": {REF_NAME: tag},
        }
    )
    index["manifests"] = entries
    index_path.write_text(json.dumps(index))


# -- reading images back without the code under test -------------------------------------


def blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()


def tags(layout: Path) -> dict[str, str]:
    """Tag -> manifest digest, straight from index.json."""
    index = json.loads((layout / "index.json").read_text())
    return {d["annotations"][REF_NAME]: d["digest"] for d in index["manifests"]}


def manifest(layout: Path, tag: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(blob(layout, tags(layout)[tag]))
    return result


def config(layout: Path, tag: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(blob(layout, manifest(layout, tag)["config"]["digest"]))
    return result


def layers(layout: Path, tag: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = manifest(layout, tag)["layers"]
    return result


def uncompressed(layout: Path, descriptor: dict[str, Any]) -> bytes:
    """A layer blob decompressed per its media type."""
    data = blob(layout, descriptor["digest"])
    media_type = descriptor["mediaType"]
    if media_type.endswith("+gzip"):
        return gzip.decompress(data)
    if media_type.endswith("+zstd"):
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    assert media_type.endswith(".tar"), media_type
    return data


_TYPES = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
    tarfile.CHRTYPE: "char",
    tarfile.BLKTYPE: "block",
    tarfile.FIFOTYPE: "fifo",
}


@dataclass(frozen=True)
class Rec:
    """One entry of a layer as tarfile reads it."""

    name: str
    type: str
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    data: bytes | None = None
    link: str = ""
    xattrs: dict[str, bytes] = field(default_factory=dict)
    dev: tuple[int, int] | None = None
    mtime: float = 0


def entries_of(tar: bytes) -> list[Rec]:
    out = []
    with tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as archive:
        for info in archive:
            data = None
            if info.isreg():
                reader = archive.extractfile(info)
                assert reader is not None
                data = reader.read()
            xattrs = {
                key.removeprefix("SCHILY.xattr."): value.encode("utf-8", "surrogateescape")
                for key, value in info.pax_headers.items()
                if key.startswith("SCHILY.xattr.")
            }
            raw_name = info.name + ("/" if info.isdir() and info.name != "." else "")
            out.append(
                Rec(
                    name=raw_name,
                    type=_TYPES[info.type],
                    mode=info.mode,
                    uid=info.uid,
                    gid=info.gid,
                    data=data,
                    link=info.linkname,
                    xattrs=xattrs,
                    dev=(info.devmajor, info.devminor) if info.ischr() or info.isblk() else None,
                    mtime=info.mtime,
                )
            )
    return out


def layer_entries(layout: Path, descriptor: dict[str, Any]) -> list[Rec]:
    return entries_of(uncompressed(layout, descriptor))


def top_entries(layout: Path, tag: str) -> list[Rec]:
    """The entries of the newest layer of ``tag``."""
    return layer_entries(layout, layers(layout, tag)[-1])


def by_name(entries: Iterable[Rec]) -> dict[str, Rec]:
    return {e.name: e for e in entries}


def layout_state(layout: Path) -> tuple[bytes, list[str]]:
    """index.json and any temporary directories: what a failed write must leave alone."""
    return (layout / "index.json").read_bytes(), sorted(
        p.name for p in layout.iterdir() if p.name.startswith(".umoci-")
    )


# -- bundles -------------------------------------------------------------------------------


@contextlib.contextmanager
def same_mtimes(rootfs: Path, *rels: str) -> Iterator[None]:
    """Put back the mtimes of ``rels`` (parents of what a test changes) when the block ends.

    Keeps a layer's expected entries exact: a directory whose only change
    is its mtime (a child added or removed) is not in it.  A directory
    that gained or lost a subdirectory still is (its ``nlink`` changed).
    """
    saved = {rel: (rootfs / rel).lstat().st_mtime_ns for rel in rels}
    yield
    for rel, ns in saved.items():
        os.utime(rootfs / rel, ns=(ns, ns), follow_symlinks=False)


@dataclass(frozen=True)
class Node:
    """What two trees must agree on, per path."""

    type: str
    mode: int
    uid: int
    gid: int
    size: int | None = None
    sha256: str | None = None
    link: str | None = None
    xattrs: tuple[tuple[str, bytes], ...] = ()
    rdev: int | None = None


def _xattrs(path: Path) -> tuple[tuple[str, bytes], ...]:
    names = os.listxattr(path, follow_symlinks=False)
    return tuple(
        sorted(
            (name, os.getxattr(path, name, follow_symlinks=False))
            for name in names
            if not name.startswith("security.")  # host labels, not image content
        )
    )


def tree(root: Path) -> dict[str, Node]:
    """Each path under ``root`` (``.`` too): type, mode, owner, size, content, link, xattrs."""
    out: dict[str, Node] = {}
    paths = [root]
    for dirpath, dirnames, filenames in os.walk(root):
        paths += [Path(dirpath) / name for name in dirnames + filenames]
    for path in paths:
        st = path.lstat()
        rel = "." if path == root else str(path.relative_to(root))
        mode, uid, gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
        xattrs = _xattrs(path)
        if stat.S_ISREG(st.st_mode):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out[rel] = Node("file", mode, uid, gid, st.st_size, digest, xattrs=xattrs)
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = Node("dir", mode, uid, gid, xattrs=xattrs)
        elif stat.S_ISLNK(st.st_mode):
            out[rel] = Node("symlink", mode, uid, gid, link=os.readlink(path), xattrs=xattrs)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            kind = "char" if stat.S_ISCHR(st.st_mode) else "block"
            out[rel] = Node(kind, mode, uid, gid, rdev=st.st_rdev, xattrs=xattrs)
        else:
            out[rel] = Node(stat.filemode(st.st_mode)[0], mode, uid, gid, xattrs=xattrs)
    return out


def tree_diff(a: dict[str, Node], b: dict[str, Node]) -> list[str]:
    """Readable differences between two :func:`tree` results (empty: same trees)."""
    lines = [f"only in first: {p}" for p in sorted(a.keys() - b.keys())]
    lines += [f"only in second: {p}" for p in sorted(b.keys() - a.keys())]
    lines += [f"{p}: {a[p]} != {b[p]}" for p in sorted(a.keys() & b.keys()) if a[p] != b[p]]
    return lines


@dataclass(frozen=True)
class Unpacked:
    """A layout with a base image tagged ``t`` and a bundle our unpack made of it."""

    layout: Path
    bundle: Path

    @property
    def rootfs(self) -> Path:
        return self.bundle / "rootfs"

    @classmethod
    def make(
        cls,
        capsys: pytest.CaptureFixture[str],
        tmp_path: Path,
        *unpack_flags: str,
        layers: Iterable[tuple[bytes, str]] = ((tar_bytes(BASE_TREE), OCI_GZIP),),
        config: dict[str, Any] | None = None,
    ) -> Unpacked:
        layout, bundle = tmp_path / "image", tmp_path / "bundle"
        write_image(layout, "t", layers, config=config)
        ok(capsys, "unpack", *unpack_flags, "--image", f"{layout}:t", bundle)
        return cls(layout, bundle)

    def repack(self, capsys: pytest.CaptureFixture[str], *flags: str | Path, tag: str = "t") -> str:
        """``umoci repack --image LAYOUT:TAG`` (``tag=""``: no tag, the bundle's default)."""
        image = f"{self.layout}:{tag}" if tag else str(self.layout)
        return ok(capsys, "repack", *flags, "--image", image, self.bundle)
