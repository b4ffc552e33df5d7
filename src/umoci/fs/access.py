"""The one rootless permission rule, and its undo.

An unprivileged user owns everything it extracts, yet the kernel still
applies the *owner's* permission bits to it: an image may ship a ``0555``
directory (no new entries), a ``0000`` one (no lookup) or a ``0000`` file
(no reading), and Go's umoci meets the same walls.  The owner may always
chmod, so the rule is:

    a directory or file that we own and whose owner bits lack what the
    next operation needs gets those bits added (:func:`relaxed_mode`), for
    as long as we need them, and its exact mode is put back afterwards --
    also when the operation fails.

Which bits an operation needs: :data:`READ` for a file's contents or
xattrs, :data:`SEARCH` to list a directory and look names up in it,
:data:`MODIFY` to also add or remove its entries.  Root needs none of
them; :meth:`umoci.fs.ops.FsOps.relaxed_mode` applies the rule only in
rootless mode, so the whole decision lives here and in that one method.

The undo comes in two forms, chosen by how long the bits are needed:

* :func:`relaxed` -- for one operation on one inode: the inode is pinned by
  an ``O_PATH`` descriptor (so exactly the inode that was looked at is
  changed, and later restored, whatever happens to its name meanwhile),
  and the ``with`` block's exit restores the mode;
* :class:`~umoci.fs.rootfs.Rootfs` -- directories that must stay usable
  while a whole layer or walk goes on below them: it records them as it
  enters them and puts the modes back, deepest first, in ``finish()``.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import Protocol

    class ModeRule(Protocol):
        """Who applies the rule: :class:`umoci.fs.ops.FsOps` (root: never; rootless: ours)."""

        def relaxed_mode(self, mode: int, uid: int, want: int) -> int | None: ...


#: Owner bits needed to read a file's contents or xattrs.
READ = stat.S_IRUSR
#: Owner bits needed to list a directory and look names up in it.
SEARCH = stat.S_IRUSR | stat.S_IXUSR
#: Owner bits needed to also create, rename and remove a directory's entries.
MODIFY = stat.S_IRWXU

#: This process's open descriptors as magic links (see :func:`proc_path`).
PROC_FD = "/proc/self/fd"

_O_PIN = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC


def relaxed_mode(mode: int, uid: int, want: int, euid: int) -> int | None:
    """``mode`` (of an inode owned by ``uid``) plus the owner bits ``want``, or None.

    None when nothing needs to change for user ``euid``: the bits are
    there already, or the inode is not ours (then chmod would fail, and
    the owner's bits are not the ones that apply to us anyway).
    """
    if uid != euid or mode & want == want:
        return None
    return stat.S_IMODE(mode) | want


def proc_path(fd: int) -> str:
    """The ``/proc`` magic link of ``fd``: reaches its inode without a path lookup."""
    return f"{PROC_FD}/{fd}"


@contextlib.contextmanager
def relaxed(ops: ModeRule, dir_fd: int, name: str, st: os.stat_result, want: int) -> Iterator[bool]:
    """Within the block, the file or directory ``name`` of ``dir_fd`` has the bits ``want``.

    ``st`` is what the caller found there (``lstat``); only that very inode
    is changed.  Yields whether a mode was changed (False: nothing to do,
    or the rule does not apply -- see :meth:`FsOps.relaxed_mode`).  The
    exact mode is restored when the block ends, however it ends.  Symlinks
    and special files are never changed.
    """
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        yield False
        return
    if ops.relaxed_mode(st.st_mode, st.st_uid, want) is None:
        yield False
        return
    pin = os.open(name, _O_PIN, dir_fd=dir_fd)
    try:
        now = os.fstat(pin)
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            raise FileNotFoundError(2, "replaced while being read", name)
        temp = ops.relaxed_mode(now.st_mode, now.st_uid, want)
        if temp is None:
            yield False
            return
        # chmod through /proc: fchmod() refuses O_PATH descriptors, and a
        # path would be looked up again.
        os.chmod(proc_path(pin), temp)
        try:
            yield True
        finally:
            os.chmod(proc_path(pin), stat.S_IMODE(now.st_mode))
    finally:
        os.close(pin)
