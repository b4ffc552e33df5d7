"""JSON bytes -> typed values, by the rules of Go's ``encoding/json`` that the Go umoci relies on.

The one place in umoci where JSON becomes objects: every model of
:mod:`umoci.oci.models` and :mod:`umoci.oci.umocijson` is decoded here, so
``stat``, ``unpack``, ``ls``, ``gc``, ``validate`` and the API read one
document the same way, and the way the Go umoci 0.6 reads it.  Each rule
was asked of the 0.6 binary (tests/oracle/test_oracle_decoder.py keeps
asking; tests/core/test_decoder_rules.py pins the answers):

* **Keys** match a field exactly, or else case-insensitively: ASCII letters
  fold by case, and the only other runes that fold onto a field name's
  letters are U+017F (long s, as ``s``) and U+212A (Kelvin sign, as ``k``).
  Dotless/dotted i (U+0131/U+0130) do not match ``i`` (0.6 says so).
  Escaped keys (``"\\u0043md"``) are the key they spell.  Unknown keys are
  skipped by Go; we keep them in the model's ``extra`` for rewrites.
* **Duplicates and merging**: members are applied in document order into
  the value decoded so far, so the later one wins -- and, as in Go, an
  object merges into an earlier struct or map (``"Labels":{"a":"1"}``
  then ``"labels":{"b":"2"}`` gives both labels), and an array decodes
  element by element into the earlier slice's elements (``"Cmd":["a","b"]``
  then ``"cmd":[null,"c"]`` gives ``["a","c"]``; elements of a longer
  earlier array come back when a later array is longer again).
* **null** leaves a string, bool, number or struct as it was, and makes a
  slice, map, pointer (``platform``, ``subject``, ``created``) or byte
  string nil.  A null map value or array element decodes into a fresh
  zero (map) or the element already there (array).
* **Numbers** for integer fields must be integers in range (``1.0`` and
  ``1e2`` are not; ``-0`` is 0); numbers in unknown fields are anything
  JSON allows.  ``NaN``/``Infinity`` are not JSON.
* **Strings**: a lone UTF-16 surrogate escape and every byte that is not
  UTF-8 become U+FFFD, one per byte, as Go decodes them.
* **Errors**: a value of the wrong type anywhere in a known field refuses
  the whole document, with one line naming the field.
* **Trailing data**: blobs and ``umoci.json`` are read as Go's
  ``json.Decoder`` reads them (the first value; whatever follows is not
  looked at), ``index.json`` and ``oci-layout`` as ``json.Unmarshal``
  (nothing may follow).

Parsing uses CPython's C scanner (the one ``json`` uses) set up to keep
every member of an object (:class:`Pairs`), without importing ``json``
(which imports ``re``) so ``umoci ls`` starts quickly.  Nesting deeper than
Python's recursion limit is refused.
"""

from __future__ import annotations

import abc  # already loaded by every interpreter (io uses it)

from umoci.errors import BlobInvalidError, UmociError

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    ErrorType = type[UmociError]

try:
    import _json
except ImportError:  # pragma: no cover - CPython always has it
    _json = None  # type: ignore[assignment]

_WHITESPACE = " \t\n\r"  # what JSON (and Go) allow between tokens


class Pairs(list[tuple[str, object]]):
    """A decoded JSON object: its members in document order, duplicate names kept."""

    __slots__ = ()


class _NotJson(ValueError):
    """NaN, Infinity or -Infinity: Python's scanner reads them, JSON (and Go) do not."""


def _reject_constant(name: str) -> object:
    raise _NotJson(f"{name} is not a JSON value")


def _parse_int(text: str) -> object:
    try:
        return int(text)
    except ValueError:
        # More digits than int() converts by default: out of every integer
        # field's range anyway, and kept as an infinite float (see _writable).
        return float(text)


class _ScannerSettings:
    """The attributes ``_json.make_scanner`` reads."""

    strict = True  # raw control characters in strings are refused, as in Go
    object_hook = None
    object_pairs_hook = Pairs
    parse_float = float
    parse_int = staticmethod(_parse_int)
    parse_constant = staticmethod(_reject_constant)
    memo: dict[str, str] = {}  # noqa: RUF012 -- the C scanner keeps its own


if _json is not None:
    _scan = _json.make_scanner(_ScannerSettings())  # type: ignore[arg-type]


