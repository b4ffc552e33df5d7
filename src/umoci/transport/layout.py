"""``oci:PATH[:REF]``: a layout directory as a copy's source or destination.

A destination layout is created when PATH does not exist (and removed
again if the copy fails).  Blobs are first written, through the usual
:class:`~umoci.cas.dir.DirStore` writers, into a private staging directory
inside the layout (``.umoci-*``, locked so a concurrent ``gc`` leaves it
alone); only once every blob has been copied and verified are they renamed
into ``blobs/``, and then ``index.json`` is changed under its lock, in one
change that points each tag at the copy -- replacing the entries the tag
named, so no untagged manifest is left behind.  A copy that fails
therefore leaves the layout exactly as it was, stray blobs included
(an archive with one bad blob among many good ones is a case in point).
The whole copy holds the shared blob lock, so ``gc`` waits for it.

``--src-shared-blob-dir`` / ``--dest-shared-blob-dir`` keep the blobs in a
separate directory (``DIR/sha256/HEX``) shared by several layouts, as
skopeo does; the layout itself then holds ``oci-layout``, ``index.json``
and an empty ``blobs/``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os

from umoci.cas.dir import (
    TEMP_PREFIX,
    BlobWriter,
    DirStore,
    create_layout,
    fsync_dir,
    open_layout,
)
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

    def __init__(
        self,
        name: LayoutName,
        *,
        additional_tags: tuple[str, ...] = (),
        shared_blobs: str | None = None,
    ) -> None:
        self.name = str(name)
        self._tags = destination_tags(name.ref, name.index, additional_tags, self.name)
        path = os.path.normpath(name.path)
        self._created: str | None = None
        self._was_empty_dir = False
        self._staged: _Staging | None = None
        if _is_empty_dir(path):
            # skopeo makes a layout of an existing empty directory; so do we
            # (and leave it empty again if the copy fails).
            os.rmdir(path)
            self._was_empty_dir = True
        if not os.path.lexists(path):
            try:
                create_layout(path)
            except BaseException:
                if self._was_empty_dir:
                    os.mkdir(path, 0o755)
                raise
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

    def _staging(self) -> _Staging:
        if self._staged is None:
            self._staged = _Staging.create(self._blobs.path, self.name)
        return self._staged

    def has_blob(self, descriptor: Descriptor) -> bool:
        digest = descriptor.digest
        return self._blobs.has_blob(digest) or (
            self._staged is not None and self._staged.has_blob(digest)
        )

    def put_blob(self, descriptor: Descriptor, stream: ByteReader) -> None:
        algorithm, _ = digests.split(descriptor.digest)
        if algorithm != digests.SHA256:
            raise TransportError(
                f"{self.name}: blob {descriptor.digest}: layouts are written with sha256 digests"
            )
        with BlobWriter(self._staging(), size=descriptor.size) as writer:
            while chunk := stream.read(CHUNK_SIZE):
                writer.write(chunk)
            written = writer.commit(descriptor.media_type)
        # The stream checked the bytes against the descriptor; the store
        # hashed them again on the way to disk.  They must agree.
        assert written.digest == descriptor.digest, (written.digest, descriptor.digest)

    def new_blob(self, digest: str | None = None) -> BlobWriter:
        del digest  # the store hashes what it writes whatever it is told
        return self._staging().blob_writer()

    def commit(self, result: CopyResult) -> None:
        root = result.root
        if self._staged is not None:
            self._staged.publish(self._blobs)

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
        self._drop_staging()
        self._remove_created()

    def _drop_staging(self) -> None:
        if self._staged is not None:
            self._staged.close()
            self._staged = None

    def _remove_created(self) -> None:
        if self._created is not None:
            from umoci.fs.rmtree import remove_tree

            with contextlib.suppress(OSError):  # what is left is not named anywhere
                remove_tree(self._created)
                if self._was_empty_dir:
                    os.mkdir(self._created, 0o755)
            self._created = None

    def close(self) -> None:
        self._drop_staging()
        if self._blobs is not self._store:
            self._blobs.close()
        self._store.close()


def _is_empty_dir(path: str) -> bool:
    try:
        return not os.path.islink(path) and os.path.isdir(path) and not os.listdir(path)
    except OSError:
        return False


class _Staging(SharedBlobStore):
    """A private ``.umoci-*`` directory of blobs, renamed into a store by :meth:`publish`.

    It is locked (``flock``) for as long as it exists, so a concurrent
    ``gc`` that cleans abandoned temporary directories leaves it alone,
    and removed on close (a crash leaves it for ``gc`` to clean).
    """

    def __init__(self, path: str, lock: int) -> None:
        super().__init__(path)
        self._lock: int | None = lock

    @classmethod
    def create(cls, parent: str, what: str) -> _Staging:
        """A new staging directory in *parent* (same filesystem: renames out of it are atomic)."""
        for _ in range(100):
            path = os.path.join(parent, f"{TEMP_PREFIX}copy-{os.urandom(6).hex()}")
            try:
                os.mkdir(path, 0o700)
            except FileExistsError:
                continue
            except OSError as err:
                raise LayoutError(f"{what}: create {path}: {err.strerror}") from None
            break
        else:
            raise LayoutError(f"{what}: no unused temporary name in {parent}")
        lock = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.geteuid() == 0:
            # New blobs take the staging directory's owner: make it the layout's.
            st = os.stat(parent)
            os.chown(path, st.st_uid, st.st_gid)
        return cls(path, lock)

    def publish(self, target: DirStore) -> None:
        """Rename every staged blob into *target*, and make the renames durable."""
        directories: set[str] = set()
        for algorithm in sorted(os.listdir(self.path)):
            staged = os.path.join(self.path, algorithm)
            if algorithm.startswith(TEMP_PREFIX) or not os.path.isdir(staged):
                continue  # the writers' own temporary directory
            for name in sorted(os.listdir(staged)):
                final = target.blob_path(f"{algorithm}:{name}")
                directory = os.path.dirname(final)
                if directory not in directories:
                    os.makedirs(directory, 0o755, exist_ok=True)
                    directories.add(directory)
                os.replace(os.path.join(staged, name), final)
        for directory in sorted(directories):
            fsync_dir(directory)

    def close(self) -> None:
        super().close()
        if self._lock is not None:
            from umoci.fs.rmtree import remove_tree

            with contextlib.suppress(OSError):
                remove_tree(self.path)
            os.close(self._lock)
            self._lock = None
