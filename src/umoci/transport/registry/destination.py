"""``docker://`` as a copy's destination: blobs uploaded, manifests pushed, tags last.

* A blob the repository has already (``HEAD /v2/REPO/blobs/DIGEST``) is
  not uploaded again.
* A blob that came from another repository of the same registry -- the
  source of this copy, or one :mod:`.locations` remembers from an earlier
  pull or push -- is *mounted* from it (``POST
  .../blobs/uploads/?mount=DIGEST&from=REPO``, with a token for both
  repositories); a registry that declines answers with an upload session,
  which is then used.
* Other blobs are uploaded.  A blob of known size up to
  :data:`MONOLITHIC_MAX` goes up in one ``PUT ...?digest=`` whose body
  streams from the source (one round trip, memory flat); a blob made
  during the copy (a converted layer: its digest is known at the end) or
  a larger one goes up in :data:`CHUNK_SIZE` ``PATCH`` requests with
  ``Content-Range`` (proxies in front of registries limit a request's
  size) and a closing ``PUT``.  A registry that refuses ranged chunks gets
  them without ``Content-Range`` (streamed chunks, as Docker sends them);
  one that refuses the first chunk either way, or answers it in a way that
  breaks the protocol (another ``Range`` than the bytes sent), gets the
  blob in one ``PUT``: it is spooled to an unnamed file in ``--tmpdir``
  (:mod:`umoci.transport.spool`: bounded by the disk, not memory, and gone
  when closed), the refused session is deleted, and a new one takes the
  whole blob.  Chunks refused after the first are an error: the registry
  holds bytes that are no longer in memory.
  Either way the blob is complete only once the stream has delivered
  every byte and its digest was checked: a streamed ``PUT`` whose source
  fails is cut short (so the registry never completes it), and a chunked
  upload's closing ``PUT`` is never sent; the session is deleted.
* Manifests and indexes are kept (each at most 4 MiB) and pushed by
  :meth:`commit`, children before the index that lists them, each by
  digest; the root last, by its tag and each ``--additional-tag`` -- the
  only writes that change what a name shows.
"""

from __future__ import annotations

import os
import threading
import urllib.parse

from umoci import log as umoci_log
from umoci.compress.streams import CHUNK_SIZE as READ_SIZE
from umoci.errors import TransportError, UsageError
from umoci.oci import digest as digests
from umoci.oci import mediatypes
from umoci.oci.models import Descriptor
from umoci.transport.base import CopyResult, Destination
from umoci.transport.registry.auth import repository_scope
from umoci.transport.registry.client import Client, discard
from umoci.transport.registry.source import MAX_MANIFEST, blob_path, manifest_path
from umoci.transport.spool import Spool

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import TracebackType

    from urllib3 import BaseHTTPResponse

    from umoci.compress.streams import ByteReader
    from umoci.transport.names import RegistryName
    from umoci.transport.registry.options import RegistryOptions
    from umoci.transport.spool import SpoolDir

log = umoci_log.get()

#: Bytes sent per PATCH (and the most an upload holds in memory).
CHUNK_SIZE = 8 << 20
#: Blobs of known size up to this go up in one streamed PUT.
MONOLITHIC_MAX = 1 << 30
_MANIFEST_TYPES = mediatypes.MANIFEST_TYPES | mediatypes.INDEX_TYPES
#: Answers to a ranged PATCH that mean "not like that" (rather than "failed").
_RANGE_REFUSED = frozenset({400, 405, 416, 501})
#: Answers to a first, unranged PATCH that mean "no chunks here": one PUT then.
_CHUNKS_REFUSED = frozenset({400, 405, 411, 413, 415, 416, 501})


def docker_tags(name: RegistryName, additional: tuple[str, ...]) -> tuple[str, ...]:
    """The tags a push names: the destination's own, then each ``--additional-tag``."""
    from umoci.transport.names import is_docker_tag

    for tag in additional:
        if not is_docker_tag(tag):
            raise UsageError(f"--additional-tag {tag!r}: not a valid tag for {name}")
    own = () if name.tag is None else (name.tag,)
    return tuple(dict.fromkeys((*own, *additional)))


