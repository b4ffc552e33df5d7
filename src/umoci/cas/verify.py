"""A reader that refuses a blob whose bytes are not what its descriptor says.

It never reads past the descriptor size (a blob file that is longer is
caught by reading one byte more at the end), and checks the digest once the
last byte has been delivered, so a consumer that streams the whole blob gets
an error instead of EOF when the content is wrong.

The digest is judged before the size, as the Go umoci's verified reader
does (scripts grep for its words): a blob that ends early or goes on is a
*digest* mismatch unless the bytes read so far hash to the descriptor's
digest, so only a blob whose first ``size`` bytes are right and that then
goes on (or, by a collision, a shorter one) is a *size* mismatch.  A
recompressed layer is therefore a digest mismatch whatever its length.
"""

from __future__ import annotations

import io

from umoci.errors import BlobInvalidError
from umoci.oci import digest as digests

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import BinaryIO

    from umoci.oci.models import Descriptor


class VerifiedReader(io.RawIOBase):
    """Stream exactly ``size`` bytes of ``raw`` and check their digest."""

    def __init__(self, raw: BinaryIO, digest: str, size: int, source: str = "") -> None:
        """``source`` names where the bytes come from when it is not the blob file."""
        super().__init__()
        if size < 0:
            raise BlobInvalidError(f"blob {digest}: negative size {size}")
        algorithm, self._expected_hex = digests.split(digest)
        self._raw = raw
        self._digest = digest
        self._what = f"blob {digest}{source}"
        self._size = size
        self._remaining = size
        self._hash = digests.hasher(algorithm, size=size)
        self._verified = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._remaining == 0:
            self._finish()
            return 0
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._remaining)
        n = self._raw.readinto(view[:want])  # type: ignore[attr-defined]
        if not n:
            got = self._size - self._remaining
            self._check_digest(
                f" (the blob ends after {got} of the descriptor's {self._size} bytes)"
            )
            raise BlobInvalidError(
                f"{self._what}: verified reader size mismatch: got {got} "
                f"bytes, descriptor says {self._size}"
            )
        self._hash.update(view[:n])
        self._remaining -= n
        if self._remaining == 0:
            self._finish()
        return int(n)

    def _finish(self) -> None:
        if self._verified:
            return
        self._check_digest("")
        if self._raw.read(1):
            raise BlobInvalidError(
                f"{self._what}: verified reader size mismatch: blob is longer than the "
                f"descriptor's {self._size} bytes"
            )
        self._verified = True

    def _check_digest(self, detail: str) -> None:
        """Refuse the bytes read so far unless they hash to the descriptor's digest."""
        if self._hash.hexdigest() != self._expected_hex:
            raise BlobInvalidError(
                f"{self._what}: verified reader digest mismatch: content hashes to "
                f"{self._hash.name}:{self._hash.hexdigest()}{detail}"
            )

    def read_all_verified(self) -> bytes:
        """Read the whole blob (for small JSON blobs) and verify it."""
        data = self.read()
        self._finish()
        return data if data is not None else b""

    def drain(self) -> None:
        """Read and hash whatever the consumer left unread, then verify."""
        while self.read(1 << 20):
            pass
        self._finish()

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


def open_embedded(descriptor: Descriptor) -> VerifiedReader | None:
    """A reader of the content *descriptor* embeds (``data``), checked as a blob is; None if none.

    The Go umoci serves such a descriptor from its data, after the same
    checks, whoever stores the blob.
    """
    if descriptor.data is None:
        return None
    embedded = io.BytesIO(descriptor.data)
    return VerifiedReader(embedded, descriptor.digest, descriptor.size, " (embedded data)")
