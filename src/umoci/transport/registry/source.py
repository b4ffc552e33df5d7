"""``docker://`` as a copy's source: manifests negotiated and capped, blobs verified and resumed.

The name's tag or digest is fetched from ``/v2/REPO/manifests/REF`` with
every manifest type we read in ``Accept`` (OCI and Docker, images and
indexes), and read whole up to :data:`MAX_MANIFEST` -- a larger claim is
refused before a byte is read.  Its digest is computed from the bytes
(and must equal the name's, for ``@DIGEST``); the registry's
``Docker-Content-Digest`` is not trusted.  Children of an index are
fetched by digest the same way.

Blobs stream from ``/v2/REPO/blobs/DIGEST`` through
:class:`~umoci.cas.verify.VerifiedReader`, which reads exactly the
descriptor's size and checks the digest at the end, whatever
``Content-Length`` says.  A transfer cut in the middle is resumed from
where it stopped with ``Range: bytes=N-`` (a server that ignores it sends
the whole blob again and the first N bytes are skipped), as long as each
attempt makes progress, at most :data:`_MAX_RESUMES` times.
"""

from __future__ import annotations

import io

from urllib3.exceptions import HTTPError as Urllib3Error

from umoci import log as umoci_log
from umoci.cas.verify import VerifiedReader
from umoci.errors import BlobNotFoundError, RefNotFoundError, TransportError, UmociError
from umoci.oci import digest as digests
from umoci.oci import mediatypes
from umoci.oci.models import Descriptor
from umoci.transport.base import Source
from umoci.transport.registry.auth import repository_scope
from umoci.transport.registry.client import Client, discard, reason

TYPE_CHECKING = False
if TYPE_CHECKING:
    from urllib3 import BaseHTTPResponse

    from umoci.transport.names import RegistryName
    from umoci.transport.registry.options import RegistryOptions

log = umoci_log.get()

#: The largest manifest or index read (containers/image's limit).
MAX_MANIFEST = 4 << 20
#: Manifest types asked for, most wanted first.
ACCEPT = ", ".join(
    (
        mediatypes.MANIFEST,
        mediatypes.INDEX,
        mediatypes.DOCKER_MANIFEST,
        mediatypes.DOCKER_MANIFEST_LIST,
    )
)
_KNOWN_TYPES = mediatypes.MANIFEST_TYPES | mediatypes.INDEX_TYPES
_SCHEMA1_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    }
)
_MAX_RESUMES = 5


def manifest_path(repository: str, reference: str) -> str:
    return f"/v2/{repository}/manifests/{reference}"


def blob_path(repository: str, digest: str) -> str:
    return f"/v2/{repository}/blobs/{digest}"


class RegistrySource(Source):
    """Read an image from a registry repository."""

    #: Blobs may be fetched by several threads at once.
    parallel_transfers = 4

    def __init__(self, name: RegistryName, options: RegistryOptions) -> None:
        self.name = str(name)
        self.reference = name
        self.client = Client(name.registry, name.repository, options, what=self.name)
        self._scopes = (repository_scope(name.repository, "pull"),)
        self._manifests: dict[str, bytes] = {}
        #: Blobs the registry served (recorded for later pushes to mount them).
        self.fetched: set[str] = set()

    def anchors(self) -> list[Descriptor]:
        name = self.reference
        media_type, data = self._fetch_manifest(name.reference)
        algorithm = digests.split(name.digest)[0] if name.digest is not None else digests.SHA256
        hasher = digests.hasher(algorithm, size=len(data))
        hasher.update(data)
        digest = f"{algorithm}:{hasher.hexdigest()}"
        if name.digest is not None and digest != name.digest:
            raise TransportError(
                f"{self.name}: the registry's manifest hashes to {digest}, not the digest asked for"
            )
        self._manifests[digest] = data
        log.info("%s: %s %s", self.name, media_type, digest)
        return [Descriptor(media_type, digest, len(data))]

    def _open_blob(self, descriptor: Descriptor) -> VerifiedReader:
        where = f" ({self.name})"
        if descriptor.media_type in _KNOWN_TYPES:
            data = self._manifests.get(descriptor.digest)
            if data is None:
                if descriptor.size > MAX_MANIFEST:
                    raise TransportError(
                        f"{self.name}: manifest {descriptor.digest}: {descriptor.size} bytes is "
                        f"more than the {MAX_MANIFEST >> 20} MiB a manifest may have"
                    )
                _, data = self._fetch_manifest(descriptor.digest)
            return VerifiedReader(io.BytesIO(data), descriptor.digest, descriptor.size, where)
        stream = BlobStream(self.client, descriptor, self._scopes, self.fetched)
        return VerifiedReader(stream, descriptor.digest, descriptor.size, where)  # type: ignore[arg-type]

    def _fetch_manifest(self, reference: str) -> tuple[str, bytes]:
        client = self.client
        what = f"manifest {reference}"
        response = client.request(
            "GET",
            manifest_path(client.repository, reference),
            scopes=self._scopes,
            headers={"Accept": ACCEPT},
        )
        if response.status == 404:
            raise RefNotFoundError(
                f"{self.name}: {what}: not found ({client.error_text(response)})"
            )
        if response.status != 200:
            raise client.fail(response, what)
        data = read_capped(response, MAX_MANIFEST, f"{self.name}: {what}")
        media_type = _manifest_type(response.headers.get("Content-Type", ""), data)
        if media_type in _SCHEMA1_TYPES:
            raise TransportError(
                f"{self.name}: {what}: Docker schema 1 manifests are not supported"
            )
        if media_type not in _KNOWN_TYPES:
            raise TransportError(f"{self.name}: {what}: not an image (media type {media_type!r})")
        return media_type, data

    def close(self) -> None:
        from umoci.transport.registry import locations

        locations.record(self.client.registry, self.client.repository, self.fetched)
        self.client.close()


