"""Our statement of the image-spec schemas accepts and refuses what the image-spec's own do.

The image-spec's schema files are read from the reference folder beside the
checkout (``../shared/reference/image-spec/schema``, or ``$UMOCI_REFERENCE``);
without it these tests are skipped with the reason.  Each document below is
checked with both; the verdicts (valid or not) must agree.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from umoci.validate import schemas

REFERENCE = Path(
    os.environ.get("UMOCI_REFERENCE", Path(__file__).resolve().parents[3] / "shared" / "reference")
)
SCHEMA_DIR = REFERENCE / "image-spec" / "schema"

pytestmark = pytest.mark.skipif(
    not SCHEMA_DIR.is_dir(), reason=f"the image-spec schemas are not at {SCHEMA_DIR}"
)

D = "sha256:" + "a" * 64
DESCRIPTOR = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": D, "size": 7}
LAYER = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": D, "size": 9}
MANIFEST = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": DESCRIPTOR,
    "layers": [LAYER],
    "annotations": {"org.example.key": "v"},
}
INDEX = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": D,
            "size": 5,
            "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"},
        }
    ],
}
CONFIG = {
    "created": "2020-01-01T00:00:00Z",
    "architecture": "amd64",
    "os": "linux",
    "config": {"Env": ["A=1"], "Cmd": ["sh"], "ExposedPorts": {"80/tcp": {}}},
    "rootfs": {"type": "layers", "diff_ids": [D]},
    "history": [{"created_by": "x", "empty_layer": True}],
}


def changed(document: dict[str, Any], path: list[str | int], value: object) -> dict[str, Any]:
    out = copy.deepcopy(document)
    target: Any = out
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return out


_DELETE = object()

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("manifest", "ok", MANIFEST),
    ("manifest", "schemaVersion-3", changed(MANIFEST, ["schemaVersion"], 3)),
    ("manifest", "no-config", changed(MANIFEST, ["config"], _DELETE)),
    ("manifest", "size-string", changed(MANIFEST, ["config", "size"], "7")),
    ("manifest", "size-negative", changed(MANIFEST, ["config", "size"], -1)),
    ("manifest", "media-type-bad", changed(MANIFEST, ["layers", 0, "mediaType"], "no slash")),
    ("manifest", "annotation-not-string", changed(MANIFEST, ["annotations", "k"], 5)),
    ("manifest", "layers-not-list", changed(MANIFEST, ["layers"], {})),
    ("index", "ok", INDEX),
    ("index", "no-manifests", changed(INDEX, ["manifests"], _DELETE)),
    ("index", "platform-no-os", changed(INDEX, ["manifests", 0, "platform", "os"], _DELETE)),
    ("index", "platform-arch-int", changed(INDEX, ["manifests", 0, "platform", "architecture"], 1)),
    ("config", "ok", CONFIG),
    ("config", "no-os", changed(CONFIG, ["os"], _DELETE)),
    ("config", "no-rootfs", changed(CONFIG, ["rootfs"], _DELETE)),
    ("config", "rootfs-type", changed(CONFIG, ["rootfs", "type"], "tarballs")),
    ("config", "env-string", changed(CONFIG, ["config", "Env"], "A=1")),
    ("config", "empty-layer-string", changed(CONFIG, ["history", 0, "empty_layer"], "yes")),
]

OURS = {"manifest": schemas.MANIFEST, "index": schemas.INDEX, "config": schemas.CONFIG}
THEIRS = {
    "manifest": "image-manifest-schema.json",
    "index": "image-index-schema.json",
    "config": "config-schema.json",
}


def reference_validator(kind: str) -> Any:
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    resources = []
    for path in SCHEMA_DIR.glob("*.json"):
        contents = json.loads(path.read_text())
        resource = Resource.from_contents(contents, default_specification=DRAFT4)
        resources.append((path.name, resource))
        # Each schema's "id" sets the base its relative $refs resolve against.
        for base in (
            "https://opencontainers.org/schema/",
            "https://opencontainers.org/schema/image/",
        ):
            resources.append((base + path.name, resource))
        if "id" in contents:
            resources.append((contents["id"], resource))
    registry = Registry().with_resources(resources)
    schema = json.loads((SCHEMA_DIR / THEIRS[kind]).read_text())
    return jsonschema.Draft4Validator(schema, registry=registry)


@pytest.mark.parametrize(("kind", "name", "document"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_verdicts_agree(kind: str, name: str, document: dict[str, Any]) -> None:
    import jsonschema

    ours_ok = jsonschema.Draft7Validator(OURS[kind]).is_valid(document)
    theirs_ok = reference_validator(kind).is_valid(document)
    assert ours_ok == theirs_ok, f"{kind} {name}: ours {ours_ok}, image-spec {theirs_ok}"
    assert ours_ok == (name == "ok")
