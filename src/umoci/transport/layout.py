"""``oci:PATH[:REF]``: a layout directory as a copy's source or destination.

A destination layout is created when PATH does not exist (and removed
again if the copy fails); an existing one is written as the other verbs
write it: blobs first (through :class:`~umoci.cas.dir.DirStore`, under the
shared blob lock so ``gc`` waits), then ``index.json`` under its lock, in
one change that points each tag at the copy -- replacing the entries the
tag named, so no untagged manifest is left behind.

``--src-shared-blob-dir`` / ``--dest-shared-blob-dir`` keep the blobs in a
separate directory (``DIR/sha256/HEX``) shared by several layouts, as
skopeo does; the layout itself then holds ``oci-layout``, ``index.json``
and an empty ``blobs/``.
"""

from __future__ import annotations

import contextlib
import os

from umoci.cas.dir import BlobWriter, DirStore, create_layout, open_layout
from umoci.compress.streams import CHUNK_SIZE
from umoci.errors import LayoutError, TransportError, UsageError
from umoci.layout.refs import with_tag
from umoci.oci import digest as digests
from umoci.oci.models import Descriptor, Index
from umoci.oci.refs import is_digest_ref
from umoci.structs import replace
from umoci.transport.base import CopyResult, Destination, Source, select_anchors

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from umoci.cas.verify import VerifiedReader
    from umoci.compress.streams import ByteReader
    from umoci.transport.names import LayoutName


class SharedBlobStore(DirStore):
    """Blobs kept in ``DIR/<alg>/<hex>`` rather than in a layout's ``blobs/``."""

    def blob_path(self, digest: str) -> str:
        algorithm, encoded = digests.split(digest)
        return os.path.join(self.path, algorithm, encoded)


def _shared_blobs(path: str, *, create: bool) -> SharedBlobStore:
    try:
        if create:
            os.makedirs(path, 0o755, exist_ok=True)
        return SharedBlobStore(path)
    except OSError as err:
        raise LayoutError(f"shared blob directory {path}: {err.strerror}") from None


class LayoutSource(Source):
    """Read an image from a layout (blobs verified as they stream)."""

    def __init__(self, name: LayoutName, *, shared_blobs: str | None = None) -> None:
        self.name = str(name)
        self._ref, self._entry = name.ref, name.index
        self._store = open_layout(os.path.normpath(name.path))
        self._blobs: DirStore = self._store
        try:
            self._store.hold_blobs()  # gc must not sweep what we are about to read
            if shared_blobs is not None:
                self._blobs = _shared_blobs(shared_blobs, create=False)
        except BaseException:
            self._store.close()
            raise

    def read_index(self) -> Index:
        return self._store.read_index()

    def anchors(self) -> list[Descriptor]:
        return select_anchors(self, self.read_index(), self._ref, self._entry, self.name)

    def _open_blob(self, descriptor: Descriptor) -> VerifiedReader:
        return self._blobs.open_blob(descriptor)

    def close(self) -> None:
        if self._blobs is not self._store:
            self._blobs.close()
        self._store.close()


def destination_tags(ref: str | None, entry: int | None, what: str) -> str | None:
    """The tag an OCI destination name gives (None: none), refusing ``@N`` and ``@DIGEST``."""
    if entry is not None or (ref is not None and is_digest_ref(ref)):
        raise UsageError(f"{what}: a destination is named by a tag, not by @N or @DIGEST")
    return ref


class LayoutDestination(Destination):
    """Write an image into a layout (created if missing) and tag it."""

    def __init__(
        self,
        name: LayoutName,
        *,
        additional_tags: tuple[str, ...] = (),
        shared_blobs: str | None = None,
    ) -> None:
        self.name = str(name)
        tag = destination_tags(name.ref, name.index, self.name)
        self._tags = tuple(dict.fromkeys((*([tag] if tag else []), *additional_tags)))
        path = os.path.normpath(name.path)
        self._created: str | None = None
        if not os.path.lexists(path):
            create_layout(path)
            self._created = path
        try:
            self._store = open_layout(path)
        except BaseException:
            self._remove_created()
            raise
        self._blobs: DirStore = self._store
        try:
            self._store.hold_blobs()
            if shared_blobs is not None:
                self._blobs = _shared_blobs(shared_blobs, create=True)
        except BaseException:
            self.abort()
            self.close()
            raise

    def has_blob(self, descriptor: Descriptor) -> bool:
        return self._blobs.has_blob(descriptor.digest)

    def put_blob(self, descriptor: Descriptor, stream: ByteReader) -> None:
        algorithm, _ = digests.split(descriptor.digest)
        if algorithm != digests.SHA256:
            raise TransportError(
                f"{self.name}: blob {descriptor.digest}: layouts are written with sha256 digests"
            )
        with BlobWriter(self._blobs, size=descriptor.size) as writer:
            while chunk := stream.read(CHUNK_SIZE):
                writer.write(chunk)
            written = writer.commit(descriptor.media_type)
        # The stream checked the bytes against the descriptor; the store
        # hashed them again on the way to disk.  They must agree.
        assert written.digest == descriptor.digest, (written.digest, descriptor.digest)

    def new_blob(self) -> BlobWriter:
        return self._blobs.blob_writer()

    def commit(self, result: CopyResult) -> None:
        root = result.root

        def change(index: Index) -> Index:
            for tag in self._tags:
                index = with_tag(index, tag, root)
            if not self._tags and not any(
                d.digest == root.digest and d.ref_name is None for d in index.manifests
            ):
                index = replace(index, manifests=(*index.manifests, root))
            return index

        self._store.update_index(change)

    def abort(self) -> None:
        self._remove_created()

    def _remove_created(self) -> None:
        if self._created is not None:
            from umoci.fs.rmtree import remove_tree

            with contextlib.suppress(OSError):  # what is left is not named anywhere
                remove_tree(self._created)
            self._created = None

    def close(self) -> None:
        if self._blobs is not self._store:
            self._blobs.close()
        self._store.close()
