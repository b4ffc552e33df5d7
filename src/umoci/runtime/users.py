"""``Config.User`` -> uid, gid, supplementary gids and home, from the rootfs's passwd/group.

This follows the resolver the Go umoci uses (``moby/sys/user``
``GetExecUser``, the runc one before it), because the numbers it picks end
up in ``config.json`` and must agree:

* the spec is ``user[:group]`` (anything after a second ``:`` is ignored);
  a part that Go's ``strconv.Atoi`` accepts (``+7``, ``-1``, ``007``) is
  an id, anything else a name;
* an empty user means "the passwd entry with uid 0": the image's root entry
  still sets gid, home and supplementary groups;
* the *first* matching passwd entry wins and gives uid, gid and home; a
  numeric user with no entry keeps gid 0 and no home; a name with no entry
  is an error;
* supplementary gids are the groups listing the matched user's name, and
  only when no group was given explicitly;
* an explicit group sets the gid from the first matching group line, or
  verbatim when numeric; a group name with no line is an error;
* numeric ids that come from the spec (not from the files) must be in
  ``[0, 2^31-1]``.

The files are untrusted.  Lines are parsed leniently like Go (short lines
fill what they can, bad numbers read as 0, ``#`` comments only in group),
but reading is bounded: each file is capped at :data:`MAX_FILE_BYTES`, and
a passwd line longer than Go's ``bufio.Scanner`` token limit is the same
error Go reports, so a hostile image cannot make us slurp gigabytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from umoci.errors import BlobInvalidError
from umoci.structs import dataclass

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import BinaryIO, TypeAlias

MIN_ID = 0
MAX_ID = 2**31 - 1  # Go's user package limit (32-bit int compatible)

# Newer moby/sys/user caps each user-database file at 10 MiB; we apply the
# same bound (the version pinned by umoci 0.6 had none, but nothing real
# comes close).
MAX_FILE_BYTES = 10 << 20

# bufio.Scanner's default token limit: a line (without its newline) must be
# shorter than this or the scan fails with ErrTooLong.
_SCANNER_MAX_LINE = 64 * 1024
_BLOCK = 64 * 1024
assert _BLOCK <= _SCANNER_MAX_LINE  # _lines relies on it

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_ATOI = re.compile(rb"[+-]?[0-9]+")

# unicode.IsSpace, which Go's bytes.TrimSpace uses.
_GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + ("\u2028\u2029\u202f\u205f\u3000")
)

Opener: TypeAlias = "Callable[[], BinaryIO | None]"


class _ReadError(Exception):
    """A passwd/group read failure, worded like Go's error text."""


@dataclass(frozen=True)
class ExecUser:
    """The result of resolving a user spec (ids as Go ints, not yet uint32)."""

    uid: int = 0
    gid: int = 0
    sgids: tuple[int, ...] = ()
    home: str = ""


@dataclass(frozen=True)
class PasswdEntry:
    """One parsed passwd line; bytes fields compare like Go's byte strings."""

    name: bytes
    uid: int
    gid: int
    home: bytes


@dataclass(frozen=True)
class GroupEntry:
    """One parsed group line."""

    name: bytes
    gid: int
    members: tuple[bytes, ...]


def atoi(text: bytes) -> int | None:
    """Go's ``strconv.Atoi`` on 64-bit: the value, or None on any error."""
    if _ATOI.fullmatch(text) is None:
        return None
    value = int(text)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


def _lenient_atoi(text: bytes) -> int:
    # parseLine ignores Atoi errors: a syntax error leaves 0 and an
    # overflow leaves the clamped value ParseInt returns alongside ErrRange.
    if _ATOI.fullmatch(text) is None:
        return 0
    return max(_INT64_MIN, min(_INT64_MAX, int(text)))


def _trim_space(line: bytes) -> bytes:
    stripped = line.strip()
    if not stripped or (stripped[0] < 0x80 and stripped[-1] < 0x80):
        return stripped
    # Non-ASCII at an edge: it may be a Unicode space Go also trims.  Bytes
    # that are not valid UTF-8 stop the trim, as RuneError is not a space.
    text = stripped.decode("utf-8", "surrogateescape").strip(_GO_SPACE)
    return text.encode("utf-8", "surrogateescape")


def _lines(source: BinaryIO, what: str, max_line: int | None) -> Iterator[bytes]:
    """Yield trimmed lines, refusing files over the cap and over-long lines.

    Reads fixed-size blocks and splits them in C, so neither a file of
    millions of empty lines nor one endless line costs more than a block of
    memory beyond the (capped) line being assembled.
    """
    limit = max_line if max_line is not None else MAX_FILE_BYTES + 1
    total = 0
    partial: list[bytes] = []  # the pieces of an unfinished line
    partial_len = 0
    while block := source.read(_BLOCK):
        total += len(block)
        if total > MAX_FILE_BYTES:
            raise _ReadError(f"read {what}: file exceeds {MAX_FILE_BYTES} bytes")
        pieces = block.split(b"\n")
        tail = pieces.pop()
        if pieces:
            partial.append(pieces[0])
            pieces[0] = b"".join(partial)
            # Only the first piece can be long: the others fit in one block,
            # which is no larger than the shortest limit.
            if len(pieces[0]) >= limit:
                raise _ReadError("bufio.Scanner: token too long")
            # Both formats skip blank lines; dropping the empty ones here
            # (filter runs in C) keeps a file of newlines cheap.
            for line in filter(None, pieces):
                yield _trim_space(line)
            partial, partial_len = [], 0
        partial.append(tail)
        partial_len += len(tail)
        if partial_len >= limit:
            raise _ReadError("bufio.Scanner: token too long")
    if partial_len:
        yield _trim_space(b"".join(partial))


