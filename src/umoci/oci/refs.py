"""Image references on the command line: ``--image PATH[:TAG]`` and the tag grammar.

Tags follow the image-spec ``org.opencontainers.image.ref.name`` grammar::

    ref       ::= component ("/" component)*
    component ::= alphanum (separator alphanum)*
    alphanum  ::= [A-Za-z0-9]+
    separator ::= [-._:@+] | "--"

``--image`` is split at the *first* colon (as the Go umoci does), so a layout
path cannot contain a colon but a tag can.
"""

from __future__ import annotations

import os
import re

from umoci.errors import InvalidRefError, UsageError
from umoci.structs import dataclass

_COMPONENT = r"[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*"
_REF_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")

DEFAULT_TAG = "latest"


def is_valid_tag(tag: str) -> bool:
    """True when *tag* matches the ref.name grammar."""
    return _REF_RE.fullmatch(tag) is not None


def check_tag(tag: str) -> str:
    """Return *tag* or raise InvalidRefError saying why it is refused."""
    if tag == "":
        raise InvalidRefError("tag is empty")
    if not is_valid_tag(tag):
        raise InvalidRefError(f"tag contains invalid characters: {tag!r}")
    return tag


@dataclass(frozen=True)
class ImageRef:
    """A layout directory and a tag inside it."""

    layout: str
    tag: str


def parse_image_ref(text: str) -> ImageRef:
    """Split ``PATH[:TAG]`` at the first colon; the tag defaults to ``latest``."""
    path, sep, tag = text.partition(":")
    if not sep:
        tag = DEFAULT_TAG
    if path == "":
        raise UsageError(f"invalid --image {text!r}: path is empty")
    return ImageRef(os.path.normpath(path), check_tag(tag))
