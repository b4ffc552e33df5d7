"""Image references on the command line: ``--image PATH[:TAG]``, ``PATH@DIGEST``, the tag grammar.

Tags follow the image-spec ``org.opencontainers.image.ref.name`` grammar::

    ref       ::= component ("/" component)*
    component ::= alphanum (separator alphanum)*
    alphanum  ::= [A-Za-z0-9]+
    separator ::= [-._:@+] | "--"

``--image`` is split at the *first* colon (as the Go umoci does), so a layout
path cannot contain a colon but a tag can.

``PATH@ALGORITHM:HEX`` names a manifest or index by digest instead (tagged
or not, anywhere below ``index.json``); ``HEX`` may be a prefix of at least
:data:`MIN_PREFIX` digits.  It is recognised only when the algorithm is one
we can verify (``sha256``, ``sha512``) and the path has no colon, so every
reference the Go umoci accepts keeps its meaning.  Inside umoci a reference
travels as one string: a tag, or ``@`` and the digest (a tag cannot start
with ``@``).
"""

from __future__ import annotations

import os

from umoci.errors import InvalidRefError, UsageError
from umoci.structs import dataclass

# The grammars below are matched by hand, not with ``re``: importing ``re``
# costs every run ~6 ms (it imports ``enum``), a third of ``umoci stat``.
_ALPHANUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_SEPARATOR_CHARS = frozenset("-._:@+")
_DIGEST_REF_ALGORITHMS = ("sha256", "sha512")

DEFAULT_TAG = "latest"
MIN_PREFIX = 12
_HEX_LENGTH = {"sha256": 64, "sha512": 128}


def _is_component(text: str) -> bool:
    """``alphanum (separator alphanum)*``: separators are one of ``-._:@+`` or ``--``."""
    if not text or text[0] not in _ALPHANUM or text[-1] not in _ALPHANUM:
        return False
    separator = 0  # length of the run of separator characters just seen
    previous = ""
    for char in text:
        if char in _ALPHANUM:
            separator = 0
        elif char in _SEPARATOR_CHARS:
            separator += 1
            # Two in a row only as "--"; never three.
            if separator == 2 and not (previous == "-" and char == "-"):
                return False
            if separator > 2:
                return False
        else:
            return False
        previous = char
    return True


def is_valid_tag(tag: str) -> bool:
    """True when *tag* matches the ref.name grammar."""
    return all(_is_component(part) for part in tag.split("/"))


def _split_digest_ref(text: str) -> tuple[str, str, str] | None:
    """``PATH@ALGORITHM:REST`` as (path, algorithm, rest), or None.

    What the pattern ``([^:]*)@(sha256|sha512):(.*)`` matches in full: the
    path has no colon, so the first colon ends the algorithm, and ``.``
    takes anything but a newline.
    """
    colon = text.find(":")
    at = colon - 7  # len("@sha256")
    if at < 0 or text[at] != "@" or text[at + 1 : colon] not in _DIGEST_REF_ALGORITHMS:
        return None
    rest = text[colon + 1 :]
    if "\n" in rest:
        return None
    return text[:at], text[at + 1 : colon], rest


def check_tag(tag: str) -> str:
    """Return *tag* or raise InvalidRefError saying why it is refused."""
    if tag == "":
        raise InvalidRefError("tag is empty")
    if not is_valid_tag(tag):
        raise InvalidRefError(f"tag contains invalid characters: {tag!r}")
    return tag


def is_digest_ref(ref: str) -> bool:
    """True when *ref* (as the verbs take it) is ``@ALGORITHM:HEX`` rather than a tag."""
    return ref.startswith("@")


def check_digest_ref(algorithm: str, encoded: str) -> str:
    """``@algorithm:hex`` for a full digest or a long enough prefix; InvalidRefError otherwise."""
    length = _HEX_LENGTH[algorithm]
    if not encoded or any(c not in "0123456789abcdef" for c in encoded):
        raise InvalidRefError(f"invalid digest reference {algorithm}:{encoded}: want lowercase hex")
    if len(encoded) > length:
        raise InvalidRefError(
            f"invalid digest reference {algorithm}:{encoded}: longer than {length} digits"
        )
    if len(encoded) < MIN_PREFIX:
        raise InvalidRefError(
            f"invalid digest reference {algorithm}:{encoded}: give at least {MIN_PREFIX} hex digits"
        )
    return f"@{algorithm}:{encoded}"


@dataclass(frozen=True)
class ImageRef:
    """A layout directory and a reference inside it: a tag, or ``@`` and a digest (prefix)."""

    layout: str
    tag: str

    @property
    def is_digest(self) -> bool:
        return is_digest_ref(self.tag)


def split_image_ref(text: str) -> tuple[str, str | None]:
    """``PATH[:TAG]`` or ``PATH@DIGEST`` as (path, reference); None when no tag is given."""
    digest_ref = _split_digest_ref(text)
    path = digest_ref[0] if digest_ref is not None else text.partition(":")[0]
    if path == "":
        raise UsageError(f"invalid --image {text!r}: path is empty")
    ref: str | None
    if digest_ref is not None:
        ref = check_digest_ref(digest_ref[1], digest_ref[2])
    else:
        _, sep, tag = text.partition(":")
        ref = check_tag(tag) if sep else None
    return os.path.normpath(path), ref


def parse_image_ref(text: str) -> ImageRef:
    """Parse ``PATH[:TAG]`` or ``PATH@DIGEST``; the tag defaults to ``latest``."""
    path, ref = split_image_ref(text)
    return ImageRef(path, DEFAULT_TAG if ref is None else ref)
