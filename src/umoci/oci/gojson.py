"""JSON bytes exactly as Go's ``encoding/json`` writes them.

Blob digests depend on every byte, so the blobs we write must match the Go
umoci's for the same content.  Go differs from Python's defaults in a few
ways that matter:

* ``<``, ``>`` and ``&`` are escaped as ``\\u003c``, ``\\u003e``, ``\\u0026``
  (HTML-safe output), and so are U+2028/U+2029;
* other non-ASCII text is written as raw UTF-8;
* no spaces after ``,`` or ``:``; map keys are sorted (callers build struct
  fields in the spec's order themselves; see :mod:`umoci.oci.models`);
* ``MarshalIndent`` puts an empty object or array as ``{}``/``[]`` on one line.

Invalid UTF-8 never reaches here: strings come from decoded JSON or from
the command line (decoded with surrogateescape, which we refuse on encode).
"""

from __future__ import annotations

from umoci import jsontext

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import Any

_GO_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def _go_escape(text: str) -> str:
    # The escaped characters never occur in JSON syntax outside strings, so
    # translating the whole document is the same as translating each string.
    return text.translate(_GO_ESCAPES)


def dumps(value: Any) -> str:
    """Compact encoding (``json.Marshal``), without the trailing newline."""
    return _go_escape(jsontext.dumps(value))


def dumps_blob(value: Any) -> bytes:
    """A blob as ``json.NewEncoder(w).Encode`` writes it: compact plus a newline."""
    return (dumps(value) + "\n").encode("utf-8")


def dumps_indent(value: Any, indent: str = "\t") -> str:
    """``json.MarshalIndent(value, "", indent)`` (no trailing newline)."""
    return _go_escape(_indent(value, indent, 0))


def _indent(value: Any, indent: str, depth: int) -> str:
    # Python's json module has no way to keep "{}"/"[]" compact while
    # indenting everything else the way Go does, so lay out containers here.
    pad = indent * (depth + 1)
    close = indent * depth
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [
            f"{pad}{jsontext.dumps(str(k))}: {_indent(v, indent, depth + 1)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + close + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        items = [f"{pad}{_indent(v, indent, depth + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + "\n" + close + "]"
    return jsontext.dumps(value)