def _scan_value(text: str, start: int) -> tuple[object, int]:
    if _json is None:  # pragma: no cover
        import json

        decoder = json.JSONDecoder(
            object_pairs_hook=Pairs, parse_int=_parse_int, parse_constant=_reject_constant
        )
        return decoder.raw_decode(text, start)
    return _scan(text, start)


def _syntax_error(message: str, text: str, position: int) -> str:
    from json.decoder import JSONDecodeError  # the error path only: it imports re

    return str(JSONDecodeError(message, text, position))


def parse(
    data: bytes,
    what: str,
    error: ErrorType = BlobInvalidError,
    *,
    first_value: bool = False,
) -> object:
    """The JSON value in *data*: objects as :class:`Pairs`, arrays as lists.

    *first_value* reads like Go's ``json.Decoder``: the first value, and
    nothing after it is looked at; otherwise (``json.Unmarshal``) only
    whitespace may follow.  Anything else raises *error* ("<what>: invalid
    JSON: ...").
    """
    # surrogateescape: each byte that is not UTF-8 becomes one lone
    # surrogate, which strings turn into U+FFFD as Go does; outside a
    # string it is a syntax error, as in Go.
    text = data.decode("utf-8", "surrogateescape")
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan_value(text, start)
    except StopIteration:
        raise error(
            f"{what}: invalid JSON: {_syntax_error('Expecting value', text, start)}"
        ) from None
    except RecursionError:
        raise error(f"{what}: invalid JSON: nested too deeply") from None
    except ValueError as err:  # the scanner's JSONDecodeError, or _NotJson
        raise error(f"{what}: invalid JSON: {err}") from None
    if not first_value and text[end:].strip(_WHITESPACE):
        position = end + len(text[end:]) - len(text[end:].lstrip(_WHITESPACE))
        raise error(
            f"{what}: invalid JSON: {_syntax_error('Extra data', text, position)}"
        ) from None
    return value


def has_trailing_data(data: bytes) -> bool:
    """Does anything but whitespace follow the first JSON value in *data* (valid JSON)?"""
    text = data.decode("utf-8", "surrogateescape")
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        _, end = _scan_value(text, start)
    except (StopIteration, RecursionError, ValueError):
        return False
    return bool(text[end:].strip(_WHITESPACE))


# -- strings and keys ----------------------------------------------------------


def go_string(text: str) -> str:
    """*text* with each lone surrogate (a bad escape or a byte that was not UTF-8) as U+FFFD."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    return text


# The runes outside ASCII that Go's case-insensitive match folds onto ASCII
# letters (0.6: U+017F matches "s", U+212A "k"; U+0130/U+0131 match nothing).
_FOLD_RUNES = str.maketrans({"\u017f": "s", "\u212a": "k"})


def fold(key: str) -> str | None:
    """The case-folded form of a key, or None when it can match no field (all are ASCII)."""
    if not key.isascii():
        key = key.translate(_FOLD_RUNES)
        if not key.isascii():
            return None
    return key.lower()


def kind_of(value: object) -> str:
    """The JSON type name of a decoded value, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Pairs | dict):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def members(value: object) -> Iterable[tuple[str, object]] | None:
    """The members of a JSON object (parsed :class:`Pairs`, or a plain dict); None otherwise."""
    if isinstance(value, Pairs):
        return value
    if isinstance(value, dict):
        return value.items()
    return None


def is_array(value: object) -> bool:
    return isinstance(value, list | tuple) and not isinstance(value, Pairs)


def plain(value: object) -> object:
    """A parsed value as plain JSON data: dicts (the last duplicate wins), lists, scalars.

    For what wants ordinary JSON (``validate`` runs the image-spec's JSON
    schemas on it); strings are as Go decodes them.  Iterative, with a
    stack of its own: a document may nest as deep as the scanner reads
    (hundreds of levels in a field nobody models), far beyond what a
    recursive walk could take.
    """
    root: list[object] = [None]
    pending: list[tuple[object, dict[str, object] | list[object], str | int]] = [(value, root, 0)]
    while pending:
        item, parent, slot = pending.pop()
        out: object
        if isinstance(item, str):
            out = go_string(item)
        elif isinstance(item, dict | Pairs):
            members = item.items() if isinstance(item, dict) else item
            merged: dict[str, object] = {}
            for key, child in members:
                merged[go_string(key)] = child  # first position, last value (as dict())
            mapping: dict[str, object] = dict.fromkeys(merged)
            pending.extend((child, mapping, key) for key, child in merged.items())
            out = mapping
        elif isinstance(item, list | tuple):
            array: list[object] = [None] * len(item)
            pending.extend((child, array, i) for i, child in enumerate(item))
            out = array
        else:
            out = item
        parent[slot] = out  # type: ignore[index]
    return root[0]


