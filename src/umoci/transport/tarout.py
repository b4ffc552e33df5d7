"""Archives written as one stream: the shared half of oci-archive, docker-archive, docker-daemon.

An :class:`ArchiveDestination` writes tar entries front to back into an
output (:class:`FileOutput`: a temporary file beside FILE renamed over it
on commit, or standard output; the Docker engine's request body for
``docker-daemon:``).  Blobs whose descriptor is known stream straight from
the source into the archive; a converted layer, whose size the tar header
needs before its data, is spooled to an unnamed temporary file first
(:class:`SpoolSink`) and appended when it is complete.  The subclass names
each blob's entry and writes the index files at commit; entries carry
fixed metadata (root, mode 0644, time 0) so the same image always gives
the same archive bytes.
"""

from __future__ import annotations

import abc
import contextlib
import io
import os
import stat
import sys

from umoci import leftovers
from umoci.cas.dir import fsync_dir
from umoci.cas.layoutcheck import describe
from umoci.closing import Closing
from umoci.compress.streams import ByteWriter
from umoci.errors import LayerError, TransportError
from umoci.layer.tarstream import EntryKind
from umoci.layer.tarwrite import TarEntry, TarWriter
from umoci.oci import digest as digests
from umoci.oci.models import Descriptor
from umoci.transport.base import CopyResult, Destination
from umoci.transport.spool import Spool

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from collections.abc import Callable

    from umoci.compress.streams import ByteReader
    from umoci.transport.spool import SpoolDir

_FILE_MODE = 0o644
_DIR_MODE = 0o755


class Output(Closing):
    """Where an archive's bytes go; :meth:`commit` makes them final, :meth:`abort` drops them."""

    sink: ByteWriter

    def commit(self) -> None:
        """The archive is complete."""

    def abort(self) -> None:
        """The archive will not be completed."""

    def close(self) -> None:
        pass


class FileOutput(Output):
    """FILE, written as a temporary file beside it and renamed over it on commit; ``-`` is stdout.

    An existing FILE is replaced only when the archive is complete; a
    failed copy leaves it (or its absence) as it was.
    """

    def __init__(self, path: str, what: str) -> None:
        self._what = what
        self._path = path
        self._temp: str | None = None
        self._fd: int | None = None  # the temporary file
        self._stream: int | None = None  # a FIFO or device written directly
        if path == "-" or _is_stream(path):
            fd = 1 if path == "-" else self._open_stream(path)
            if os.isatty(fd):
                self.close()
                raise TransportError(f"{what}: refusing to write an archive to a terminal")
            if path == "-":
                sys.stdout.flush()
            self.sink = _FdWriter(fd, what)
            return
        if os.path.isdir(path):
            raise TransportError(f"{what}: {path} is a directory")
        directory = os.path.dirname(path) or "."
        base = os.path.basename(path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        for _ in range(100):
            temp = os.path.join(directory, f".{base}.umoci-{os.urandom(6).hex()}")
            leftovers.expect(temp)  # before it exists: a signal may come right after
            try:
                self._fd = os.open(temp, flags, 0o666)
            except FileExistsError:
                leftovers.forget(temp)  # somebody else's
                continue
            except OSError as err:
                leftovers.forget(temp)
                raise TransportError(
                    f"{what}: create a temporary file in {directory}: {describe(err)}"
                ) from None
            self._temp = temp
            break
        else:
            raise TransportError(f"{what}: no unused temporary name in {directory}")
        self.sink = _FdWriter(self._fd, what)

    def _open_stream(self, path: str) -> int:
        try:
            self._stream = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        except OSError as err:
            raise TransportError(f"{self._what}: open {path}: {describe(err)}") from None
        return self._stream

    def commit(self) -> None:
        if self._fd is None or self._temp is None:
            return
        try:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
            os.replace(self._temp, self._path)
            leftovers.forget(self._temp)
            self._temp = None
            fsync_dir(os.path.dirname(self._path) or ".")
        except OSError as err:
            raise TransportError(f"{self._what}: write {self._path}: {describe(err)}") from None

    def abort(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._temp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._temp)
            leftovers.forget(self._temp)
            self._temp = None

    def close(self) -> None:
        self.abort()  # after a commit there is nothing left to drop
        if self._stream is not None:
            os.close(self._stream)
            self._stream = None


class _FdWriter:
    """``write`` to a raw fd (whole buffer, retried on short writes), errors as TransportError."""

    def __init__(self, fd: int, what: str = "standard output") -> None:
        self._fd = fd
        self._what = what

    def write(self, data: bytes, /) -> int:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self._fd, view)
            except OSError as err:
                raise TransportError(f"{self._what}: write: {describe(err)}") from None
            view = view[n:]
        return len(data)


