"""JSON documents a copy reads: the one place :mod:`umoci.transport` turns bytes into values.

Indexes, manifests and configs become the models of :mod:`umoci.oci.models`
(which keep the fields they do not know, so a rewritten document loses
nothing); the few documents of Docker's formats (``manifest.json``, a
config's fields for the legacy metadata) are plain JSON, type-checked by
their readers.  Every failure is a :class:`~umoci.errors.BlobInvalidError`
naming the document.
"""

from __future__ import annotations

from umoci.errors import BlobInvalidError
from umoci.oci import decode
from umoci.oci.models import ImageConfig, Index, Manifest


def parse_json(data: bytes, what: str) -> object:
    """Any JSON document, as plain values (dicts, lists, scalars), decoded as Go decodes it."""
    return decode.plain(decode.parse(data, what, BlobInvalidError))


def parse_object(data: bytes, what: str) -> dict[str, object]:
    """A JSON document that must be an object."""
    value = parse_json(data, what)
    if not isinstance(value, dict):
        raise BlobInvalidError(f"{what}: invalid JSON: not an object")
    return value


def parse_index(data: bytes, media_type: str, what: str) -> Index:
    """An image index reached through a descriptor of *media_type*."""
    return Index.from_bytes(data, media_type, what)


def parse_manifest(data: bytes, media_type: str, what: str) -> Manifest:
    """An image manifest reached through a descriptor of *media_type*."""
    return Manifest.from_bytes(data, media_type, what)


def parse_config(data: bytes, what: str) -> ImageConfig:
    """An image configuration."""
    return ImageConfig.from_bytes(data, what)
