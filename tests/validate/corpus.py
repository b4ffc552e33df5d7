"""Broken layouts for ``umoci validate``, one defect each, built from one clean layout.

:func:`clean_layout` makes, with our own verbs, an image ``a`` (two gzip
layers, two history entries) and an index ``multi`` of ``a`` (amd64) and
``b`` (arm64), then ``gc --grace 0`` so nothing is left unreferenced.  Each
:data:`DEFECTS` row changes a copy in one way, keeping every other blob and
descriptor consistent (a rewritten blob replaces the old one), and names
the findings ``umoci validate --layout`` must report: exactly those.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from multikit import umoci_ok

REF = "org.opencontainers.image.ref.name"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
A = "index.json → manifests[0] (tag a)"
MULTI = "index.json → manifests[2] (tag multi)"


def clean_layout(root: Path) -> Path:
    layout = root / "layout"
    umoci_ok("init", "--layout", layout)
    for name, arch in (("a", "amd64"), ("b", "arm64")):
        umoci_ok("new", "--image", f"{layout}:{name}")
        umoci_ok("config", "--image", f"{layout}:{name}", "--architecture", arch, "--os", "linux",
                 "--no-history")  # fmt: skip
        for i in range(2 if name == "a" else 1):
            source = root / f"{name}-{i}"
            source.write_text(f"{name} layer {i}\n")
            umoci_ok("insert", "--image", f"{layout}:{name}", source, f"/file{i}")
    umoci_ok("index", "create", "--image", f"{layout}:multi", "a", "b")
    umoci_ok("gc", "--grace", "0", "--layout", layout)
    return layout


class Layout:
    """Edits of a layout that keep it consistent except where asked."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def blob(self, digest: str) -> Path:
        algorithm, _, encoded = digest.partition(":")
        return self.path / "blobs" / algorithm / encoded

    def index(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads((self.path / "index.json").read_bytes())
        return value

    def set_index(self, index: dict[str, Any]) -> None:
        (self.path / "index.json").write_text(json.dumps(index))

    def put(self, data: bytes | dict[str, Any], media_type: str) -> dict[str, Any]:
        raw = data if isinstance(data, bytes) else json.dumps(data).encode()
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        self.blob(digest).write_bytes(raw)
        return {"mediaType": media_type, "digest": digest, "size": len(raw)}

    def read(self, digest: str) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.blob(digest).read_bytes())
        return value

    def entry(self, position: int) -> dict[str, Any]:
        entry: dict[str, Any] = self.index()["manifests"][position]
        return entry

    def set_entry(self, position: int, changes: dict[str, Any]) -> None:
        index = self.index()
        index["manifests"][position].update(changes)
        self.set_index(index)

    def manifest(self, position: int = 0) -> dict[str, Any]:
        return self.read(self.entry(position)["digest"])

    def replace_manifest(self, manifest: dict[str, Any], position: int = 0) -> None:
        old = self.entry(position)["digest"]
        new = self.put(manifest, OCI_MANIFEST)
        self.set_entry(position, {"digest": new["digest"], "size": new["size"]})
        self._drop_if_unused(old)

    def config(self, position: int = 0) -> dict[str, Any]:
        return self.read(self.manifest(position)["config"]["digest"])

    def replace_config(self, config: dict[str, Any] | bytes, position: int = 0) -> None:
        manifest = self.manifest(position)
        old = manifest["config"]["digest"]
        new = self.put(config, manifest["config"]["mediaType"])
        manifest["config"].update(digest=new["digest"], size=new["size"])
        self.replace_manifest(manifest, position)
        self._drop_if_unused(old)

    def replace_layer(self, blob: bytes, diff_id: str, media_type: str = GZIP_LAYER) -> None:
        """Layer 0 of image a becomes *blob* (with the config's diff_id set to *diff_id*)."""
        manifest = self.manifest()
        old = manifest["layers"][0]["digest"]
        manifest["layers"][0] = self.put(blob, media_type)
        config = self.read(manifest["config"]["digest"])
        config["rootfs"]["diff_ids"][0] = diff_id
        old_config = manifest["config"]["digest"]
        new_config = self.put(config, manifest["config"]["mediaType"])
        manifest["config"].update(digest=new_config["digest"], size=new_config["size"])
        self.replace_manifest(manifest)
        self._drop_if_unused(old)
        self._drop_if_unused(old_config)

    def _drop_if_unused(self, digest: str) -> None:
        text = (self.path / "index.json").read_text()
        for blob in (self.path / "blobs" / "sha256").iterdir():
            if blob.is_file() and not blob.is_symlink() and digest.split(":")[1] != blob.name:
                try:
                    if digest in blob.read_text(errors="replace"):
                        return
                except OSError:
                    continue
        if digest not in text:
            self.blob(digest).unlink(missing_ok=True)


