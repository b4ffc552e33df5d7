"""Validating a runtime bundle: config.json, umoci.json, the mtree, the rootfs against it."""

from __future__ import annotations

import json
import os

from umoci import mtree
from umoci.cas.layoutcheck import MAX_JSON_BYTES, describe, read_regular
from umoci.errors import BundleError, UmociError
from umoci.validate.findings import Report

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# What the runtime-spec requires of config.json (and the types umoci relies on).
_RUNTIME_CONFIG: dict[str, Any] = {
    "type": "object",
    "required": ["ociVersion"],
    "properties": {
        "ociVersion": {"type": "string"},
        "root": {
            "type": "object",
            "required": ["path"],
            "properties": {"path": {"type": "string"}, "readonly": {"type": "boolean"}},
        },
        "process": {
            "type": "object",
            "required": ["cwd"],
            "properties": {
                "args": {"type": "array", "items": {"type": "string"}},
                "env": {"type": "array", "items": {"type": "string"}},
                "cwd": {"type": "string"},
                "terminal": {"type": "boolean"},
                "user": {
                    "type": "object",
                    "required": ["uid", "gid"],
                    "properties": {
                        "uid": {"type": "integer", "minimum": 0, "maximum": 2**32 - 1},
                        "gid": {"type": "integer", "minimum": 0, "maximum": 2**32 - 1},
                    },
                },
            },
        },
        "mounts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["destination"],
                "properties": {"destination": {"type": "string"}},
            },
        },
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}

_MAX_REPORTED = 50  # rootfs differences listed one by one before a summary


def check_bundle(bundle: str, report: Report) -> None:
    import jsonschema  # only this verb needs it

    config_path = os.path.join(bundle, "config.json")
    try:
        config = json.loads(read_regular(config_path, MAX_JSON_BYTES))
    except FileNotFoundError:
        report.error("bundle-config", "config.json", "missing")
    except OSError as err:
        report.error("bundle-config", "config.json", f"unreadable: {describe(err)}")
    except (ValueError, RecursionError) as err:
        report.error("bundle-config", "config.json", f"unreadable: {err}")
    else:
        for error in jsonschema.Draft7Validator(_RUNTIME_CONFIG).iter_errors(config):
            where = ".".join(str(p) for p in error.absolute_path) or "(document)"
            report.error("bundle-config", "config.json", f"{where}: {error.message}")

    from umoci.runtime.bundle_meta import bundle_rootfs, read_bundle_meta

    try:
        meta = read_bundle_meta(bundle)
    except UmociError as err:
        report.error("bundle-meta", "umoci.json", str(err))
        return
    if not meta.descriptor_walk:
        report.error("bundle-meta", "umoci.json", "empty descriptor walk")
        return
    digest = meta.descriptor_walk[-1].digest
    name = f"{digest.replace(':', '_')}.mtree"
    try:
        spec = mtree.parse(mtree.read_spec_file(os.path.join(bundle, name)))
    except FileNotFoundError:
        report.error("bundle-mtree", name, "missing")
        return
    except OSError as err:
        report.error("bundle-mtree", name, describe(err))
        return
    except UmociError as err:
        report.error("bundle-mtree", name, str(err))
        return
    try:
        rootfs = bundle_rootfs(bundle)
    except BundleError as err:
        report.error("bundle-rootfs", "rootfs", str(err))
        return
    try:
        now = mtree.walk(rootfs, rootless=meta.rootless)
    except (OSError, UmociError) as err:
        report.error("bundle-rootfs", "rootfs", f"walk: {err}")
        return
    deltas = mtree.compare(spec, now, mtree.UMOCI_KEYWORDS)
    for delta in deltas[:_MAX_REPORTED]:
        report.error("bundle-rootfs", f"rootfs/{os.fsdecode(delta.path)}", str(delta))
    if len(deltas) > _MAX_REPORTED:
        report.error(
            "bundle-rootfs", "rootfs", f"and {len(deltas) - _MAX_REPORTED} more differences"
        )
