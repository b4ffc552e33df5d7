"""Shell words for completion: reading a bash or zsh command line, and quoting a word for one.

Completion reads the line the user typed (:class:`ShellLine`) and writes
back words the shell inserts as they are (:func:`quote_sh`): both follow
the quoting bash and zsh share -- backslashes, ``'...'``, ``"..."`` and
``$'...'`` -- so a word written here reads back as exactly its text, in the
shell and here (for the next <Tab>).
"""

from __future__ import annotations

# COMP_WORDBREAKS' default less the quotes (which bash reads as quotes).
_BASH_BREAKS = frozenset(" \t\n><=;|&(:")
_BLANKS = frozenset(" \t\n")
# The one-letter escapes of $'...' (completion itself writes only \xNN).
_ANSI_C_ESCAPES = {
    "a": b"\a",
    "b": b"\b",
    "e": b"\x1b",
    "E": b"\x1b",
    "f": b"\f",
    "n": b"\n",
    "r": b"\r",
    "t": b"\t",
    "v": b"\v",
    "\\": b"\\",
    "'": b"'",
    '"': b'"',
}


class ShellLine:
    """A command line up to the cursor, read as bash and zsh read it.

    ``words`` have their quoting removed (backslashes, ``'...'``, ``"..."``
    and ``$'...'``, the forms completion itself writes), the last being the
    word under the cursor ("" after a blank); ``open_quote`` says a quote in
    it is still open; ``bash_kept`` is how many of its characters come
    before its last unquoted word-break character (``:``, ``=``, an
    operator): bash completes only what follows, and keeps the rest as typed.
    """

    __slots__ = ("bash_kept", "open_quote", "words")

    def __init__(self, line: str) -> None:
        self.words: list[str] = []
        self.open_quote = False
        self.bash_kept = 0
        word: list[str] | None = None  # the word being read, in pieces
        kept = 0  # its length up to its last word break
        i = 0
        while i < len(line):
            char = line[i]
            if char in _BLANKS:
                if word is not None:
                    self.words.append("".join(word))
                    word = None
                i += 1
                continue
            if word is None:
                word, kept = [], 0
            if char == "\\":
                word.append(line[i + 1 : i + 2])
                i += 2
            elif char == "'":
                piece, i = _single(line, i + 1)
                word.append(piece)
            elif line.startswith("$'", i):
                piece, i = _ansi_c(line, i + 2)
                word.append(piece)
            elif char == '"':
                piece, i = _double(line, i + 1)
                word.append(piece)
            else:
                word.append(char)
                if char in _BASH_BREAKS:
                    kept = sum(map(len, word))
                i += 1
        self.open_quote = i > len(line)  # a quote (or a backslash) ran off the end
        self.words.append("" if word is None else "".join(word))
        self.bash_kept = 0 if word is None else kept


def _single(line: str, i: int) -> tuple[str, int]:
    """``'...'`` from *i* (after the quote): its text, and where the word goes on."""
    end = line.find("'", i)
    return (line[i:], len(line) + 1) if end < 0 else (line[i:end], end + 1)


def _double(line: str, i: int) -> tuple[str, int]:
    """``"..."`` from *i* (after the quote): its text, and where the word goes on."""
    out: list[str] = []
    while i < len(line):
        char = line[i]
        if char == '"':
            return "".join(out), i + 1
        if char == "\\" and line[i + 1 : i + 2] in ("$", "`", '"', "\\", "\n"):
            out.append(line[i + 1])
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out), len(line) + 1


def _hex_prefix(text: str) -> str:
    """The hex digits *text* starts with."""
    count = 0
    while count < len(text) and text[count] in "0123456789abcdefABCDEF":
        count += 1
    return text[:count]


def _ansi_c(line: str, i: int) -> tuple[str, int]:
    """``$'...'``: escapes stand for bytes, read back as a file name's text."""
    data = bytearray()
    end = len(line) + 1  # unless the closing quote comes
    while i < len(line):
        char = line[i]
        if char == "'":
            end = i + 1
            break
        escape = line[i + 1 : i + 2] if char == "\\" else ""
        digits = _hex_prefix(line[i + 2 : i + 4]) if escape == "x" else ""
        if digits:
            data.append(int(digits, 16))
            i += 2 + len(digits)
        elif escape in _ANSI_C_ESCAPES:
            data += _ANSI_C_ESCAPES[escape]
            i += 2
        else:
            data += _utf8(char)
            i += 1
    return data.decode("utf-8", "surrogateescape"), end


# Printable ASCII that means nothing to bash or zsh anywhere in a word.
_SH_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:@%+-=")


def _utf8(char: str) -> bytes:
    try:  # a byte of a file name that was not UTF-8 comes back as that byte
        return char.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # no name has another lone surrogate; still, no crash
        return char.encode("utf-8", "surrogatepass")


def quote_sh(text: str) -> str:
    """*text* as one bash or zsh word that reads back as *text* exactly.

    As bash's ``printf %q`` and zsh's ``${(q)...}`` quote: a backslash before
    every printable ASCII character either shell could act on (both read
    ``\\X`` as ``X``), and ``$'\\xNN'`` for the bytes of anything
    unprintable, so the word is one line with no control character in it.
    Other printable characters (letters of any script) stay as they are.
    """
    from itertools import groupby

    if text == "":
        return "''"
    out: list[str] = []
    for printable, run in groupby(text, key=str.isprintable):
        if printable:
            out += [c if c in _SH_PLAIN or not c.isascii() else "\\" + c for c in run]
        else:
            out.append("$'" + "".join(f"\\x{b:02x}" for c in run for b in _utf8(c)) + "'")
    if text[0] == "=":  # zsh expands a leading "=cmd" to the command's path
        out[0] = "\\="
    return "".join(out)
