"""The image config fields the runtime conversion reads, validated like Go's decoder.

The config blob is untrusted.  The Go umoci decodes it into ``ispec.Image``
(image-spec v1.1) before converting, so a blob with a wrongly typed field
anywhere in that struct -- even one the conversion never looks at, such as
``history[3].empty_layer`` -- makes unpack fail.  :func:`parse_image_config`
checks the same shape and raises :class:`BlobInvalidError`, and returns only
what :mod:`umoci.runtime.spec` needs, already normalised the way Go's
generator hands it out (sets as sorted lists, ``created`` formatted).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from umoci.errors import BlobInvalidError
from umoci.runtime import godecode as gd
from umoci.structs import dataclass, field

_ERR = BlobInvalidError
_WHERE = "image config"

_IMAGE_FIELDS = (
    "created",
    "author",
    "architecture",
    "os",
    "os.version",
    "os.features",
    "variant",
    "config",
    "rootfs",
    "history",
)
_CONFIG_FIELDS = (
    "User",
    "ExposedPorts",
    "Env",
    "Entrypoint",
    "Cmd",
    "Volumes",
    "WorkingDir",
    "Labels",
    "StopSignal",
    "ArgsEscaped",
)
_ROOTFS_FIELDS = ("type", "diff_ids")
_HISTORY_FIELDS = ("created", "created_by", "author", "comment", "empty_layer")

# What Go's time.Time.UnmarshalJSON accepts: its strict RFC 3339 fast path
# plus the time.Parse(RFC3339) fallback it still allows (a one-digit hour,
# "," before the fraction, zone offsets up to 24:60).  Upper-case T and Z only.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
    r"(?:(Z)|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)

# time.Time{}.Format(time.RFC3339Nano): what Go writes when "created" is absent.
ZERO_TIME = "0001-01-01T00:00:00Z"


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def format_go_time(text: str, where: str = "created") -> str:
    """Parse an RFC 3339 time as Go does and re-format it as ``RFC3339Nano``.

    Go keeps the parsed offset, so the wall-clock digits survive; the
    fraction is cut to nanoseconds with trailing zeros dropped, and a zero
    offset is written as ``Z``.
    """
    m = _RFC3339.fullmatch(text)
    if m is None:
        raise _ERR(f"{_WHERE}: {where}: cannot parse {text!r} as RFC 3339 time")
    year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    if not (
        1 <= month <= 12
        and 1 <= day <= _days_in_month(year, month)
        and hour <= 23
        and minute <= 59
        and second <= 59
    ):
        raise _ERR(f"{_WHERE}: {where}: time {text!r} out of range")
    frac = (m.group(7) or "")[:9].ljust(9, "0").rstrip("0")
    out = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    if frac:
        out += "." + frac
    if m.group(8):
        return out + "Z"
    tz_hour, tz_min = int(m.group(10)), int(m.group(11))
    if tz_hour > 24 or tz_min > 60:
        raise _ERR(f"{_WHERE}: {where}: time zone offset in {text!r} out of range")
    offset = tz_hour * 60 + tz_min
    if offset == 0:
        return out + "Z"
    return f"{out}{m.group(9)}{offset // 60:02d}:{offset % 60:02d}"


def _time(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _ERR(f"{_WHERE}: {where}: expected string, got {gd.kind(value)}")
    return format_go_time(value, where)


@dataclass(frozen=True)
class ImageConfig:
    """The parts of an ``ispec.Image`` that become the runtime config.

    ``exposed_ports`` and ``volumes`` are sorted (Go's generator sorts the
    map keys); ``created`` is already in Go's ``RFC3339Nano`` form, or
    ``None`` when absent.
    """

    os: str = ""
    architecture: str = ""
    variant: str = ""
    author: str = ""
    created: str | None = None
    user: str = ""
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    working_dir: str = ""
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    stop_signal: str = ""


def parse_image_config(obj: object) -> ImageConfig:
    """Validate a decoded config blob and pick out the conversion inputs."""
    if not isinstance(obj, Mapping):
        # A JSON null would decode to the zero Image in Go, which then fails
        # the OS check; anything else is not an image config at all.
        if obj is None:
            return ImageConfig()
        raise _ERR(f"{_WHERE}: expected object, got {gd.kind(obj)}")
    top = gd.fields(obj, _IMAGE_FIELDS, _WHERE, _ERR)

    def s(name: str) -> str:
        return gd.string(top.get(name), f"{_WHERE}: {name}", _ERR)

    created = _time(top.get("created"), "created")
    gd.string_list(top.get("os.features"), f"{_WHERE}: os.features", _ERR)
    s("os.version")
    _check_rootfs(top.get("rootfs"))
    _check_history(top.get("history"))

    where = f"{_WHERE}: config"
    cfg = gd.fields(top.get("config"), _CONFIG_FIELDS, where, _ERR)

    def cs(name: str) -> str:
        return gd.string(cfg.get(name), f"{where}.{name}", _ERR)

    def cl(name: str) -> tuple[str, ...]:
        return tuple(gd.string_list(cfg.get(name), f"{where}.{name}", _ERR))

    def cset(name: str) -> tuple[str, ...]:
        return tuple(gd.string_set(cfg.get(name), f"{where}.{name}", _ERR))

    gd.boolean(cfg.get("ArgsEscaped"), f"{where}.ArgsEscaped", _ERR)
    return ImageConfig(
        os=s("os"),
        architecture=s("architecture"),
        variant=s("variant"),
        author=s("author"),
        created=created,
        user=cs("User"),
        env=cl("Env"),
        entrypoint=cl("Entrypoint"),
        cmd=cl("Cmd"),
        working_dir=cs("WorkingDir"),
        exposed_ports=cset("ExposedPorts"),
        volumes=cset("Volumes"),
        labels=gd.string_map(cfg.get("Labels"), f"{where}.Labels", _ERR),
        stop_signal=cs("StopSignal"),
    )


def _check_rootfs(value: object) -> None:
    where = f"{_WHERE}: rootfs"
    rootfs = gd.fields(value, _ROOTFS_FIELDS, where, _ERR)
    gd.string(rootfs.get("type"), f"{where}.type", _ERR)
    gd.string_list(rootfs.get("diff_ids"), f"{where}.diff_ids", _ERR)


def _check_history(value: object) -> None:
    for i, item in enumerate(gd.array(value, f"{_WHERE}: history", _ERR)):
        where = f"{_WHERE}: history[{i}]"
        entry = gd.fields(item, _HISTORY_FIELDS, where, _ERR)
        _time(entry.get("created"), f"history[{i}].created")
        for name in ("created_by", "author", "comment"):
            gd.string(entry.get(name), f"{where}.{name}", _ERR)
        gd.boolean(entry.get("empty_layer"), f"{where}.empty_layer", _ERR)
