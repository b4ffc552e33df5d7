"""Type-checked access to untrusted JSON objects (decoded blobs).

Go's ``json.Unmarshal`` into the spec structs rejects values of the wrong
type and treats ``null`` as "absent"; these helpers do the same and raise
:class:`BlobInvalidError` naming the field, so hostile JSON never surfaces
as a ``TypeError``/``KeyError``.
"""

from __future__ import annotations

from umoci import jsontext
from umoci.errors import BlobInvalidError

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import Any

_MAX_DEPTH = 10_000


def loads_object(data: bytes, what: str) -> dict[str, Any]:
    """Decode a JSON document that must be an object."""
    try:
        value = jsontext.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise BlobInvalidError(f"{what}: invalid JSON: {err}") from None
    if not isinstance(value, dict):
        raise BlobInvalidError(f"{what}: invalid JSON: not an object")
    return value


def get_obj(d: dict[str, Any], key: str, what: str) -> dict[str, Any] | None:
    value = d.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BlobInvalidError(f"{what}: field {key!r} must be an object")
    return value


def get_str(d: dict[str, Any], key: str, what: str) -> str | None:
    value = d.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BlobInvalidError(f"{what}: field {key!r} must be a string")
    return value


def get_int(d: dict[str, Any], key: str, what: str) -> int | None:
    value = d.get(key)
    if value is None:
        return None
    # bool is an int subclass in Python but not a number in JSON.
    if isinstance(value, bool) or not isinstance(value, int):
        # Go accepts integral floats such as 2.0 only for float fields; sizes
        # and versions are int64, so anything else is an error there too.
        raise BlobInvalidError(f"{what}: field {key!r} must be an integer")
    if not -(2**63) <= value < 2**63:
        raise BlobInvalidError(f"{what}: field {key!r} overflows int64")
    return value


def get_bool(d: dict[str, Any], key: str, what: str) -> bool | None:
    value = d.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise BlobInvalidError(f"{what}: field {key!r} must be a boolean")
    return value


def get_str_list(d: dict[str, Any], key: str, what: str) -> list[str] | None:
    value = d.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BlobInvalidError(f"{what}: field {key!r} must be a list of strings")
    return value


def get_str_map(d: dict[str, Any], key: str, what: str) -> dict[str, str] | None:
    value = d.get(key)
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise BlobInvalidError(f"{what}: field {key!r} must map strings to strings")
    return value


def get_set_map(d: dict[str, Any], key: str, what: str) -> list[str] | None:
    """A Go ``map[string]struct{}`` (ExposedPorts, Volumes): the keys, sorted as Go writes them."""
    value = d.get(key)
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        v is None or isinstance(v, dict) for v in value.values()
    ):
        raise BlobInvalidError(f"{what}: field {key!r} must map strings to objects")
    return sorted(value)


def extra_fields(d: dict[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """Fields we do not model, kept so a rewrite does not drop another tool's data."""
    return {k: v for k, v in d.items() if k not in known}
