"""``umoci stat --json``: the document the Go umoci 0.6 prints, from the stat models.

The descriptors and history rows are re-encoded (Go drops fields it does not
know), but the manifest, config and index ``blob`` values are the blobs' own
bytes, compacted with Go's HTML escaping, so key order, escapes and unknown
fields come through as stored.  Byte-identical to 0.6 for every image it can
read (tests/oracle/test_oracle_stat.py).  An index of several images (which
0.6 cannot show) has the manifest's shape: ``{"index": {"descriptor": ...,
"blob": ...}}``.
"""

from __future__ import annotations

from umoci.errors import BlobInvalidError
from umoci.oci import gojson
from umoci.oci.decode import has_trailing_data
from umoci.ops.image_stat import HistoryRow, ImageStat, IndexStat
from umoci.structs import replace

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import Any


def stat_json(info: ImageStat | IndexStat) -> str:
    """The ``--json`` document for *info*, with its trailing newline."""
    if isinstance(info, IndexStat):
        return _index_json(info) + "\n"
    return _image_json(info) + "\n"


def _image_json(info: ImageStat) -> str:
    parts = [
        '{"manifest":{"descriptor":',
        gojson.dumps(info.manifest_descriptor.go_struct().to_json()),
        ',"blob":',
        compact_json(info.manifest_raw, f"manifest {info.manifest_descriptor.digest}"),
        "}",
    ]
    if info.config is not None or info.config_is_empty:
        parts += [
            ',"config":{"descriptor":',
            gojson.dumps(info.manifest.config.go_struct().to_json()),
            ',"blob":',
            compact_json(info.config_raw, f"config {info.manifest.config.digest}"),
            "}",
        ]
    if info.config is not None:
        parts += [',"history":', gojson.dumps([_history_row(row) for row in info.history])]
    parts.append("}")
    return "".join(parts)


def _history_row(row: HistoryRow) -> dict[str, Any]:
    out: dict[str, Any] = {
        "layer": row.layer.go_struct().to_json() if row.layer is not None else None,
        "diff_id": row.diff_id,
    }
    out.update(replace(row.history, extra={}).to_json())
    return out


def _index_json(info: IndexStat) -> str:
    return (
        '{"index":{"descriptor":'
        + gojson.dumps(info.descriptor.go_struct().to_json())
        + ',"blob":'
        + compact_json(info.index_raw, f"index {info.descriptor.digest}")
        + "}}"
    )


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
