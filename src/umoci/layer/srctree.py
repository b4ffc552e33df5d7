"""Reading a directory tree for a layer without ever following a symlink.

Every lookup is ``openat(O_PATH|O_DIRECTORY|O_NOFOLLOW)`` relative to the
fd of the previous component, starting at an fd of the root, so a symlink
anywhere in a path stops the lookup (:class:`NotADirComponentError`)
instead of leading elsewhere: nothing outside the tree can be read, even
if the tree changes while we read it.  The chain of directory fds leading
to the last directory used is kept open, because entries arrive sorted and
neighbours share their parents.

Objects that are not opened (symlinks, devices, directories) are reached
for xattrs through ``/proc/self/fd/PARENT/NAME`` with no-follow calls: the
parent is pinned by its fd and the last component is never followed.

Rootless mode may meet directories and files its user cannot search or
read (an image may ship ``0000`` modes).  Directories on the chain are made
``u+rx`` while on it, files ``u+r`` while read (:meth:`SourceTree.relax`),
always through an fd pinning the very inode that was stat'ed, and their
modes are put back afterwards; :meth:`SourceTree.original_mode` gives the
mode to archive.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Container, Sequence

from umoci.closing import Closing
from umoci.errors import LayerError
from umoci.structs import dataclass

PROC_FD = "/proc/self/fd"

_O_DIR = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_O_PIN = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC


def proc(fd: int) -> str:
    """The ``/proc`` magic link of ``fd``: reaches its inode without a path lookup."""
    return f"{PROC_FD}/{fd}"


class NotADirComponentError(Exception):
    """A path component that is not a directory; ``symlink`` says whether it is a link."""

    def __init__(self, comp: bytes, *, symlink: bool) -> None:
        super().__init__(comp)
        self.comp = comp
        self.symlink = symlink


def same_inode(now: os.stat_result, before: os.stat_result, what: str) -> None:
    """Raise LayerError unless ``now`` is the inode (and type) ``before`` described."""
    if (now.st_dev, now.st_ino, stat.S_IFMT(now.st_mode)) != (
        before.st_dev,
        before.st_ino,
        stat.S_IFMT(before.st_mode),
    ):
        raise LayerError(f"generate layer: {what}: changed while being archived")


def read_xattrs(
    target: int | str | bytes, *, follow: bool, skip: Container[str] = ()
) -> dict[str, bytes]:
    """All xattrs of an fd or a path but those in ``skip``.

    A filesystem without xattrs has none; one removed between listing and
    reading is skipped.
    """
    try:
        names = os.listxattr(target, follow_symlinks=follow)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return {}
        raise
    out: dict[str, bytes] = {}
    for key in names:
        if key in skip:
            continue
        try:
            out[key] = os.getxattr(target, key, follow_symlinks=follow)
        except OSError as e:
            if e.errno != errno.ENODATA:
                raise
    return out


@dataclass(slots=True)
class _Dir:
    name: bytes
    fd: int
    #: Mode to put back when we leave it (rootless: we relaxed it), else None.
    restore: int | None = None


class SourceTree(Closing):
    """A directory opened as a root (see the module docstring)."""

    def __init__(self, path: bytes, *, rootless: bool) -> None:
        self._rootless = rootless
        try:
            fd = os.open(path, _O_DIR)
        except OSError as e:
            raise LayerError(f"generate layer: open {os.fsdecode(path)}: {e.strerror}") from e
        # The root is relaxed lazily, on first use as a parent, so that its
        # own entry (written first) is read before we touch its mode.
        self._root = _Dir(b"", fd)
        self._root_entered = False
        self._chain: list[_Dir] = []
        #: Original modes of the directories we relaxed, by (st_dev, st_ino).
        self._relaxed: dict[tuple[int, int], int] = {}

    @property
    def root_fd(self) -> int:
        return self._root.fd

    @property
    def rootless(self) -> bool:
        """Whether unreadable files and directories get relaxed (see :meth:`relax`)."""
        return self._rootless

    def close(self) -> None:
        """Close every fd and put back every mode we relaxed."""
        while self._chain:
            self._leave(self._chain.pop())
        if self._root.fd >= 0:
            self._leave(self._root)
            self._root.fd = -1

    def original_mode(self, st: os.stat_result) -> int:
        """``st``'s mode as it was before we relaxed it (the one to archive)."""
        if not self._relaxed:
            return st.st_mode
        mode = self._relaxed.get((st.st_dev, st.st_ino))
        return st.st_mode if mode is None else mode

    # -- resolution --------------------------------------------------------------------------
    def dir_fd(self, comps: Sequence[bytes]) -> int:
        """A (borrowed) fd of directory ``comps``, reached without following symlinks.

        Raises :class:`NotADirComponentError` for a component that is not a
        directory and ``OSError`` (ENOENT ...) for one that is missing.
        """
        if not self._root_entered:
            self._root_entered = True
            self._enter(self._root)
        keep = 0
        for have, want in zip(self._chain, comps, strict=False):
            if have.name != want:
                break
            keep += 1
        while len(self._chain) > keep:
            self._leave(self._chain.pop())
        for comp in comps[keep:]:
            parent = self._chain[-1].fd if self._chain else self._root.fd
            d = _Dir(comp, _open_dir(parent, comp))
            self._chain.append(d)
            self._enter(d)
        return self._chain[-1].fd if self._chain else self._root.fd

    def list_dir(self, comps: Sequence[bytes]) -> list[bytes]:
        """The names in directory ``comps``, sorted bytewise (Go's ``filepath.Walk`` order)."""
        fd = self.dir_fd(comps)
        # listdir on the magic link opens *this* directory (no path lookup)
        # and, given bytes, returns the names as raw bytes.
        return sorted(os.listdir(os.fsencode(proc(fd))))

    # -- rootless access -------------------------------------------------------------------
    def _enter(self, d: _Dir) -> None:
        if not self._rootless:
            return
        st = os.fstat(d.fd)
        if st.st_mode & 0o500 == 0o500:
            return
        os.chmod(proc(d.fd), stat.S_IMODE(st.st_mode) | 0o500)
        d.restore = stat.S_IMODE(st.st_mode)
        self._relaxed[(st.st_dev, st.st_ino)] = st.st_mode

    def _leave(self, d: _Dir) -> None:
        try:
            if d.restore is not None:
                os.chmod(proc(d.fd), d.restore)
                st = os.fstat(d.fd)
                self._relaxed.pop((st.st_dev, st.st_ino), None)
        finally:
            os.close(d.fd)

    def relax(self, parent: int, name: bytes, st: os.stat_result, what: str) -> int | None:
        """Rootless: make the file or directory ``st`` describes ``u+r`` until :meth:`restore`.

        Returns None (nothing to undo) unless a mode was changed.  The
        inode is pinned first, so exactly the one stat'ed is relaxed and,
        later, restored.
        """
        if (
            not self._rootless
            or st.st_mode & 0o400
            or not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode))
        ):
            return None
        pin = os.open(name, _O_PIN, dir_fd=parent)
        try:
            same_inode(os.fstat(pin), st, what)
            os.chmod(proc(pin), stat.S_IMODE(st.st_mode) | 0o400)
        except BaseException:
            os.close(pin)
            raise
        return pin

    @staticmethod
    def restore(pin: int, st: os.stat_result) -> None:
        """Undo :meth:`relax`: put ``st``'s mode back and release the pin."""
        try:
            os.chmod(proc(pin), stat.S_IMODE(st.st_mode))
        finally:
            os.close(pin)


def _open_dir(parent: int, comp: bytes) -> int:
    try:
        return os.open(comp, _O_DIR, dir_fd=parent)
    except OSError as e:
        if e.errno not in (errno.ENOTDIR, errno.ELOOP):
            raise
        try:
            link = stat.S_ISLNK(os.stat(comp, dir_fd=parent, follow_symlinks=False).st_mode)
        except OSError:
            link = False
        raise NotADirComponentError(comp, symlink=link) from None
