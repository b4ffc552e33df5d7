"""Durations on the command line: ``--lock-timeout 30s``, ``--grace 10m``, or plain seconds.

The units are Go's ``time.ParseDuration`` ones that make sense here (``ms``,
``s``, ``m``, ``h``), combinable as in ``1h30m``; a bare number is seconds.

Internal: not part of the public API (:mod:`umoci.api`).
"""

from __future__ import annotations

from umoci.errors import UsageError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str, flag: str) -> float:
    """Seconds in *text*; UsageError naming *flag* if it is not a non-negative duration."""
    try:
        return float(text) if _is_number(text) else _with_units(text)
    except ValueError:
        raise UsageError(
            f"invalid {flag} {text!r}: want a duration such as 30s, 10m, 1h30m or seconds"
        ) from None


def _is_number(text: str) -> bool:
    return text.replace(".", "", 1).isdigit() and text.isascii()


def _with_units(text: str) -> float:
    total = 0.0
    rest = text
    if not rest:
        raise ValueError(text)
    while rest:
        digits = 0
        while digits < len(rest) and (rest[digits].isdigit() or rest[digits] == "."):
            digits += 1
        number = rest[:digits]
        rest = rest[digits:]
        unit = "ms" if rest.startswith("ms") else rest[:1]
        if not _is_number(number) or unit not in _UNITS:
            raise ValueError(text)
        total += float(number) * _UNITS[unit]
        rest = rest[len(unit) :]
    return total
