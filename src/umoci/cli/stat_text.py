"""``umoci stat``'s text: the Go umoci 0.6's layout, made from the stat models.

Byte-identical to 0.6 for every image it can read (tests/oracle/
test_oracle_stat.py runs it over a generator of awkward images).  The rules,
each found by asking 0.6 rather than by reading it:

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

0.6 crashes on a history entry without a ``created`` time or with fewer
diff_ids than layers, where we print ``<none>`` (a deliberate difference,
listed in the README).

An index of several images, which 0.6 cannot show, follows the manifest
output's habits: a ``== INDEX ==`` section (schema, media type, artefact
type, annotations, the descriptor), then ``== MANIFESTS ==``, a table with
one row per entry (nested indexes indented below their entry) giving the
platform the index declares for it (``<none>`` if it declares none), the
digest, size, media type (with the artefact type, if any, in brackets) and
annotations as ``key=value`` pairs.
"""

from __future__ import annotations

from umoci import goquote
from umoci.oci.models import Descriptor, ImageConfig, Manifest, Platform
from umoci.ops.image_stat import HistoryRow, ImageStat, IndexEntry, IndexStat

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_DATA_SHOWN = 256  # bytes of embedded data that are hex-dumped


def stat_text(info: ImageStat | IndexStat) -> str:
    """The text ``umoci stat`` prints for *info*, with its trailing newline."""
    lines = _index_lines(info) if isinstance(info, IndexStat) else _image_lines(info)
    return "\n".join(lines) + "\n"


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


# -- pieces ----------------------------------------------------------------------


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


def data_lines(data: bytes, pad: str) -> list[str]:
    """Embedded descriptor data as 0.6 hex-dumps it (the first 256 bytes)."""
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
    """A ``Descriptor:`` block indented by *depth* tabs."""
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
        lines += _map_lines(descriptor.annotations, pad + "\t\t")
    if descriptor.data is not None:
        lines += data_lines(descriptor.data, pad + "\t")
    return lines


def _map_lines(values: dict[str, str], pad: str) -> list[str]:
    return [f"{pad}{quote_word(key)}: {quote_value(values[key])}" for key in sorted(values)]


def _list_block(title: str, items: tuple[str, ...]) -> list[str]:
    return [f"\t{title}:", *(f"\t\t{quote_word(item)}" for item in items)]


def _tabulate(rows: list[list[str]]) -> list[str]:
    """Go's tabwriter (minwidth 4, padding 1): the last column is not padded."""
    widths = [max(4, max(len(row[i]) for row in rows) + 1) for i in range(len(rows[0]) - 1)]
    return [
        "".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + row[-1]
        for row in rows
    ]


# -- an image --------------------------------------------------------------------


def _image_lines(info: ImageStat) -> list[str]:
    manifest = info.manifest
    lines = ["== MANIFEST ==", *_manifest_lines(manifest)]
    lines += descriptor_lines(info.manifest_descriptor, 0)
    if info.config is not None:
        lines += ["", "== CONFIG ==", *_config_lines(info.config)]
        lines += descriptor_lines(manifest.config, 0)
        lines += ["", "== HISTORY ==", *_history_lines(info.history)]
    elif info.config_is_empty:
        lines += ["", "== CONFIG ==", *descriptor_lines(manifest.config, 0)]
    return lines


def _manifest_lines(manifest: Manifest) -> list[str]:
    lines = [
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
        lines += _map_lines(manifest.annotations, "\t")
    return lines


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
        lines += _map_lines(c.labels, "\t\t")
    return lines


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
    return _tabulate(table)


# -- an index --------------------------------------------------------------------


def _index_lines(info: IndexStat) -> list[str]:
    index = info.index
    lines = [
        "== INDEX ==",
        f"Schema Version: {index.schema_version}",
        f"Media Type: {quote_value(index.media_type)}",
    ]
    if index.artifact_type:
        lines.append(f"Artifact Type: {quote_value(index.artifact_type)}")
    if index.subject is not None:
        lines += ["Subject:", *descriptor_lines(index.subject, 1)]
    if index.annotations:
        lines.append("Annotations:")
        lines += _map_lines(index.annotations, "\t")
    lines += descriptor_lines(info.descriptor, 0)
    table = [["PLATFORM", "DIGEST", "SIZE", "MEDIA TYPE", "ANNOTATIONS"]]
    _entry_rows(info.entries, 0, table)
    lines += ["", "== MANIFESTS ==", *(line.rstrip() for line in _tabulate(table))]
    return lines


def platform_text(platform: Platform | None) -> str:
    """``os[(version)]/arch[/variant]`` as the index spells it, ``<none>`` without one."""
    if platform is None:
        return "<none>"
    empty = '""'
    text = platform.os or empty
    if platform.os_version:
        text += f"({platform.os_version})"
    text += "/" + (platform.architecture or empty)
    if platform.variant:
        text += f"/{platform.variant}"
    return quote_word(text)


def _media_cell(descriptor: Descriptor) -> str:
    cell = quote_value(descriptor.media_type)
    if descriptor.artifact_type:
        cell += f" [{quote_value(descriptor.artifact_type)}]"
    return cell


def _annotations_cell(descriptor: Descriptor) -> str:
    annotations = descriptor.annotations
    return ", ".join(f"{quote_word(k)}={quote_value(annotations[k])}" for k in sorted(annotations))


def _entry_rows(entries: tuple[IndexEntry, ...], depth: int, rows: list[list[str]]) -> None:
    for entry in entries:
        child = entry.descriptor
        rows.append(
            [
                "  " * depth + platform_text(child.platform),
                child.digest,
                human_size(child.size),
                _media_cell(child),
                _annotations_cell(child),
            ]
        )
        if entry.unreadable is not None:
            rows.append(["  " * (depth + 1) + f"(unreadable: {entry.unreadable})", "", "", "", ""])
        _entry_rows(entry.entries, depth + 1, rows)
