"""``--uid-map``/``--gid-map`` parsing and id mapping (user_namespaces(7) style).

A map entry is ``CONTAINER:HOST[:SIZE]`` (size defaults to 1).  Mapping a
container id to the host walks the entries in order; an id no entry covers is
an error when extracting (the Go umoci does the same), because writing it
unmapped would silently give files to the wrong host user.

Internal module: :mod:`umoci.api` re-exports :class:`IdMap`; import it from there.
"""

from __future__ import annotations

from umoci.errors import UsageError
from umoci.structs import dataclass

TYPE_CHECKING = False  # typing is for mypy only: collections.abc costs start-up ~2 ms
if TYPE_CHECKING:
    from collections.abc import Sequence

_MAX_ID = 2**32 - 1


@dataclass(frozen=True)
class IdMap:
    """One id mapping range: container ids [container_id, container_id + size) -> host ids.

    *container_id*, *host_id* and *size* are as in user_namespaces(7) and
    the runtime-spec's ``uidMappings``: ids below 2**32 and a positive size.
    A verb refuses a range outside those bounds
    (:class:`~umoci.errors.UsageError`).

    >>> IdMap(container_id=0, host_id=100000, size=65536)  # the --uid-map 0:100000:65536
    IdMap(container_id=0, host_id=100000, size=65536)
    """

    container_id: int
    host_id: int
    size: int

    def to_json(self) -> dict[str, int]:
        # Field names and order follow the runtime-spec LinuxIDMapping.
        """The document as the Go umoci writes it (key order, omitempty); ``extra`` last.

        @private: umoci's own reading and writing, left out of the API reference.
        """
        return {"containerID": self.container_id, "hostID": self.host_id, "size": self.size}


def parse_id_map(text: str) -> IdMap:
    """Parse ``CONTAINER:HOST[:SIZE]``; raise UsageError on anything else."""
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise UsageError(f"invalid id mapping {text!r}: want container:host[:size]")
    try:
        numbers = [int(p, 10) for p in parts]
    except ValueError:
        raise UsageError(f"invalid id mapping {text!r}: fields must be integers") from None
    if not all(p.isdigit() for p in parts):  # int() also takes "+1", " 1" and "1_0"
        raise UsageError(f"invalid id mapping {text!r}: ids must be in [0, 2^32)")
    size = numbers[2] if len(numbers) == 3 else 1
    mapping = IdMap(numbers[0], numbers[1], size)
    _check(mapping, text)
    return mapping


def check_id_map(mapping: IdMap) -> None:
    """Refuse (UsageError) a range a user namespace cannot have."""
    _check(mapping, f"{mapping.container_id}:{mapping.host_id}:{mapping.size}")


def _check(mapping: IdMap, text: str) -> None:
    numbers = (mapping.container_id, mapping.host_id, mapping.size)
    if any(n < 0 or n > _MAX_ID for n in numbers):
        raise UsageError(f"invalid id mapping {text!r}: ids must be in [0, 2^32)")
    if mapping.size == 0:
        raise UsageError(f"invalid id mapping {text!r}: size must be positive")
    if (
        mapping.container_id + mapping.size - 1 > _MAX_ID
        or mapping.host_id + mapping.size - 1 > _MAX_ID
    ):
        raise UsageError(f"invalid id mapping {text!r}: range overflows 32 bits")


def to_host(maps: Sequence[IdMap], container_id: int) -> int | None:
    """Map a container id to the host; identity when there are no maps; None if unmapped."""
    if not maps:
        return container_id
    for m in maps:
        if m.container_id <= container_id < m.container_id + m.size:
            return m.host_id + (container_id - m.container_id)
    return None


def to_container(maps: Sequence[IdMap], host_id: int) -> int | None:
    """Map a host id back into the container; identity when there are no maps."""
    if not maps:
        return host_id
    for m in maps:
        if m.host_id <= host_id < m.host_id + m.size:
            return m.container_id + (host_id - m.host_id)
    return None
