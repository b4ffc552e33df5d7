"""``json.dumps`` through CPython's C accelerator, without ``import json``.

The ``json`` package imports ``re`` (and ``re`` imports ``enum``): about 6 ms
before a verb has done anything, half of what the interpreter itself needs
to start.  The verbs write JSON with the same C encoder the ``json`` package
uses (``_json``), set up exactly as ``json.dumps(ensure_ascii=False,
separators=(",", ":"))`` sets it up: same output, same exceptions.  Where
``_json`` is missing (not CPython), the ``json`` package does it.  Reading
JSON is :mod:`umoci.oci.decode`'s (the one decoder, with Go's rules).

Internal: not part of the public API (:mod:`umoci.api`).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import Any

try:
    import _json
except ImportError:  # pragma: no cover - CPython always has it
    _json = None  # type: ignore[assignment]


def _not_serializable(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


if _json is not None:
    _encode_string = _json.encode_basestring


def _encoder() -> Any:
    """json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))'s C encoder."""
    return _json.make_encoder(
        {},  # markers: the circular-reference check (a fresh one per call, as json.dumps)
        _not_serializable,
        _encode_string,
        None,  # indent
        ":",
        ",",
        False,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan
    )


def dumps(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``."""
    if _json is None:  # pragma: no cover
        import json

        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, str):
        return _encode_string(value)
    return "".join(_encoder()(value, 0))
