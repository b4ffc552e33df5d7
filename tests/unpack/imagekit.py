"""Images built in the test: tar layers → blobs, config, manifest, index.json.

Not a conftest.py on purpose (see tests/layer/layerkit.py).  Test modules in
tests/unpack import it as ``imagekit``; tests elsewhere (tests/cli, which
also runs as an unprivileged user) import it as ``unpack.imagekit``.

The layout is written here byte by byte, without the code under test, so a
bug in our own layout writer cannot hide a bug in unpack.  Also here: the
CLI runner, the Go umoci runner, and tree snapshots that compare two
unpacked rootfs trees (type, mode, owner, size, content, xattrs, link
targets, device numbers, hardlink groups, mtimes in ns).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import zstandard

from umoci.cli import main

OCI_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
ND_TAR = "application/vnd.oci.image.layer.nondistributable.v1.tar"
ND_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
ND_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
DOCKER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"

ALL_LAYER_TYPES = (
    OCI_TAR,
    OCI_GZIP,
    OCI_ZSTD,
    ND_TAR,
    ND_GZIP,
    ND_ZSTD,
    DOCKER_GZIP,
    DOCKER_FOREIGN_GZIP,
)

GO_UMOCI = "/usr/bin/umoci"  # Debian's umoci (0.4.7), installed by scripts/test

MTIME = 1_600_000_000


# -- tar entries -------------------------------------------------------------------


@dataclass
class Entry:
    """One tar entry: a TarInfo plus its data (regular files only)."""

    info: tarfile.TarInfo
    data: bytes | None = None


def _info(name: str, kind: bytes, attrs: dict[str, Any]) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mtime = MTIME
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    pax = dict(attrs.pop("pax", {}))
    for key, value in attrs.pop("xattrs", {}).items():
        pax[f"SCHILY.xattr.{key}"] = value.decode("utf-8", "surrogateescape")
    if "mtime_ns" in attrs:
        ns = attrs.pop("mtime_ns")
        info.mtime = ns // 1_000_000_000
        pax["mtime"] = f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"
    for key, value in attrs.items():
        setattr(info, key, value)
    info.pax_headers = pax
    return info


class T:
    """Entry constructors: ``T.reg("a", b"data", mode=0o600, xattrs={...}, mtime_ns=...)``."""

    @staticmethod
    def reg(name: str, data: bytes = b"", **attrs: Any) -> Entry:
        info = _info(name, tarfile.REGTYPE, attrs)
        info.size = len(data)
        return Entry(info, data)

    @staticmethod
    def dir(name: str, **attrs: Any) -> Entry:
        return Entry(_info(name, tarfile.DIRTYPE, attrs))

    @staticmethod
    def sym(name: str, target: str, **attrs: Any) -> Entry:
        attrs.setdefault("mode", 0o777)
        return Entry(_info(name, tarfile.SYMTYPE, {"linkname": target, **attrs}))

    @staticmethod
    def hard(name: str, target: str, **attrs: Any) -> Entry:
        return Entry(_info(name, tarfile.LNKTYPE, {"linkname": target, **attrs}))

    @staticmethod
    def chr(name: str, major: int, minor: int, **attrs: Any) -> Entry:
        return Entry(_info(name, tarfile.CHRTYPE, {"devmajor": major, "devminor": minor, **attrs}))

    @staticmethod
    def blk(name: str, major: int, minor: int, **attrs: Any) -> Entry:
        return Entry(_info(name, tarfile.BLKTYPE, {"devmajor": major, "devminor": minor, **attrs}))

    @staticmethod
    def fifo(name: str, **attrs: Any) -> Entry:
        return Entry(_info(name, tarfile.FIFOTYPE, attrs))

    @staticmethod
    def wh(name: str) -> Entry:
        """A whiteout marker (an empty regular file; its type does not matter)."""
        return T.reg(name)


def build_tar(entries: Iterable[Entry], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for e in entries:
            tf.addfile(e.info, io.BytesIO(e.data) if e.data is not None else None)
    return buf.getvalue()


# -- images ------------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def compress(tar: bytes, media_type: str) -> bytes:
    if media_type.endswith(("+gzip", ".gzip")):
        return gzip.compress(tar, mtime=0)
    if media_type.endswith("+zstd"):
        return zstandard.ZstdCompressor().compress(tar)
    return tar  # plain tar, and any media type we do not know


@dataclass
class Layer:
    """A layer to write: its tar, media type, and optional deliberate faults."""

    tar: bytes
    media_type: str = OCI_TAR
    blob: bytes | None = None  # the blob bytes; default: tar compressed per media type
    size: int | None = None  # descriptor size; default: len(blob)
    diff_id: str | None = None  # config diff_id; default: sha256 of tar
    path: Path | None = None  # a (large) blob file to copy instead; needs diff_id

    def blob_bytes(self) -> bytes:
        return compress(self.tar, self.media_type) if self.blob is None else self.blob


@dataclass
class Image:
    """What :func:`write_image` wrote."""

    layout: Path
    tag: str
    manifest_digest: str
    config_digest: str
    layer_digests: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.layout}:{self.tag}"

    @property
    def mtree_name(self) -> str:
        return f"sha256_{self.manifest_digest.removeprefix('sha256:')}.mtree"

    def blob_path(self, digest: str) -> Path:
        return blob_path(self.layout, digest)


def blob_path(layout: Path, digest: str) -> Path:
    algo, _, hexd = digest.partition(":")
    return layout / "blobs" / algo / hexd


def write_blob(layout: Path, data: bytes) -> str:
    digest = sha256(data)
    path = blob_path(layout, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def copy_blob(layout: Path, source: Path) -> tuple[str, int]:
    """Copy a blob file into the layout without reading it into memory."""
    digest = file_sha256(source)
    path = blob_path(layout, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, path)
    return digest, path.stat().st_size


def _json(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def write_image(
    layout: Path,
    layers: Sequence[Layer | bytes],
    *,
    config: dict[str, Any] | None = None,
    tag: str = "latest",
    docker: bool = False,
    diff_ids: list[str] | None = None,
) -> Image:
    """Write a one-manifest image into *layout* (created if missing) and tag it.

    *layers* are tar bytes (written as plain tar layers) or :class:`Layer` s;
    *config* is the image config's ``config`` object.  ``docker=True`` writes
    a Docker schema-2 manifest and config instead of OCI ones.  *diff_ids*
    overrides the config's list (to make it disagree with the layers).
    """
    layout.mkdir(parents=True, exist_ok=True)
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    specs = [x if isinstance(x, Layer) else Layer(x) for x in layers]
    descriptors = []
    for spec in specs:
        if spec.path is not None:
            assert spec.diff_id is not None, "a file-backed layer needs its diff_id"
            digest, blob_size = copy_blob(layout, spec.path)
        else:
            blob = spec.blob_bytes()
            digest, blob_size = write_blob(layout, blob), len(blob)
        size = blob_size if spec.size is None else spec.size
        descriptors.append({"mediaType": spec.media_type, "digest": digest, "size": size})
    image_config = {
        "created": "2020-01-01T00:00:00Z",
        "architecture": "amd64",
        "os": "linux",
        "config": config if config is not None else {},
        "rootfs": {
            "type": "layers",
            "diff_ids": diff_ids
            if diff_ids is not None
            else [s.diff_id or sha256(s.tar) for s in specs],
        },
        "history": [{"created_by": f"layer {i}"} for i in range(len(specs))],
    }
    config_blob = _json(image_config)
    config_digest = write_blob(layout, config_blob)
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
        "config": {
            "mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
            "digest": config_digest,
            "size": len(config_blob),
        },
        "layers": descriptors,
    }
    manifest_blob = _json(manifest)
    manifest_digest = write_blob(layout, manifest_blob)
    index_path = layout / "index.json"
    index = (
        json.loads(index_path.read_bytes())
        if index_path.exists()
        else {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json"}
    )
    manifests = [
        m
        for m in index.get("manifests", [])
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != tag
    ]
    manifests.append(
        {
            "mediaType": manifest["mediaType"],
            "digest": manifest_digest,
            "size": len(manifest_blob),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }
    )
    index["manifests"] = manifests
    index_path.write_bytes(_json(index))
    return Image(layout, tag, manifest_digest, config_digest, [d["digest"] for d in descriptors])


def image_of(
    layout: Path, *layers: Iterable[Entry], media_type: str = OCI_TAR, **kwargs: Any
) -> Image:
    """An image whose layers are built from entry lists, all of one media type."""
    return write_image(
        layout, [Layer(build_tar(entries), media_type) for entries in layers], **kwargs
    )


# -- running umoci -----------------------------------------------------------------


@dataclass
class Result:
    status: int
    out: str
    err: str


def umoci(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> Result:
    """Our CLI, in-process."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return Result(status, out, err)


