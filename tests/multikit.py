"""Multi-platform layouts for the tests: built with our own verbs, or written by hand.

:func:`three_platforms` builds, through ``umoci`` itself, three images
(linux/amd64, linux/arm64/v8, linux/s390x) that each carry a real layer
with a file ``/arch`` naming their platform, and an index ``multi`` of them.
:func:`put_json` / :func:`set_index` write hand-made blobs and
``index.json`` for shapes no verb makes (nested untagged indexes,
attestations, Docker manifest lists).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from umoci.cli import main

REF_NAME = "org.opencontainers.image.ref.name"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"

PLATFORMS = {
    "amd64": {"os": "linux", "architecture": "amd64"},
    "arm64": {"os": "linux", "architecture": "arm64", "variant": "v8"},
    "s390x": {"os": "linux", "architecture": "s390x"},
}


def umoci_ok(*argv: str | Path) -> None:
    """Run our CLI in-process; fail the test with its exit status if it fails."""
    status = main([str(a) for a in argv])
    assert status == 0, f"umoci {' '.join(map(str, argv))} exited {status}"


def three_platforms(tmp_path: Path, layout: Path | None = None) -> Path:
    """A layout with tags amd64, arm64, s390x and ``multi`` (an index of the three)."""
    layout = layout or tmp_path / "multi-layout"
    umoci_ok("init", "--layout", layout)
    for name, platform in PLATFORMS.items():
        umoci_ok("new", "--image", f"{layout}:{name}")
        flags = ["--os", platform["os"], "--architecture", platform["architecture"]]
        if "variant" in platform:
            flags += ["--platform.variant", platform["variant"]]
        umoci_ok("config", "--image", f"{layout}:{name}", *flags)
        source = tmp_path / f"arch-{name}"
        source.write_text(f"{name}\n")
        umoci_ok("insert", "--image", f"{layout}:{name}", source, "/arch")
    umoci_ok("index", "create", "--image", f"{layout}:multi", *PLATFORMS)
    return layout


def blob_path(layout: Path, digest: str) -> Path:
    algorithm, _, encoded = digest.partition(":")
    return layout / "blobs" / algorithm / encoded


def read_json(layout: Path, digest: str) -> Any:
    return json.loads(blob_path(layout, digest).read_bytes())


def put_json(layout: Path, value: object, media_type: str) -> dict[str, Any]:
    """Store *value* as a blob; return its descriptor."""
    data = json.dumps(value, separators=(",", ":")).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blob_path(layout, digest).write_bytes(data)
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def index_json(layout: Path) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((layout / "index.json").read_bytes())
    return value


def set_index(layout: Path, manifests: list[dict[str, Any]]) -> None:
    value = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    (layout / "index.json").write_text(json.dumps(value))


def entry(layout: Path, tag: str) -> dict[str, Any]:
    """The index.json descriptor named *tag*."""
    (found,) = [
        d for d in index_json(layout)["manifests"] if d.get("annotations", {}).get(REF_NAME) == tag
    ]
    return dict(found)


def untagged(descriptor: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """*descriptor* without its tag annotation, with *extra* fields set."""
    out = {k: v for k, v in descriptor.items() if k != "annotations"}
    annotations = {k: v for k, v in descriptor.get("annotations", {}).items() if k != REF_NAME}
    if annotations:
        out["annotations"] = annotations
    out.update(extra)
    return out


def attestation_for(layout: Path, manifest_digest: str) -> dict[str, Any]:
    """A BuildKit-style attestation manifest entry referring to *manifest_digest*."""
    config = put_json(layout, {}, "application/vnd.oci.empty.v1+json")
    statement = put_json(
        layout, {"_type": "https://in-toto.io/Statement/v0.1"}, "application/vnd.in-toto+json"
    )
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config,
        "layers": [statement],
    }
    descriptor = put_json(layout, manifest, OCI_MANIFEST)
    descriptor["platform"] = {"os": "unknown", "architecture": "unknown"}
    descriptor["annotations"] = {
        "vnd.docker.reference.type": "attestation-manifest",
        "vnd.docker.reference.digest": manifest_digest,
    }
    return descriptor


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under *root* with its bytes."""
    out = {}
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath) / name
            out[str(path.relative_to(root))] = path.read_bytes()
    return out
