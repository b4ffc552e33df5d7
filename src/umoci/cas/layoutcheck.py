"""The checks that make a directory an OCI image layout we can open.

Kept free of heavy imports: ``umoci ls`` runs them without loading the blob
store.  ``oci-layout`` is decoded by its model (:mod:`umoci.oci.models`),
as the Go umoci decodes it (``json.Unmarshal`` into ``ImageLayout``).
:func:`open_regular` and :func:`read_regular` are also how a bundle's
metadata files are read.
"""

from __future__ import annotations

import errno
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

#: JSON documents -- index.json, manifests, indexes, configs, a bundle's
#: config.json, an archive's manifest.json -- are read whole up to this size;
#: anything larger is not a plausible one and is refused before it is read.
MAX_JSON_BYTES = 64 << 20

_CHUNK = 1 << 20
_DIR_NOFOLLOW = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def describe(err: OSError) -> str:
    return err.strerror or str(err)


def open_regular(path: str, *, follow: bool = True, pipe: bool = False) -> int:
    """A read-only fd of *path*, which must be a regular file (OSError otherwise).

    Opened with ``O_NONBLOCK`` so that a FIFO (or a device) planted where a
    file should be cannot block us in ``open``; blocking mode is restored
    for the reads.  ``follow=False`` refuses a symlink as the last component.
    ``pipe=True`` also accepts a pipe, for a file named on the command line
    (``<(...)``, ``/dev/stdin``): a FIFO that no one writes reads as empty.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISREG(mode) or (pipe and stat.S_ISFIFO(mode))):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise OSError(0, f"{kind}", path)
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_dir_inside(layout: str, rel: str) -> int:
    """An ``O_DIRECTORY`` fd of *rel* (e.g. ``blobs/sha256``), which must lie inside *layout*.

    Symlinks on the way are allowed while they resolve inside the layout
    (LayoutError if they lead out of it: we never write or delete through
    such a link).  The resolved path is then opened one component at a time
    from the layout's own fd with ``O_NOFOLLOW``, so a link swapped in after
    the check fails the open instead of leading elsewhere.  OSError for
    anything else (ENOENT, ENOTDIR ...).
    """
    root = os.path.realpath(layout)
    target = os.path.realpath(os.path.join(root, rel))
    inside = os.path.relpath(target, root)
    if inside == os.pardir or inside.startswith(os.pardir + os.sep):
        raise LayoutError(f"{rel} leads outside the layout (to {target})")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name in [] if inside == os.curdir else inside.split(os.sep):
            child = os.open(name, _DIR_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: str, limit: int, *, pipe: bool = False) -> bytes:
    """The bytes of the regular file *path* (see :func:`open_regular`), at most *limit*.

    OSError for every problem, a file over *limit* bytes included (EFBIG),
    so callers report them all the same way.
    """
    with open(open_regular(path, pipe=pipe), "rb") as f:
        # read(n) allocates n bytes up front: ask for what the file holds,
        # then read on in chunks (a pipe, or a file that grew meanwhile).
        want = min(os.fstat(f.fileno()).st_size, limit) + 1
        chunks = []
        total = 0
        while total <= limit:
            chunk = f.read(want)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            want = min(_CHUNK, limit + 1 - total)
    if total > limit:
        raise OSError(errno.EFBIG, f"larger than {limit} bytes", path)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def check_layout(path: str) -> None:
    """Raise LayoutError unless *path* holds a layout of the version we support.

    The Go umoci's checks: ``oci-layout`` with ``imageLayoutVersion`` 1.0.0,
    a ``blobs`` directory and an ``index.json`` file.  Stat, not lstat:
    ``blobs/`` or ``blobs/sha256`` may be symlinks (shared blob pools), which
    reads follow; writes and ``gc`` refuse one leading outside the layout
    (:func:`open_dir_inside`).
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
        return read_regular(os.path.join(path, INDEX_FILE), MAX_JSON_BYTES)
    except OSError as err:
        raise LayoutError(f"read {INDEX_FILE}: {describe(err)}") from None


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