#: Unknown fields nested deeper than this are not kept for a rewrite (Go
#: keeps no unknown field at all): writing them back would need as deep a
#: recursion in the encoder.
MAX_KEPT_DEPTH = 64


def _writable(value: object) -> bool:
    """Can *value* (plain) be written back as the JSON it was?

    Not if it holds a number beyond a float (``1e400``) or nests deeper
    than :data:`MAX_KEPT_DEPTH`.
    """
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth >= MAX_KEPT_DEPTH:
                return False
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
        elif isinstance(item, float) and item in (float("inf"), float("-inf")):
            return False
    return True


# -- decoding into Go types ----------------------------------------------------------


class Problem:
    """Something a lenient decode found: its kind, the field's path, and what is wrong.

    Kinds: ``type`` (a value of the wrong type or out of range: Go refuses
    the document), ``time`` (not an RFC 3339 time: refused too),
    ``base64`` (embedded data that is not base64: refused too),
    ``forbidden`` (a manifest with ``manifests``, an index with ``config``
    or ``layers``: 0.6 refuses it as malicious), and two that are no error
    at all: ``key`` (a key only Go's case-insensitive match reads: strict
    readers miss it) and ``duplicate`` (a field given more than once).
    """

    __slots__ = ("kind", "message", "path")

    def __init__(self, kind: str, path: str, message: str) -> None:
        self.kind = kind
        self.path = path
        self.message = message

    def __repr__(self) -> str:
        return f"Problem({self.kind!r}, {self.path!r}, {self.message!r})"


class Context:
    """One document being decoded: how errors name it, and whether it is decoded leniently.

    By default (strict) the first problem raises *error* ("<what>: <path>:
    <why>"), and the models apply umoci's own refusals on top (digests,
    sizes, schemaVersion).  With a *problems* list (``validate``), decoding
    goes on as Go's decoder does after a type error, keeping the value the
    field had; every problem is recorded, and the models' own refusals are
    left to the caller, which reports them its own way.
    """

    __slots__ = ("error", "problems", "what")

    def __init__(self, what: str, error: ErrorType, problems: list[Problem] | None = None) -> None:
        self.what = what
        self.error = error
        self.problems = problems

    @property
    def strict(self) -> bool:
        return self.problems is None

    def fail(self, path: str, message: str) -> UmociError:
        """The error to raise for a refusal at *path*."""
        where = f"{self.what}: {path}" if path else self.what
        return self.error(f"{where}: {message}")

    def refuse(self, kind: str, path: str, message: str, old: object) -> object:
        """Refuse a value: raise (strict), or record it and keep *old* (lenient)."""
        if self.problems is None:
            raise self.fail(path, message)
        self.problems.append(Problem(kind, path, message))
        return old

    def mismatch(self, path: str, expected: str, value: object, old: object) -> object:
        return self.refuse("type", path, f"expected {expected}, got {kind_of(value)}", old)

    def note(self, kind: str, path: str, message: str) -> None:
        """Record something that is not an error (lenient decoding only)."""
        if self.problems is not None:
            self.problems.append(Problem(kind, path, message))


class Kind(abc.ABC):
    """How one Go type decodes: its zero value, a JSON value into the old one, the result."""

    __slots__ = ()

    def zero(self) -> object:
        return None

    @abc.abstractmethod
    def decode(self, value: object, old: object, path: str, ctx: Context) -> object:
        """*value* (parsed JSON) decoded into *old* (the field's value so far)."""

    def finish(self, value: object, path: str, ctx: Context) -> object:
        return value


class _String(Kind):
    __slots__ = ()

    def zero(self) -> object:
        return ""

    def decode(self, value: object, old: object, path: str, ctx: Context) -> object:
        if value is None:
            return old
        if not isinstance(value, str):
            return ctx.mismatch(path, "string", value, old)
        return go_string(value)


class _Bool(Kind):
    __slots__ = ()

    def zero(self) -> object:
        return False

    def decode(self, value: object, old: object, path: str, ctx: Context) -> object:
        if value is None:
            return old
        if not isinstance(value, bool):
            return ctx.mismatch(path, "bool", value, old)
        return value


