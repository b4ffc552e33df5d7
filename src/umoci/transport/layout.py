"""``oci:PATH[:REF]``: a layout directory as a copy's source or destination.

A destination layout is created when PATH does not exist (its parent
must, as with skopeo), or inside PATH when it is an empty directory
(which stays as it is: its owner, its mode, a mount point); if the copy
fails, what it made is removed again.

Each blob is written in full through the layout's own
:class:`~umoci.cas.dir.BlobWriter` -- a private temporary file in the
store's locked ``.umoci-*`` directory, synced and closed when complete --
and waits there until the whole copy has been read and verified.  Then,
under the ``index.json`` lock and only once ``index.json`` has been read
and parsed, the waiting blobs are renamed into ``blobs/`` (those already
there are left as they are) and ``index.json`` is replaced, in one
change that points each tag at the copy and drops the entries the tag
named (so no untagged manifest is left behind).  A copy that fails at
any point -- a bad blob among many good ones, an ``index.json`` that
cannot be parsed, a lock that is not given up in time -- leaves the
layout as it was: no blob moves before that last step, and if
``index.json`` cannot be written even then, the blobs moved for it are
removed again.  The whole copy holds the shared blob lock, so ``gc``
waits for it.

``--src-shared-blob-dir`` / ``--dest-shared-blob-dir`` keep the blobs in a
separate directory (``DIR/sha256/HEX``) shared by several layouts, as
skopeo does; the layout itself then holds ``oci-layout``, ``index.json``
and an empty ``blobs/``.
"""

from __future__ import annotations

import contextlib
import os
import threading

from umoci.cas.dir import (
    BlobWriter,
    DirStore,
    create_layout,
    make_layout_in,
    open_layout,
    remove_layout_from,
)
from umoci.compress.streams import CHUNK_SIZE
from umoci.errors import LayoutError, TransportError, UmociError, UsageError
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

    blob_root = ""


def _shared_blobs(path: str, *, create: bool) -> SharedBlobStore:
    try:
        if create:
            os.makedirs(path, 0o755, exist_ok=True)
        return SharedBlobStore(path)
    except OSError as err:
        raise LayoutError(f"shared blob directory {path}: {err.strerror}") from None


class LayoutSource(Source):
    """Read an image from a layout (blobs verified as they stream)."""

    parallel_transfers = 4

    def __init__(self, name: LayoutName, *, shared_blobs: str | None = None) -> None:
        self.name = str(name)
        # The store opens its directories on first use: one thread at a time.
        self._lock = threading.Lock()
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
        with self._lock:
            return self._blobs.open_blob(descriptor)

    def close(self) -> None:
        if self._blobs is not self._store:
            self._blobs.close()
        self._store.close()


def destination_tags(
    ref: str | None, entry: int | None, additional: tuple[str, ...], what: str
) -> tuple[str, ...]:
    """The tags an OCI destination *what* gives the copy: its name's, then *additional*.

    A destination is named by a tag (or by nothing: an untagged entry),
    never by ``@N`` or ``@DIGEST``.
    """
    if entry is not None or (ref is not None and is_digest_ref(ref)):
        raise UsageError(f"{what}: a destination is named by a tag, not by @N or @DIGEST")
    return tuple(dict.fromkeys((*([ref] if ref else []), *additional)))