class RegistryDestination(Destination):
    """Push an image to a registry repository."""

    parallel_transfers = 4

    def __init__(
        self,
        name: RegistryName,
        options: RegistryOptions,
        *,
        tmpdir: SpoolDir,
        additional_tags: tuple[str, ...] = (),
        mount_from: RegistryName | None = None,
    ) -> None:
        """*tmpdir* takes blobs a registry refused in chunks, to go up in one PUT."""
        self.name = str(name)
        self.tmpdir = tmpdir
        self.reference = name
        self._tags = docker_tags(name, additional_tags)
        self.client = Client(name.registry, name.repository, options, what=self.name)
        self._scopes = (repository_scope(name.repository, "pull,push"),)
        self._mount_from: str | None = None
        if (
            mount_from is not None
            and mount_from.registry == name.registry
            and mount_from.repository != name.repository
        ):
            self._mount_from = mount_from.repository
        self._present: set[str] = set()  # blobs the repository has (found or written)
        self._manifests: dict[str, tuple[Descriptor, bytes]] = {}  # in the order received
        self._open: set[_Upload] = set()
        self._lock = threading.Lock()

    # -- blobs ---------------------------------------------------------------

    def has_blob(self, descriptor: Descriptor) -> bool:
        if descriptor.media_type in _MANIFEST_TYPES:
            return False  # manifests are all pushed by commit (the root must be, by tag)
        if descriptor.digest in self._present:
            return True
        client = self.client
        response = client.request(
            "HEAD", blob_path(client.repository, descriptor.digest), scopes=self._scopes
        )
        status = response.status
        discard(response)
        if status == 200:
            self._present.add(descriptor.digest)
            return True
        if status == 404:
            return False
        raise TransportError(f"{self.name}: blob {descriptor.digest}: HTTP {status} to HEAD")

    def put_blob(self, descriptor: Descriptor, stream: ByteReader) -> None:
        if descriptor.media_type in _MANIFEST_TYPES:
            self._keep_manifest(descriptor, stream)
            return
        location = self._start(descriptor.digest)
        if location is None:
            self._present.add(descriptor.digest)
            return
        with _Upload(self, descriptor.digest, location) as upload:
            if descriptor.size <= MONOLITHIC_MAX:
                upload.put_stream(stream, descriptor.size)
            else:
                while chunk := stream.read(READ_SIZE):
                    upload.write(chunk)
            upload.commit(descriptor.media_type)

    def new_blob(self, digest: str | None = None) -> _Upload:
        return _Upload(self, digest, None)

    def _keep_manifest(self, descriptor: Descriptor, stream: ByteReader) -> None:
        if descriptor.size > MAX_MANIFEST:
            raise TransportError(
                f"{self.name}: manifest {descriptor.digest}: {descriptor.size} bytes is more "
                f"than the {MAX_MANIFEST >> 20} MiB a registry takes"
            )
        parts = []
        while chunk := stream.read(READ_SIZE):
            parts.append(chunk)
        self._manifests[descriptor.digest] = (descriptor, b"".join(parts))

    def _start(self, digest: str | None) -> str | None:
        """Open an upload session (its URL), or mount *digest* from elsewhere (None)."""
        client = self.client
        path = f"/v2/{client.repository}/blobs/uploads/"
        origins = [] if digest is None else self._mount_origins(digest)
        for n, origin in enumerate(origins):
            assert digest is not None
            query = urllib.parse.urlencode({"mount": digest, "from": origin})
            scopes = (*self._scopes, repository_scope(origin, "pull"))
            try:
                response = client.request(
                    "POST", f"{path}?{query}", scopes=scopes, headers={"Content-Length": "0"}
                )
            except TransportError as err:  # not allowed to read there, say
                log.info("%s: mount %s from %s: %s", self.name, digest, origin, err)
                continue
            if response.status == 201:
                discard(response)
                log.info("%s: blob %s mounted from %s", self.name, digest, origin)
                return None
            if response.status == 202 and n == len(origins) - 1:
                return self._session_url(response)  # declined: upload into this session
            if response.status == 202:
                self._cancel(self._session_url(response))
            else:
                discard(response)
        response = client.request(
            "POST", path, scopes=self._scopes, headers={"Content-Length": "0"}
        )
        return self._session_url(response)

    def _mount_origins(self, digest: str) -> list[str]:
        """Repositories of this registry to try mounting *digest* from, best first."""
        from umoci.transport.registry import locations

        origins = [] if self._mount_from is None else [self._mount_from]
        known = locations.candidates(self.client.registry, digest, besides=self.client.repository)
        return list(dict.fromkeys([*origins, *known]))[: locations.MAX_CANDIDATES]

    def _session_url(self, response: BaseHTTPResponse) -> str:
        """The upload session a 202 answer opened."""
        client = self.client
        if response.status != 202:
            raise client.fail(response, "start a blob upload")
        location = response.headers.get("Location")
        discard(response)
        if not location:
            raise TransportError(f"{self.name}: the registry started an upload without a Location")
        return client.url(urllib.parse.urljoin(client.base_url() + "/", location))

    def _cancel(self, location: str) -> None:
        try:
            discard(self.client.request("DELETE", location, scopes=self._scopes))
        except TransportError as err:
            log.debug("%s: cancel an upload: %s", self.name, err)

    # -- the names -----------------------------------------------------------

    def commit(self, result: CopyResult) -> None:
        root = result.root
        name = self.reference
        if name.digest is not None and root.digest != name.digest:
            raise TransportError(
                f"{self.name}: the image copied is {root.digest}, not the digest named"
            )
        for digest, (descriptor, data) in self._manifests.items():
            if digest != root.digest:
                self._put_manifest(digest, descriptor.media_type, data)
        descriptor, data = self._manifests[root.digest]
        for reference in self._tags or (root.digest,):
            self._put_manifest(reference, descriptor.media_type, data)
        log.info("%s: pushed %s", self.name, root.digest)
        from umoci.transport.registry import locations

        locations.record(self.client.registry, self.client.repository, self._present)

    def _put_manifest(self, reference: str, media_type: str, data: bytes) -> None:
        client = self.client
        response = client.request(
            "PUT",
            manifest_path(client.repository, reference),
            scopes=self._scopes,
            headers={"Content-Type": media_type},
            body=data,
        )
        if response.status not in (200, 201):
            raise client.fail(response, f"push manifest {reference}")
        discard(response)

    def abort(self) -> None:
        for upload in list(self._open):
            upload.abort()

    def close(self) -> None:
        self.client.close()


