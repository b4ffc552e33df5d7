"""The mtree specification model, its parser and its writer (go-mtree's text format).

A :class:`Spec` is the sequence of lines go-mtree keeps (its
``DirectoryHierarchy``): comments, blank lines, ``/set``/``/unset`` specials,
``..`` steps and file entries.  Keeping every line is what lets
``dump(parse(data)) == data`` hold for anything go-mtree writes, and lets
:func:`dump` reproduce go-mtree's writer byte for byte.

Paths are ``bytes``: an :class:`Entry`'s ``path`` is the decoded (unvis'd),
cleaned path relative to the root (``b"."`` for the root, ``b"dir/file"``
below it).  Names can be any bytes, so ``str`` would need surrogateescape and
would sort differently from go-mtree, which compares bytes.  Everything else
taken from the text (names as written, keyword values, comments) is ``str``
decoded from UTF-8 with ``surrogateescape``, so it is written back unchanged.

Parsing follows go-mtree's ``ParseSpec``:

* lines split on ``\\n`` with one trailing ``\\r`` dropped; a line whose
  first non-blank character is ``#`` is a comment; an empty line is blank;
  a line of only whitespace is skipped;
* a line starting with ``/`` is a special: ``/set`` *replaces* the current
  default keywords, ``/unset`` (whatever its arguments) clears them;
* a line whose first field is ``..`` steps up one directory (text kept);
* otherwise the first field is a vis-encoded name: with a ``/`` in it, a full
  path (relative to the root); without, a name inside the current directory,
  which it becomes if its own keywords say ``type=dir``;
* a line ending in ``\\`` continues on the next one (specials and entries);
* fields are split on the whitespace Go's ``strings.Fields`` uses.

Where go-mtree would panic or accept a path outside the root (``..``
components, absolute paths, NUL bytes) we raise :class:`MtreeError`; so we do
for a path longer than ``MAX_PATH`` (go-mtree cannot walk one) and when all
paths together exceed ``MAX_TOTAL_PATH``, so that hostile nesting cannot make
a small file cost unbounded memory.  Unlike Go's line scanner we accept lines
longer than 64 KiB (big xattr values), up to ``MAX_LINE``; an mtree file is
read (:func:`read_spec_file`) only if it is a regular file of at most
``MAX_SPEC_BYTES``.  Escapes are decoded while parsing, so a malformed one
fails here rather than at comparison time.
"""

from __future__ import annotations

import hashlib
import io
import os
import pwd
import time
from collections.abc import Callable, Iterator, Sequence
from itertools import repeat

from umoci.cas.layoutcheck import read_regular
from umoci.errors import MtreeError
from umoci.mtree.escape import clean, unvis
from umoci.mtree.keywords import KeyVal, canonical, prefix
from umoci.structs import dataclass

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import BinaryIO, TypeAlias

__all__ = [
    "Blank",
    "Comment",
    "DotDot",
    "Entry",
    "Header",
    "Node",
    "Spec",
    "SpecWriter",
    "Special",
    "dump",
    "dump_to",
    "format_keyvals",
    "go_date",
    "parse",
    "read_spec_file",
]

_ENC = "utf-8"
_ERRORS = "surrogateescape"


@dataclass(frozen=True, slots=True)
class Comment:
    """A ``#`` line (including a ``#mtree`` signature), kept verbatim."""

    raw: str


@dataclass(frozen=True, slots=True)
class Blank:
    """An empty line."""


@dataclass(frozen=True, slots=True)
class Special:
    """A ``/set``, ``/unset`` (or unknown ``/...``) line."""

    name: str
    keywords: tuple[KeyVal, ...] = ()


@dataclass(frozen=True, slots=True)
class DotDot:
    """A ``..`` line: the end of the current directory's entries."""

    raw: str = ".."


@dataclass(frozen=True, slots=True)
class Entry:
    """One file-system object.

    ``name`` is the (cleaned) name as written, vis-encoded; ``path`` the
    decoded path relative to the root; ``keywords`` the entry's own values;
    ``set`` the ``/set`` values in force for it (None when there were none);
    ``full`` whether it was written as a full path rather than a name.
    """

    name: str
    path: bytes
    keywords: tuple[KeyVal, ...]
    set: tuple[KeyVal, ...] | None = None
    full: bool = False

    def all_keywords(self) -> dict[str, str]:
        """Own values merged over the ``/set`` ones (go-mtree's ``AllKeys``).

        Own values win; for repeated keywords the last one wins.  Bare
        tokens without ``=`` are left out.
        """
        merged: dict[str, str] = {}
        if self.set:
            for key, value in self.set:
                if value is not None:
                    merged[key] = value
        for key, value in self.keywords:
            if value is not None:
                merged[key] = value
        return merged

    def get(self, keyword: str) -> str | None:
        """The effective value of one keyword, or None."""
        return self.all_keywords().get(keyword)

    @property
    def type(self) -> str | None:
        """The effective ``type=`` value (``file``, ``dir``, ``link`` ...)."""
        return self.get("type")