class Integer(Kind):
    """A Go integer type with the range ``[lo, hi]``."""

    __slots__ = ("hi", "lo")

    def __init__(self, lo: int, hi: int) -> None:
        self.lo = lo
        self.hi = hi

    def zero(self) -> object:
        return 0

    def decode(self, value: object, old: object, path: str, ctx: Context) -> object:
        if value is None:
            return old
        if isinstance(value, float):
            return ctx.refuse("type", path, f"expected integer, got number {value!r}", old)
        if isinstance(value, bool) or not isinstance(value, int):
            return ctx.mismatch(path, "integer", value, old)
        if not self.lo <= value <= self.hi:
            return ctx.refuse("type", path, f"number {value} out of range", old)
        return value


class _Time(Kind):
    """A ``*time.Time``: an RFC 3339 string (see :mod:`umoci.oci.timefmt`) or null."""

    __slots__ = ()

    def decode(self, value: object, old: object, path: str, ctx: Context) -> object:
        if value is None:
            return None
        if not isinstance(value, str):
            return ctx.mismatch(path, "string", value, old)
        from umoci.oci.timefmt import parse_time  # only configs carry times: ls never loads it

        try:
            return parse_time(go_string(value))
        except ValueError as err:
            return ctx.refuse("time", path, str(err), old)


class _Bytes(Kind):
    """A ``[]byte``: standard base64 (CR and LF skipped, as Go does), or null."""

    __slots__ = ()

    def decode(self, value: object, old: object, path: str, ctx: Context) -> object:
        if value is None:
            return None
        if not isinstance(value, str):
            return ctx.mismatch(path, "base64 string", value, old)
        import binascii

        try:
            return binascii.a2b_base64(
                value.replace("\r", "").replace("\n", "").encode("ascii"), strict_mode=True
            )
        except (binascii.Error, UnicodeEncodeError):
            return ctx.refuse("base64", path, "invalid base64 data", old)


class _Raw(Kind):
    """A field whose presence is all that matters (even as null): Go's ``json.RawMessage``."""

    __slots__ = ()

    def decode(self, value: object, old: object, path: str, ctx: Context) -> object:
        return True


class _Slice:
    """A Go slice: its backing array (every element decoded so far) and its length."""

    __slots__ = ("backing", "length")

    def __init__(self, backing: list[object], length: int) -> None:
        self.backing = backing
        self.length = length


class Slice(Kind):
    """A Go slice of *elem*: arrays decode element by element into what is there."""

    __slots__ = ("elem",)

    def __init__(self, elem: Kind) -> None:
        self.elem = elem

    def decode(self, value: object, old: object, path: str, ctx: Context) -> object:
        if value is None:
            return None
        if not is_array(value):
            return ctx.mismatch(path, "array", value, old)
        assert isinstance(value, list | tuple)
        if not value:
            return _Slice([], 0)  # Go makes a new empty slice
        # Go reuses the backing array: elements past the old length but
        # within what an earlier, longer array wrote are still there.
        backing = old.backing if isinstance(old, _Slice) else []
        elem = self.elem
        for i, item in enumerate(value):
            if i < len(backing):
                backing[i] = elem.decode(item, backing[i], f"{path}[{i}]", ctx)
            else:
                backing.append(elem.decode(item, elem.zero(), f"{path}[{i}]", ctx))
        return _Slice(backing, len(value))

    def finish(self, value: object, path: str, ctx: Context) -> object:
        if not isinstance(value, _Slice):
            return ()
        elem = self.elem
        return tuple(
            elem.finish(item, f"{path}[{i}]", ctx)
            for i, item in enumerate(value.backing[: value.length])
        )


class Map(Kind):
    """A Go ``map[string]elem``: objects merge into the map; each value starts from zero."""

    __slots__ = ("elem",)

    def __init__(self, elem: Kind) -> None:
        self.elem = elem

    def decode(self, value: object, old: object, path: str, ctx: Context) -> object:
        if value is None:
            return None
        found = members(value)
        if found is None:
            return ctx.mismatch(path, "object", value, old)
        out: dict[str, object] = old if isinstance(old, dict) else {}
        elem = self.elem
        for key, item in found:
            out[go_string(key)] = elem.decode(item, elem.zero(), f"{path}.{key}", ctx)
        return out

    def finish(self, value: object, path: str, ctx: Context) -> object:
        return dict(value) if isinstance(value, dict) else {}


class _Empty(Kind):
    """Go's ``struct{}``: an object (whose members mean nothing) or null."""

    __slots__ = ()

    def decode(self, value: object, old: object, path: str, ctx: Context) -> object:
        if value is not None and members(value) is None:
            return ctx.mismatch(path, "object", value, old)
        return None


