"""``umoci stat``: describe one image (manifest, config, history), as text or JSON.

The text layout and the JSON structure follow the Go umoci 0.6 (see
umoci-stat(1) and the vectors in ``shared/vectors/json-blobs``).  Artefact
manifests are tolerated: a config that is not an image config is shown by
its descriptor only, and layers of any media type are listed as they are.
"""

from __future__ import annotations

import json

from umoci.errors import BlobInvalidError
from umoci.layout.refs import read_manifest, resolve
from umoci.oci import gojson, mediatypes
from umoci.oci.models import Descriptor, History, ImageConfig, Manifest
from umoci.ops.basic import opened
from umoci.structs import dataclass

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import Any

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def human_size(size: int) -> str:
    """Decimal units with four significant digits, like go-units' HumanSize."""
    value = float(size)
    unit = 0
    while value >= 1000 and unit < len(_UNITS) - 1:
        value /= 1000
        unit += 1
    return f"{value:.4g}{_UNITS[unit]}"


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote``: printable text kept, the rest escaped."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


_SIMPLE_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def maybe_quote(text: str) -> str:
    """Quote text that would be ambiguous bare: empty, or with spaces or escapes."""
    if text == "" or any(ch.isspace() or not ch.isprintable() or ch == '"' for ch in text):
        return go_quote(text)
    return text


@dataclass(frozen=True)
class HistoryRow:
    history: History
    layer: Descriptor | None
    diff_id: str

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "layer": self.layer.to_json() if self.layer is not None else None,
            "diff_id": self.diff_id,
        }
        out.update(self.history.to_json())
        return out


@dataclass(frozen=True)
class ImageStat:
    manifest_descriptor: Descriptor
    manifest: Manifest
    config: ImageConfig | None
    raw_config: Any  # the decoded config blob when it is not an image config
    history: tuple[HistoryRow, ...]

    def to_json(self) -> dict[str, Any]:
        config_blob = self.config.to_json() if self.config is not None else self.raw_config
        return {
            "manifest": {
                "descriptor": self.manifest_descriptor.to_json(),
                "blob": self.manifest.to_json(),
            },
            "config": {"descriptor": self.manifest.config.to_json(), "blob": config_blob},
            "history": [row.to_json() for row in self.history],
        }


def _history_rows(manifest: Manifest, config: ImageConfig) -> tuple[HistoryRow, ...]:
    # Non-empty history entries consume layers (and diff_ids) in order; a
    # malformed image with too few layers shows the rest as <none>.
    rows = []
    layer_index = 0
    for history in config.history:
        layer: Descriptor | None = None
        diff_id = ""
        if not history.empty_layer:
            if layer_index < len(manifest.layers):
                layer = manifest.layers[layer_index]
            if layer_index < len(config.diff_ids):
                diff_id = config.diff_ids[layer_index]
            layer_index += 1
        rows.append(HistoryRow(history, layer, diff_id))
    return tuple(rows)


def collect(layout: str, tag: str) -> ImageStat:
    with opened(layout) as store:
        path = resolve(store, tag)
        manifest = read_manifest(store, path.descriptor)
        config: ImageConfig | None = None
        raw_config: Any = None
        config_descriptor = manifest.config
        if config_descriptor.media_type in mediatypes.IMAGE_CONFIG_TYPES:
            config = ImageConfig.from_json(
                store.read_json(config_descriptor, "config"), f"config {config_descriptor.digest}"
            )
        elif store.has_blob(config_descriptor.digest):
            data = store.read_blob(config_descriptor)
            try:
                raw_config = json.loads(data)
            except (ValueError, UnicodeDecodeError):
                raw_config = None
        history = _history_rows(manifest, config) if config is not None else ()
        return ImageStat(path.descriptor, manifest, config, raw_config, history)


def stat(layout: str, tag: str, *, as_json: bool) -> str:
    info = collect(layout, tag)
    if as_json:
        return gojson.dumps(info.to_json()) + "\n"
    return format_text(info)


# -- text --------------------------------------------------------------------


