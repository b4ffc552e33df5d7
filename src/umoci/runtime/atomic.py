"""Replace a file's contents atomically: a reader sees the old bytes or the new, never half."""

from __future__ import annotations

import contextlib
import os


def create_temp(path: str) -> tuple[int, str]:
    """A new file beside ``path``, to be renamed over it: ``(fd open for writing, its path)``.

    The name is random and the file is created with ``O_EXCL`` (so nothing
    already there, such as a symlink planted in a bundle, is opened or
    written through) and mode 0666 (the kernel applies the umask), which is
    what Go's ``os.Create`` would have given the file.
    """
    directory = os.path.dirname(path) or "."
    base = os.path.basename(path)
    while True:
        tmp = os.path.join(directory, f".{base}.{os.urandom(8).hex()}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666), tmp
        except FileExistsError:
            continue


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same directory, fsync and rename.

    The temp file (:func:`create_temp`) is removed again if anything fails.
    """
    directory = os.path.dirname(path) or "."
    fd, tmp = create_temp(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    # Make the rename itself durable; a failure here loses nothing we wrote.
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
