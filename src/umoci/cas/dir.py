"""The OCI image layout on disk: ``oci-layout``, ``index.json``, ``blobs/<alg>/<hex>``.

Writes are crash-safe: every new file is written into a private temporary
directory inside the layout (``.umoci-XXXX``, held with ``flock`` so a
concurrent ``gc`` leaves it alone), fsynced and renamed into place; callers
write blobs first and ``index.json`` last, so a failure at any point leaves
the previous ``index.json`` (and thus every tag) untouched.  The temporary
directory is created lazily, so read-only commands work on read-only
layouts, and removed on close even after an error.

When we run as root, new files and directories are given the owner of the
layout root, so ``sudo umoci ...`` on a user's layout does not leave
root-owned blobs behind.

``blobs/`` and ``blobs/<alg>/`` may be symlinks (a blob pool shared between
layouts): reads follow them, since every blob read is verified against its
digest.  Blobs are stored and deleted only through a descriptor of
``blobs/<alg>/`` opened inside the layout (:func:`open_dir_inside`), so a
link leading out of the layout is refused rather than written or swept
through.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat

from umoci.cas import locks
from umoci.cas.layoutcheck import (
    BLOBS_DIR,
    INDEX_FILE,
    LAYOUT_FILE,
    LAYOUT_VERSION,
    MAX_JSON_BYTES,
    blob_entries,
    check_layout,
    describe,
    open_dir_inside,
    open_regular,
    read_index_bytes,
)
from umoci.cas.verify import VerifiedReader, open_embedded
from umoci.closing import Closing
from umoci.errors import BlobInvalidError, BlobNotFoundError, LayoutError
from umoci.oci import digest as digests
from umoci.oci import gojson, mediatypes
from umoci.oci.models import Descriptor, Index

# try/except/pass instead of contextlib.suppress: importing contextlib costs every
# verb ~3 ms of start-up (it pulls in collections and functools).
# ruff: noqa: SIM105

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from threading import Thread
    from typing import BinaryIO

TEMP_PREFIX = ".umoci-"

_CHUNK = 1 << 20


class DirStore(Closing):
    """An opened OCI image layout directory."""

    #: Where the ``<alg>/<hex>`` blob directories are, below the store's path.
    blob_root = BLOBS_DIR

    def __init__(self, path: str) -> None:
        self.path = path
        self._temp_dir: str | None = None
        # blobs/<alg>/ descriptors (see _blob_dir), and those with new entries to fsync.
        self._blob_dirs: dict[str, int] = {}
        self._dirty_dirs: set[str] = set()
        self._temp_fd: int | None = None
        self._blob_lock: locks.Lock | None = None
        st = os.stat(path)
        self._owner = (st.st_uid, st.st_gid) if os.geteuid() == 0 else None

    # -- lifecycle --------------------------------------------------------

    def close(self) -> None:
        """Remove our temporary directory (and anything a failed write left in it)."""
        if self._temp_dir is not None:
            _remove_tree(self._temp_dir)
            self._temp_dir = None
        if self._temp_fd is not None:
            os.close(self._temp_fd)
            self._temp_fd = None
        for fd in self._blob_dirs.values():
            os.close(fd)
        self._blob_dirs.clear()
        if self._blob_lock is not None:
            self._blob_lock.release()
            self._blob_lock = None

    # -- locks (see umoci.cas.locks) ---------------------------------------

    def hold_blobs(self) -> None:
        """Keep ``gc`` from sweeping until :meth:`close` (the shared blob lock)."""
        if self._blob_lock is None:
            self._blob_lock = locks.acquire(self.path, locks.BLOB_LOCK, exclusive=False)

    def lock_for_gc(self) -> locks.Lock:
        """The exclusive blob lock: no writer is between its first read and its swap."""
        return locks.acquire(self.path, locks.BLOB_LOCK, exclusive=True)

    def update_index(self, change: Callable[[Index], Index]) -> Index:
        """Apply *change* to ``index.json`` as it is now, under the index lock; return the result.

        Re-reading under the lock is what keeps concurrent taggers from
        losing each other's tags: each change applies to the latest file.
        """
        with locks.acquire(self.path, locks.INDEX_LOCK, exclusive=True):
            index = change(self.read_index())
            self.write_index(index)
        return index

    def _temp(self) -> str:
        if self._temp_dir is None:
            try:
                temp_dir = _make_temp_dir(self.path, TEMP_PREFIX)
            except OSError as err:
                raise LayoutError(f"create temporary directory: {describe(err)}") from None
            fd = os.open(temp_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._temp_dir, self._temp_fd = temp_dir, fd
        return self._temp_dir

    def _own(self, path: str, dir_fd: int | None = None) -> None:
        if self._owner is not None:
            st = os.stat(path, dir_fd=dir_fd, follow_symlinks=False)
            if (st.st_uid, st.st_gid) != self._owner:
                os.chown(path, *self._owner, dir_fd=dir_fd, follow_symlinks=False)

    # -- blobs ------------------------------------------------------------

    def blob_path(self, digest: str) -> str:
        algorithm, encoded = digests.split(digest)
        return os.path.join(self.path, self.blob_root, algorithm, encoded)

    def _blob_dir(self, algorithm: str, *, create: bool = False) -> int:
        """The (cached) fd of ``<blob_root>/<algorithm>/``, which must lie inside the store's path.

        LayoutError if it leads outside (see :func:`open_dir_inside`);
        OSError if it cannot be opened (or, with *create*, made).
        """
        fd = self._blob_dirs.get(algorithm)
        if fd is not None:
            return fd
        where = os.path.join(self.blob_root, algorithm)
        try:
            fd = open_dir_inside(self.path, where)
        except FileNotFoundError:
            if not create:
                raise
            blobs = open_dir_inside(self.path, self.blob_root)
            try:
                try:
                    os.mkdir(algorithm, 0o755, dir_fd=blobs)
                except FileExistsError:
                    pass  # made meanwhile (or a dangling link: refused just below)
                else:
                    self._own(algorithm, dir_fd=blobs)
            finally:
                os.close(blobs)
            fd = open_dir_inside(self.path, where)
        self._blob_dirs[algorithm] = fd
        return fd

    def open_blob(self, descriptor: Descriptor) -> VerifiedReader:
        """Stream a blob; its size and digest are checked as it is read.

        A descriptor that embeds its content (``data``) is served from it,
        as the Go umoci does, after the same checks.
        """
        embedded = open_embedded(descriptor)
        if embedded is not None:
            return embedded
        path = self.blob_path(descriptor.digest)
        try:
            # Not a FIFO, device or symlink: any of those could hang or leak.
            raw = open(open_regular(path, follow=False), "rb")  # noqa: SIM115 -- the reader owns it
        except FileNotFoundError:
            raise BlobNotFoundError(f"blob {descriptor.digest}: not found in layout") from None
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise BlobInvalidError(f"blob {descriptor.digest}: is a symlink") from None
            raise BlobInvalidError(f"blob {descriptor.digest}: {describe(err)}") from None
        return VerifiedReader(raw, descriptor.digest, descriptor.size)

    def read_blob(self, descriptor: Descriptor, limit: int = MAX_JSON_BYTES) -> bytes:
        """Read a whole (small) blob, verified."""
        if descriptor.size > limit:
            raise BlobInvalidError(
                f"blob {descriptor.digest}: {descriptor.size} bytes is too large to read whole"
            )
        with self.open_blob(descriptor) as reader:
            return reader.read_all_verified()

    def has_blob(self, digest: str) -> bool:
        return os.path.isfile(self.blob_path(digest))

    def put_blob(self, data: bytes, media_type: str) -> Descriptor:
        """Store bytes as a blob (idempotent) and return its descriptor."""
        writer = BlobWriter(self, size=len(data))
        with writer:
            writer.write(data)
            return writer.commit(media_type)

    def put_json(self, value: object, media_type: str) -> Descriptor:
        return self.put_blob(gojson.dumps_blob(value), media_type)

    def blob_writer(self) -> BlobWriter:
        return BlobWriter(self)

    def _install(self, temp_path: str, digest: str) -> None:
        algorithm, encoded = digests.split(digest)
        directory = self._blob_dir(algorithm, create=True)
        self._own(temp_path)
        os.replace(temp_path, encoded, dst_dir_fd=directory)
        # The directory entry is made durable in one go before index.json
        # (the only thing that makes a blob reachable) is replaced.
        self._dirty_dirs.add(algorithm)

    def sync_blob_dirs(self) -> None:
        """fsync the blob directories that have new entries (before an index names them).

        :meth:`write_index` does it for this store's own blobs; a store whose
        blobs another store's index names must be synced by its user first.
        """
        try:
            for algorithm in sorted(self._dirty_dirs):
                _fsync_fd(self._blob_dirs[algorithm])
        except OSError as err:
            raise LayoutError(f"sync blob directories in {self.path}: {describe(err)}") from None
        self._dirty_dirs.clear()

    def list_blobs(self) -> Iterator[str]:
        """Digests of the entries under ``blobs/<alg>/`` whose names are valid digests.

        Regular files and symlinks (a symlink is never read as a blob, and
        deleting it removes the link, not its target).  A ``blobs/<alg>/``
        leading outside the layout is refused (LayoutError) before any of
        its entries is yielded, so a sweep of this list stays inside the layout.
        """
        for algorithm, name in blob_entries(self.path):
            digest = f"{algorithm}:{name}"
            try:
                digests.split(digest)
            except BlobInvalidError:
                continue  # not ours to judge: leave unknown files alone
            try:
                mode = self.stat_blob(digest).st_mode
            except FileNotFoundError:
                continue
            if stat.S_ISREG(mode) or stat.S_ISLNK(mode):
                yield digest

    def stat_blob(self, digest: str) -> os.stat_result:
        """``lstat`` of a blob's entry, inside the layout (see :meth:`list_blobs`)."""
        algorithm, encoded = digests.split(digest)
        return os.stat(encoded, dir_fd=self._blob_dir(algorithm), follow_symlinks=False)

    def delete_blob(self, digest: str) -> None:
        """Unlink a blob's entry relative to its ``blobs/<alg>/`` fd (never through a link)."""
        algorithm, encoded = digests.split(digest)
        try:
            os.unlink(encoded, dir_fd=self._blob_dir(algorithm))
        except FileNotFoundError:
            pass

    # -- index ------------------------------------------------------------

    def read_index(self) -> Index:
        # Go reads index.json with json.Unmarshal: nothing may follow the object.
        data = read_index_bytes(self.path)
        return Index.from_bytes(data, mediatypes.INDEX, INDEX_FILE, LayoutError, whole=True)

    def write_index(self, index: Index) -> None:
        """Atomically replace ``index.json`` (always the last write of a change)."""
        self.sync_blob_dirs()
        try:
            self._write_file_atomic(INDEX_FILE, gojson.dumps_blob(index.to_json()))
        except OSError as err:
            raise LayoutError(f"write {INDEX_FILE} in {self.path}: {describe(err)}") from None

    def _write_file_atomic(self, name: str, data: bytes) -> None:
        fd, temp_path = _make_temp_file(self._temp(), name + "-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fchmod(f.fileno(), 0o644)
                os.fsync(f.fileno())
            self._own(temp_path)
            os.replace(temp_path, os.path.join(self.path, name))
            fsync_dir(self.path)
        except BaseException:
            try:
                os.unlink(temp_path)
            except FileNotFoundError:
                pass
            raise

    # -- maintenance ------------------------------------------------------

    def clean_temp_dirs(self) -> list[str]:
        """Remove ``.umoci-*`` directories no live umoci holds locked; return their names."""
        removed = []
        for name in sorted(os.listdir(self.path)):
            path = os.path.join(self.path, name)
            if not name.startswith(TEMP_PREFIX) or path == self._temp_dir:
                continue
            if os.path.islink(path) or not os.path.isdir(path):
                continue
            try:
                fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # another umoci is using it
                _remove_tree(path)
                removed.append(name)
            finally:
                os.close(fd)
        return removed


#: While a blob is written, a helper thread ``fdatasync``\ s it every this
#: many bytes, so the disk works while we compress and the ``fsync`` at
#: commit waits only for the tail (a 95 MB layer: 0.2 s less at commit).
_WRITEBACK_BYTES = 16 << 20


class BlobWriter:
    """Write a blob in pieces; ``commit`` fsyncs it and renames it into place.

    ``commit`` is :meth:`finish` (complete, hashed unless the digest was
    given, synced, closed) then :meth:`install` (the rename), which a caller
    may also do apart, later.
    """

    def __init__(
        self, store: DirStore, *, size: int | None = None, digest: str | None = None
    ) -> None:
        """*size*: how big the blob will be, when known (small ones hash with quicker imports).

        *digest*: the content's sha256 digest, which the caller has verified
        (or will, before :meth:`commit`): the bytes are then not hashed again.
        """
        self._store = store
        fd, self._temp_path = _make_temp_file(store._temp(), "blob-")
        self._file: BinaryIO = os.fdopen(fd, "wb")
        self._hash = digests.hasher(digests.SHA256, size=size) if digest is None else None
        self.size = 0
        self._digest = digest
        self._finished: str | None = None  # the digest, once finished
        self._done = False
        self._synced_to = 0  # bytes handed to a writeback so far
        self._writeback: Thread | None = None
        # An fdatasync error is reported once per open file: keep it for commit.
        self._writeback_errors: list[OSError] = []

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()

    def write(self, data: bytes | memoryview) -> int:
        try:
            self._file.write(data)
        except OSError as err:
            raise LayoutError(f"write blob in {self._store.path}: {describe(err)}") from None
        if self._hash is not None:
            self._hash.update(data)
        self.size += len(data)
        if self.size - self._synced_to >= _WRITEBACK_BYTES and not (
            self._writeback is not None and self._writeback.is_alive()
        ):
            self._start_writeback()
        return len(data)

    def _start_writeback(self) -> None:
        try:
            self._file.flush()
        except OSError as err:
            raise LayoutError(f"write blob in {self._store.path}: {describe(err)}") from None
        self._synced_to = self.size
        import threading  # only big blobs get here: small verbs skip the import

        self._writeback = threading.Thread(
            target=_writeback,
            args=(self._file.fileno(), self._writeback_errors),
            name="umoci-writeback",
            daemon=True,
        )
        self._writeback.start()

    def _wait_writeback(self) -> None:
        # Before the fd is synced for good or closed (never close it under the thread).
        if self._writeback is not None:
            self._writeback.join()
            self._writeback = None

    def commit(self, media_type: str, annotations: dict[str, str] | None = None) -> Descriptor:
        """:meth:`finish` the blob and :meth:`install` it."""
        descriptor = self.finish(media_type, annotations)
        self.install()
        return descriptor

    def finish(self, media_type: str, annotations: dict[str, str] | None = None) -> Descriptor:
        """Complete the file (synced and closed); it becomes a blob only by :meth:`install`.

        Between the two it holds no file descriptor, so a copy can keep any
        number of finished blobs waiting (:meth:`abort` drops one).
        """
        digest = (
            self._digest if self._hash is None else f"{digests.SHA256}:{self._hash.hexdigest()}"
        )
        assert digest is not None  # given whenever nothing is hashed
        try:
            self._file.flush()
            os.fchmod(self._file.fileno(), 0o644)
            self._wait_writeback()
            if self._writeback_errors:
                raise self._writeback_errors[0]
            os.fsync(self._file.fileno())
            self._file.close()
        except OSError as err:
            raise LayoutError(
                f"store blob {digest} in {self._store.path}: {describe(err)}"
            ) from None
        self._finished = digest
        return Descriptor(media_type, digest, self.size, annotations=annotations or {})

    def install(self) -> None:
        """Rename the finished blob into ``blobs/`` (replacing an identical one if there)."""
        digest = self._finished
        if digest is None:
            raise RuntimeError("BlobWriter.install() before finish()")
        try:
            self._store._install(self._temp_path, digest)
        except OSError as err:
            raise LayoutError(
                f"store blob {digest} in {self._store.path}: {describe(err)}"
            ) from None
        self._done = True

    def abort(self) -> None:
        if not self._done:
            self._wait_writeback()
            self._file.close()
            try:
                os.unlink(self._temp_path)
            except FileNotFoundError:
                pass
            self._done = True


def _writeback(fd: int, errors: list[OSError]) -> None:
    try:
        os.fdatasync(fd)
    except OSError as err:
        # The kernel reports a writeback error to one sync call per open
        # file, and this was it: commit must raise it, not a later fsync.
        errors.append(err)


def fsync_dir(path: str) -> None:
    """Make the entries of directory *path* durable (a filesystem that refuses is let be)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _fsync_fd(fd)
    finally:
        os.close(fd)


def _fsync_fd(directory_fd: int) -> None:
    try:
        os.fsync(directory_fd)
    except OSError as err:  # some filesystems refuse fsync on directories
        if err.errno not in (errno.EINVAL, errno.EROFS):
            raise


def open_layout(path: str) -> DirStore:
    """Open and validate an existing layout."""
    check_layout(path)
    return DirStore(path)


def create_layout(path: str, *, parents: bool = True) -> None:
    """Create an empty layout at a path that must not exist yet.

    Missing parent directories are created too (``umoci init``, as the Go
    umoci), unless *parents* is false: then they are a LayoutError (``umoci
    copy``, as skopeo's ``oci:``), and a failure leaves nothing behind.
    """
    parent = os.path.dirname(path)
    if parent and parents:
        os.makedirs(parent, mode=0o755, exist_ok=True)
    try:
        os.mkdir(path, 0o755)
    except FileExistsError:
        raise LayoutError(f"create layout {path}: path already exists") from None
    except FileNotFoundError:
        raise LayoutError(
            f"create layout {path}: parent directory {parent} does not exist"
        ) from None
    try:
        make_layout_in(path)
    except BaseException:
        _remove_tree(path)
        raise


def make_layout_in(path: str) -> None:
    """Make the existing empty directory *path* an empty layout.

    The directory itself stays as it is (its owner, its mode, a mount
    point); if this fails, what it made in there is removed again.  An entry
    that appears meanwhile (another writer making a layout there) is a
    LayoutError, and is left alone.
    """
    made: list[str] = []
    try:
        try:
            os.mkdir(os.path.join(path, BLOBS_DIR), 0o755)
            made.append(BLOBS_DIR)
            os.mkdir(os.path.join(path, BLOBS_DIR, digests.SHA256), 0o755)
            layout_file = open(os.path.join(path, LAYOUT_FILE), "xb")  # noqa: SIM115
        except FileExistsError as err:
            raise LayoutError(f"create layout {path}: {err.filename} already exists") from None
        made.append(LAYOUT_FILE)
        with layout_file:
            layout_file.write(gojson.dumps_blob({"imageLayoutVersion": LAYOUT_VERSION}))
        with DirStore(path) as store:
            for sub in (BLOBS_DIR, os.path.join(BLOBS_DIR, digests.SHA256), LAYOUT_FILE):
                store._own(os.path.join(path, sub))
            made.append(INDEX_FILE)
            store.write_index(Index())
    except BaseException:
        _remove_entries(path, made)
        raise


def remove_layout_from(path: str) -> None:
    """Undo :func:`make_layout_in`: remove a layout's entries from *path*, which stays."""
    _remove_entries(path, (BLOBS_DIR, LAYOUT_FILE, INDEX_FILE))


def _remove_entries(path: str, names: Iterable[str]) -> None:
    for name in names:
        _remove_tree(os.path.join(path, name))


def _make_temp_file(parent: str, prefix: str) -> tuple[int, str]:
    """A new private (0600) file in ``parent``, open for writing: ``(fd, path)``.

    :func:`tempfile.mkstemp` without importing :mod:`tempfile` (and with it
    :mod:`shutil`, :mod:`random` ..., ~9 ms) on every run: names come from
    ``os.urandom`` and ``O_EXCL`` refuses anything that exists.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    for _ in range(100):
        path = os.path.join(parent, prefix + os.urandom(6).hex())
        try:
            return os.open(path, flags, 0o600), path
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no unused temporary name", parent)


def _make_temp_dir(parent: str, prefix: str) -> str:
    """A new private (0700) directory in ``parent`` (see :func:`_make_temp_file`)."""
    for _ in range(100):
        path = os.path.join(parent, prefix + os.urandom(6).hex())
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(errno.EEXIST, "no unused temporary name", parent)


def _remove_tree(path: str) -> None:
    """Remove ``path`` and what is in it, ignoring errors (our own temporary files)."""
    try:
        os.rmdir(path)  # the usual case: every temporary file was renamed away
        return
    except OSError:
        pass
    from umoci.fs.rmtree import remove_tree  # iterative and fd-relative: any depth

    try:
        remove_tree(path)
    except OSError:
        pass
