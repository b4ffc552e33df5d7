"""Go's ``strconv.Quote`` (``%q``), the one quoting rule behind several outputs.

``stat`` quotes values with it, mtree check lines quote paths and keywords,
config.json generation quotes user specs in its errors, ``ls`` and error
lines show names from a layout with it, and the error boundary and the log
escape whatever unprintable character a message still holds the same way.
Go keeps printable runes (letters, marks, numbers, punctuation, symbols and
the ASCII space: the same set as Python's :meth:`str.isprintable`) and
escapes the rest as ``\\a``-style, ``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN``.

Text is ``str``; a byte that was not UTF-8, carried by ``surrogateescape``
(U+DC80..U+DCFF), is written as ``\\xNN`` as Go writes an invalid byte.

Internal: not part of the public API (:mod:`umoci.api`).
"""

from __future__ import annotations

_CONTROL_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}
_QUOTE_ESCAPES = {'"': '\\"', "\\": "\\\\"}


def _plain(text: str) -> bool:
    """Whether ``quote`` leaves every character of *text* as it is."""
    return text.isprintable() and '"' not in text and "\\" not in text


def _escape(ch: str) -> str | None:
    """How ``quote`` writes *ch* when it is unprintable; None when it is printable."""
    code = ord(ch)
    escape = _CONTROL_ESCAPES.get(ch)
    if escape is not None:
        return escape
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    if ch.isprintable():
        return None
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def quote(text: str) -> str:
    """``strconv.Quote(text)``."""
    if _plain(text):
        return f'"{text}"'
    out = ['"']
    for ch in text:
        escape = _QUOTE_ESCAPES.get(ch) or _escape(ch)
        out.append(ch if escape is None else escape)
    out.append('"')
    return "".join(out)


def needs_quoting(text: str) -> bool:
    """Whether ``quote`` would change anything but add the two quote marks."""
    return not _plain(text)


def quote_if_needed(text: str) -> str:
    """*text* itself, or ``quote(text)`` when it holds something ``quote`` escapes.

    How names taken from a layout (tags, media types, platform fields) are
    shown on a terminal: ordinary ones bare, as the Go umoci prints them;
    any with a control character, a quotation mark or a backslash quoted,
    so no terminal control sequence gets through and a quoted name cannot
    pass for a bare one.
    """
    return text if _plain(text) else quote(text)


def escape_unprintable(text: str) -> str:
    """*text* with only its unprintable characters escaped, as ``quote`` escapes them.

    For a line of prose that quotes names its own way (an error message):
    quotation marks and backslashes stay as they are.
    """
    if text.isprintable():
        return text
    return "".join(escape if (escape := _escape(ch)) is not None else ch for ch in text)
