"""Content digests: ``algorithm:hex`` strings (image-spec descriptor.md)."""

from __future__ import annotations

import hashlib
import re

from umoci.errors import BlobInvalidError

# Algorithms we can verify, with the hex length a digest of each must have.
_HEX_LENGTH = {"sha256": 64, "sha512": 128}
_DIGEST_RE = re.compile(r"([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)")

SHA256 = "sha256"


def split(digest: str) -> tuple[str, str]:
    """Return (algorithm, hex) of a digest we can verify; BlobInvalidError otherwise."""
    m = _DIGEST_RE.fullmatch(digest)
    if m is None:
        raise BlobInvalidError(f"invalid digest {digest!r}")
    algorithm, encoded = m.group(1), m.group(2)
    length = _HEX_LENGTH.get(algorithm)
    if length is None:
        raise BlobInvalidError(f"unsupported digest algorithm {algorithm!r}")
    if len(encoded) != length or any(c not in "0123456789abcdef" for c in encoded):
        raise BlobInvalidError(f"invalid {algorithm} digest {digest!r}")
    return algorithm, encoded


def hasher(algorithm: str) -> hashlib._Hash:
    """A fresh hash object for a supported algorithm."""
    return hashlib.new(algorithm)


def of_bytes(data: bytes, algorithm: str = SHA256) -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"
