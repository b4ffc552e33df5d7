"""``umoci stat``: describe one image (manifest, config, history), as text or JSON.

Both forms are byte-identical to the Go umoci 0.6 for every image it can read
(tests/oracle/test_oracle_stat.py runs both over a generator of awkward
images).  The rules, each found by asking 0.6 rather than by reading it:

* **JSON**: the descriptors and history rows are re-encoded (Go drops fields
  it does not know), but the manifest and config ``blob`` values are the
  blobs' own bytes, compacted with Go's HTML escaping, so key order, escapes
  and unknown fields come through as stored.
* **Quoting** (``strconv.Quote``), in three strengths: a *value* (author, OS,
  user, working directory, stop signal, media and artefact types, annotation
  and label values, ports, volumes, OS version/features) is quoted when it is
  empty or holds a space, a comma or anything ``Quote`` escapes; a *word*
  (list items: entrypoint, command, environment, URLs; map keys; the
  architecture) is quoted the same way but a comma is left alone; a history
  *cell* and the platform variant are quoted only when ``Quote`` must escape
  something.
* **Shapes**: no ``Created:`` line when the config has no time; the
  ``(escaped)`` headings when ``ArgsEscaped`` is set; a descriptor's
  ``Platform:`` block starts at the left margin whatever its depth (0.6's
  layout); embedded ``data`` is hex-dumped (at most 256 bytes); an OCI empty
  config (``{}``) shows only its descriptor and no history; any other
  non-image config shows nothing beyond the manifest.

Deliberate differences (listed in the README): 0.6 crashes on a history entry
without a ``created`` time or with fewer diff_ids than layers, where we print
``<none>``; and we also read Docker schema 2 images, which 0.6 refuses (in a
Docker manifest a Docker config counts as the image config).
"""

from __future__ import annotations

from umoci import goquote
from umoci.cas.dir import DirStore
from umoci.errors import BlobInvalidError
from umoci.layout.refs import find_anchors, leaves, resolve
from umoci.oci import gojson, mediatypes
from umoci.oci.decode import has_trailing_data
from umoci.oci.models import Descriptor, History, ImageConfig, Manifest, Platform
from umoci.ops.basic import opened
from umoci.structs import dataclass, replace

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import Any

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_DATA_SHOWN = 256  # bytes of embedded data that are hex-dumped
_EMPTY_BLOB = b"{}"


def human_size(size: int) -> str:
    """Decimal units with four significant digits, like go-units' HumanSize."""
    value = float(size)
    unit = 0
    while value >= 1000 and unit < len(_UNITS) - 1:
        value /= 1000
        unit += 1
    return f"{value:.4g}{_UNITS[unit]}"


# -- quoting -------------------------------------------------------------------


def quote_value(text: str) -> str:
    """A value: quoted when empty or with a space, a comma or an escape."""
    if text == "" or " " in text or "," in text or goquote.needs_quoting(text):
        return goquote.quote(text)
    return text


def quote_word(text: str) -> str:
    """A list item or map key: as :func:`quote_value`, but a comma stays bare."""
    if text == "" or " " in text or goquote.needs_quoting(text):
        return goquote.quote(text)
    return text


def quote_cell(text: str) -> str:
    """A history table cell: quoted only when something must be escaped."""
    return goquote.quote_if_needed(text)


# -- collecting ----------------------------------------------------------------


@dataclass(frozen=True)
class HistoryRow:
    history: History
    layer: Descriptor | None
    diff_id: str

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "layer": self.layer.go_struct().to_json() if self.layer is not None else None,
            "diff_id": self.diff_id,
        }
        out.update(replace(self.history, extra={}).to_json())
        return out


