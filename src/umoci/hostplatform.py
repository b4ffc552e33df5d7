"""The platform this machine runs: the default for ``--platform`` and for ``umoci new``.

The CPU variant is read from ``/proc/cpuinfo`` where it means something:
the ARM architecture version on 32-bit ARM, the x86-64 micro-architecture
level (v1..v4, from the CPU flags each level requires) on amd64.  ARM64 is
always ``v8`` (a later core still runs v8 images, which is what matters for
choosing one).  Anything unreadable falls back to the baseline variant.

Internal: not part of the public API (:mod:`umoci.api`).
"""

from __future__ import annotations

import functools

from umoci.oci.platforms import PlatformSpec, normalize

_GO_ARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
    "armv5tel": "arm",
    "i686": "386",
    "i386": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "mips64": "mips64",
    "loongarch64": "loong64",
}

# CPU flags (as /proc/cpuinfo spells them) each x86-64 level adds.
_AMD64_LEVELS = (
    ("v2", {"cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"}),
    ("v3", {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}),
    ("v4", {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}),
)


def host_os() -> str:
    import platform as host_platform  # only when a platform is needed: keep it off start-up

    return host_platform.system().lower() or "linux"


def host_arch() -> str:
    import platform as host_platform

    machine = host_platform.machine()
    return _GO_ARCH.get(machine, machine.lower())


def _cpuinfo() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            return f.read(1 << 20)
    except OSError:
        return ""


def amd64_level(flags: set[str]) -> str:
    """The highest x86-64 level whose flags are all in *flags* (``v1`` at least)."""
    level = "v1"
    for name, needed in _AMD64_LEVELS:
        if not needed <= flags:
            break
        level = name
    return level


def _cpuinfo_field(text: str, name: str) -> str:
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == name:
            return value.strip()
    return ""


def host_variant(arch: str, cpuinfo: str | None = None) -> str:
    """The CPU variant of this machine for *arch* ("" where variants mean nothing)."""
    if arch == "arm64":
        return "v8"
    if arch == "amd64":
        text = _cpuinfo() if cpuinfo is None else cpuinfo
        flags = _cpuinfo_field(text, "flags")
        return amd64_level(set(flags.split())) if flags else "v1"
    if arch == "arm":
        text = _cpuinfo() if cpuinfo is None else cpuinfo
        version = _cpuinfo_field(text, "CPU architecture")
        return f"v{version}" if version.isdigit() else "v7"
    return ""


@functools.cache
def host_platform() -> PlatformSpec:
    """This machine's platform, normalised, with its CPU variant."""
    arch = host_arch()
    return normalize(host_os(), arch, host_variant(arch))