class _Upload:
    """One blob upload: buffered into chunks, closed with the digest (a :class:`BlobSink`).

    Once the registry refused chunks, the bytes go to a spool file instead,
    and up in one ``PUT`` by :meth:`commit`.
    """

    def __init__(self, dest: RegistryDestination, digest: str | None, location: str | None) -> None:
        self._dest = dest
        self._client = dest.client
        self._digest = digest
        self._location = location
        self._hash = digests.hasher(digests.SHA256) if digest is None else None
        self._buffer = bytearray()
        self._offset = 0  # bytes the registry holds
        self._ranged = True  # PATCH with Content-Range until the registry refuses it
        self._spool: Spool | None = None  # chunks were refused: the blob is spooled
        self._refusal = ""  # what the registry said to the first chunk, when it refused it
        self._done = False
        self.size = 0
        with dest._lock:
            dest._open.add(self)

    def write(self, data: bytes | memoryview, /) -> int:
        if self._hash is not None:
            self._hash.update(data)
        self.size += len(data)
        if self._spool is not None:
            return self._spool.write(data)
        self._buffer += data
        while self._spool is None and len(self._buffer) >= CHUNK_SIZE:
            self._send_chunk(CHUNK_SIZE)
        return len(data)

    def _session(self) -> str:
        if self._location is None:
            # A converted layer: its digest is known only at the end, so no mount.
            self._location = self._dest._start(None)
            assert self._location is not None
        return self._location

    def _send_chunk(self, size: int) -> None:
        """PATCH the first *size* bytes of the buffer (the registry holds them after).

        A first chunk the registry will not take turns the upload into a
        spooled one (:meth:`_spool_instead`).
        """
        chunk = bytes(self._buffer[:size])
        del self._buffer[:size]
        client = self._client
        first = self._offset == 0
        end = self._offset + len(chunk) - 1
        while True:
            headers = {
                "Content-Type": "application/octet-stream",
                "Content-Length": str(len(chunk)),
            }
            if self._ranged:
                headers["Content-Range"] = f"{self._offset}-{end}"
            response = client.request(
                "PATCH", self._session(), scopes=self._dest._scopes, headers=headers, body=chunk
            )
            if response.status in _RANGE_REFUSED and self._ranged and first:
                discard(response)
                log.info("%s: the registry refuses ranged chunks: streaming them", self._dest.name)
                self._ranged = False
                continue
            break
        if response.status != 202:
            if first and (response.status in _CHUNKS_REFUSED or 200 <= response.status < 300):
                self._spool_instead(chunk, client.error_text(response))
                return
            raise client.fail(response, "upload a chunk")
        self._location = self._next_location(response)
        accepted = response.headers.get("Range")
        discard(response)
        if accepted is not None and accepted.rpartition("-")[2] != str(end):
            if first:
                self._spool_instead(chunk, f"the registry holds {accepted[:40]!r}, not 0-{end}")
                return
            raise TransportError(
                f"{self._dest.name}: the registry holds {accepted!r} of the upload, not 0-{end}"
            )
        self._offset = end + 1

    def _spool_instead(self, chunk: bytes, refusal: str) -> None:
        """The registry refused the first *chunk*: drop its session, spool the blob instead."""
        log.info("%s: chunks refused (%s): the blob goes up in one PUT", self._dest.name, refusal)
        self._refusal = refusal
        self._spool = Spool(self._dest.tmpdir, self._dest.name)
        self._spool.write(chunk)
        self._spool.write(memoryview(self._buffer))
        self._buffer.clear()
        if self._location is not None:
            location, self._location = self._location, None  # commit opens a new session
            self._dest._cancel(location)

    def _next_location(self, response: BaseHTTPResponse) -> str:
        location = response.headers.get("Location")
        if not location:
            return self._session()
        return self._client.url(urllib.parse.urljoin(self._session(), location))

    def put_stream(self, stream: ByteReader, size: int) -> None:
        """The whole blob in one ``PUT`` (its digest known), streamed from *stream*.

        :meth:`commit` then only records it.  The source checks the bytes as
        they go: if they are wrong it raises before the last of them is
        sent, so the registry gets a short body and stores nothing.
        """
        assert self._digest is not None

        def body() -> Iterator[bytes]:
            while chunk := stream.read(READ_SIZE):
                self.size += len(chunk)
                yield chunk

        self._finish(self._digest, body(), size)

    def commit(self, media_type: str, annotations: dict[str, str] | None = None) -> Descriptor:
        digest = self._digest
        if digest is None:
            assert self._hash is not None
            digest = f"{digests.SHA256}:{self._hash.hexdigest()}"
        if not self._done:
            if self._offset and self._buffer:
                self._send_chunk(len(self._buffer))
            if self._spool is not None:
                self._finish_spooled(digest, self._spool)
            else:
                body = bytes(self._buffer)
                self._buffer.clear()
                self._finish(digest, body, len(body))
        return Descriptor(media_type, digest, self.size, annotations=annotations or {})

    def _finish_spooled(self, digest: str, spool: Spool) -> None:
        """The whole blob in one ``PUT``, streamed from its spool file."""
        size = spool.size
        fd = spool.detach()

        def body() -> Iterator[bytes]:
            while chunk := os.read(fd, READ_SIZE):
                yield chunk

        try:
            self._finish(digest, body(), size)
        finally:
            os.close(fd)

    def _finish(self, digest: str, body: bytes | Iterator[bytes], length: int) -> None:
        """The closing ``PUT ?digest=`` (with the last bytes, or all of them)."""
        client = self._client
        location = self._session()
        separator = "&" if urllib.parse.urlsplit(location).query else "?"
        url = f"{location}{separator}{urllib.parse.urlencode({'digest': digest})}"
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(length)}
        response = client.request("PUT", url, scopes=self._dest._scopes, headers=headers, body=body)
        if response.status not in (201, 204):
            if self._refusal:
                raise TransportError(
                    f"{self._dest.name}: finish the upload of blob {digest} in one PUT: "
                    f"{client.error_text(response)} (after chunks were refused: {self._refusal})"
                )
            raise client.fail(response, f"finish the upload of blob {digest}")
        discard(response)
        self._done = True
        self._forget()
        self._dest._present.add(digest)

    def abort(self) -> None:
        """Delete the session (the registry would expire it anyway), and any spool file."""
        self._forget()
        if self._spool is not None:
            self._spool.close()
        if self._done or self._location is None:
            return
        location, self._location = self._location, None
        self._dest._cancel(location)

    def _forget(self) -> None:
        with self._dest._lock:
            self._dest._open.discard(self)

    def __enter__(self) -> _Upload:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._done:
            self.abort()