@dataclass(frozen=True)
class ImageStat:
    manifest_descriptor: Descriptor
    manifest: Manifest
    manifest_raw: bytes
    config_raw: bytes
    config: ImageConfig | None  # None: not an image config
    config_is_empty: bool  # the OCI empty descriptor's "{}"
    history: tuple[HistoryRow, ...]

    def to_json_text(self) -> str:
        """0.6's ``stat --json`` document (no trailing newline)."""
        parts = [
            '{"manifest":{"descriptor":',
            gojson.dumps(self.manifest_descriptor.go_struct().to_json()),
            ',"blob":',
            compact_json(self.manifest_raw, f"manifest {self.manifest_descriptor.digest}"),
            "}",
        ]
        if self.config is not None or self.config_is_empty:
            parts += [
                ',"config":{"descriptor":',
                gojson.dumps(self.manifest.config.go_struct().to_json()),
                ',"blob":',
                compact_json(self.config_raw, f"config {self.manifest.config.digest}"),
                "}",
            ]
        if self.config is not None:
            parts += [',"history":', gojson.dumps([row.to_json() for row in self.history])]
        parts.append("}")
        return "".join(parts)


_JSON_TOKEN = rb'"(?:[^"\\]|\\.)*"|[ \t\r\n]+'  # a string, or whitespace between tokens
_HTML_ESCAPES = {
    b"<": b"\\u003c",
    b">": b"\\u003e",
    b"&": b"\\u0026",
    "\u2028".encode(): b"\\u2028",
    "\u2029".encode(): b"\\u2029",
}
_HTML_UNSAFE = b"[<>&]|\xe2\x80\xa8|\xe2\x80\xa9"


def compact_json(raw: bytes, what: str = "blob") -> str:
    """A JSON blob as Go embeds a ``json.RawMessage``: compacted, HTML-escaped.

    The blob has already been parsed, so it is valid JSON: only whitespace
    outside strings goes, and ``< > &`` U+2028 U+2029 inside strings are
    escaped; everything else (key order, other escapes) is kept.  A blob
    with data after its JSON value (which Go's decoder, and so ours, does
    not read) cannot be embedded: 0.6 fails there too.
    """
    if has_trailing_data(raw):
        raise BlobInvalidError(f"{what}: data after the JSON value: --json cannot embed it")
    import re  # only stat --json gets here: re costs every other run ~6 ms to import

    unsafe = re.compile(_HTML_UNSAFE)

    def compact_token(match: re.Match[bytes]) -> bytes:
        token = match.group()
        if token[0] != ord('"'):
            return b""  # whitespace between tokens
        return unsafe.sub(lambda m: _HTML_ESCAPES[m.group()], token)

    tokens = re.compile(_JSON_TOKEN, re.DOTALL)
    return tokens.sub(compact_token, raw).decode("utf-8", "surrogateescape")


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


def _is_image_config(manifest_media_type: str, config_media_type: str) -> bool:
    if config_media_type == mediatypes.CONFIG:
        return True
    return (
        config_media_type == mediatypes.DOCKER_CONFIG
        and manifest_media_type == mediatypes.DOCKER_MANIFEST
    )


def collect(layout: str, tag: str, platform: str | None = None) -> ImageStat:
    with opened(layout) as store:
        return collect_from(store, resolve(store, tag, platform).descriptor)


def collect_from(store: DirStore, descriptor: Descriptor) -> ImageStat:
    """Everything ``stat`` shows of the manifest *descriptor*."""
    if descriptor.media_type not in mediatypes.MANIFEST_TYPES:
        raise BlobInvalidError(
            f"descriptor {descriptor.digest}: media type {descriptor.media_type!r} "
            "is not an image manifest"
        )
    manifest_raw = store.read_blob(descriptor)
    manifest = Manifest.from_bytes(
        manifest_raw, descriptor.media_type, f"manifest {descriptor.digest}"
    )
    config_descriptor = manifest.config
    # 0.6 reads the config blob whatever its type: a missing one is an error.
    config_raw = store.read_blob(config_descriptor)
    config: ImageConfig | None = None
    if _is_image_config(descriptor.media_type, config_descriptor.media_type):
        what = f"config {config_descriptor.digest}"
        config = ImageConfig.from_bytes(config_raw, what)
    is_empty = config_descriptor.media_type == mediatypes.EMPTY and config_raw == _EMPTY_BLOB
    history = _history_rows(manifest, config) if config is not None else ()
    return ImageStat(
        descriptor,
        manifest,
        manifest_raw,
        config_raw,
        config,
        is_empty,
        history,
    )


