"""Platforms: ``--platform OS[(VERSION)]/ARCH[/VARIANT]``, normalisation and matching.

Pure data, no I/O (the host's own platform is in :mod:`umoci.hostplatform`).

Matching follows the image-spec's platform fields and the rules container
runtimes (containerd, Docker) apply when they pick an entry of an index:

* names are normalised first: ``x86_64`` is ``amd64``, ``aarch64`` is
  ``arm64``, ``armhf`` is ``arm/v7``, ``armel`` is ``arm/v6``, ``i386`` and
  ``i686`` are ``386``; variants may be written with or without the ``v``;
* a missing variant means the architecture's baseline: ``arm64`` is
  ``arm64/v8``, ``arm`` is ``arm/v7``, ``amd64`` is ``amd64/v1``;
* a machine runs older variants of its architecture (``arm/v7`` runs
  ``arm/v6`` and ``arm/v5``; ``amd64/v3`` runs ``v2`` and ``v1``), and some
  run a second architecture (``arm64`` runs 32-bit ``arm`` images, ``amd64``
  runs ``386``).  :func:`compatible` lists them best first; an exact match
  always beats a fallback, and :func:`rank` works the position out by
  arithmetic, so a request costs the same whatever its variant number;
* a variant number of more than four digits is no CPU variant: it is an
  opaque label that matches only an entry spelt the same way;
* ``os.version`` only filters when the request names one (Windows builds);
  ``os.features`` never do.

Entries that are not runnable images are never chosen: attestations (Docker
BuildKit marks them with ``vnd.docker.reference.type``), ``unknown/unknown``
platforms and descriptors with an ``artifactType``.
"""

from __future__ import annotations

from umoci.errors import UsageError
from umoci.structs import dataclass

_ARCH_ALIASES = {
    "x86_64": ("amd64", ""),
    "x86-64": ("amd64", ""),
    "aarch64": ("arm64", ""),
    "armhf": ("arm", "v7"),
    "armel": ("arm", "v6"),
    "i386": ("386", ""),
    "i486": ("386", ""),
    "i586": ("386", ""),
    "i686": ("386", ""),
}

# The variant an architecture has when none is written.
_BASELINE_VARIANT = {"arm64": "v8", "arm": "v7", "amd64": "v1"}

_UNWRITTEN_VARIANT = {"arm64": "v8", "amd64": "v1"}

# Oldest variant still worth trying as a fallback.
_OLDEST_VARIANT = {"arm64": 8, "arm": 5, "amd64": 1}

ATTESTATION_ANNOTATION = "vnd.docker.reference.type"


@dataclass(frozen=True)
class PlatformSpec:
    """A normalised platform: what a user asked for, or what an index entry offers."""

    os: str
    architecture: str
    variant: str = ""
    os_version: str = ""

    def __str__(self) -> str:
        text = self.os
        if self.os_version:
            text += f"({self.os_version})"
        text += f"/{self.architecture}"
        # amd64/v1 and arm64/v8 are written without their baseline variant
        # (as everyone writes them); arm's v7 is usually spelt out.
        if self.variant and _UNWRITTEN_VARIANT.get(self.architecture) != self.variant:
            text += f"/{self.variant}"
        return text

    @property
    def is_unknown(self) -> bool:
        """BuildKit's ``unknown/unknown``: the platform of attestations, never runnable."""
        return self.os == "unknown" or self.architecture == "unknown"


# Real variants have one digit (arm v5..v8, arm64 v8/v9, amd64 v1..v4); four
# leave room for any to come.  A longer number is not an error (an index may
# carry any string, and the Go umoci 0.6 has no --platform to compare with:
# it refuses an index of several images as ambiguous) but it is not a number
# either: "linux/arm64/v100000000" is a label that matches only an entry with
# that same variant, never the v8 below it.  Capping the digits also keeps
# int() off hostile strings (Python refuses more than 4300 digits).
_MAX_VARIANT_DIGITS = 4


def _variant_number(variant: str) -> int | None:
    """The number of ``vN`` or ``N`` (leading zeros allowed); None if it is not a short number."""
    text = variant[1:] if variant.startswith("v") else variant
    if not text.isdigit() or not text.isascii():
        return None
    digits = text.lstrip("0") or "0"
    if len(digits) > _MAX_VARIANT_DIGITS:
        return None
    return int(digits)


