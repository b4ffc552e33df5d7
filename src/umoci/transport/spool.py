"""Unnamed temporary files: streams written once, then read back by fd.

An archive read from a pipe or decompressed (:mod:`.tarindex`) and a
converted layer bound for an archive (:mod:`.tarout`) are spooled to disk
in ``--tmpdir``.  The file never has a name anyone else can open, and
disappears when its fd is closed, even if we are killed: ``O_TMPFILE``
where the filesystem has it, else a private file unlinked as soon as it
is open (overlayfs, FUSE and some ZFS versions refuse ``O_TMPFILE``).
"""

from __future__ import annotations

import errno
import os

from umoci.cas.layoutcheck import describe
from umoci.errors import TransportError
from umoci.structs import dataclass


@dataclass(frozen=True, slots=True)
class SpoolDir:
    """Where spool files go, and where that was said (``--tmpdir``, ``$TMPDIR``, or "").

    Nothing checks the directory until a copy needs a spool file: most
    copies need none, and a bad ``$TMPDIR`` must not fail them.
    """

    path: str
    origin: str = ""

    def __str__(self) -> str:
        return f"{self.path} (from {self.origin})" if self.origin else self.path


class Spool:
    """An unnamed temporary file in *tmpdir*, open for reading and writing.

    :attr:`fd` belongs to the spool until :meth:`detach` hands it over;
    *what* (``oci-archive:F``, or empty) starts error messages.
    """

    def __init__(self, tmpdir: SpoolDir, what: str = "") -> None:
        self._tmpdir = tmpdir
        self._prefix = f"{what}: " if what else ""
        self.fd: int | None = self._open()
        self.size = 0

    def _open(self) -> int:
        path = self._tmpdir.path
        try:
            return os.open(path, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
        except OSError as err:
            # EISDIR: a kernel older than O_TMPFILE; EOPNOTSUPP: a filesystem without it.
            if err.errno not in (errno.EOPNOTSUPP, errno.EISDIR):
                raise self._error("temporary file in", err) from None
        import tempfile  # only here: it costs ~9 ms of imports

        try:
            fd, name = tempfile.mkstemp(prefix=".umoci-spool-", dir=path)
        except OSError as err:
            raise self._error("temporary file in", err) from None
        try:
            os.unlink(name)
        except OSError as err:
            os.close(fd)
            raise self._error(f"unlink {name} in", err) from None
        return fd

    def _error(self, doing: str, err: OSError) -> TransportError:
        return TransportError(f"{self._prefix}{doing} {self._tmpdir}: {describe(err)}")

    def write(self, data: bytes | memoryview, /) -> int:
        """Append all of *data* (retrying short writes)."""
        assert self.fd is not None
        view = memoryview(data)
        total = len(view)
        while view:
            try:
                n = os.write(self.fd, view)
            except OSError as err:
                raise self._error("write temporary file in", err) from None
            view = view[n:]
        self.size += total
        return total

    def detach(self) -> int:
        """The fd, positioned at the start, now the caller's to close."""
        assert self.fd is not None
        fd, self.fd = self.fd, None
        os.lseek(fd, 0, os.SEEK_SET)
        return fd

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