def stat(layout: str, tag: str, *, as_json: bool, platform: str | None = None) -> str:
    """The text (or ``--json`` document) for *tag*; an index of several images lists them."""
    with opened(layout) as store:
        if platform is None:
            anchors = find_anchors(store, tag)
            is_index = len(anchors) == 1 and anchors[0].root.media_type in mediatypes.INDEX_TYPES
            if is_index and len(leaves(store, anchors)) != 1:
                from umoci.ops.stat_index import stat_index

                return stat_index(store, anchors[0], as_json=as_json)
        info = collect_from(store, resolve(store, tag, platform).descriptor)
    if as_json:
        return info.to_json_text() + "\n"
    return format_text(info)


# -- text ----------------------------------------------------------------------


def _platform_lines(platform: Platform) -> list[str]:
    # 0.6 prints a platform at the left margin even inside an indented
    # descriptor; scripts that parse stat see exactly that.
    lines = ["Platform:", f"\tOS: {quote_value(platform.os)}"]
    if platform.os_version:
        lines.append(f"\tOS Version: {quote_value(platform.os_version)}")
    if platform.os_features:
        features = ", ".join(quote_value(f) for f in platform.os_features)
        lines.append(f"\tOS Features: {features}")
    arch = quote_word(platform.architecture)
    if platform.variant:
        arch = f"{arch} ({quote_cell(platform.variant)})"
    lines.append(f"\tArchitecture: {arch}")
    return lines


def _graphic(byte: int) -> bool:
    # Go's unicode.IsGraphic of the byte taken as a Latin-1 rune.
    return 0x20 <= byte < 0x7F or (byte >= 0xA0 and byte != 0xAD)


def _data_lines(data: bytes, pad: str) -> list[str]:
    lines = [f"{pad}Data: ({len(data)} bytes)"]
    shown = data[:_DATA_SHOWN]
    for offset in range(0, len(shown), 16):
        row = shown[offset : offset + 16]
        hex_groups = " ".join(row[i : i + 2].hex() for i in range(0, len(row), 2))
        # Bytes are written as they are (0.6 does not encode them as UTF-8);
        # surrogateescape carries the high ones to stdout unchanged.
        text = bytes(b if _graphic(b) else 0x2E for b in row).decode("latin-1")
        text = "".join(ch if ord(ch) < 0x80 else chr(0xDC00 + ord(ch)) for ch in text)
        lines.append(f"{pad}\t{offset:04x}: {hex_groups:<39}  {text}")
    if len(data) > _DATA_SHOWN:
        lines.append(f"{pad}\t....  (extra {len(data) - _DATA_SHOWN} bytes omitted)")
    return lines


def descriptor_lines(descriptor: Descriptor, depth: int) -> list[str]:
    pad = "\t" * depth
    lines = [f"{pad}Descriptor:", f"{pad}\tMedia Type: {quote_value(descriptor.media_type)}"]
    if descriptor.artifact_type:
        lines.append(f"{pad}\tArtifact Type: {quote_value(descriptor.artifact_type)}")
    lines += [
        f"{pad}\tDigest: {descriptor.digest}",
        f"{pad}\tSize: {human_size(descriptor.size)}",
    ]
    if descriptor.platform is not None:
        lines += _platform_lines(descriptor.platform)
    if descriptor.urls:
        lines.append(f"{pad}\tURLs:")
        lines.extend(f"{pad}\t\t{quote_word(url)}" for url in descriptor.urls)
    if descriptor.annotations:
        lines.append(f"{pad}\tAnnotations:")
        lines += map_lines(descriptor.annotations, pad + "\t\t")
    if descriptor.data is not None:
        lines += _data_lines(descriptor.data, pad + "\t")
    return lines


def map_lines(values: dict[str, str], pad: str) -> list[str]:
    return [f"{pad}{quote_word(key)}: {quote_value(values[key])}" for key in sorted(values)]