class _Set(Map):
    """A Go ``map[string]struct{}`` (ExposedPorts, Volumes): the keys, sorted as Go sorts them.

    Code-point order of ``str`` equals Go's byte order of the UTF-8 encoding.
    """

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(_Empty())

    def finish(self, value: object, path: str, ctx: Context) -> object:
        return tuple(sorted(value)) if isinstance(value, dict) else ()


STRING = _String()
BOOL = _Bool()
INT = Integer(-(2**63), 2**63 - 1)  # int and int64 on 64-bit Go
UINT32 = Integer(0, 2**32 - 1)
TIME = _Time()
BYTES = _Bytes()
RAW = _Raw()
STRING_LIST = Slice(STRING)
STRING_MAP = Map(STRING)
STRING_SET = _Set()


class Struct(Kind):
    """A Go struct: its JSON field names (in struct order), each with an attribute and a kind.

    Decoding builds the keyword arguments of a model (``extra`` holds the
    unknown members); *make* turns them into the model, with umoci's own
    refusals beyond Go's types when ``ctx.strict`` (raise ``ctx.fail(...)``).
    """

    __slots__ = ("_exact", "_folded", "make")

    def __init__(
        self,
        fields: tuple[tuple[str, str, Kind], ...],
        make: Callable[[dict[str, object], str, Context], object],
    ) -> None:
        self._exact = {name: (name, attr, kind) for name, attr, kind in fields}
        self._folded: dict[str, tuple[str, str, Kind]] = {}
        for name, attr, kind in fields:
            folded = fold(name)
            assert folded is not None
            self._folded.setdefault(folded, (name, attr, kind))  # Go: the first field wins
        self.make = make

    def zero(self) -> object:
        return {}

    def decode(self, value: object, old: object, path: str, ctx: Context) -> object:
        if value is None:
            return old
        found = members(value)
        if found is None:
            return ctx.mismatch(path, "object", value, old)
        out: dict[str, object] = old if isinstance(old, dict) else {}
        lenient = not ctx.strict
        seen: set[str] = set()
        prefix = f"{path}." if path else ""
        for key, item in found:
            spec = self._exact.get(key)
            if spec is None:
                folded = fold(key)
                spec = self._folded.get(folded) if folded is not None else None
                if spec is None:
                    _keep_unknown(out, key, item)
                    continue
                if lenient:
                    message = f"key {key!r} matches {spec[0]!r} only case-insensitively"
                    ctx.note("key", prefix + spec[0], message)
            name, attr, kind = spec
            if lenient:
                if attr in seen:
                    ctx.note("duplicate", prefix + name, "given more than once (the last one wins)")
                seen.add(attr)
            previous = out[attr] if attr in out else kind.zero()
            out[attr] = kind.decode(item, previous, prefix + name, ctx)
        return out

    def finish(self, value: object, path: str, ctx: Context) -> object:
        fields = value if isinstance(value, dict) else {}
        prefix = f"{path}." if path else ""
        kwargs: dict[str, object] = {}
        for name, attr, kind in self._exact.values():
            if attr in fields:
                kwargs[attr] = kind.finish(fields[attr], prefix + name, ctx)
        if "extra" in fields:
            kwargs["extra"] = fields["extra"]
        return self.make(kwargs, path, ctx)

    def document(self, value: object, ctx: Context) -> object:
        """Decode a whole document (``null`` is the zero struct, as in Go)."""
        return self.finish(self.decode(value, {}, "", ctx), "", ctx)


class Pointer(Kind):
    """A pointer to a struct (``*Platform``, ``*Descriptor``): null is nil, objects merge."""

    __slots__ = ("target",)

    def __init__(self, target: Struct) -> None:
        self.target = target

    def decode(self, value: object, old: object, path: str, ctx: Context) -> object:
        if value is None:
            return None
        return self.target.decode(value, old if old is not None else {}, path, ctx)

    def finish(self, value: object, path: str, ctx: Context) -> object:
        return None if value is None else self.target.finish(value, path, ctx)


def _keep_unknown(out: dict[str, object], key: str, value: object) -> None:
    extra = out.get("extra")
    if not isinstance(extra, dict):
        extra = out["extra"] = {}
    key = go_string(key)
    value = plain(value)
    if _writable(value):
        extra[key] = value
    else:
        # Go drops every unknown field on a rewrite; we drop only this one,
        # which could not be written back as it is (a number such as 1e400,
        # or nesting deeper than MAX_KEPT_DEPTH).
        extra.pop(key, None)
