"""Byte-level helpers shared by the mtree modules: vis/unvis, Go path cleaning, Go quoting.

go-mtree writes names, link targets and xattr names through ``govis.Vis``
with the flags ``VisWhite | VisOctal | VisGlob``.  With those flags the
encoding is simple: every byte in ``0x21..0x7e`` is written as itself, except
``\\`` (doubled) and the glob characters ``* ? [ #`` (octal); every other byte
(space, control characters, anything non-ASCII) becomes a three-digit octal
escape ``\\ooo``.  The encoding is per *byte*, so names that are not UTF-8
survive a round trip.

``unvis`` accepts everything ``govis.Unvis`` accepts (octal, ``\\x``,
``\\M-``/``\\M^``/``\\^`` meta and control escapes, C-style escapes, hidden
newlines) and rejects the same malformed sequences, raising
:class:`~umoci.errors.MtreeError`.  One deliberate difference: plain bytes
that are not valid UTF-8 are kept as they are, where Go would turn them into
U+FFFD.

Text read from a spec is handled as ``str`` decoded from UTF-8 with
``surrogateescape``, so any byte can be carried and written back unchanged.
"""

from __future__ import annotations

from umoci import goquote
from umoci.errors import MtreeError

__all__ = ["clean", "go_quote", "unvis", "vis"]

_ENC = "utf-8"
_ERRORS = "surrogateescape"


def _vis_table() -> tuple[str, ...]:
    table = []
    for b in range(256):
        if b == 0x5C:  # backslash
            table.append("\\\\")
        elif 0x21 <= b <= 0x7E and chr(b) not in "*?[#":
            table.append(chr(b))
        else:
            table.append(f"\\{b:03o}")
    return tuple(table)


_VIS = _vis_table()
# The bytes that are their own encoding; a name of nothing else is written as
# it is (the common case).  (A set of bytes, not a regular expression: this
# module is loaded by every verb that reads an mtree, and re costs ~1.5 ms.)
_PLAIN = bytes(b for b in range(256) if len(_VIS[b]) == 1)


def vis(raw: bytes) -> str:
    """Encode raw name bytes the way go-mtree writes them (``DefaultVisFlags``)."""
    if not raw.translate(None, _PLAIN):
        return raw.decode("ascii")
    return "".join([_VIS[b] for b in raw])


_HEX = frozenset("0123456789abcdefABCDEF")
_OCT = frozenset("01234567")
_CSTYLE = {
    "n": b"\n",
    "r": b"\r",
    "b": b"\b",
    "a": b"\x07",
    "v": b"\v",
    "t": b"\t",
    "f": b"\f",
    "s": b" ",
    "E": b"\x1b",
    "\n": b"",  # hidden newline
    "$": b"",  # marker
}


def _latin1(ch: str, what: str, text: str) -> int:
    code = ord(ch)
    if code > 0xFF:
        raise MtreeError(f"unvis {text!r}: {what}: code {ch!r} outside latin-1 encoding")
    return code


def unvis(text: str) -> bytes:
    """Decode a vis-encoded name (as ``govis.Unvis`` does) into raw bytes.

    Raises :class:`MtreeError` for malformed escapes.
    """
    if "\\" not in text:
        return text.encode(_ENC, _ERRORS)
    out = bytearray()
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        i += 1
        if ch != "\\":
            out += ch.encode(_ENC, _ERRORS)
            continue
        if i >= n:
            raise MtreeError(f"unvis {text!r}: escape sequence: unexpectedly reached end of string")
        ch = text[i]
        if ch == "\\":
            i += 1
            out.append(0x5C)
        elif ch in _OCT:
            # One to three octal digits; the value must fit a byte.
            code = 0
            for _ in range(3):
                if i < n and text[i] in _OCT:
                    code = code * 8 + int(text[i])
                    i += 1
                else:
                    break
            if code > 0xFF:
                raise MtreeError(f"unvis {text!r}: escape base 8: code {code:#x} outside latin-1")
            out.append(code)
        elif ch == "x":
            # Exactly two hex digits.
            digits = text[i + 1 : i + 3]
            if len(digits) != 2 or not all(d in _HEX for d in digits):
                raise MtreeError(f"unvis {text!r}: escape base 16: could not parse digit")
            out.append(int(digits, 16))
            i += 3
        elif ch == "^":
            i += 1
            i = _ctrl(text, i, 0x00, out)
        elif ch == "M":
            i += 1
            if i >= n:
                raise MtreeError(f"unvis {text!r}: escape meta: unexpectedly reached end of string")
            kind = text[i]
            i += 1
            if kind == "^":
                i = _ctrl(text, i, 0x80, out)
            elif kind == "-":
                if i >= n:
                    raise MtreeError(f"unvis {text!r}: escape meta1: unexpectedly reached end")
                out.append(0x80 | _latin1(text[i], "escape meta1", text))
                i += 1
            else:
                raise MtreeError(f"unvis {text!r}: escape meta: unknown escape character {kind!r}")
        else:
            i += 1
            try:
                out += _CSTYLE[ch]
            except KeyError:
                raise MtreeError(
                    f"unvis {text!r}: escape cstyle: unknown escape character {ch!r}"
                ) from None
    return bytes(out)


def _ctrl(text: str, i: int, mask: int, out: bytearray) -> int:
    if i >= len(text):
        raise MtreeError(f"unvis {text!r}: escape ctrl: unexpectedly reached end of string")
    ch = text[i]
    code = 0x7F if ch == "?" else _latin1(ch, "escape ctrl", text) & 0x1F
    out.append(mask | code)
    return i + 1


def clean(path: bytes) -> bytes:
    """Lexically clean a slash-separated path exactly like Go's ``filepath.Clean``.

    Unlike :func:`posixpath.normpath`, a leading ``//`` collapses to ``/``.
    """
    if not path:
        return b"."
    rooted = path.startswith(b"/")
    parts: list[bytes] = []
    for part in path.split(b"/"):
        if part in (b"", b"."):
            continue
        if part == b"..":
            if parts and parts[-1] != b"..":
                parts.pop()
            elif not rooted:
                parts.append(part)
            continue
        parts.append(part)
    body = b"/".join(parts)
    if rooted:
        return b"/" + body
    return body or b"."


def go_quote(raw: bytes) -> str:
    """Quote bytes like Go's ``%q`` / ``strconv.Quote`` (used in check output lines).

    Printable runes are kept, invalid UTF-8 bytes become ``\\xNN``, other
    runes use ``\\a``-style, ``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN`` escapes.
    """
    return goquote.quote(raw.decode(_ENC, _ERRORS))
