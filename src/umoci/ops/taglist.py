"""``umoci ls``: the tag names of a layout, with nothing heavier than ``json``.

Listing tags is the command build scripts run most, so it does not load the
blob store or the models: it runs the layout checks, reads ``index.json``
and checks just the fields it uses (the Go umoci's ``ls`` does no more).
"""

from __future__ import annotations

import json

from umoci.cas.layoutcheck import INDEX_FILE, check_layout, read_index_bytes
from umoci.errors import LayoutError

_REF_NAME = "org.opencontainers.image.ref.name"


def list_tags(layout: str) -> list[str]:
    """Names in index order, each once."""
    check_layout(layout)
    try:
        index = json.loads(read_index_bytes(layout))
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise LayoutError(f"{INDEX_FILE}: invalid JSON: {err}") from None
    if not isinstance(index, dict):
        raise LayoutError(f"{INDEX_FILE}: invalid JSON: not an object")
    if index.get("schemaVersion") != 2:
        raise LayoutError(f"{INDEX_FILE}: unsupported schemaVersion {index.get('schemaVersion')!r}")
    manifests = index.get("manifests") or []
    if not isinstance(manifests, list):
        raise LayoutError(f"{INDEX_FILE}: field 'manifests' must be a list of objects")
    names: dict[str, None] = {}
    for i, descriptor in enumerate(manifests):
        annotations = descriptor.get("annotations") if isinstance(descriptor, dict) else None
        if not isinstance(descriptor, dict) or not isinstance(annotations, dict | None):
            raise LayoutError(f"{INDEX_FILE}: manifests[{i}] is not a descriptor")
        name = (annotations or {}).get(_REF_NAME)
        if name is None:
            continue
        if not isinstance(name, str):
            raise LayoutError(f"{INDEX_FILE}: manifests[{i}]: {_REF_NAME} must be a string")
        names.setdefault(name, None)
    return list(names)