def normalize(
    os_name: str, architecture: str, variant: str = "", os_version: str = ""
) -> PlatformSpec:
    """The canonical spelling of a platform (see the module docstring)."""
    os_name = os_name.lower()
    architecture = architecture.lower()
    variant = variant.lower()
    alias = _ARCH_ALIASES.get(architecture)
    if alias is not None:
        architecture, implied = alias
        variant = variant or implied
    if architecture in _BASELINE_VARIANT:
        number = _variant_number(variant) if variant else None
        if not variant:
            variant = _BASELINE_VARIANT[architecture]
        elif number is not None:
            variant = f"v{number}"
    return PlatformSpec(os_name, architecture, variant, os_version)


def parse_platform(text: str) -> PlatformSpec:
    """Parse ``OS[(VERSION)]/ARCH[/VARIANT]`` (as ``--platform`` takes it)."""
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise UsageError(
            f"invalid --platform {text!r}: want OS/ARCH or OS/ARCH/VARIANT (e.g. linux/arm64)"
        )
    os_part = parts[0]
    os_version = ""
    if os_part.endswith(")") and "(" in os_part:
        os_part, _, rest = os_part.partition("(")
        os_version = rest[:-1]
        if not os_part or not os_version:
            raise UsageError(f"invalid --platform {text!r}: want OS(VERSION) with both given")
    for part in (os_part, *parts[1:]):
        if not all(c.isascii() and (c.isalnum() or c in "._-") for c in part):
            raise UsageError(f"invalid --platform {text!r}: {part!r} has invalid characters")
    return normalize(os_part, parts[1], parts[2] if len(parts) == 3 else "", os_version)


@dataclass(frozen=True)
class _Ladder:
    """One architecture a machine runs: its newest platform, then *older* variants below it."""

    newest: PlatformSpec
    number: int | None  # the newest variant's number (None: not a number)
    older: int  # how many lower variants follow, one number apart


def _ladders(want: PlatformSpec) -> list[_Ladder]:
    """The architectures a machine of platform *want* runs, best first."""
    number = _variant_number(want.variant)
    oldest = _OLDEST_VARIANT.get(want.architecture)
    older = number - oldest if number is not None and oldest is not None and number > oldest else 0
    out = [_Ladder(want, number, older)]
    if want.architecture == "arm64":
        out += _ladders(PlatformSpec(want.os, "arm", "v8", want.os_version))
    elif want.architecture == "amd64":
        out.append(_Ladder(PlatformSpec(want.os, "386", "", want.os_version), None, 0))
    return out


def compatible(want: PlatformSpec) -> tuple[PlatformSpec, ...]:
    """Platforms a machine of platform *want* runs, best first (*want* itself first)."""
    out = []
    for ladder in _ladders(want):
        out.append(ladder.newest)
        if ladder.number is not None:
            newest = ladder.newest
            out += [
                PlatformSpec(newest.os, newest.architecture, f"v{lower}", newest.os_version)
                for lower in range(ladder.number - 1, ladder.number - ladder.older - 1, -1)
            ]
    return tuple(out)


def rank(want: PlatformSpec, offered: PlatformSpec) -> int | None:
    """How well *offered* suits a machine of platform *want*: 0 best, None not at all.

    The position *offered* has in :func:`compatible`, computed without listing it.
    """
    if want.os_version and want.os_version != offered.os_version:
        return None
    position = 0
    for ladder in _ladders(want):
        newest = ladder.newest
        if newest.os == offered.os and newest.architecture == offered.architecture:
            if newest.variant == offered.variant:
                return position
            number = _variant_number(offered.variant)
            if ladder.number is not None and number is not None:
                steps_down = ladder.number - number
                if 0 < steps_down <= ladder.older:
                    return position + steps_down
        position += 1 + ladder.older
    return None


__all__ = [
    "ATTESTATION_ANNOTATION",
    "PlatformSpec",
    "compatible",
    "normalize",
    "parse_platform",
    "rank",
]
