"""Is a layout whole?  Used after concurrent writers and kill -9 (tests/stress).

A layout is whole when ``index.json`` parses and every descriptor reachable
from it (manifests, indexes, configs, layers, subjects) has its blob, with
the size and digest the descriptor says.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

MANIFEST_TYPES = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
}
INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
REF_NAME = "org.opencontainers.image.ref.name"


def blob_bytes(layout: Path, digest: str) -> bytes:
    algorithm, _, encoded = digest.partition(":")
    return (layout / "blobs" / algorithm / encoded).read_bytes()


def problems(layout: Path) -> list[str]:
    """Everything wrong with *layout* (empty: it is whole)."""
    try:
        index = json.loads((layout / "index.json").read_bytes())
    except (OSError, ValueError) as err:
        return [f"index.json: {err}"]
    found: list[str] = []
    pending: list[dict[str, Any]] = list(index.get("manifests") or [])
    seen: set[str] = set()
    while pending:
        descriptor = pending.pop()
        digest = descriptor["digest"]
        if digest in seen:
            continue
        seen.add(digest)
        try:
            data = blob_bytes(layout, digest)
        except OSError:
            found.append(f"{digest}: blob missing")
            continue
        if len(data) != descriptor["size"]:
            found.append(f"{digest}: size {len(data)}, descriptor says {descriptor['size']}")
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            found.append(f"{digest}: content does not match its digest")
            continue
        media_type = descriptor.get("mediaType")
        if media_type in INDEX_TYPES:
            pending.extend(json.loads(data).get("manifests") or [])
        elif media_type in MANIFEST_TYPES:
            manifest = json.loads(data)
            pending.append(manifest["config"])
            pending.extend(manifest.get("layers") or [])
    return found


def tags(layout: Path) -> set[str]:
    index = json.loads((layout / "index.json").read_bytes())
    return {
        d["annotations"][REF_NAME]
        for d in index.get("manifests") or []
        if REF_NAME in d.get("annotations", {})
    }


def reachable_digests(layout: Path) -> set[str]:
    """Digests of every blob reachable from ``index.json`` (the layout must be whole)."""
    index = json.loads((layout / "index.json").read_bytes())
    pending: list[dict[str, Any]] = list(index.get("manifests") or [])
    seen: set[str] = set()
    while pending:
        descriptor = pending.pop()
        if descriptor["digest"] in seen:
            continue
        seen.add(descriptor["digest"])
        media_type = descriptor.get("mediaType")
        if media_type in INDEX_TYPES:
            pending.extend(
                json.loads(blob_bytes(layout, descriptor["digest"])).get("manifests") or []
            )
        elif media_type in MANIFEST_TYPES:
            manifest = json.loads(blob_bytes(layout, descriptor["digest"]))
            pending.append(manifest["config"])
            pending.extend(manifest.get("layers") or [])
    return seen


def spawn(*argv: str | Path) -> subprocess.Popen[bytes]:
    """Our umoci as its own process (stderr captured), for concurrent and killed runs."""
    return subprocess.Popen(
        [sys.executable, "-m", "umoci", *map(str, argv)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
