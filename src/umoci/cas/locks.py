"""Advisory locks on a layout, so concurrent umoci processes cannot lose tags or blobs.

Two ``flock(2)`` locks, each on an entry every layout already has and that
nothing replaces, so locking never adds or changes a file (a failed verb
leaves the layout byte for byte as it was, and read-only layouts lock as
well as writable ones):

``oci-layout`` — the ``index.json`` lock, held *exclusively* for every
    read-modify-write of ``index.json``: take it, re-read ``index.json``,
    apply the change to what was read, swap it in atomically, release.
    Readers take no lock: the swap is a ``rename``, so they see the old
    file or the new one.  (``index.json`` itself cannot carry the lock: it
    is replaced, and a lock on the old inode guards nothing.)

``blobs/`` — the blob lock.  Every verb that will write blobs or tags
    holds it *shared* from the moment it opens the layout (before it reads
    what its new blobs will refer to) until it closes it; ``unpack`` holds
    it shared too, so no blob disappears under it.  ``gc`` holds it
    *exclusively*, so it never sweeps a blob a writer is about to make
    reachable.  Writers that are not us (skopeo, the Go umoci) take no lock;
    ``gc --grace`` (opt-in) covers them (see :mod:`umoci.layout.gc`).

Waits are bounded by :data:`TIMEOUT` seconds (the CLI's ``--lock-timeout``)
and polled, so a stuck holder gives a clear error instead of a hang.  Locks
belong to the open file, so a killed process never leaves one behind.
"""

from __future__ import annotations

import fcntl
import os
import time

from umoci.errors import LayoutError

INDEX_LOCK = "oci-layout"
BLOB_LOCK = "blobs"

#: Seconds to wait for a lock before giving up (``--lock-timeout``).
TIMEOUT = 300.0


def set_timeout(seconds: float) -> None:
    """Change how long every later wait for a layout lock may take."""
    global TIMEOUT  # noqa: PLW0603 -- one process-wide setting, like the log level
    if not seconds >= 0:  # also refuses NaN
        raise ValueError(f"lock timeout must be >= 0, not {seconds}")
    TIMEOUT = seconds


class Lock:
    """One held lock; :meth:`release` (or closing the process) lets it go."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> Lock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire(layout: str, name: str, *, exclusive: bool) -> Lock:
    """Take the lock *name* (:data:`INDEX_LOCK` or :data:`BLOB_LOCK`) of *layout*."""
    path = os.path.join(layout, name)
    try:
        # O_NONBLOCK: a FIFO planted as oci-layout must not block the open.
        # Symlinks are followed, as the layout checks follow them: blobs/ may
        # be a link to a shared pool (which then shares its lock, as it should).
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as err:
        raise LayoutError(f"lock {path}: {os.strerror(err.errno or 0)}") from None
    try:
        _wait(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH, path)
    except BaseException:
        os.close(fd)
        raise
    return Lock(fd)


def _wait(fd: int, operation: int, path: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    pause = 0.002
    while True:
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        now = time.monotonic()
        if now >= deadline:
            raise LayoutError(
                f"lock {path}: another umoci still holds it after {TIMEOUT:g} s "
                "(wait longer with --lock-timeout)"
            )
        time.sleep(min(pause, deadline - now))
        pause = min(pause * 2, 0.05)