def tar_of(entries: list[tuple[str, bytes, bytes] | tuple[str, bytes, bytes, str]]) -> bytes:
    """A tar of (name, typeflag, content[, link target]) entries."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, data, *link in entries:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = link[0] if link else ""
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return buf.getvalue()


def layer_of(tar: bytes) -> tuple[bytes, str]:
    return gzip.compress(tar, mtime=0), "sha256:" + hashlib.sha256(tar).hexdigest()


Expected = list[tuple[str, str, str]]  # (level, check, where)
Defect = tuple[str, Callable[[Layout], None], Expected]


def _d(
    name: str, expected: Expected
) -> Callable[[Callable[[Layout], None]], Callable[[Layout], None]]:
    def register(fn: Callable[[Layout], None]) -> Callable[[Layout], None]:
        DEFECTS.append((name, fn, expected))
        return fn

    return register


DEFECTS: list[Defect] = []
E, W = "error", "warning"


@_d("oci-layout-missing", [(E, "oci-layout", "oci-layout")])
def _(lay: Layout) -> None:
    (lay.path / "oci-layout").unlink()


@_d("oci-layout-version", [(E, "oci-layout", "oci-layout")])
def _(lay: Layout) -> None:
    (lay.path / "oci-layout").write_text('{"imageLayoutVersion": "2.0.0"}')


@_d("index-json-missing", [(E, "index-json", "index.json")])
def _(lay: Layout) -> None:
    (lay.path / "index.json").unlink()
    for blob in (lay.path / "blobs" / "sha256").iterdir():
        blob.unlink()  # otherwise each would be an unreferenced-blob warning


@_d("index-json-not-json", [(E, "index-json", "index.json")])
def _(lay: Layout) -> None:
    (lay.path / "index.json").write_text("{not json")
    for blob in (lay.path / "blobs" / "sha256").iterdir():
        blob.unlink()


@_d("index-schema-version", [(E, "schema", "index.json")])
def _(lay: Layout) -> None:
    index = lay.index()
    index["schemaVersion"] = 3
    lay.set_index(index)


@_d("manifest-media-type-disagrees", [(E, "media-type", A)])
def _(lay: Layout) -> None:
    manifest = lay.manifest()
    manifest["mediaType"] = "application/vnd.docker.distribution.manifest.v2+json"
    lay.replace_manifest(manifest)


@_d("manifest-with-manifests-field", [(E, "media-type", A)])
def _(lay: Layout) -> None:
    manifest = lay.manifest()
    manifest["manifests"] = []
    lay.replace_manifest(manifest)


# (Image a stays reachable through the index "multi" in the digest cases.)
# Documents read as the Go umoci reads them (umoci.oci.decode): keys match
# case-insensitively, so a capitalised key is the field -- a finding where the
# field is wrong, and a warning that strict readers miss it.
# Each spelling that is not the field's own is one warning, and a field given
# twice another.
@_d("manifest-media-type-capitalised", [(E, "media-type", A), (W, "schema", A), (W, "schema", A)])
def _(lay: Layout) -> None:
    manifest = lay.manifest()
    manifest["MediaType"] = OCI_INDEX  # after "mediaType": the later one wins
    lay.replace_manifest(manifest)


@_d("manifest-with-Manifests-field", [(E, "media-type", A), (W, "schema", A)])
def _(lay: Layout) -> None:
    manifest = lay.manifest()
    manifest["Manifests"] = None  # present, even as null: 0.6 refuses it
    lay.replace_manifest(manifest)


@_d(
    "descriptor-type-under-another-spelling",
    [(E, "schema", A), (W, "schema", A), (W, "schema", A)],
)
def _(lay: Layout) -> None:
    manifest = lay.manifest()
    manifest["subject"] = dict(manifest["config"], SIZE="7")  # the schema sees no "SIZE"
    lay.replace_manifest(manifest)


@_d("config-key-given-twice", [(W, "schema", A + " → config")])
def _(lay: Layout) -> None:
    text = json.dumps(lay.config())
    assert text.endswith("}")
    lay.replace_config((text[:-1] + ', "os": "linux"}').encode())


@_d("digest-grammar", [(E, "digest", A)])
def _(lay: Layout) -> None:
    lay.set_entry(0, {"digest": "sha256:NOT-HEX"})


@_d("digest-algorithm", [(E, "digest", A)])
def _(lay: Layout) -> None:
    lay.set_entry(0, {"digest": "md5:" + "0" * 32})


@_d("blob-missing", [(E, "blob-missing", A + " → config")])
def _(lay: Layout) -> None:
    lay.blob(lay.manifest()["config"]["digest"]).unlink()


@_d("blob-size", [(E, "blob-size", A)])
def _(lay: Layout) -> None:
    lay.set_entry(0, {"size": lay.entry(0)["size"] + 1})


@_d("blob-digest", [(E, "blob-digest", A + " → config")])
def _(lay: Layout) -> None:
    path = lay.blob(lay.manifest()["config"]["digest"])
    data = path.read_bytes()
    at = data.index(b'Z"')  # the last digit of the created time: same length, new content
    digit = b"1" if data[at - 1 : at] != b"1" else b"2"
    path.write_bytes(data[: at - 1] + digit + data[at:])


@_d("blob-type-fifo", [(E, "blob-type", A + " → layers[1]")])
def _(lay: Layout) -> None:
    path = lay.blob(lay.manifest()["layers"][1]["digest"])
    path.unlink()
    os.mkfifo(path)


@_d("embedded-data", [(E, "embedded-data", A + " → config")])
def _(lay: Layout) -> None:
    manifest = lay.manifest()
    manifest["config"]["data"] = base64.b64encode(b"not the config").decode()
    lay.replace_manifest(manifest)


@_d("annotation-empty-key", [(E, "annotation-key", A)])
def _(lay: Layout) -> None:
    manifest = lay.manifest()
    manifest["annotations"] = {"": "x"}
    lay.replace_manifest(manifest)


@_d("annotation-key-style", [(W, "annotation-key", A)])
def _(lay: Layout) -> None:
    manifest = lay.manifest()
    manifest["annotations"] = {"nodots": "x"}
    lay.replace_manifest(manifest)


@_d("ref-name", [(E, "ref-name", "index.json → manifests[1] (tag bad tag!)")])
def _(lay: Layout) -> None:
    lay.set_entry(1, {"annotations": {REF: "bad tag!"}})


@_d("diff-ids-count", [(E, "diff-ids", A + " → config")])
def _(lay: Layout) -> None:
    config = lay.config()
    config["rootfs"]["diff_ids"].append("sha256:" + "2" * 64)
    lay.replace_config(config)


@_d("history-layers", [(E, "history-layers", A + " → config")])
def _(lay: Layout) -> None:
    config = lay.config()
    config["history"].append({"created_by": "an extra step that claims a layer"})
    lay.replace_config(config)


@_d("created", [(E, "created", A + " → config")])
def _(lay: Layout) -> None:
    config = lay.config()
    config["created"] = "yesterday"
    lay.replace_config(config)


@_d("config-schema", [(E, "schema", A + " → config")])
def _(lay: Layout) -> None:
    config = lay.config()
    config["config"] = {"Env": "NOT=A-LIST"}
    lay.replace_config(config)


# Not a media type, so not a layer media type either: unpack refuses it too.
@_d("manifest-schema", [(E, "schema", A), (E, "layer-media-type", A + " → layers[1]")])
def _(lay: Layout) -> None:
    manifest = lay.manifest()
    manifest["layers"][1]["mediaType"] = "not a media type"
    lay.replace_manifest(manifest)


@_d("config-diff-id-grammar", [(E, "digest", A + " → config → rootfs.diff_ids[1]")])
def _(lay: Layout) -> None:
    config = lay.config()
    config["rootfs"]["diff_ids"][1] = "sha256:short"
    lay.replace_config(config)


@_d("platform", [(E, "platform", MULTI + " → manifests[1] → config")])
def _(lay: Layout) -> None:
    index_digest = lay.entry(2)["digest"]
    index = lay.read(index_digest)
    index["manifests"][1]["platform"] = {"os": "linux", "architecture": "s390x"}
    new = lay.put(index, OCI_INDEX)
    lay.set_entry(2, {"digest": new["digest"], "size": new["size"]})
    lay.blob(index_digest).unlink()


@_d("nesting", [(E, "nesting", "*"), (W, "unreferenced-blob", "*")])
def _(lay: Layout) -> None:
    # 17 indexes around image a's manifest (reachable anyway through tag a):
    # the innermost is past the limit, so it is not read (and unreferenced).
    child = {k: v for k, v in lay.entry(0).items() if k != "annotations"}
    for _ in range(17):
        child = lay.put(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child]}, OCI_INDEX
        )
    index = lay.index()
    index["manifests"].append({**child, "annotations": {REF: "deep"}})
    lay.set_index(index)


@_d("layer-media-type", [(E, "layer-media-type", A + " → layers[0]")])
def _(lay: Layout) -> None:
    manifest = lay.manifest()
    manifest["layers"][0]["mediaType"] = "application/vnd.oci.image.config.v1+json"
    lay.replace_manifest(manifest)


@_d("layer-codec", [(E, "layer-codec", A + " → layers[0]")])
def _(lay: Layout) -> None:
    lay.replace_layer(b"this is not gzip data", "sha256:" + "0" * 64)


@_d("layer-diff-id", [(E, "layer-diff-id", A + " → layers[0]")])
def _(lay: Layout) -> None:
    blob, _ = layer_of(tar_of([("file0", tarfile.REGTYPE, b"content\n")]))
    lay.replace_layer(blob, "sha256:" + "1" * 64)


@_d("layer-tar", [(E, "layer-tar", A + " → layers[0]")])
def _(lay: Layout) -> None:
    garbage = b"this is not a tar archive" * 40
    blob, diff_id = layer_of(garbage)
    lay.replace_layer(blob, diff_id)


@_d("layer-path", [(E, "layer-path", A + " → layers[0]")])
def _(lay: Layout) -> None:
    blob, diff_id = layer_of(tar_of([("a/../../escape", tarfile.REGTYPE, b"x")]))
    lay.replace_layer(blob, diff_id)


@_d("layer-whiteout-content", [(E, "layer-whiteout", A + " → layers[0]")])
def _(lay: Layout) -> None:
    blob, diff_id = layer_of(tar_of([("d/.wh.gone", tarfile.REGTYPE, b"not empty")]))
    lay.replace_layer(blob, diff_id)


@_d("layer-whiteout-nothing", [(E, "layer-whiteout", A + " → layers[0]")])
def _(lay: Layout) -> None:
    blob, diff_id = layer_of(tar_of([("d/.wh.", tarfile.REGTYPE, b"")]))
    lay.replace_layer(blob, diff_id)


@_d("layer-entry", [(E, "layer-entry", A + " → layers[0]")])
def _(lay: Layout) -> None:
    blob, diff_id = layer_of(tar_of([(".", tarfile.SYMTYPE, b"", "/")]))
    lay.replace_layer(blob, diff_id)


@_d("layer-hardlink", [(W, "layer-hardlink", A + " → layers[0]")])
def _(lay: Layout) -> None:
    blob, diff_id = layer_of(tar_of([("h", tarfile.LNKTYPE, b"", "not/in/this/layer")]))
    lay.replace_layer(blob, diff_id)


@_d("layer-symlink", [(W, "layer-symlink", A + " → layers[0]")])
def _(lay: Layout) -> None:
    blob, diff_id = layer_of(tar_of([("a/up", tarfile.SYMTYPE, b"", "../../etc")]))
    lay.replace_layer(blob, diff_id)


@_d("unreferenced-blob", [(W, "unreferenced-blob", "*")])
def _(lay: Layout) -> None:
    lay.put(b"a stray blob", "application/octet-stream")


@_d("temp-file", [(W, "temp-file", ".umoci-stale")])
def _(lay: Layout) -> None:
    (lay.path / ".umoci-stale").mkdir()