Node: TypeAlias = Comment | Blank | Special | DotDot | Entry

_BLANK = Blank()


@dataclass(frozen=True, slots=True)
class Spec:
    """A parsed or generated mtree specification: its lines in order."""

    nodes: tuple[Node, ...]

    def entries(self) -> Iterator[Entry]:
        """The file entries, in spec order."""
        for node in self.nodes:
            if isinstance(node, Entry):
                yield node

    def index(self) -> dict[bytes, Entry]:
        """Entries by path (a later entry for the same path wins, as in go-mtree)."""
        return {entry.path: entry for entry in self.entries()}

    def used_keywords(self) -> list[str]:
        """Keywords used by entries and ``/set`` lines, canonical, in order of first use.

        Like go-mtree's ``UsedKeywords``: ``xattr.user.foo`` counts as ``xattr``.
        """
        used: list[str] = []
        for node in self.nodes:
            if isinstance(node, Entry) or (isinstance(node, Special) and node.name == "/set"):
                kvs = node.keywords
            else:
                continue
            for key, value in kvs:
                if value is None:
                    continue
                name = canonical(prefix(key))
                if name not in used:
                    used.append(name)
        return used


# -- writing -------------------------------------------------------------------


def format_keyvals(kvs: Sequence[KeyVal]) -> str:
    """``k=v`` tokens joined by single spaces (bare tokens as themselves)."""
    return " ".join([key if value is None else f"{key}={value}" for key, value in kvs])


def _line(node: Node) -> str:
    if isinstance(node, Entry):
        text = f"{node.name} {format_keyvals(node.keywords)}"
        # go-mtree indents everything but full paths and entries whose *own*
        # keywords contain type=dir.
        if node.full or ("type", "dir") in node.keywords:
            return text
        return "    " + text
    if isinstance(node, Comment | DotDot):
        return node.raw
    if isinstance(node, Special):
        return f"{node.name} {format_keyvals(node.keywords)}"
    return ""


def dump(spec: Spec) -> bytes:
    """Write a spec exactly as go-mtree's ``DirectoryHierarchy.WriteTo`` does."""
    out = io.BytesIO()
    dump_to(spec, out)
    return out.getvalue()


_DUMP_LINES = 4096  # lines encoded and written at a time


def dump_to(spec: Spec, out: BinaryIO) -> str:
    """:func:`dump` into a file, a few thousand lines at a time; return the bytes' sha256.

    A spec of a million entries is ~130 MB of text: built whole (lines, the
    joined text, its encoding) it would cost several times that at once.
    """
    writer = SpecWriter(out)
    for node in spec.nodes:
        writer.append(node)
    return writer.finish()


class SpecWriter:
    """Writes nodes, as they come, exactly as :func:`dump` writes a spec of them.

    For a walk that streams its nodes (see :func:`umoci.mtree.walker.walk`)
    and never holds the spec.  :meth:`finish` returns the sha256 of all
    the bytes written.
    """

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._digest = hashlib.sha256()
        self._lines: list[str] = []

    def append(self, node: Node) -> None:
        self._lines.append(_line(node))
        if len(self._lines) >= _DUMP_LINES:
            self._flush()

    def _flush(self) -> None:
        if not self._lines:
            return
        try:
            chunk = ("\n".join(self._lines) + "\n").encode(_ENC, _ERRORS)
        except UnicodeEncodeError as err:
            raise MtreeError(f"write mtree: unencodable text: {err.reason}") from None
        self._lines = []
        self._digest.update(chunk)
        self._out.write(chunk)

    def finish(self) -> str:
        self._flush()
        return self._digest.hexdigest()


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def go_date(seconds: float | None = None) -> str:
    """Local time in Go's ``"Mon Jan 2 15:04:05 2006"`` layout (day not padded).

    Fixed English names: Go does not localise them.
    """
    t = time.localtime(seconds)
    return (
        f"{_DAYS[t.tm_wday]} {_MONTHS[t.tm_mon - 1]} {t.tm_mday} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {t.tm_year}"
    )