def _descriptor_lines(descriptor: Descriptor, depth: int) -> list[str]:
    pad = "\t" * depth
    lines = [
        f"{pad}Descriptor:",
        f"{pad}\tMedia Type: {descriptor.media_type}",
        f"{pad}\tDigest: {descriptor.digest}",
        f"{pad}\tSize: {human_size(descriptor.size)}",
    ]
    if descriptor.annotations:
        lines.append(f"{pad}\tAnnotations:")
        lines.extend(
            f"{pad}\t\t{key}: {maybe_quote(descriptor.annotations[key])}"
            for key in sorted(descriptor.annotations)
        )
    return lines


def _list_block(title: str, items: tuple[str, ...] | list[str]) -> list[str]:
    return [f"\t{title}:", *(f"\t\t{maybe_quote(item)}" for item in items)]


def _config_lines(config: ImageConfig) -> list[str]:
    created = config.created.format() if config.created is not None else "<none>"
    arch = config.architecture
    if config.variant:
        arch = f"{arch} ({config.variant})"
    c = config.config
    lines = [
        f"Created: {created}",
        f"Author: {maybe_quote(config.author)}",
        "Platform:",
        f"\tOS: {config.os}",
        f"\tArchitecture: {arch}",
        "Image Config:",
        f"\tUser: {maybe_quote(c.user)}",
    ]
    if c.entrypoint:
        lines += _list_block("Entrypoint", c.entrypoint)
    if c.cmd:
        lines += _list_block("Command", c.cmd)
    elif not c.entrypoint:
        lines.append("\tCommand: (empty)")
    if c.working_dir:
        lines.append(f"\tWorking Directory: {maybe_quote(c.working_dir)}")
    if c.env:
        lines += _list_block("Environment", c.env)
    if c.stop_signal:
        lines.append(f"\tStop Signal: {maybe_quote(c.stop_signal)}")
    if c.exposed_ports:
        lines.append(f"\tExposed Ports: {', '.join(sorted(c.exposed_ports))}")
    if c.volumes:
        lines.append(f"\tVolumes: {', '.join(sorted(c.volumes))}")
    if c.labels:
        lines.append("\tLabels:")
        lines.extend(f"\t\t{key}: {maybe_quote(c.labels[key])}" for key in sorted(c.labels))
    return lines


def _tabulate(rows: list[list[str]]) -> list[str]:
    """Go's tabwriter (minwidth 4, padding 1): the last column is not padded."""
    widths = [max(4, max(len(row[i]) for row in rows) + 1) for i in range(len(rows[0]) - 1)]
    return [
        "".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + row[-1]
        for row in rows
    ]


def _cell(text: str) -> str:
    # A tab inside a cell would start a new column.
    return text.replace("\t", " ")


def format_text(info: ImageStat) -> str:
    manifest = info.manifest
    lines = [
        "== MANIFEST ==",
        f"Schema Version: {manifest.schema_version}",
        f"Media Type: {manifest.media_type or info.manifest_descriptor.media_type}",
    ]
    if manifest.artifact_type:
        lines.append(f"Artifact Type: {manifest.artifact_type}")
    lines += ["Config:", *_descriptor_lines(manifest.config, 1)]
    if manifest.layers:
        lines.append("Layers:")
        for layer in manifest.layers:
            lines += _descriptor_lines(layer, 1)
    if manifest.subject is not None:
        lines += ["Subject:", *_descriptor_lines(manifest.subject, 1)]
    if manifest.annotations:
        lines.append("Annotations:")
        lines.extend(
            f"\t{key}: {maybe_quote(manifest.annotations[key])}"
            for key in sorted(manifest.annotations)
        )
    lines += _descriptor_lines(info.manifest_descriptor, 0)
    lines += ["", "== CONFIG =="]
    if info.config is not None:
        lines += _config_lines(info.config)
    else:
        lines.append(f"(not an image config: {manifest.config.media_type})")
    lines += _descriptor_lines(manifest.config, 0)
    lines += ["", "== HISTORY =="]
    table = [["LAYER", "CREATED", "CREATED BY", "SIZE", "COMMENT"]]
    for row in info.history:
        h = row.history
        table.append(
            [
                row.layer.digest if row.layer is not None else "<none>",
                h.created.format() if h.created is not None else "<none>",
                _cell(h.created_by),
                human_size(row.layer.size) if row.layer is not None else "<none>",
                _cell(h.comment),
            ]
        )
    lines += _tabulate(table)
    return "\n".join(lines) + "\n"


__all__ = ["BlobInvalidError", "ImageStat", "collect", "format_text", "human_size", "stat"]
