"""The checks that make a directory an OCI image layout we can open.

Kept free of heavy imports: ``umoci ls`` runs them without loading the blob
store.  ``oci-layout`` is decoded by its model (:mod:`umoci.oci.models`),
as the Go umoci decodes it (``json.Unmarshal`` into ``ImageLayout``).
"""

from __future__ import annotations

import fcntl
import os
import stat

from umoci.errors import LayoutError
from umoci.oci.models import ImageLayout

TYPE_CHECKING = False  # typing is for mypy only: collections.abc costs start-up ~2 ms
if TYPE_CHECKING:
    from collections.abc import Iterator

LAYOUT_VERSION = "1.0.0"
LAYOUT_FILE = "oci-layout"
INDEX_FILE = "index.json"
BLOBS_DIR = "blobs"

# index.json is read whole; anything larger is not a plausible index.
MAX_INDEX_BYTES = 64 << 20


def describe(err: OSError) -> str:
    return err.strerror or str(err)


def open_regular(path: str, *, follow: bool = True) -> int:
    """A read-only fd of *path*, which must be a regular file (OSError otherwise).

    Opened with ``O_NONBLOCK`` so that a FIFO (or a device) planted where a
    file should be cannot block us in ``open``; blocking mode is restored
    for the reads.  ``follow=False`` refuses a symlink as the last component.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise OSError(0, f"{kind}", path)
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd


def check_layout(path: str) -> None:
    """Raise LayoutError unless *path* holds a layout of the version we support.

    The Go umoci's checks: ``oci-layout`` with ``imageLayoutVersion`` 1.0.0,
    a ``blobs`` directory and an ``index.json`` file.  Stat, not lstat:
    ``blobs/`` or ``blobs/sha256`` may be symlinks (shared blob pools).
    """
    what = f"open layout {path}"
    try:
        with open(open_regular(os.path.join(path, LAYOUT_FILE)), "rb") as f:
            data = f.read(1 << 16)
    except FileNotFoundError:
        if not os.path.exists(path):
            raise LayoutError(f"{what}: no such directory") from None
        raise LayoutError(f"{what}: not an OCI layout: {LAYOUT_FILE} is missing") from None
    except OSError as err:
        raise LayoutError(f"{what}: read {LAYOUT_FILE}: {describe(err)}") from None
    version = ImageLayout.from_bytes(data, f"{what}: {LAYOUT_FILE}").version
    if version != LAYOUT_VERSION:
        raise LayoutError(f"{what}: unsupported {LAYOUT_FILE} version {version!r}")
    if not os.path.isdir(os.path.join(path, BLOBS_DIR)):
        raise LayoutError(f"{what}: {BLOBS_DIR} is missing or not a directory")
    if not os.path.isfile(os.path.join(path, INDEX_FILE)):
        raise LayoutError(f"{what}: {INDEX_FILE} is missing or not a file")


def read_index_bytes(path: str) -> bytes:
    """The bytes of ``index.json`` (size-capped)."""
    try:
        with open(open_regular(os.path.join(path, INDEX_FILE)), "rb") as f:
            # read(n) allocates n bytes up front: ask for what the file holds.
            size = os.fstat(f.fileno()).st_size
            data = f.read(min(size, MAX_INDEX_BYTES) + 1)
    except OSError as err:
        raise LayoutError(f"read {INDEX_FILE}: {describe(err)}") from None
    if len(data) > MAX_INDEX_BYTES:
        raise LayoutError(f"read {INDEX_FILE}: file is too large")
    return data


def blob_entries(layout: str) -> Iterator[tuple[str, str]]:
    """``(algorithm, name)`` of every entry in ``blobs/<algorithm>/`` directories, sorted.

    Names are not checked: callers decide what a name that is not a digest means.
    """
    blobs = os.path.join(layout, BLOBS_DIR)
    for algorithm in sorted(os.listdir(blobs)):
        directory = os.path.join(blobs, algorithm)
        if os.path.isdir(directory):
            for name in sorted(os.listdir(directory)):
                yield algorithm, name