def read_capped(response: BaseHTTPResponse, limit: int, what: str) -> bytes:
    """The whole body of *response*, refused (unread) beyond *limit* bytes."""
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > limit:
        discard(response)
        raise TransportError(
            f"{what}: {int(length)} bytes is more than the {limit >> 20} MiB a manifest may have"
        )
    chunks = []
    total = 0
    try:
        while chunk := response.read(min(1 << 20, limit + 1 - total), decode_content=False):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                discard(response)
                raise TransportError(f"{what}: more than the {limit >> 20} MiB a manifest may have")
    except (Urllib3Error, OSError) as err:
        discard(response)
        raise TransportError(f"{what}: the transfer failed: {reason(err)}") from None
    response.release_conn()
    return b"".join(chunks)


def _manifest_type(content_type: str, data: bytes) -> str:
    """The manifest's media type: the header's, or (when it says nothing useful) the body's."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in _KNOWN_TYPES or media_type in _SCHEMA1_TYPES:
        return media_type
    from umoci.transport.documents import parse_json

    try:
        document = parse_json(data, "manifest")
    except UmociError:
        return media_type
    if not isinstance(document, dict):
        return media_type
    declared = document.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    if document.get("schemaVersion") == 1:
        return "application/vnd.docker.distribution.manifest.v1+json"
    if "manifests" in document:
        return mediatypes.INDEX
    if "config" in document:
        return mediatypes.MANIFEST
    return media_type


class BlobStream(io.RawIOBase):
    """A blob's bytes from the registry, resumed with ``Range`` if the transfer is cut."""

    def __init__(
        self, client: Client, descriptor: Descriptor, scopes: tuple[str, ...], served: set[str]
    ) -> None:
        """*served* gets the digest once the registry answers with the blob."""
        super().__init__()
        self._served = served
        self._client = client
        self._digest = descriptor.digest
        self._what = f"{client.what}: blob {descriptor.digest}"
        self._scopes = scopes
        self._response: BaseHTTPResponse | None = None
        self._offset = 0
        self._resumes = 0
        self._failed_at = -1  # the offset of the last cut: a resume must get past it

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while True:
            if self._response is None:
                self._response = self._open()
            try:
                n = self._response.readinto(buffer)
            except (Urllib3Error, OSError) as err:
                self._drop()
                if self._resumes >= _MAX_RESUMES or self._offset <= self._failed_at:
                    raise TransportError(
                        f"{self._what}: the transfer failed after {self._offset} bytes: "
                        f"{reason(err)}"
                    ) from None
                self._failed_at = self._offset
                self._resumes += 1
                log.info("%s: cut after %d bytes (%s): resuming", self._what, self._offset, err)
                continue
            self._offset += n
            return n

    def _open(self) -> BaseHTTPResponse:
        client = self._client
        headers = {"Range": f"bytes={self._offset}-"} if self._offset else {}
        response = client.request(
            "GET", blob_path(client.repository, self._digest), scopes=self._scopes, headers=headers
        )
        status = response.status
        if status == 404:
            raise BlobNotFoundError(f"{self._what}: not found ({client.error_text(response)})")
        if self._offset and status == 206:
            content_range = response.headers.get("Content-Range", "")
            if not content_range.startswith(f"bytes {self._offset}-"):
                discard(response)
                raise TransportError(
                    f"{self._what}: resumed at {self._offset} bytes, the registry answered with "
                    f"another range ({content_range[:60]!r})"
                )
            return response
        if status != 200:
            raise client.fail(response, f"blob {self._digest}")
        self._served.add(self._digest)
        if self._offset:
            self._skip(response, self._offset)
        return response

    def _skip(self, response: BaseHTTPResponse, count: int) -> None:
        """The server sent the whole blob again: skip what was read before."""
        left = count
        try:
            while left and (chunk := response.read(min(left, 1 << 20), decode_content=False)):
                left -= len(chunk)
        except (Urllib3Error, OSError) as err:
            discard(response)
            raise TransportError(f"{self._what}: resuming: {reason(err)}") from None
        if left:
            discard(response)
            raise TransportError(f"{self._what}: resuming: the blob is shorter than before")

    def _drop(self) -> None:
        if self._response is not None:
            discard(self._response)
            self._response = None

    def close(self) -> None:
        self._drop()
        super().close()