class SpoolSink:
    """A blob written to an unnamed temporary file, hashed; handed on by :meth:`commit`.

    Given the *digest* (which the caller checks before committing), the
    bytes are not hashed again.
    """

    def __init__(
        self,
        tmpdir: SpoolDir,
        on_commit: Callable[[int, Descriptor], None],
        *,
        digest: str | None = None,
    ) -> None:
        self._spool = Spool(tmpdir)
        self._on_commit = on_commit
        self._digest = digest
        self._hash = digests.hasher(digests.SHA256) if digest is None else None
        self.size = 0

    def write(self, data: bytes | memoryview, /) -> int:
        if self._hash is not None:
            self._hash.update(data)
        self.size += self._spool.write(data)
        return len(data)

    def commit(self, media_type: str, annotations: dict[str, str] | None = None) -> Descriptor:
        digest = self._digest
        if digest is None:
            assert self._hash is not None
            digest = f"{digests.SHA256}:{self._hash.hexdigest()}"
        descriptor = Descriptor(media_type, digest, self.size, annotations=annotations or {})
        fd = self._spool.detach()
        try:
            self._on_commit(fd, descriptor)
        finally:
            os.close(fd)
        return descriptor

    def abort(self) -> None:
        self._spool.close()

    def __enter__(self) -> SpoolSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()


def file_entry(name: str, size: int) -> TarEntry:
    return TarEntry(name.encode(), EntryKind.REG, mode=_FILE_MODE, size=size)


def dir_entry(name: str) -> TarEntry:
    return TarEntry(name.encode() + b"/", EntryKind.DIR, mode=_DIR_MODE)


def symlink_entry(name: str, target: str) -> TarEntry:
    return TarEntry(name.encode(), EntryKind.SYMLINK, mode=0o777, linkname=target.encode())


class ArchiveDestination(Destination):
    """A destination that is one tar stream; subclasses name the entries and write the index."""

    def __init__(self, output: Output, tmpdir: SpoolDir) -> None:
        self._output = output
        self._tmpdir = tmpdir
        self._tar = TarWriter(output.sink)
        #: Digest -> entry name of every blob in the archive so far.
        self.written: dict[str, str] = {}

    @abc.abstractmethod
    def entry_name(self, descriptor: Descriptor) -> str | None:
        """The archive entry holding this blob (None: the format does not keep it)."""

    @abc.abstractmethod
    def finish(self, result: CopyResult) -> None:
        """Write the entries that name the image (index.json, manifest.json ...)."""

    def has_blob(self, descriptor: Descriptor) -> bool:
        return descriptor.digest in self.written

    def put_blob(self, descriptor: Descriptor, stream: ByteReader) -> None:
        name = self.entry_name(descriptor)
        if name is None:
            return
        try:
            self._tar.add_stream(file_entry(name, descriptor.size), stream)
        except LayerError as err:
            raise TransportError(f"{self.name}: {err}") from None
        self.written[descriptor.digest] = name

    def new_blob(self, digest: str | None = None) -> SpoolSink:
        return SpoolSink(self._tmpdir, self._append_spooled, digest=digest)

    def _append_spooled(self, fd: int, descriptor: Descriptor) -> None:
        name = self.entry_name(descriptor)
        if name is None or descriptor.digest in self.written:
            return
        try:
            self._tar.add_file(file_entry(name, descriptor.size), fd)
        except LayerError as err:
            raise TransportError(f"{self.name}: {err}") from None
        self.written[descriptor.digest] = name

    def add_bytes(self, name: str, data: bytes) -> None:
        self._tar.add_stream(file_entry(name, len(data)), io.BytesIO(data))

    def add(self, entry: TarEntry) -> None:
        self._tar.add(entry)

    def commit(self, result: CopyResult) -> None:
        self.finish(result)
        self._tar.close()
        self._output.commit()

    def abort(self) -> None:
        self._output.abort()

    def close(self) -> None:
        self._output.close()


def _is_stream(path: str) -> bool:
    """Is *path* a FIFO or a device (written directly: it cannot be replaced by a rename)?"""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)