def _list_block(title: str, items: tuple[str, ...]) -> list[str]:
    return [f"\t{title}:", *(f"\t\t{quote_word(item)}" for item in items)]


def _config_lines(config: ImageConfig) -> list[str]:
    lines = []
    if config.created is not None:
        lines.append(f"Created: {config.created.format()}")
    lines.append(f"Author: {quote_value(config.author)}")
    lines += _platform_lines(
        Platform(
            architecture=config.architecture,
            os=config.os,
            os_version=config.os_version,
            os_features=config.os_features,
            variant=config.variant,
        )
    )
    c = config.config
    escaped = " (escaped)" if c.args_escaped else ""
    lines += ["Image Config:", f"\tUser: {quote_value(c.user)}"]
    if c.entrypoint:
        lines += _list_block(f"Entrypoint{escaped}", c.entrypoint)
    if c.cmd:
        lines += _list_block(f"Command{escaped}", c.cmd)
    else:
        lines.append(f"\tCommand{escaped}: (empty)")
    if c.working_dir:
        lines.append(f"\tWorking Directory: {quote_value(c.working_dir)}")
    if c.env:
        lines += _list_block("Environment", c.env)
    if c.stop_signal:
        lines.append(f"\tStop Signal: {quote_value(c.stop_signal)}")
    if c.exposed_ports:
        ports = ", ".join(quote_value(p) for p in sorted(c.exposed_ports))
        lines.append(f"\tExposed Ports: {ports}")
    if c.volumes:
        volumes = ", ".join(quote_value(v) for v in sorted(c.volumes))
        lines.append(f"\tVolumes: {volumes}")
    if c.labels:
        lines.append("\tLabels:")
        lines += map_lines(c.labels, "\t\t")
    return lines


def tabulate(rows: list[list[str]]) -> list[str]:
    """Go's tabwriter (minwidth 4, padding 1): the last column is not padded."""
    widths = [max(4, max(len(row[i]) for row in rows) + 1) for i in range(len(rows[0]) - 1)]
    return [
        "".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + row[-1]
        for row in rows
    ]


def _history_lines(rows: tuple[HistoryRow, ...]) -> list[str]:
    table = [["LAYER", "CREATED", "CREATED BY", "SIZE", "COMMENT"]]
    for row in rows:
        h = row.history
        table.append(
            [
                row.layer.digest if row.layer is not None else "<none>",
                h.created.format() if h.created is not None else "<none>",
                quote_cell(h.created_by),
                human_size(row.layer.size) if row.layer is not None else "<none>",
                quote_cell(h.comment),
            ]
        )
    return tabulate(table)


def format_text(info: ImageStat) -> str:
    manifest = info.manifest
    lines = [
        "== MANIFEST ==",
        f"Schema Version: {manifest.schema_version}",
        f"Media Type: {quote_value(manifest.media_type)}",
    ]
    if manifest.artifact_type:
        lines.append(f"Artifact Type: {quote_value(manifest.artifact_type)}")
    lines += ["Config:", *descriptor_lines(manifest.config, 1)]
    if manifest.layers:
        lines.append("Layers:")
        for layer in manifest.layers:
            lines += descriptor_lines(layer, 1)
    if manifest.subject is not None:
        lines += ["Subject:", *descriptor_lines(manifest.subject, 1)]
    if manifest.annotations:
        lines.append("Annotations:")
        lines += map_lines(manifest.annotations, "\t")
    lines += descriptor_lines(info.manifest_descriptor, 0)
    if info.config is not None:
        lines += ["", "== CONFIG ==", *_config_lines(info.config)]
        lines += descriptor_lines(manifest.config, 0)
        lines += ["", "== HISTORY ==", *_history_lines(info.history)]
    elif info.config_is_empty:
        lines += ["", "== CONFIG ==", *descriptor_lines(manifest.config, 0)]
    return "\n".join(lines) + "\n"


__all__ = [
    "BlobInvalidError",
    "ImageStat",
    "collect",
    "compact_json",
    "format_text",
    "human_size",
    "quote_cell",
    "quote_value",
    "quote_word",
    "stat",
]
