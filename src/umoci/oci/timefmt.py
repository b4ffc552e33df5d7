"""RFC 3339 times as Go's ``time.Time`` reads and writes them in JSON.

We keep a time as (UTC nanoseconds since the epoch, UTC offset in seconds)
so that re-encoding reproduces Go's bytes: ``RFC3339Nano`` with trailing
zeros of the fraction dropped, and ``Z`` for any zero offset (Go's
``Z07:00`` layout element writes ``Z`` whenever the offset is zero, so
``+00:00`` input comes back as ``Z``).

Parsing accepts what Go accepts for a JSON time and for ``time.Parse`` with
an RFC 3339 layout (image configs written by other tools, ``--created``):
upper-case ``T`` and ``Z`` only, a one-digit hour, ``,`` before the fraction,
a fraction of any length (cut to nanoseconds), zone offsets up to 24:60,
and years from 0000.  Calendar arithmetic is done by hand because Python's
``datetime`` stops at year 1.
"""

from __future__ import annotations

import os
import time

from umoci import goquote
from umoci.errors import UsageError
from umoci.structs import dataclass

_DIGITS = frozenset("0123456789")


def _digits(text: str, start: int, count: int) -> bool:
    part = text[start : start + count]
    return len(part) == count and all(c in _DIGITS for c in part)


def _rfc3339_fields(text: str) -> tuple[str, ...] | None:
    """The fields of ``YYYY-MM-DDTH[H]:MM:SS[(.|,)F+](Z|(+|-)HH:MM)``, or None.

    (year, month, day, hour, minute, second, fraction, zone) with fraction
    "" when absent and zone "Z" or ``±HH:MM``.  Matched by hand: ``re``
    would cost every run its ~6 ms import.
    """
    if not (
        _digits(text, 0, 4)
        and text[4:5] == "-"
        and _digits(text, 5, 2)
        and text[7:8] == "-"
        and _digits(text, 8, 2)
        and text[10:11] == "T"
    ):
        return None
    i = 11
    hour_digits = 2 if _digits(text, i, 2) and text[i + 2 : i + 3] == ":" else 1
    if not (_digits(text, i, hour_digits) and text[i + hour_digits : i + hour_digits + 1] == ":"):
        return None
    hour = text[i : i + hour_digits]
    i += hour_digits + 1
    if not (_digits(text, i, 2) and text[i + 2 : i + 3] == ":" and _digits(text, i + 3, 2)):
        return None
    minute, second = text[i : i + 2], text[i + 3 : i + 5]
    i += 5
    fraction = ""
    if text[i : i + 1] in (".", ","):
        j = i + 1
        while j < len(text) and text[j] in _DIGITS:
            j += 1
        if j == i + 1:
            return None
        fraction, i = text[i + 1 : j], j
    zone = text[i:]
    if zone != "Z" and not (
        len(zone) == 6
        and zone[0] in "+-"
        and _digits(zone, 1, 2)
        and zone[3] == ":"
        and _digits(zone, 4, 2)
    ):
        return None
    return (text[0:4], text[5:7], text[8:10], hour, minute, second, fraction, zone)


_NS = 1_000_000_000
_DAY = 86_400


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (any year)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(days: int) -> tuple[int, int, int]:
    days += 719468
    era = days // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (month <= 2), month, day


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


@dataclass(frozen=True, order=True)
class GoTime:
    """A time as OCI documents hold it: an instant and the UTC offset it was written with.

    *unix_ns* is the instant in nanoseconds since 1970-01-01T00:00:00Z and
    *offset_s* the offset east of UTC in seconds (``+02:00`` is 7200).
    Unlike :class:`datetime.datetime` it keeps nanoseconds, and years
    before 1, as Go's ``time.Time`` does, so that a time read from an image
    is written back byte for byte.

    >>> GoTime.parse("2025-01-01T12:00:00.5+02:00")
    GoTime(unix_ns=1735725600500000000, offset_s=7200)
    >>> GoTime.from_unix(1700000000).format()
    '2023-11-14T22:13:20Z'
    """

    unix_ns: int
    offset_s: int = 0

    @classmethod
    def parse(cls, text: str) -> GoTime:
        """The RFC 3339 time *text*, read as Go reads one (else :class:`~umoci.errors.UsageError`).

        >>> GoTime.parse("2025-01-01T00:00:00Z").unix_ns
        1735689600000000000
        """
        try:
            return parse_time(text)
        except ValueError as err:
            raise UsageError(str(err)) from None

    @classmethod
    def from_unix(cls, seconds: int, nanos: int = 0) -> GoTime:
        """The instant *seconds* (and *nanos*) after the Unix epoch, in UTC.

        >>> GoTime.from_unix(0, 5).format()
        '1970-01-01T00:00:00.000000005Z'
        """
        return cls(seconds * _NS + nanos)

    @classmethod
    def now(cls) -> GoTime:
        """The current time, in UTC.

        >>> GoTime.now() > GoTime.parse("2025-01-01T00:00:00Z")
        True
        """
        return cls(time.time_ns())

    def format(self) -> str:
        """RFC3339Nano as Go's MarshalJSON writes it (without quotes).

        >>> GoTime.parse("2025-01-01T00:00:00.120+00:00").format()
        '2025-01-01T00:00:00.12Z'
        """
        seconds, nanos = divmod(self.unix_ns, _NS)
        days, clock = divmod(seconds + self.offset_s, _DAY)
        year, month, day = _civil_from_days(days)
        hour, rest = divmod(clock, 3600)
        text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{rest // 60:02d}:{rest % 60:02d}"
        if nanos:
            text += "." + f"{nanos:09d}".rstrip("0")
        if self.offset_s == 0:
            return text + "Z"
        sign = "+" if self.offset_s > 0 else "-"
        hours, minutes = divmod(abs(self.offset_s) // 60, 60)
        return f"{text}{sign}{hours:02d}:{minutes:02d}"


def parse_time(text: str) -> GoTime:
    """Parse an RFC 3339 time the way Go does; ValueError otherwise."""
    fields = _rfc3339_fields(text)
    if fields is None:
        raise ValueError(f"parsing time {goquote.quote(text)}: not an RFC 3339 time")
    year, month, day, hour, minute, second = (int(f) for f in fields[:6])
    fraction, zone = fields[6], fields[7]
    if not (
        1 <= month <= 12
        and 1 <= day <= _days_in_month(year, month)
        and hour <= 23
        and minute <= 59
        and second <= 59
    ):
        raise ValueError(f"parsing time {goquote.quote(text)}: out of range")
    offset_s = 0
    if zone != "Z":
        zone_hours, zone_minutes = int(zone[1:3]), int(zone[4:6])
        if zone_hours > 24 or zone_minutes > 60:
            raise ValueError(f"parsing time {goquote.quote(text)}: time zone offset out of range")
        offset_s = (zone_hours * 3600 + zone_minutes * 60) * (-1 if zone[0] == "-" else 1)
    nanos = int(fraction[:9].ljust(9, "0"))
    local = _days_from_civil(year, month, day) * _DAY + hour * 3600 + minute * 60 + second
    return GoTime((local - offset_s) * _NS + nanos, offset_s)


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
