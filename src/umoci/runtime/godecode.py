"""Typed reads from untrusted decoded JSON, following Go's ``encoding/json`` rules.

The Go umoci decodes the image config and ``umoci.json`` into structs, and
what that accepts is the compatibility contract: a document the Go umoci
takes must work here, and a document it refuses must be refused, with an
error instead of a ``TypeError``/``KeyError`` from deep inside our code.

The rules that matter (and differ from "just index the dict"):

* object keys match struct fields case-insensitively when there is no exact
  match (``"user"`` fills ``User``), and unknown keys are ignored;
* ``null`` leaves a string/bool at its zero value and makes a slice/map
  empty; a ``null`` *element* of a ``[]string`` or value of a
  ``map[string]string`` becomes ``""``;
* every other type mismatch is an error for the whole document;
* integers must be JSON integers in range (``1.0`` is not an ``int64``);
* strings with lone UTF-16 surrogates (which Python's decoder keeps) are
  decoded by Go as U+FFFD, so they are replaced here too.

Each reader takes the error class to raise, so the same code reports
``BlobInvalidError`` for a config blob and ``BundleError`` for ``umoci.json``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from umoci.errors import UmociError

ErrorType = type[UmociError]

_SURROGATES = re.compile("[\ud800-\udfff]")

# Go (1.21+) folds a key rune by rune: ASCII letters by case, anything else
# to ToUpper(ToLower(r)).  Every field name we match is ASCII, and these are
# the only non-ASCII runes that fold to an ASCII letter: long s, dotless i,
# dotted capital I and the Kelvin sign.
_FOLD = str.maketrans({"\u017f": "s", "\u0131": "i", "\u0130": "i", "\u212a": "k"})


def kind(value: object) -> str:
    """The JSON type name of a decoded value, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _fold(key: str) -> str:
    # Python's lower() is applied to ASCII only: its full case mappings
    # differ from Go's simple ones (U+0130 lowers to two characters).
    return "".join(c.lower() if c.isascii() else c for c in key.translate(_FOLD))


def go_string(text: str) -> str:
    """Replace lone surrogates with U+FFFD, as Go's decoder does."""
    if _SURROGATES.search(text) is None:
        return text
    return _SURROGATES.sub("\ufffd", text)


def fields(obj: object, names: Iterable[str], where: str, error: ErrorType) -> dict[str, object]:
    """Map each struct field name to the JSON value that sets it.

    ``obj`` ``None`` (JSON ``null``) decodes to the zero struct, so no field
    is set.  Later keys overwrite earlier ones that match the same field.
    """
    if obj is None:
        return {}
    if not isinstance(obj, Mapping):
        raise error(f"{where}: expected object, got {kind(obj)}")
    exact = set(names)
    folded = {_fold(name): name for name in exact}
    out: dict[str, object] = {}
    for key, value in obj.items():
        if not isinstance(key, str):
            raise error(f"{where}: object key {key!r} is not a string")
        name = key if key in exact else folded.get(_fold(key))
        if name is not None:
            out[name] = value
    return out


def string(value: object, where: str, error: ErrorType) -> str:
    """A Go ``string`` field."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise error(f"{where}: expected string, got {kind(value)}")
    return go_string(value)


def boolean(value: object, where: str, error: ErrorType) -> bool:
    """A Go ``bool`` field."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise error(f"{where}: expected bool, got {kind(value)}")
    return value


def integer(value: object, where: str, error: ErrorType, *, lo: int, hi: int) -> int:
    """A Go integer field with the range of its type (``[lo, hi]``)."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{where}: expected integer, got {kind(value)}")
    if not lo <= value <= hi:
        raise error(f"{where}: number {value} out of range")
    return value


def array(value: object, where: str, error: ErrorType) -> list[object]:
    """A Go slice field: ``null`` is empty, anything but an array is refused."""
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise error(f"{where}: expected array, got {kind(value)}")
    return list(value)


def string_list(value: object, where: str, error: ErrorType) -> list[str]:
    """A Go ``[]string`` field (``null`` elements become ``""``)."""
    return [
        string(item, f"{where}[{i}]", error) for i, item in enumerate(array(value, where, error))
    ]


def string_map(value: object, where: str, error: ErrorType) -> dict[str, str]:
    """A Go ``map[string]string`` field (``null`` values become ``""``)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise error(f"{where}: expected object, got {kind(value)}")
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise error(f"{where}: object key {key!r} is not a string")
        out[go_string(key)] = string(item, f"{where}[{key!r}]", error)
    return out


def string_set(value: object, where: str, error: ErrorType) -> list[str]:
    """The keys of a Go ``map[string]struct{}`` field, sorted as Go sorts strings.

    Each value must be an object (its members are ignored) or ``null``.
    Code-point order of str equals Go's byte order of the UTF-8 encoding.
    """
    if value is None:
        return []
    if not isinstance(value, Mapping):
        raise error(f"{where}: expected object, got {kind(value)}")
    keys: set[str] = set()
    for key, item in value.items():
        if not isinstance(key, str):
            raise error(f"{where}: object key {key!r} is not a string")
        if item is not None and not isinstance(item, Mapping):
            raise error(f"{where}[{key!r}]: expected object, got {kind(item)}")
        keys.add(go_string(key))
    return sorted(keys)
