"""Apply one uncompressed layer tar stream to a rootfs directory.

The rules (image-spec layer.md and the Go umoci's ``tar_extract.go``):

* Names are cleaned lexically and made relative to the rootfs (``/``,
  ``./`` and ``.`` are the root; ``..`` cannot climb out), then resolved
  inside it with :class:`~umoci.fs.Rootfs`: symlinks are followed only
  *within* the rootfs, and never in the last component.
* An entry the layer alone makes impossible is refused before anything is
  written for it (:mod:`umoci.layer.entryrules`, the rules ``umoci
  validate`` reports too): among them a root entry that is not a directory
  (CVE-2021-29136: a symlink named ``.`` or ``/.`` would otherwise redirect
  every later entry) and whiteouts of ``.`` or ``..``.
* A directory over a directory keeps the contents and takes the new
  metadata; anything else first removes what was there.  With
  ``keep_dirlinks`` a directory over a symlink to a directory keeps the
  symlink, so later entries are written through it (still confined).
* A missing parent is created; a parent that is not a directory is replaced
  by one.
* Whiteouts remove lower-layer paths only: every path this layer created
  (and its ancestors) is remembered in ``upper`` and spared, so an opaque
  whiteout works whatever its position in the archive.
* Hardlinks link to the target *as it is on disk now* (resolved inside the
  rootfs, last component not followed: a hardlink to a symlink links the
  symlink) and carry no metadata of their own.
* Owners are mapped (uid/gid maps) or, rootless, recorded in
  ``user.rootlesscontainers``; modes are set after chown (chown clears
  setuid); xattrs then times go last.  Directory times are set at the end of
  the layer, after their children were written, and the times of parent
  directories we only added to or removed from are put back too.

Everything reads from a stream with bounded buffers, so memory does not
depend on the layer size; file contents can be hashed on the way through
(``on_entry``) to build an mtree without reading the rootfs again.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator

from umoci import log as umoci_log
from umoci.compress.streams import ByteReader
from umoci.errors import LayerError, UmociError
from umoci.fs.ops import FsOps, Target, fs_for
from umoci.fs.rootfs import DirRef, Rootfs, join
from umoci.idmap import IdMap
from umoci.layer import whiteout
from umoci.layer.entryrules import check_entry, clean_path
from umoci.layer.metadata import HostOwner, XattrApplier, entry_times, map_owner
from umoci.layer.records import EntryRecord, Record, RemovedRecord
from umoci.layer.tarstream import EntryKind, TarHeader, TarReader
from umoci.structs import dataclass, field

TYPE_CHECKING = False  # typing is for mypy only
if TYPE_CHECKING:
    from umoci.layer.tarstream import EntryReader

log = umoci_log.get()

#: Kinds created optimistically (without an lstat first): see _create_fresh.
_FRESH_KINDS = frozenset({EntryKind.REG, EntryKind.DIR, EntryKind.SYMLINK})

#: The xattr that gives a directory's new children an ACL (and so an xattr).
_DEFAULT_ACL = "system.posix_acl_default"

_KIND_BITS = {
    EntryKind.CHAR: stat.S_IFCHR,
    EntryKind.BLOCK: stat.S_IFBLK,
    EntryKind.FIFO: stat.S_IFIFO,
}


@dataclass(frozen=True)
class ExtractOptions:
    """How to apply layers.

    ``fs`` is the syscall implementation; when ``None`` it is picked from
    ``rootless`` (and forced rootless when not running as root).  The
    implementation, not the flag, decides: ``fs.rootless`` is what counts.
    ``on_entry`` receives an :class:`~umoci.layer.records.EntryRecord` or
    :class:`~umoci.layer.records.RemovedRecord` for every change.
    ``fresh_files_bare`` says that a file created in the rootfs gets no
    xattr nobody set (:func:`~umoci.fs.rootfs.fresh_files_get_xattrs`
    asked the filesystem): then a fresh file's xattrs are not listed.
    """

    rootless: bool = False
    uid_maps: tuple[IdMap, ...] = ()
    gid_maps: tuple[IdMap, ...] = ()
    keep_dirlinks: bool = False
    on_entry: Callable[[Record], None] | None = None
    fs: FsOps | None = None
    fresh_files_bare: bool = False


@dataclass
class _LayerState:
    """What one layer's extraction remembers until its end."""

    #: Paths this layer created, and their ancestors (resolved, relative).
    upper: set[str] = field(default_factory=set)
    #: Directories to (re)set times on at the end: (atime_ns, mtime_ns).
    dir_times: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: xattrs set on the directories this layer has entries for.
    dir_xattrs: dict[str, dict[str, bytes]] = field(default_factory=dict)

    def add_upper(self, rel: str) -> None:
        while rel and rel not in self.upper:
            self.upper.add(rel)
            rel = rel.rpartition("/")[0]

    def touch(self, ops: FsOps, directory: DirRef) -> None:
        """Remember a directory's times before we add to or remove from it."""
        if directory.rel not in self.dir_times:
            st = ops.fstat(directory.fd)
            self.dir_times[directory.rel] = (st.st_atime_ns, st.st_mtime_ns)


