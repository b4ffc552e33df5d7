"""Go's ``strconv.Quote`` (``%q``), the one quoting rule behind several outputs.

``stat`` quotes values with it, mtree check lines quote paths and keywords,
and config.json generation quotes user specs in its errors.  Go keeps
printable runes (letters, marks, numbers, punctuation, symbols and the ASCII
space: the same set as Python's :meth:`str.isprintable`) and escapes the rest
as ``\\a``-style, ``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN``.

Text is ``str``; a byte that was not UTF-8, carried by ``surrogateescape``
(U+DC80..U+DCFF), is written as ``\\xNN`` as Go writes an invalid byte.
"""

from __future__ import annotations

_SIMPLE_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}


def quote(text: str) -> str:
    """``strconv.Quote(text)``."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        escape = _SIMPLE_ESCAPES.get(ch)
        if escape is not None:
            out.append(escape)
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def needs_quoting(text: str) -> bool:
    """Whether ``quote`` would change anything but add the two quote marks."""
    return quote(text) != f'"{text}"'