@dataclass(frozen=True, slots=True)
class Header:
    """The comment lines go-mtree's ``Walk`` puts first (None omits a line)."""

    user: str | None
    machine: str | None
    tree: str | None
    date: str

    @classmethod
    def current(cls, root: str | bytes) -> Header:
        """The header go-mtree would write now for a walk of ``root``.

        ``tree`` is the cleaned root as given (the working directory for
        ``.``, its parent for ``..``); a user or machine that cannot be
        found is left out, as go-mtree does.
        """
        try:
            user: str | None = pwd.getpwuid(os.getuid()).pw_name
        except KeyError:
            user = None
        try:
            # What gethostname(2) returns on Linux (glibc reads it from
            # uname); spares importing socket, a few ms of every start.
            machine: str | None = os.uname().nodename
        except OSError:
            machine = None
        tree: bytes | None = clean(os.fsencode(root))
        if tree in (b".", b".."):
            try:
                cwd = os.getcwdb()
                tree = clean(os.path.dirname(cwd) if tree == b".." else cwd)
            except OSError:
                tree = None
        return cls(
            user=user,
            machine=machine,
            tree=None if tree is None else tree.decode(_ENC, _ERRORS),
            date=go_date(),
        )

    def nodes(self, keywords: Sequence[str]) -> list[Node]:
        """The header comment lines, ending with the ``keywords:`` line."""
        out: list[Node] = []
        for label, value in (
            ("user: ", self.user),
            ("machine: ", self.machine),
            ("tree: ", self.tree),
            ("date: ", self.date),
            ("keywords: ", ",".join(keywords)),
        ):
            if value is not None:
                out.append(Comment(f"#{label:>16}{value}"))
        return out


# -- parsing -------------------------------------------------------------------

# The characters Go's unicode.IsSpace accepts (strings.Fields splits on these).
_FIELDS = "[\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+"


def _splits_as_go_does(text: str) -> bool:
    """Whether ``str.split()`` splits ``text`` exactly as Go's ``strings.Fields``.

    True for ASCII without the separators \\x1c-\\x1f, which Python treats
    as spaces and Go does not.  (Four searches rather than a regular
    expression: re costs every verb that loads this module ~1.5 ms.)
    """
    return text.isascii() and not any(sep in text for sep in "\x1c\x1d\x1e\x1f")


def _fields(text: str) -> list[str]:
    if _splits_as_go_does(text):
        return text.split()  # the same split, much faster
    import re  # only for text with non-ASCII spaces (re.split caches the pattern)

    parts = re.split(_FIELDS, text)
    if parts and not parts[0]:
        del parts[0]
    if parts and not parts[-1]:
        del parts[-1]
    return parts


def _keyvals(tokens: list[str]) -> tuple[KeyVal, ...]:
    return tuple(
        [
            (key, value) if sep else (key, None)
            for key, sep, value in map(str.partition, tokens, repeat("="))
        ]
    )


#: Longest line (after joining ``\`` continuations) accepted.  The longest
#: lines we write carry xattrs: Linux caps one value at 64 KiB, ~88 KiB in
#: base64, so 16 MiB holds far more big attributes than any file has, while
#: a line of garbage (``/dev/zero``) fails fast.
MAX_LINE = 16 << 20
#: Largest mtree file read: a line is ~150 bytes, so 1 GiB is ~7 million
#: entries, ten times the largest rootfs we know of; a bigger file is not one
#: an unpack wrote, and reading it whole could exhaust memory.
MAX_SPEC_BYTES = 1 << 30


def read_spec_file(path: str, *, pipe: bool = False) -> bytes:
    """The bytes of an mtree file: a regular file (*pipe*: or a pipe) of at most ``MAX_SPEC_BYTES``.

    OSError if it is anything else (a FIFO, a device, a directory ...), so
    a planted one can neither block nor feed us without end.
    """
    return read_regular(path, MAX_SPEC_BYTES, pipe=pipe)


def _too_long(number: int) -> MtreeError:
    return MtreeError(f"parse mtree: line {number}: longer than {MAX_LINE} bytes")


class _Lines:
    """Lines as Go's ``bufio.ScanLines`` yields them (one trailing CR dropped)."""

    __slots__ = ("_lines", "pos")

    def __init__(self, text: str) -> None:
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        self._lines = lines
        self.pos = 0

    def next(self) -> str | None:
        if self.pos >= len(self._lines):
            return None
        line = self._lines[self.pos]
        self.pos += 1
        return line[:-1] if line.endswith("\r") else line

    def join_continued(self, first: str) -> str:
        """Fold ``\\``-continued lines the way go-mtree does, in linear time.

        go-mtree strips one trailing backslash and appends the next line,
        again while the result still ends in a backslash; an empty next line
        (or the end of input) lets it strip the next backslash of the same
        piece.
        """
        pieces = []
        current = first
        length = 0
        while True:
            length += len(current)
            if length > MAX_LINE:
                raise _too_long(self.pos)
            trailing = len(current) - len(current.rstrip("\\"))
            if not trailing:
                pieces.append(current)
                break
            stripped = 0
            following = ""
            while stripped < trailing:
                stripped += 1
                following = self.next() or ""
                if following:
                    break
            pieces.append(current[: len(current) - stripped])
            if not following:
                break
            current = following
        return "".join(pieces)


