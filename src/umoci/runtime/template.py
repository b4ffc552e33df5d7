"""The runtime-spec template the image config is laid over (the Go umoci's ``Example()``).

Values and their order are the Go umoci 0.6 defaults, which runc also uses:
a small capability set, ``RLIMIT_NOFILE`` 1024, the usual pseudo-filesystem
mounts, masked and read-only ``/proc`` paths, and fresh namespaces.  Each
call returns new lists so callers may mutate them.  Dict keys are in the
order of the runtime-spec Go structs, because that is the order Go writes.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import Any


# runtime-spec v1.3.0, the version umoci 0.6 vendors (its "-dev" suffix, if
# any, is stripped by umoci before use).
OCI_VERSION = "1.3.0"

DEFAULT_HOSTNAME = "umoci-default"
DEFAULT_ARGS = ("sh",)
DEFAULT_ENV = (
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "TERM=xterm",
)

_CAPS = ("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE")

# (destination, type, source, options); options None is omitted in JSON.
_MOUNTS: tuple[tuple[str, str, str, tuple[str, ...] | None], ...] = (
    ("/proc", "proc", "proc", None),
    ("/dev", "tmpfs", "tmpfs", ("nosuid", "strictatime", "mode=755", "size=65536k")),
    (
        "/dev/pts",
        "devpts",
        "devpts",
        ("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"),
    ),
    ("/dev/shm", "tmpfs", "shm", ("nosuid", "noexec", "nodev", "mode=1777", "size=65536k")),
    ("/dev/mqueue", "mqueue", "mqueue", ("nosuid", "noexec", "nodev")),
    ("/sys", "sysfs", "sysfs", ("nosuid", "noexec", "nodev", "ro")),
    ("/sys/fs/cgroup", "cgroup", "cgroup", ("nosuid", "noexec", "nodev", "relatime", "ro")),
)

NAMESPACES = ("cgroup", "pid", "network", "ipc", "uts", "mount")

MASKED_PATHS = (
    "/proc/kcore",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
)

READONLY_PATHS = (
    "/proc/asound",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)

# Options of the tmpfs mount made for each Config.Volumes entry.
VOLUME_OPTIONS = ("rw", "nosuid", "nodev", "noexec", "relatime")


def mount(
    destination: str, type_: str, source: str, options: tuple[str, ...] | list[str] | None
) -> dict[str, Any]:
    """A runtime-spec Mount in Go field order (empty options are omitted, as Go does)."""
    out: dict[str, Any] = {"destination": destination, "type": type_, "source": source}
    if options:
        out["options"] = list(options)
    return out


def default_mounts() -> list[dict[str, Any]]:
    """The template's mounts, fresh."""
    return [mount(*m) for m in _MOUNTS]


def capabilities() -> dict[str, list[str]]:
    """The template's capability sets, in runtime-spec field order."""
    return {
        name: list(_CAPS)
        for name in ("bounding", "effective", "inheritable", "permitted", "ambient")
    }


def rlimits() -> list[dict[str, Any]]:
    """The template's rlimits."""
    return [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]


def device_cgroup() -> dict[str, Any]:
    """``linux.resources``: deny all devices (removed for rootless)."""
    return {"devices": [{"allow": False, "access": "rwm"}]}