class LayerExtractor:
    """Applies layers, one after the other, to one rootfs directory."""

    def __init__(self, rootfs: str | os.PathLike[str], options: ExtractOptions | None = None):
        self._path = rootfs
        self._opts = options or ExtractOptions()
        self._ops = self._opts.fs or fs_for(rootless=self._opts.rootless)
        self._xattrs = XattrApplier(rootless=self._ops.rootless)
        self._emit = self._opts.on_entry
        self._step = ""
        self._owners: dict[tuple[int, int], HostOwner] = {}
        # Whether a fresh file may have xattrs nobody set (see _plain_fresh).
        self._implicit_xattrs = not self._opts.fresh_files_bare

    @property
    def ops(self) -> FsOps:
        return self._ops

    @property
    def wants_digests(self) -> bool:
        """Whether the records it emits carry each regular file's sha256."""
        return self._emit is not None

    def apply(self, stream: ByteReader) -> int:
        """Apply one uncompressed tar stream; return the number of entries.

        The stream is read to its end (after the archive too), so a hashing
        reader underneath has seen every byte when this returns.  On error
        the rootfs is left half-extracted: callers remove it.
        """
        reader = TarReader(stream)
        self.apply_entries(reader)
        return reader.entries

    def apply_entries(self, reader: EntryReader) -> None:
        """Apply the entries of one layer read from ``reader``, then finish the layer.

        ``reader`` is a :class:`TarReader` or anything with its interface
        (the unpack pipeline's :class:`~umoci.ops.layer_pipeline.LayerEntries`);
        it is read to its end.
        """
        try:
            fs = Rootfs(self._path, self._ops)
        except OSError as e:
            raise LayerError(f"open rootfs {os.fspath(self._path)}: {e.strerror}") from e
        with fs:
            state = _LayerState()
            while (hdr := reader.next()) is not None:
                try:
                    self._entry(fs, state, reader, hdr)
                except UmociError:
                    raise  # UnsafePathError is an OSError too: keep it as it is
                except OSError as e:
                    raise LayerError(
                        f"unpack entry {hdr.name}: {self._step}: {e.strerror or e}"
                    ) from e
                except (OverflowError, ValueError) as e:
                    # A value the checks below let through but a syscall
                    # wrapper refuses: still the entry's fault, not ours.
                    raise LayerError(f"unpack entry {hdr.name}: {self._step}: {e}") from e
            trailing = reader.drain()
            if trailing:
                log.debug("ignoring %d bytes after the end of the tar archive", trailing)
            try:
                self._finish(fs, state)
            except OSError as e:
                raise LayerError(f"finish layer: {self._step}: {e.strerror or e}") from e

    # -- one entry -----------------------------------------------------------------
    def _entry(self, fs: Rootfs, state: _LayerState, reader: EntryReader, hdr: TarHeader) -> None:
        name = clean_path(hdr.name)
        check_entry(hdr, name)  # what the layer alone forbids, before any change
        if not name:
            self._root_entry(fs, state, hdr)
            return
        parent_rel, _, base = name.rpartition("/")
        if whiteout.is_whiteout(base):
            self._whiteout(fs, state, parent_rel, base, hdr)
            return

        self._step = "resolve parent directory"
        # A borrowed fd (no dup): valid until the Rootfs cache next changes,
        # which nothing in the fresh-creation path below does.
        peeked = fs.peek_dir(parent_rel, create=True, replace=True)
        state.touch(self._ops, peeked)
        rel = join(peeked.rel, base)
        if hdr.kind in _FRESH_KINDS and self._create_fresh(
            fs, state, peeked, base, reader=reader, hdr=hdr
        ):
            # Nothing was there (O_EXCL): the common case needs no lstat.
            state.add_upper(rel)
            return
        # Something is in the way: removing it may drop the cache, so work
        # on our own handle from here on.
        with DirRef(os.dup(peeked.fd), peeked.rel) as parent:
            self._step = "lstat"
            existing = fs.lstat(parent, base)
            keep_existing = False
            if existing is not None:
                if stat.S_ISDIR(existing.st_mode) and hdr.kind is EntryKind.DIR:
                    keep_existing = True
                elif (
                    self._opts.keep_dirlinks
                    and hdr.kind is EntryKind.DIR
                    and stat.S_ISLNK(existing.st_mode)
                    and fs.is_dir_through_links(parent, base)
                ):
                    self._dirlink(parent, base, hdr)
                    state.add_upper(rel)
                    return
                else:
                    self._step = "remove old entry"
                    fs.remove(parent, base, on_removed=self._removed)
            self._create(fs, state, parent, base, reader=reader, hdr=hdr, keep=keep_existing)
            state.add_upper(rel)

    def _create_fresh(
        self,
        fs: Rootfs,
        state: _LayerState,
        parent: DirRef,
        base: str,
        *,
        reader: EntryReader,
        hdr: TarHeader,
    ) -> bool:
        """Create a regular file, directory or symlink where nothing exists yet.

        The creating call fails with EEXIST (and changes nothing) when
        anything, even a dangling symlink, is in the way: then this returns
        False and the caller looks at what is there, as for any other kind.
        ``parent`` may hold a borrowed fd (:meth:`Rootfs.peek_dir`): nothing
        here may resolve, remove or invalidate anything through ``fs``.
        """
        ops = self._ops
        try:
            if hdr.kind is EntryKind.REG:
                self._step = "create file"
                fd = ops.create(parent.fd, base, self._fresh_mode(hdr))
            elif hdr.kind is EntryKind.DIR:
                self._step = "mkdir"
                ops.mkdir(parent.fd, base, 0o700)
            else:
                self._step = "symlink"
                ops.symlink(hdr.linkname, parent.fd, base)
        except FileExistsError:
            return False
        if hdr.kind is EntryKind.REG:
            self._regular(reader, parent, base, hdr, fd, fresh=True)
        elif hdr.kind is EntryKind.DIR:
            self._dir_metadata(fs, state, parent, base, hdr)
        else:
            self._report_at(parent, base, self._metadata(fs, parent, base, hdr))
        return True

    def _dir_metadata(
        self, fs: Rootfs, state: _LayerState, parent: DirRef, base: str, hdr: TarHeader
    ) -> None:
        if _DEFAULT_ACL in hdr.xattrs:
            self._implicit_xattrs = True  # its new children get an ACL
        xattrs = self._metadata(fs, parent, base, hdr, is_dir=True)
        # Times last of all, once the children are in (see _finish).
        rel = join(parent.rel, base)
        state.dir_times[rel] = entry_times(hdr)
        state.dir_xattrs[rel] = xattrs

    def _create(
        self,
        fs: Rootfs,
        state: _LayerState,
        parent: DirRef,
        base: str,
        *,
        reader: EntryReader,
        hdr: TarHeader,
        keep: bool,
    ) -> None:
        ops = self._ops
        match hdr.kind:
            case EntryKind.REG:
                self._regular(reader, parent, base, hdr)
            case EntryKind.CHAR | EntryKind.BLOCK if ops.fake_devices:
                # mknod(2) needs privilege; an empty file keeps the name.
                log.warning(
                    "rootless: creating empty file in place of device %s (%d:%d)",
                    hdr.name,
                    hdr.devmajor,
                    hdr.devminor,
                )
                self._regular(reader, parent, base, hdr)
            case EntryKind.DIR:
                if not keep:
                    self._step = "mkdir"
                    ops.mkdir(parent.fd, base, 0o700)
                self._dir_metadata(fs, state, parent, base, hdr)
            case EntryKind.SYMLINK:
                self._step = "symlink"
                ops.symlink(hdr.linkname, parent.fd, base)
                self._report_at(parent, base, self._metadata(fs, parent, base, hdr))
            case EntryKind.HARDLINK:
                self._hardlink(fs, parent, base, hdr)
            case EntryKind.CHAR | EntryKind.BLOCK | EntryKind.FIFO:
                self._step = "mknod"
                device = os.makedev(hdr.devmajor, hdr.devminor)
                ops.mknod(parent.fd, base, _KIND_BITS[hdr.kind] | hdr.mode, device)
                self._report_at(parent, base, self._metadata(fs, parent, base, hdr))

    def _regular(
        self,
        reader: EntryReader,
        parent: DirRef,
        base: str,
        hdr: TarHeader,
        fd: int = -1,
        *,
        fresh: bool = False,
    ) -> None:
        """Write a regular file (``fd``: already created, else create it now).

        ``fresh``: ``fd`` was just created by :meth:`_create_fresh`, with
        the mode :meth:`_fresh_mode` chose.
        """
        ops = self._ops
        if fd < 0:
            self._step = "create file"
            fd = ops.create(parent.fd, base)
        try:
            self._step = "write file"
            # The sha256 for the mtree, unless the reader computed it already.
            emit = self._emit is not None
            digest = hashlib.sha256() if emit and not reader.hashes_data else None
            for chunk in reader.chunks():
                if digest is not None:
                    digest.update(chunk)
                written = os.write(fd, chunk)
                if written != len(chunk):  # a short write: finish it
                    _write_all(fd, memoryview(chunk)[written:])
            t = Target(parent.fd, base, fd)
            owner = self._owner(hdr)
            st: os.stat_result | None
            if fresh and self._plain_fresh(hdr, owner):
                st = self._check_fresh(t, hdr, owner)
                xattrs: dict[str, bytes] = {}
            else:
                self._step = "chown"
                ops.chown(t, owner.uid, owner.gid)
                self._step = "chmod"
                ops.chmod(t, hdr.mode)
                self._step = "set xattrs"
                xattrs = self._xattrs.apply(ops, t, self._xattrs.wanted(hdr, owner))
                self._step = "set times"
                ops.utimes(t, *entry_times(hdr))
                st = ops.fstat(fd) if self._emit is not None else None
            if self._emit is not None:
                assert st is not None
                sha256 = digest.hexdigest() if digest is not None else reader.data_sha256
                rel = join(parent.rel, base)
                self._emit(EntryRecord(rel, st, sha256, xattrs))
        finally:
            os.close(fd)

    # -- fresh regular files: check what is already right instead of setting it --------
    #
    # A file we just created with O_EXCL is ours (euid/egid, or the group of
    # a setgid parent), has the mode open(2) gave it (the requested one,
    # less the umask or a default ACL's mask) and no xattrs, unless the
    # host labels new files (SELinux, Smack: security.*) or a default ACL
    # adds system.posix_acl_access: the caller asked the filesystem
    # (ExtractOptions.fresh_files_bare), and a layer can only add a default
    # ACL by an xattr on a directory, which _dir_metadata watches for.  So
    # for a file whose header has no xattrs, one fstat after the times
    # replaces fchown, fchmod and flistxattr: only what differs is set
    # (chown before chmod, as ever).  The fstat is the one the mtree record
    # needs anyway.

    def _fresh_mode(self, hdr: TarHeader) -> int:
        """The mode to create a regular file with (0600 when it has to be set later anyway)."""
        if self._ops.rootless or hdr.mode & 0o7000:
            return 0o600  # setuid/setgid/sticky: set after chown, which would clear them
        return hdr.mode

    def _plain_fresh(self, hdr: TarHeader, owner: HostOwner) -> bool:
        """Whether a fresh file's owner, mode and xattrs need only be checked."""
        return (
            not hdr.xattrs
            and owner.rootless_xattr is None
            and not self._ops.rootless
            and not hdr.mode & 0o7000
            and not self._implicit_xattrs
        )

    def _check_fresh(self, t: Target, hdr: TarHeader, owner: HostOwner) -> os.stat_result:
        assert t.fd is not None
        ops = self._ops
        self._step = "set times"
        ops.utimes(t, *entry_times(hdr))
        self._step = "check owner and mode"
        st = ops.fstat(t.fd)
        if st.st_uid != owner.uid or st.st_gid != owner.gid or stat.S_IMODE(st.st_mode) != hdr.mode:
            self._step = "chown"
            ops.chown(t, owner.uid, owner.gid)
            self._step = "chmod"
            ops.chmod(t, hdr.mode)
            st = ops.fstat(t.fd)
        return st

    def _metadata(
        self, fs: Rootfs, parent: DirRef, base: str, hdr: TarHeader, *, is_dir: bool = False
    ) -> dict[str, bytes]:
        """Owner, mode, xattrs and (except for directories) times, by name."""
        ops = self._ops
        t = Target(parent.fd, base)
        owner = self._owner(hdr)
        self._step = "chown"
        ops.chown(t, owner.uid, owner.gid)
        # Symlinks have no mode of their own; setuid bits survive only
        # because the mode is set after the owner.
        if is_dir:
            self._step = "chmod"
            fs.chmod_dir(parent, base, hdr.mode)
        elif hdr.kind is not EntryKind.SYMLINK:
            self._step = "chmod"
            ops.chmod(t, hdr.mode)
        self._step = "set xattrs"
        xattrs = self._xattrs.apply(ops, t, self._xattrs.wanted(hdr, owner))
        if not is_dir:
            self._step = "set times"
            ops.utimes(t, *entry_times(hdr))
        return xattrs

    def _owner(self, hdr: TarHeader) -> HostOwner:
        self._step = "map owner"
        key = (hdr.uid, hdr.gid)
        owner = self._owners.get(key)
        if owner is None:
            # map_owner depends only on the ids and our fixed options.
            owner = map_owner(
                hdr.uid,
                hdr.gid,
                rootless=self._ops.rootless,
                uid_maps=self._opts.uid_maps,
                gid_maps=self._opts.gid_maps,
            )
            if len(self._owners) < 1024:
                self._owners[key] = owner
        return owner

    def _hardlink(self, fs: Rootfs, parent: DirRef, base: str, hdr: TarHeader) -> None:
        target = clean_path(hdr.linkname)  # not the root (check_entry)
        link_parent_rel, _, link_base = target.rpartition("/")
        self._step = f"resolve hardlink target {hdr.linkname}"
        with fs.resolve_dir(link_parent_rel) as link_parent:
            self._step = f"hardlink to {hdr.linkname}"
            self._ops.link(link_parent.fd, link_base, parent.fd, base)
            if self._emit is not None:
                st = self._ops.lstat(parent.fd, base)
                rel = join(parent.rel, base)
                self._emit(EntryRecord(rel, st, hardlink_to=join(link_parent.rel, link_base)))

    def _dirlink(self, parent: DirRef, base: str, hdr: TarHeader) -> None:
        # --keep-dirlinks: the symlink stays and later entries go through it.
        # Like the Go umoci, the directory's owner and times land on the link.
        t = Target(parent.fd, base)
        owner = self._owner(hdr)
        self._step = "chown dirlink"
        self._ops.chown(t, owner.uid, owner.gid)
        self._step = "set dirlink times"
        self._ops.utimes(t, *entry_times(hdr))
        self._report_at(parent, base, {})

    def _root_entry(self, fs: Rootfs, state: _LayerState, hdr: TarHeader) -> None:
        # Only ever a directory (check_entry): CVE-2021-29136, a root that
        # became a symlink would redirect every later entry of every layer.
        with fs.root() as root:
            xattrs = self._metadata(fs, root, ".", hdr, is_dir=True)
        state.dir_times[""] = entry_times(hdr)
        state.dir_xattrs[""] = xattrs

    def _whiteout(
        self, fs: Rootfs, state: _LayerState, parent_rel: str, base: str, hdr: TarHeader
    ) -> None:
        target = whiteout.whiteout_target(base)
        self._step = "resolve whiteout directory"
        try:
            parent = fs.resolve_dir(parent_rel)
        except (FileNotFoundError, NotADirectoryError):
            return  # nothing there to hide (maybe an earlier whiteout took it)
        with parent:
            state.touch(self._ops, parent)
            self._step = "remove whited-out path"
            if target is None:
                fs.clear_dir(parent, keep=state.upper, on_removed=self._removed)
            else:
                fs.remove(parent, target, keep=state.upper, on_removed=self._removed)

    # -- end of layer ----------------------------------------------------------------
    def _finish(self, fs: Rootfs, state: _LayerState) -> None:
        # One pass: setting a directory's times changes nothing about any
        # other directory, so each is reported right after its own utimes.
        # Reported before the modes are put back: a directory closed to us
        # (rootless, mode 000) could not be reached afterwards.  Only the
        # mode (and ctime) change then, so the record says the final mode.
        for rel, t in self._dirs(fs, state.dir_times):
            self._step = "restore directory times"
            self._ops.utimes(t, *state.dir_times[rel])
            if self._emit is not None:
                self._step = "report directories"
                st = self._ops.lstat(t.dfd, t.name)
                mode = fs.final_mode(rel, st)
                if mode != stat.S_IMODE(st.st_mode):
                    st = _with_mode(st, mode)
                self._emit(EntryRecord(rel or ".", st, xattrs=state.dir_xattrs.get(rel)))
        self._step = "restore directory modes"
        fs.finish()

    def _dirs(self, fs: Rootfs, rels: Iterable[str]) -> Iterator[tuple[str, Target]]:
        """``(rel, target)`` for each of ``rels`` that is still a directory."""
        for rel in rels:
            parent_rel, _, name = rel.rpartition("/")
            try:
                parent = fs.resolve_dir(parent_rel)
            except (FileNotFoundError, NotADirectoryError):
                continue  # removed again later in the layer
            with parent:
                t = Target(parent.fd, name or ".")
                st = fs.lstat(parent, t.name)
                if st is not None and stat.S_ISDIR(st.st_mode):
                    yield rel, t

    # -- reporting ---------------------------------------------------------------------
    def _report(self, t: Target, rel: str, xattrs: dict[str, bytes] | None) -> None:
        if self._emit is not None:
            self._emit(EntryRecord(rel or ".", self._ops.lstat(t.dfd, t.name), xattrs=xattrs))

    def _report_at(self, parent: DirRef, base: str, xattrs: dict[str, bytes]) -> None:
        if self._emit is not None:
            self._report(Target(parent.fd, base), join(parent.rel, base), xattrs)

    def _removed(self, rel: str) -> None:
        if self._emit is not None:
            self._emit(RemovedRecord(rel or "."))


def _with_mode(st: os.stat_result, mode: int) -> os.stat_result:
    """``st`` with other permission bits (everything else, nanoseconds included, kept)."""
    fields = list(st)
    fields[0] = stat.S_IFMT(st.st_mode) | mode
    extra = {name: getattr(st, name) for name in dir(st) if name.startswith("st_")}
    return os.stat_result(fields, extra)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def apply_layer(
    stream: ByteReader,
    rootfs: str | os.PathLike[str],
    *,
    options: ExtractOptions | None = None,
) -> int:
    """Apply one uncompressed layer tar stream to ``rootfs``; return the entry count.

    For several layers of one image prefer one :class:`LayerExtractor`
    (refused-xattr warnings are then issued once for the whole unpack).
    """
    return LayerExtractor(rootfs, options).apply(stream)