#: Longest path accepted (PATH_MAX): go-mtree cannot walk or write a longer one.
MAX_PATH = 4096
#: Budget for the bytes of all entry paths together, so that a small hostile
#: spec (deep nesting, many deep entries) cannot demand unbounded memory.
MAX_TOTAL_PATH = 256 << 20


class _Paths:
    """Resolves entry names to paths, enforcing confinement and size limits."""

    __slots__ = ("total",)

    def __init__(self) -> None:
        self.total = 0

    def resolve(self, name: str, parent: bytes | None) -> bytes:
        raw = unvis(name)
        if parent is not None and raw not in (b"", b".", b"..") and b"/" not in raw:
            # The common case: a plain name below an already clean parent.
            path = raw if parent == b"." else parent + b"/" + raw
        else:
            path = clean(raw if parent is None else parent + b"/" + raw)
            if path == b".." or path.startswith((b"../", b"/")):
                raise MtreeError(f"parse mtree: entry {name!r}: path {path!r} is outside the root")
        if b"\x00" in raw:
            raise MtreeError(f"parse mtree: entry {name!r}: NUL byte in name")
        if len(path) > MAX_PATH:
            raise MtreeError(f"parse mtree: entry {name!r}: path longer than {MAX_PATH} bytes")
        self.total += len(path)
        if self.total > MAX_TOTAL_PATH:
            raise MtreeError("parse mtree: spec too large")
        return path


def parse(data: bytes) -> Spec:
    """Parse go-mtree text.  Raises :class:`MtreeError` for input that cannot be used."""
    text = bytes(data).decode(_ENC, _ERRORS)
    lines = _Lines(text)
    # Text without non-ASCII or the separators only Python splits at splits
    # line by line exactly as _fields() would: decide that once.
    fields_of: Callable[[str], list[str]] = str.split if _splits_as_go_does(text) else _fields
    raw_lines = lines._lines
    count = len(raw_lines)
    if len(text) > MAX_LINE and max(map(len, raw_lines)) > MAX_LINE:
        raise _too_long(next(i for i, line in enumerate(raw_lines, 1) if len(line) > MAX_LINE))
    nodes: list[Node] = []
    append = nodes.append
    cur_set: tuple[KeyVal, ...] | None = None
    dirs: list[bytes] = []  # the directories we are inside, innermost last
    paths = _Paths()
    while lines.pos < count:
        # Inlined _Lines.next().
        line = raw_lines[lines.pos]
        lines.pos += 1
        if line.endswith("\r"):
            line = line[:-1]
        if line.lstrip(" \t").startswith("#"):
            append(Comment(line))
            continue
        if not line:
            append(_BLANK)
            continue
        if line.startswith("/"):
            if line.endswith("\\"):
                line = lines.join_continued(line)
            fields = fields_of(line)
            special = Special(fields[0], _keyvals(fields[1:]))
            if special.name == "/set":
                cur_set = special.keywords
            elif special.name == "/unset":
                cur_set = None
            append(special)
            continue
        fields = fields_of(line)
        if not fields:
            continue  # only whitespace: go-mtree drops the line
        if fields[0] == "..":
            append(DotDot(line))
            if dirs:
                dirs.pop()
            continue
        if line.endswith("\\"):
            fields = fields_of(lines.join_continued(line))
            if not fields:
                raise MtreeError(f"parse mtree: line {lines.pos}: empty continued entry")
        name = fields[0]
        kvs = _keyvals(fields[1:])
        is_dir = False
        if ("type", "dir") in kvs:
            for key, value in kvs:
                if key == "type":
                    is_dir = value == "dir"
        # go-mtree cleans the written name too (it changes only full paths).
        full = "/" in name
        if full:
            name = clean(name.encode(_ENC, _ERRORS)).decode(_ENC, _ERRORS)
            path = paths.resolve(name, None)
        else:
            parent = dirs[-1] if dirs else None
            if (
                parent is not None
                and "\\" not in name
                and "\x00" not in name
                and name not in ("", ".", "..")
            ):
                # _Paths.resolve's common case, inlined: a plain name below
                # an already clean parent.
                raw = name.encode(_ENC, _ERRORS)
                path = raw if parent == b"." else parent + b"/" + raw
                if len(path) > MAX_PATH:
                    raise MtreeError(
                        f"parse mtree: entry {name!r}: path longer than {MAX_PATH} bytes"
                    )
                paths.total += len(path)
                if paths.total > MAX_TOTAL_PATH:
                    raise MtreeError("parse mtree: spec too large")
            else:
                path = paths.resolve(name, parent)
            if is_dir:
                dirs.append(path)
        append(Entry(name, path, kvs, cur_set, full))
    return Spec(tuple(nodes))
