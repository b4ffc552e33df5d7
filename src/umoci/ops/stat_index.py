"""``umoci stat`` of an index: the entries of a multi-platform image.

The Go umoci cannot show an index with more than one manifest below it
("tag is ambiguous"), so this output is ours.  It follows the manifest
output's habits: a ``== INDEX ==`` section (schema, media type, artefact
type, annotations, the descriptor), then ``== MANIFESTS ==``, a table with
one row per entry (nested indexes indented below their entry) giving the
platform the index declares for it (``<none>`` if it declares none), the
digest, size, media type (with the artefact type, if any, in brackets) and
annotations as ``key=value`` pairs.  ``--json`` gives the descriptor and
the index blob as stored, compacted, in the shape of the manifest's
(``{"index": {"descriptor": ..., "blob": ...}}``).

An index with exactly one manifest below it is shown as that manifest, as
the Go umoci shows it; ``--platform`` shows one entry's manifest.
"""

from __future__ import annotations

from umoci.cas.dir import DirStore
from umoci.errors import UmociError
from umoci.layout.refs import DescriptorPath, read_index_blob
from umoci.oci import gojson, mediatypes
from umoci.oci.models import Descriptor, Index, Platform
from umoci.ops.stat_image import (
    compact_json,
    descriptor_lines,
    human_size,
    map_lines,
    quote_value,
    quote_word,
    tabulate,
)

_MAX_ROWS_DEPTH = 16


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


def _rows(store: DirStore, index: Index, depth: int, rows: list[list[str]]) -> None:
    for child in index.manifests:
        rows.append(
            [
                "  " * depth + platform_text(child.platform),
                child.digest,
                human_size(child.size),
                _media_cell(child),
                _annotations_cell(child),
            ]
        )
        if child.media_type in mediatypes.INDEX_TYPES and depth < _MAX_ROWS_DEPTH:
            try:
                nested = read_index_blob(store, child)
            except UmociError as err:
                rows.append(["  " * (depth + 1) + f"(unreadable: {err})", "", "", "", ""])
                continue
            _rows(store, nested, depth + 1, rows)


def stat_index(store: DirStore, anchor: DescriptorPath, *, as_json: bool) -> str:
    descriptor = anchor.root
    raw = store.read_blob(descriptor)
    index = read_index_blob(store, descriptor)
    if as_json:
        return (
            '{"index":{"descriptor":'
            + gojson.dumps(descriptor.go_struct().to_json())
            + ',"blob":'
            + compact_json(raw, f"index {descriptor.digest}")
            + "}}\n"
        )
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
        lines += map_lines(index.annotations, "\t")
    lines += descriptor_lines(descriptor, 0)
    table = [["PLATFORM", "DIGEST", "SIZE", "MEDIA TYPE", "ANNOTATIONS"]]
    _rows(store, index, 0, table)
    lines += ["", "== MANIFESTS ==", *(line.rstrip() for line in tabulate(table))]
    return "\n".join(lines) + "\n"
