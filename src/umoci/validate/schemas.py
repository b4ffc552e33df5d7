"""JSON schemas of the image-spec documents, written here from the specification's rules.

They state what the image-spec's own schemas state (required fields, types,
the digest and media-type grammars, ``schemaVersion`` 2) in our words;
tests/validate checks that they accept and refuse the same documents as the
image-spec's schema files where those are available.  They are checked with
the ``jsonschema`` library, imported only by ``umoci validate``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# RFC 6838 media type (type/subtype, optional +suffix and parameters are not used by OCI).
MEDIA_TYPE = r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$"
# algorithm ":" encoded, as the descriptor section defines them.
DIGEST = r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$"
_INT64 = {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}

_STRING_MAP: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {"type": "string"},
}
_STRINGS: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
_SET: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "object"}}

PLATFORM: dict[str, Any] = {
    "type": "object",
    "required": ["architecture", "os"],
    "properties": {
        "architecture": {"type": "string"},
        "os": {"type": "string"},
        "os.version": {"type": "string"},
        "os.features": _STRINGS,
        "variant": {"type": "string"},
    },
}

DESCRIPTOR: dict[str, Any] = {
    "type": "object",
    "required": ["mediaType", "digest", "size"],
    "properties": {
        "mediaType": {"type": "string", "pattern": MEDIA_TYPE},
        "digest": {"type": "string", "pattern": DIGEST},
        "size": {**_INT64, "minimum": 0},
        "urls": {"type": "array", "items": {"type": "string", "format": "uri"}},
        "annotations": _STRING_MAP,
        "data": {"type": "string", "contentEncoding": "base64"},
        "platform": PLATFORM,
        "artifactType": {"type": "string", "pattern": MEDIA_TYPE},
    },
}

_DESCRIPTORS: dict[str, Any] = {"type": "array", "items": DESCRIPTOR}

# The fields manifests and indexes share.
_ENVELOPE: dict[str, Any] = {
    "schemaVersion": {"type": "integer", "enum": [2]},
    "mediaType": {"type": "string", "pattern": MEDIA_TYPE},
    "artifactType": {"type": "string", "pattern": MEDIA_TYPE},
    "subject": DESCRIPTOR,
    "annotations": _STRING_MAP,
}

MANIFEST: dict[str, Any] = {
    "type": "object",
    "required": ["schemaVersion", "config", "layers"],
    "properties": {**_ENVELOPE, "config": DESCRIPTOR, "layers": _DESCRIPTORS},
}

INDEX: dict[str, Any] = {
    "type": "object",
    "required": ["schemaVersion", "manifests"],
    "properties": {**_ENVELOPE, "manifests": _DESCRIPTORS},
}

CONFIG: dict[str, Any] = {
    "type": "object",
    "required": ["architecture", "os", "rootfs"],
    "properties": {
        "created": {"type": "string", "format": "date-time"},
        "author": {"type": "string"},
        "architecture": {"type": "string"},
        "os": {"type": "string"},
        "os.version": {"type": "string"},
        "os.features": _STRINGS,
        "variant": {"type": "string"},
        "config": {
            "type": ["object", "null"],
            "properties": {
                "User": {"type": "string"},
                "ExposedPorts": _SET,
                "Env": _STRINGS,
                "Entrypoint": {"type": ["array", "null"], "items": {"type": "string"}},
                "Cmd": {"type": ["array", "null"], "items": {"type": "string"}},
                "Volumes": _SET,
                "WorkingDir": {"type": "string"},
                "Labels": _STRING_MAP,
                "StopSignal": {"type": "string"},
                "ArgsEscaped": {"type": "boolean"},
            },
        },
        "rootfs": {
            "type": "object",
            "required": ["type", "diff_ids"],
            "properties": {
                "type": {"type": "string", "enum": ["layers"]},
                "diff_ids": {"type": "array", "items": {"type": "string", "pattern": DIGEST}},
            },
        },
        "history": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "created": {"type": "string", "format": "date-time"},
                    "author": {"type": "string"},
                    "created_by": {"type": "string"},
                    "comment": {"type": "string"},
                    "empty_layer": {"type": "boolean"},
                },
            },
        },
    },
}

LAYOUT: dict[str, Any] = {
    "type": "object",
    "required": ["imageLayoutVersion"],
    "properties": {"imageLayoutVersion": {"type": "string"}},
}