class LayoutDestination(Destination):
    """Write an image into a layout (created if missing) and tag it."""

    parallel_transfers = 4

    def __init__(
        self,
        name: LayoutName,
        *,
        additional_tags: tuple[str, ...] = (),
        shared_blobs: str | None = None,
    ) -> None:
        self.name = str(name)
        self._tags = destination_tags(name.ref, name.index, additional_tags, self.name)
        # Blobs are written by parallel transfers: the store's lazily opened
        # directories and the pending set change under this lock (the bytes
        # are written outside it).
        self._lock = threading.Lock()
        path = os.path.normpath(name.path)
        #: The layout this copy made (removed again if it fails), and whether
        #: it made it inside a directory that was there (which then stays).
        self._created: str | None = None
        self._in_existing_dir = False
        #: Blobs written and verified, committed together by :meth:`commit`.
        self._pending: dict[str, _PendingBlob] = {}
        if not os.path.lexists(path):
            create_layout(path, parents=False)  # as skopeo: the parent must exist
            self._created = path
        elif _is_empty_dir(path):
            # skopeo makes a layout of an existing empty directory; so do we,
            # inside it: its owner and mode stay, and it may be a mount point.
            make_layout_in(path)
            self._created, self._in_existing_dir = path, True
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
        digest = descriptor.digest
        with self._lock:
            return digest in self._pending or self._blobs.has_blob(digest)

    def put_blob(self, descriptor: Descriptor, stream: ByteReader) -> None:
        algorithm, _ = digests.split(descriptor.digest)
        if algorithm != digests.SHA256:
            raise TransportError(
                f"{self.name}: blob {descriptor.digest}: layouts are written with sha256 digests"
            )
        # The stream checks the bytes against the descriptor and raises at its
        # end if they are not its content: the digest is known, not hashed again.
        with self.new_blob(descriptor.digest, descriptor.size) as blob:
            while chunk := stream.read(CHUNK_SIZE):
                blob.write(chunk)
            blob.commit(descriptor.media_type)

    def new_blob(self, digest: str | None = None, size: int | None = None) -> _PendingBlob:
        with self._lock:
            # A digest given is checked by the caller as the bytes go by (the
            # copy's verifying reader, or the engine's diff_id check): the
            # store need not hash them again.
            return _PendingBlob(BlobWriter(self._blobs, size=size, digest=digest), self._pending)

    def commit(self, result: CopyResult) -> None:
        root = result.root
        installed: list[str] = []

        def change(index: Index) -> Index:
            for tag in self._tags:
                index = with_tag(index, tag, root)
            if not self._tags and not any(
                d.digest == root.digest and d.ref_name is None for d in index.manifests
            ):
                index = replace(index, manifests=(*index.manifests, root))
            # Only now, with index.json read and checked under its lock, do the
            # blobs go in: a layout whose index cannot be changed gets none.
            self._install_pending(installed)
            return index

        try:
            self._store.update_index(change)
        except BaseException:
            # index.json is as it was (its write is the last step, and atomic):
            # the blobs installed for it go again.  Those that were there
            # before were not installed, and stay.
            for digest in installed:
                with contextlib.suppress(OSError, UmociError):  # the first error is the one
                    self._blobs.delete_blob(digest)
            raise

    def _install_pending(self, installed: list[str]) -> None:
        """Rename every pending blob into the blob directory, adding to *installed* the new ones."""
        for digest, blob in list(self._pending.items()):
            if self._blobs.has_blob(digest):
                blob.abort()  # written meanwhile by another writer: the same bytes
            else:
                blob.install()
                installed.append(digest)
            del self._pending[digest]
        # Durable before index.json names them: write_index syncs the layout's
        # own blob directories, but not a shared blob directory's.
        self._blobs.sync_blob_dirs()

    def abort(self) -> None:
        self._drop_pending()
        self._remove_created()

    def _drop_pending(self) -> None:
        for blob in self._pending.values():
            blob.abort()
        self._pending.clear()

    def _remove_created(self) -> None:
        if self._created is None:
            return
        if self._in_existing_dir:
            remove_layout_from(self._created)
        else:
            from umoci.fs.rmtree import remove_tree

            with contextlib.suppress(OSError):  # what is left is not named anywhere
                remove_tree(self._created)
        self._created = None

    def close(self) -> None:
        self._drop_pending()
        if self._blobs is not self._store:
            self._blobs.close()
        self._store.close()


class _PendingBlob:
    """A blob being written through a :class:`BlobWriter` whose install is deferred.

    :meth:`commit` finishes the file (synced and closed) and records it in
    *pending*, by digest; :meth:`install` makes it a blob of the layout.
    The digest is the one given (which the caller verifies: the writer
    then hashes nothing) or, when none is, the writer's hash of the bytes.
    """

    def __init__(self, writer: BlobWriter, pending: dict[str, _PendingBlob]) -> None:
        self._writer = writer
        self._pending = pending
        self._digest: str | None = None
        self.size = 0

    def write(self, data: bytes | memoryview, /) -> int:
        self._writer.write(data)
        self.size += len(data)
        return len(data)

    def commit(self, media_type: str, annotations: dict[str, str] | None = None) -> Descriptor:
        written = self._writer.finish(media_type, annotations)  # synced and closed: no fd kept
        self._digest = written.digest
        # setdefault: one step, so two parallel transfers of the same bytes
        # cannot both think theirs is the pending one.
        if self._pending.setdefault(written.digest, self) is not self:
            self._writer.abort()  # the same bytes are pending already
        return written

    def install(self) -> None:
        """Rename the finished blob into the layout's blobs."""
        self._writer.install()

    def abort(self) -> None:
        self._writer.abort()

    def __enter__(self) -> _PendingBlob:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._digest is None or self._pending.get(self._digest) is not self:
            self._writer.abort()  # not committed (or a duplicate): drop its file


def _is_empty_dir(path: str) -> bool:
    try:
        return not os.path.islink(path) and os.path.isdir(path) and not os.listdir(path)
    except OSError:
        return False
