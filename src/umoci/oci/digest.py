"""Content digests: ``algorithm:hex`` strings (image-spec descriptor.md).

Neither ``re`` nor ``hashlib`` is imported up front: together they cost
~9 ms, most of what ``umoci stat`` spends on start-up.  The digest grammar
is matched by hand, small blobs (JSON documents) are hashed by CPython's
built-in SHA-2 modules, which load in a fraction of a millisecond, and
``hashlib`` (OpenSSL: several times faster on big inputs) is imported for
streams that may be large.  Both give the same digests.
"""

from __future__ import annotations

from umoci.errors import BlobInvalidError

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import Protocol

    class Hasher(Protocol):
        """What hashlib's and the built-in modules' hash objects share."""

        @property
        def name(self) -> str: ...

        def update(self, data: bytes | bytearray | memoryview, /) -> None: ...
        def hexdigest(self) -> str: ...


# Algorithms we can verify, with the hex length a digest of each must have.
_HEX_LENGTH = {"sha256": 64, "sha512": 128}
SHA256 = "sha256"

#: Inputs up to this size are hashed by the built-in (quick to import) modules.
SMALL_INPUT = 1 << 20

# The grammar: algorithm ::= component ([+._-] component)*, component ::= [a-z0-9]+;
# encoded ::= [a-zA-Z0-9=_-]+.
_ALGORITHM_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_ALGORITHM_SEPARATORS = frozenset("+._-")
_ENCODED_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789=_-")
_HEX = frozenset("0123456789abcdef")


def _is_algorithm(text: str) -> bool:
    if not text or text[0] not in _ALGORITHM_CHARS or text[-1] not in _ALGORITHM_CHARS:
        return False
    previous_separator = False
    for char in text:
        if char in _ALGORITHM_CHARS:
            previous_separator = False
        elif char in _ALGORITHM_SEPARATORS and not previous_separator:
            previous_separator = True
        else:
            return False
    return True


def is_well_formed(digest: str) -> bool:
    """True when *digest* matches the image-spec digest grammar (any algorithm)."""
    algorithm, colon, encoded = digest.partition(":")
    return (
        bool(colon)
        and _is_algorithm(algorithm)
        and bool(encoded)
        and all(c in _ENCODED_CHARS for c in encoded)
    )


def split(digest: str) -> tuple[str, str]:
    """Return (algorithm, hex) of a digest we can verify; BlobInvalidError otherwise."""
    if not is_well_formed(digest):
        raise BlobInvalidError(f"invalid digest {digest!r}")
    algorithm, _, encoded = digest.partition(":")
    length = _HEX_LENGTH.get(algorithm)
    if length is None:
        raise BlobInvalidError(f"unsupported digest algorithm {algorithm!r}")
    if len(encoded) != length or any(c not in _HEX for c in encoded):
        raise BlobInvalidError(f"invalid {algorithm} digest {digest!r}")
    return algorithm, encoded


#: CPython's own SHA-2 code: ``_sha2`` from Python 3.12, one module per size before.
_BUILTIN_MODULES = {"sha256": ("_sha2", "_sha256"), "sha512": ("_sha2", "_sha512")}


def _builtin(algorithm: str) -> Hasher | None:
    """A hash object from CPython's built-in SHA-2 modules, when this Python has them."""
    for module in _BUILTIN_MODULES.get(algorithm, ()):
        try:
            constructor = getattr(__import__(module), algorithm)
        except (ImportError, AttributeError):
            continue
        return constructor()  # type: ignore[no-any-return]
    return None


def hasher(algorithm: str, *, size: int | None = None) -> Hasher:
    """A fresh hash object for a supported algorithm.

    *size*, when known and small, picks the quick-to-import built-in code.
    """
    if size is not None and size <= SMALL_INPUT:
        quick = _builtin(algorithm)
        if quick is not None:
            return quick
    import hashlib

    return hashlib.new(algorithm)


def sha256_of(data: bytes) -> str:
    """The ``sha256:<hex>`` digest of *data* (a JSON document, an ID's seed)."""
    digest = hasher(SHA256, size=len(data))
    digest.update(data)
    return f"{SHA256}:{digest.hexdigest()}"
