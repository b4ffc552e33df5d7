"""RFC 3339 times as Go's ``time.Time`` reads and writes them in JSON.

We keep a time as (UTC nanoseconds since the epoch, UTC offset in seconds)
so that re-encoding reproduces Go's bytes: ``RFC3339Nano`` with trailing
zeros of the fraction dropped, and ``Z`` for any zero offset (Go's
``Z07:00`` layout element writes ``Z`` whenever the offset is zero, so
``+00:00`` input comes back as ``Z``).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from umoci.errors import UsageError

_RFC3339_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})"
)
_NS = 1_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, order=True)
class GoTime:
    """An instant plus the UTC offset it was written with."""

    unix_ns: int
    offset_s: int = 0

    @classmethod
    def from_unix(cls, seconds: int, nanos: int = 0) -> GoTime:
        return cls(seconds * _NS + nanos)

    @classmethod
    def now(cls) -> GoTime:
        return cls(time.time_ns())

    def format(self) -> str:
        """RFC3339Nano as Go's MarshalJSON writes it (without quotes)."""
        seconds, nanos = divmod(self.unix_ns, _NS)
        zone = timezone(timedelta(seconds=self.offset_s))
        local = _EPOCH + timedelta(seconds=seconds)
        local = local.astimezone(zone)
        text = local.strftime("%Y-%m-%dT%H:%M:%S")
        if len(text) < 19:  # strftime drops leading zeros of small years
            text = f"{local.year:04d}" + text[text.index("-") :]
        if nanos:
            text += "." + f"{nanos:09d}".rstrip("0")
        if self.offset_s == 0:
            return text + "Z"
        sign = "+" if self.offset_s >= 0 else "-"
        hours, minutes = divmod(abs(self.offset_s) // 60, 60)
        return f"{text}{sign}{hours:02d}:{minutes:02d}"


def parse_time(text: str) -> GoTime:
    """Parse RFC 3339 (fraction optional, up to nanoseconds); ValueError otherwise."""
    m = _RFC3339_RE.fullmatch(text)
    if m is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction, zone = m.group(7), m.group(8)
    if zone == "Z":
        offset_s = 0
    else:
        zh, zm = int(zone[1:3]), int(zone[4:6])
        if zh > 23 or zm > 59:
            raise ValueError(f"bad time zone offset in {text!r}")
        offset_s = (zh * 3600 + zm * 60) * (-1 if zone[0] == "-" else 1)
    try:
        local = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as err:
        raise ValueError(f"not a valid time: {text!r}: {err}") from None
    seconds = (local - _EPOCH) // timedelta(seconds=1) - offset_s
    nanos = int(fraction.ljust(9, "0")) if fraction else 0
    return GoTime(seconds * _NS + nanos, offset_s)


def source_date_epoch() -> GoTime | None:
    """``SOURCE_DATE_EPOCH`` from the environment, if set (reproducible builds)."""
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None or raw == "":
        return None
    try:
        return GoTime.from_unix(int(raw, 10))
    except ValueError:
        raise UsageError(f"invalid SOURCE_DATE_EPOCH {raw!r}: not an integer") from None


def default_now() -> GoTime:
    """The time to stamp new things with: SOURCE_DATE_EPOCH if set, else now."""
    return source_date_epoch() or GoTime.now()