def parse_passwd(source: BinaryIO) -> Iterator[PasswdEntry]:
    """Entries of a passwd file (name:pass:uid:gid:gecos:home:shell)."""
    for line in _lines(source, "/etc/passwd", _SCANNER_MAX_LINE):
        if not line:
            continue
        parts = line.split(b":")
        parts += [b""] * (7 - len(parts))
        yield PasswdEntry(
            name=parts[0], uid=_lenient_atoi(parts[2]), gid=_lenient_atoi(parts[3]), home=parts[5]
        )


def parse_group(source: BinaryIO) -> Iterator[GroupEntry]:
    """Entries of a group file (name:pass:gid:member,member,...)."""
    # Go reads group with bufio.Reader.ReadLine, which has no line limit.
    for line in _lines(source, "/etc/group", None):
        if not line or line.startswith(b"#"):
            continue
        parts = line.split(b":")
        parts += [b""] * (4 - len(parts))
        members = tuple(parts[3].split(b",")) if parts[3] else ()
        yield GroupEntry(name=parts[0], gid=_lenient_atoi(parts[2]), members=members)


def resolve_user(spec: str, open_passwd: Opener, open_group: Opener) -> ExecUser:
    """Resolve ``Config.User`` against passwd/group (openers return None if missing).

    Raises :class:`BlobInvalidError` with Go's wording when the spec names
    a user or group that does not exist or an id out of range.
    """
    raw = spec.encode("utf-8", "surrogateescape")
    parts = raw.split(b":")
    user_arg = parts[0]
    group_arg = parts[1] if len(parts) > 1 else b""
    uid_arg = atoi(user_arg)
    gid_arg = atoi(group_arg)
    uid, gid, home = 0, 0, b""
    sgids: tuple[int, ...] = ()

    def user_matches(entry: PasswdEntry) -> bool:
        if not user_arg:
            return entry.uid == 0  # "current" uid: the default, 0
        if uid_arg is not None:
            return entry.uid == uid_arg
        return entry.name == user_arg

    matched: PasswdEntry | None = None
    passwd = open_passwd()
    if passwd is not None:
        with passwd:
            try:
                # Go parses the whole file even after a match, so a broken
                # line after it is still an error; keep the first match.
                for entry in parse_passwd(passwd):
                    if matched is None and user_matches(entry):
                        matched = entry
            except _ReadError as e:
                name = _text(user_arg) if user_arg else str(uid)
                raise BlobInvalidError(f"unable to find user {name}: {e}") from None

    matched_name = b""
    if matched is not None:
        matched_name, uid, gid, home = matched.name, matched.uid, matched.gid, matched.home
    elif user_arg:
        if uid_arg is None:
            raise BlobInvalidError(
                f"unable to find user {_text(user_arg)}: no matching entries in passwd file"
            )
        uid = _check_range(uid_arg)

    if group_arg or matched_name:
        groups = _find_groups(open_group, group_arg, gid_arg, matched_name)
        if group_arg:
            if groups:
                gid = groups[0]
            elif gid_arg is None:
                raise BlobInvalidError(
                    f"unable to find group {_text(group_arg)}: no matching entries in group file"
                )
            else:
                gid = _check_range(gid_arg)
        elif groups:
            sgids = tuple(groups)
    return ExecUser(uid=uid, gid=gid, sgids=sgids, home=_text(home))


def _find_groups(
    open_group: Opener, group_arg: bytes, gid_arg: int | None, member: bytes
) -> list[int]:
    group = open_group()
    if group is None:
        return []
    found: list[int] = []
    with group:
        try:
            for entry in parse_group(group):
                if not group_arg:
                    hit = member in entry.members
                elif gid_arg is not None:
                    hit = entry.gid == gid_arg
                else:
                    hit = entry.name == group_arg
                if hit:
                    found.append(entry.gid)
        except _ReadError as e:
            raise BlobInvalidError(f"unable to find groups for spec {_text(member)}: {e}") from None
    return found


def _check_range(value: int) -> int:
    if not MIN_ID <= value <= MAX_ID:
        raise BlobInvalidError(f"uids and gids must be in range {MIN_ID}-{MAX_ID}")
    return value


def _text(raw: bytes) -> str:
    # Go strings are bytes; JSON output replaces invalid UTF-8 with U+FFFD.
    return raw.decode("utf-8", "replace")
