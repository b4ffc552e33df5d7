"""Turning a tar header's owner, xattrs and times into on-disk metadata.

Owners go through the uid/gid maps (``--uid-map``/``--gid-map``).  In
rootless mode nothing is chowned: everything belongs to us (container root)
and the owner the layer wanted is kept in ``user.rootlesscontainers``
(see :mod:`umoci.layer.rootless_xattr`).

Xattrs follow the Go umoci: ``security.selinux`` and ``system.nfs4_acl``
are host-specific and never touched (neither set nor cleared); any other
xattr the host refuses (EPERM, ENOTSUP, ...: ``security.capability``
unprivileged, ``trusted.*`` in a user namespace, user xattrs on a
filesystem without them) is skipped with *one* warning per xattr name,
rather than one per file or a failed unpack.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence

from umoci import log as umoci_log
from umoci.errors import LayerError
from umoci.fs.ops import FsOps, Target
from umoci.idmap import IdMap, to_host
from umoci.layer import rootless_xattr
from umoci.layer.tarstream import EntryKind, TarHeader
from umoci.structs import dataclass

log = umoci_log.get()

#: Host-specific xattrs: never extracted and never cleared from disk.
FORBIDDEN_XATTRS = frozenset({"security.selinux", "system.nfs4_acl"})

#: errnos meaning "this host will not store that xattr here".
_REFUSED = frozenset({errno.EPERM, errno.EACCES, errno.ENOTSUP, errno.EOPNOTSUPP})


@dataclass(frozen=True, slots=True)
class HostOwner:
    """Where a header's owner lands on the host."""

    uid: int
    gid: int
    #: ``user.rootlesscontainers`` value to set (rootless, non-root owner).
    rootless_xattr: bytes | None = None


def map_owner(
    uid: int,
    gid: int,
    *,
    rootless: bool,
    uid_maps: Sequence[IdMap],
    gid_maps: Sequence[IdMap],
) -> HostOwner:
    """Map a container owner to the host (LayerError if an id has no mapping)."""
    xattr = None
    if rootless:
        # Files stay ours (container root); the wanted owner goes in the xattr.
        xattr = rootless_xattr.owner_to_xattr(uid, gid)
        uid = gid = 0
    host_uid = to_host(uid_maps, uid)
    if host_uid is None:
        raise LayerError(f"map uid to host: container uid {uid} is not in the uid map")
    host_gid = to_host(gid_maps, gid)
    if host_gid is None:
        raise LayerError(f"map gid to host: container gid {gid} is not in the gid map")
    return HostOwner(host_uid, host_gid, xattr)


def entry_times(hdr: TarHeader) -> tuple[int, int]:
    """(atime, mtime) in ns; archives without an atime get the mtime."""
    atime = hdr.mtime_ns if hdr.atime_ns is None else hdr.atime_ns
    return atime, hdr.mtime_ns


class XattrApplier:
    """Sets an entry's xattrs to exactly what the layer says, warning once per refused name.

    One instance lives as long as the extractor (all layers of an unpack),
    so each refused xattr name is reported once per unpack.
    """

    def __init__(self, *, rootless: bool) -> None:
        self._rootless = rootless
        self._warned: set[str] = set()

    def _warn(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message + " (further warnings about it suppressed)", *args)

    def wanted(self, hdr: TarHeader, owner: HostOwner) -> dict[str, bytes]:
        """The xattrs to put on disk for ``hdr``."""
        out: dict[str, bytes] = {}
        for key, value in hdr.xattrs.items():
            # Names and sizes Linux refuses were refused with the entry
            # (umoci.layer.entryrules), before anything was written.
            if key in FORBIDDEN_XATTRS:
                self._warn(key, "ignoring forbidden xattr %s in layer", key)
                continue
            if key == rootless_xattr.XATTR_NAME:
                if self._rootless:
                    # We are about to write our own; a layer must not choose owners.
                    self._warn(key, "rootless: ignoring %s stored in layer", key)
                    continue
                self._warn(key, "suspicious layer: %s in a non-rootless unpack", key)
            out[key] = value
        # Linux refuses user.* xattrs on symlinks, so a symlink's owner cannot
        # be recorded (the Go umoci loses it too, with a warning per link).
        if owner.rootless_xattr is not None and hdr.kind is not EntryKind.SYMLINK:
            out[rootless_xattr.XATTR_NAME] = owner.rootless_xattr
        return out

    def apply(self, ops: FsOps, t: Target, wanted: dict[str, bytes]) -> dict[str, bytes]:
        """Make the xattrs of ``t`` exactly ``wanted``; return the ones actually set."""
        try:
            existing = ops.listxattr(t)
        except OSError as e:
            if e.errno not in _REFUSED:
                raise
            existing = []
            self._warn("*", "cannot list xattrs (%s): stale xattrs may remain", e.strerror)
        for key in existing:
            if key in wanted or key in FORBIDDEN_XATTRS:
                continue
            try:
                ops.removexattr(t, key)
            except OSError as e:
                if e.errno == errno.ENODATA:
                    continue
                if e.errno not in _REFUSED:
                    raise
                self._warn(key, "cannot remove xattr %s: %s", key, e.strerror)
        done: dict[str, bytes] = {}
        for key, value in wanted.items():
            try:
                ops.setxattr(t, key, value)
            except OSError as e:
                if e.errno not in _REFUSED:
                    raise
                self._warn(key, "ignoring xattr %s: %s", key, e.strerror)
                continue
            done[key] = value
        return done
