"""``json.loads`` and ``json.dumps`` through CPython's C accelerator, without ``import json``.

The ``json`` package imports ``re`` (and ``re`` imports ``enum``): about 6 ms
before a verb has done anything, half of what the interpreter itself needs
to start.  ``umoci ls``, ``stat`` and ``config`` need JSON but nothing of
``re``, so they parse and write it with the same C scanner and encoder the
``json`` package uses (``_json``), set up exactly as ``json.loads`` and
``json.dumps(ensure_ascii=False, separators=(",", ":"))`` set them up: same
values, same output, same exceptions for valid input.  On invalid input
``loads`` asks ``json.loads`` for its error, so messages stay the standard
library's.  Where ``_json`` is missing (not CPython), the ``json`` package
does all of it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import Any

try:
    import _json
except ImportError:  # pragma: no cover - CPython always has it
    _json = None  # type: ignore[assignment]

_WHITESPACE = " \t\n\r"  # what JSON allows between tokens (json.decoder's WHITESPACE)


def _constant(name: str) -> float:
    # What json.loads makes of the non-standard NaN, Infinity and -Infinity.
    return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


class _DecoderSettings:
    """The attributes ``_json.make_scanner`` reads: json.JSONDecoder's defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_constant)
    memo: dict[str, str] = {}  # noqa: RUF012 -- the C scanner keeps its own


def _not_serializable(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


if _json is not None:
    _scan = _json.make_scanner(_DecoderSettings())  # type: ignore[arg-type]
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


def loads(text: str) -> Any:
    """``json.loads(text)`` for a ``str``."""
    if _json is None:  # pragma: no cover
        import json

        return json.loads(text)
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration:
        end = -1
    if end < 0 or text[end:].strip(_WHITESPACE):
        import json  # its message for what is wrong (and a raise)

        return json.loads(text)
    return value


_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def loads_bytes(data: bytes) -> Any:
    """``json.loads(data)`` for ``bytes`` (UTF-8; UTF-16/32 and BOMs are left to ``json``)."""
    if _json is None or b"\0" in data[:4] or data.startswith(_BOMS):
        import json

        return json.loads(data)
    return loads(data.decode("utf-8", "surrogatepass"))


def dumps(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``."""
    if _json is None:  # pragma: no cover
        import json

        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, str):
        return _encode_string(value)
    return "".join(_encoder()(value, 0))