def unpack_ok(capsys: pytest.CaptureFixture[str], image: Image, bundle: Path, *flags: str) -> Path:
    res = umoci(capsys, "unpack", *flags, "--image", image.ref, bundle)
    assert res.status == 0, res.err
    return bundle / "rootfs"


def unpack_fails(
    capsys: pytest.CaptureFixture[str], image: Image, bundle: Path, *flags: str
) -> str:
    """Unpack must fail with one ``umoci: unpack: ...`` line and leave no bundle."""
    existed = bundle.is_dir()
    res = umoci(capsys, "unpack", *flags, "--image", image.ref, bundle)
    assert res.status == 1, f"unpack succeeded: {res.err}"
    assert res.err.startswith("umoci: unpack: "), res.err
    assert res.err.endswith("\n"), res.err
    assert res.err.count("\n") == 1, res.err
    assert res.out == ""
    if existed:
        assert bundle.is_dir(), "an existing empty bundle directory must be kept"
        assert os.listdir(bundle) == [], "an existing bundle directory must be left empty"
    else:
        assert not os.path.lexists(bundle), "a failed unpack left its bundle behind"
    return res.err.removeprefix("umoci: unpack: ").rstrip("\n")


def go_umoci(
    *args: str | Path, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """The Debian Go umoci; with *check*, fails the test with its stderr if it fails."""
    assert os.path.exists(GO_UMOCI), (
        f"{GO_UMOCI} is missing: differential tests need the Go umoci (apt-get install umoci)"
    )
    proc = subprocess.run(
        [GO_UMOCI, *map(str, args)], capture_output=True, text=True, check=False, cwd=cwd
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


# -- trees -------------------------------------------------------------------------


def xattrs(path: str | Path) -> dict[str, bytes]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:  # symlinks on some filesystems
        return {}
    out: dict[str, bytes] = {}
    for name in sorted(names):
        try:
            out[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError:  # security.* unreadable
            continue
    return out


@dataclass(frozen=True)
class Node:
    kind: str
    mode: int  # st_mode permission bits (with setuid/setgid/sticky)
    uid: int
    gid: int
    size: int | None  # regular files and symlinks only (directory sizes are the fs's)
    digest: str | None  # sha256 of regular file content
    link: str | None  # symlink target
    rdev: tuple[int, int] | None
    xattrs: tuple[tuple[str, bytes], ...]
    mtime_ns: int
    links: tuple[str, ...]  # every path sharing this inode (hardlink group), sorted


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISREG, "file"),
        (stat.S_ISDIR, "dir"),
        (stat.S_ISLNK, "symlink"),
        (stat.S_ISCHR, "char"),
        (stat.S_ISBLK, "block"),
        (stat.S_ISFIFO, "fifo"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return name
    raise AssertionError(f"unknown file type {mode:o}")


def tree(root: str | Path, *, mtimes: bool = True) -> dict[str, Node]:
    """Every entry under *root* (root itself as ``.``), keyed by relative path (bytes-safe)."""
    root_s = os.fsencode(root)
    entries: dict[str, os.stat_result] = {}
    groups: dict[tuple[int, int], list[str]] = {}
    # topdown walk; directories without permission for us are still listed (root).
    for dirpath, dirnames, filenames in os.walk(root_s):
        names = [dirpath] + [os.path.join(dirpath, n) for n in dirnames + filenames]
        for p in names:
            rel = os.fsdecode(os.path.relpath(p, root_s))
            if rel in entries:
                continue
            st = os.lstat(p)
            entries[rel] = st
            if not stat.S_ISDIR(st.st_mode):
                groups.setdefault((st.st_dev, st.st_ino), []).append(rel)
    out: dict[str, Node] = {}
    for rel, st in entries.items():
        path = os.path.join(root_s, os.fsencode(rel))
        kind = _kind(st.st_mode)
        digest = None
        if kind == "file":
            h = hashlib.sha256()
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            digest = h.hexdigest()
        out[rel] = Node(
            kind=kind,
            mode=stat.S_IMODE(st.st_mode),
            uid=st.st_uid,
            gid=st.st_gid,
            size=st.st_size if kind in ("file", "symlink") else None,
            digest=digest,
            link=os.fsdecode(os.readlink(path)) if kind == "symlink" else None,
            rdev=(os.major(st.st_rdev), os.minor(st.st_rdev))
            if kind in ("char", "block")
            else None,
            xattrs=tuple(xattrs(path).items()),
            mtime_ns=st.st_mtime_ns if mtimes else 0,
            links=tuple(sorted(groups.get((st.st_dev, st.st_ino), [rel]))),
        )
    return out


def diff_trees(ours: dict[str, Node], theirs: dict[str, Node]) -> list[str]:
    """Human-readable differences (empty when the trees are identical)."""
    problems = [f"only in ours: {p}" for p in sorted(ours.keys() - theirs.keys())]
    problems += [f"only in theirs: {p}" for p in sorted(theirs.keys() - ours.keys())]
    for p in sorted(ours.keys() & theirs.keys()):
        a, b = ours[p], theirs[p]
        for name in a.__dataclass_fields__:
            if getattr(a, name) != getattr(b, name):
                problems.append(f"{p}: {name}: ours {getattr(a, name)!r} != {getattr(b, name)!r}")
    return problems


def same_trees(ours: Path, theirs: Path, implicit: Iterable[str] = ()) -> None:
    """Two bundles' rootfs trees are identical (mtimes of *implicit* paths aside)."""
    a, b = tree(ours / "rootfs"), tree(theirs / "rootfs")
    for path in implicit:
        a[path] = replace(a[path], mtime_ns=0)
        b[path] = replace(b[path], mtime_ns=0)
    assert diff_trees(a, b) == []


def _sorted_xattrs(line: bytes) -> bytes:
    # Both list xattrs in listxattr(2) order, which is the order they were
    # set in; the Go umoci sets them from a Go map, so in random order.
    words = line.split(b" ")
    slots = [i for i, w in enumerate(words) if w.startswith(b"xattr.")]
    for i, w in zip(slots, sorted(words[i] for i in slots), strict=True):
        words[i] = w
    return b" ".join(words)


def mtree_body(bundle: Path) -> list[bytes]:
    """A bundle's mtree past its user, machine, tree and date lines, xattr keywords sorted."""
    (path,) = bundle.glob("sha256_*.mtree")
    return [_sorted_xattrs(line) for line in path.read_bytes().splitlines()[4:]]


# Annotations 0.4.7 writes even when empty (0.6 omits an empty value).
GO_EMPTY_ANNOTATIONS = (
    "org.opencontainers.image.author",
    "org.opencontainers.image.exposedPorts",
    "org.opencontainers.image.stopSignal",
)


def comparable_config(config: dict[str, Any], *, go: bool) -> dict[str, Any]:
    """The parts of config.json the Go umoci 0.4.7 and 0.6 (we) agree on.

    See tests/unpack/test_unpack_goumoci.py for the list of differences.
    """
    out = dict(config)
    assert out.pop("ociVersion") == ("1.0.0" if go else "1.3.0")
    out["linux"] = dict(out["linux"])
    out["linux"]["namespaces"] = [n for n in out["linux"]["namespaces"] if n["type"] != "cgroup"]
    # 0.4.7 emits the volume mounts in Go map order (random); 0.6 sorts them.
    volumes = [m for m in out["mounts"] if m["type"] == "tmpfs" and m["source"] == "none"]
    if not go:
        assert volumes == sorted(volumes, key=lambda m: m["destination"])
    others = [m for m in out["mounts"] if m not in volumes]
    out["mounts"] = others + sorted(volumes, key=lambda m: m["destination"])
    out["annotations"] = {
        k: v for k, v in out["annotations"].items() if v or k not in GO_EMPTY_ANNOTATIONS
    }
    return out


def load_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_bytes())
    return data


# -- sentinels ---------------------------------------------------------------------


def make_sentinel(base: Path) -> Path:
    """A host tree that escapes would hit: files, a dir, an etc/passwd."""
    outside = base / "outside"
    (outside / "sub").mkdir(parents=True)
    (outside / "file").write_bytes(b"host content")
    (outside / "sub" / "deep").write_bytes(b"deep host content")
    (outside / "etc").mkdir()
    (outside / "etc" / "passwd").write_bytes(b"host passwd")
    (base / "file").write_bytes(b"host file next to the bundle")
    return outside


def snapshot_outside(base: Path, bundle: Path) -> dict[str, tuple[int, int, int, int, str]]:
    """Everything under *base* except *bundle*: (mode, nlink, size, mtime, content/link).

    *base* itself is left out (creating the bundle changes its mtime and link
    count); anything new in it shows up as a new key.
    """
    out: dict[str, tuple[int, int, int, int, str]] = {}
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if Path(dirpath, d) != bundle]
        this = [] if Path(dirpath) == base else ["."]
        for name in [*dirnames, *filenames, *this]:
            p = Path(dirpath, name)
            st = p.lstat()
            if p.is_symlink():
                detail = os.readlink(p)
            elif p.is_file():
                detail = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                detail = ""
            rel = str(p.relative_to(base))
            out[rel] = (st.st_mode, st.st_nlink, st.st_size, st.st_mtime_ns, detail)
    return out


#: What ``umoci unpack`` writes into a bundle, beside ``sha256_<manifest>.mtree``.
BUNDLE_FILES = frozenset({"rootfs", "config.json", "umoci.json"})
#: Ours alone (the Go umoci has no such file): repack's stat cache.
OPTIONAL_BUNDLE_FILES = frozenset({"umoci-statcache"})


def check_bundle_files(bundle: Path, image: Image) -> None:
    """The bundle holds exactly the expected files (nothing a layer smuggled in)."""
    names = set(os.listdir(bundle))
    assert names - OPTIONAL_BUNDLE_FILES == {*BUNDLE_FILES, image.mtree_name}
