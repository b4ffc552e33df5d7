"""Layer entries no extraction can apply, whatever is on disk: one owner per rule.

The extractor (:mod:`umoci.layer.extract`) raises the first refusal of each
entry before it touches the rootfs for it; ``umoci validate``
(:mod:`umoci.validate.layers`) reports each refusal as an error.  So a layer
``validate`` passes is never refused by ``unpack`` for one of these:

* a NUL byte in the name or the link target;
* an owner, device number or time no file can have;
* a name that cleans to the root (``.``, ``/``, ``a/..``) for anything but
  a directory (CVE-2021-29136: the root must stay a directory);
* a whiteout of nothing (``.wh.``), of ``.`` or of ``..``;
* a path component longer than the kernel's 255 bytes (the name's
  directories and, except for a whiteout, its base; a hardlink's target);
* a hardlink to the root directory;
* a symlink with an empty target, or one longer than 4095 bytes;
* an xattr with an empty name or a NUL in it, a name longer than 255
  bytes, or a value larger than 64 KiB (Linux refuses them all before it
  looks at the file; host-specific xattrs umoci never sets are exempt).

What else makes an extraction fail depends on the rootfs as the lower
layers and earlier entries left it (a hardlink target that is not there or
is a directory, a symlink loop), on the host (permissions, space) or on the
unpack options (uid/gid maps); the layer alone cannot decide it.
"""

from __future__ import annotations

import os
import posixpath

from umoci import goquote
from umoci.errors import LayerError, UmociError, UnsafePathError
from umoci.layer import whiteout
from umoci.layer.metadata import FORBIDDEN_XATTRS
from umoci.layer.tarstream import EntryKind, TarHeader
from umoci.structs import dataclass

#: Linux's limits (NAME_MAX, PATH_MAX - 1, XATTR_NAME_MAX, XATTR_SIZE_MAX).
NAME_MAX = 255
SYMLINK_MAX = 4095
XATTR_NAME_MAX = 255
XATTR_SIZE_MAX = 65536

# Ids a file can have: (uid_t)-1 means "leave unchanged" to chown(2).
_MAX_ID = (1 << 32) - 2
_MAX_DEVICE = (1 << 31) - 1
# Nanoseconds since 1970 must fit an int64 (years 1677 to 2262) for utimensat.
_NS_RANGE = (-(1 << 63), (1 << 63) - 1)
# A name this short has no component over NAME_MAX bytes (at most 4 bytes a character).
_SHORT_NAME = NAME_MAX // 4


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an entry cannot be applied.

    ``unsafe``: it would change or leave the root; ``whiteout``: a rule about
    whiteout names (``umoci validate`` reports those under their own check).
    """

    reason: str
    unsafe: bool = False
    whiteout: bool = False

    def error(self, entry: str) -> UmociError:
        """The extractor's error for the entry named *entry* in the archive."""
        error = UnsafePathError if self.unsafe else LayerError
        # A NUL (or another control character) is not printed as it is.
        shown = entry if entry.isprintable() else goquote.quote(entry)
        return error(f"unpack entry {shown}: {self.reason}")


# Looked up once: refusals() runs for every entry of every layer unpacked.
_DIR, _HARDLINK, _SYMLINK = EntryKind.DIR, EntryKind.HARDLINK, EntryKind.SYMLINK
_TOO_LONG = Refusal(f"path component longer than {NAME_MAX} bytes")


def clean_path(name: str) -> str:
    """A tar name made relative to the rootfs, lexically ("" is the root).

    Like the Go umoci's CleanPath: clean it as if it were absolute, so no
    number of ``..`` can climb above the root, then drop the leading ``/``.
    """
    # Fast path for the usual already-clean name ("./a/b/", "a/b"): with
    # no empty, "." or ".." component (and no leading "/") it is unchanged.
    rest = name[2:] if name.startswith("./") else name
    if rest.endswith("/"):
        rest = rest[:-1]
    if rest and rest[0] not in "/." and rest[-1] != "/" and "//" not in rest and "/." not in rest:
        return rest
    return posixpath.normpath("/" + name).lstrip("/")


def climbs_out(path: str) -> bool:
    """Does *path* go above the root with ``..`` (where :func:`clean_path` stops it)?"""
    if ".." not in path:
        return False  # the usual case, without splitting
    depth = 0
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        else:
            depth += 1
    return False


def refusals(hdr: TarHeader, name: str) -> list[Refusal]:
    """Every reason no extraction applies *hdr*; ``name`` is ``clean_path(hdr.name)``.

    Follows the extractor's order of work: what it never looks at (the link
    target of a whiteout, the xattrs of a hardlink) is never a reason.
    A list, not a generator: the extractor asks for every entry.
    """
    found: list[Refusal] = []
    if "\0" in hdr.name:
        found.append(Refusal("NUL byte in name"))
    if "\0" in hdr.linkname:
        found.append(Refusal("NUL byte in link target"))
    if not (0 <= hdr.uid <= _MAX_ID and 0 <= hdr.gid <= _MAX_ID):
        found.append(Refusal(f"uid/gid {hdr.uid}/{hdr.gid} out of range"))
    if not (0 <= hdr.devmajor <= _MAX_DEVICE and 0 <= hdr.devminor <= _MAX_DEVICE):
        found.append(Refusal(f"device {hdr.devmajor}:{hdr.devminor} out of range"))
    for stamp in (hdr.mtime_ns, hdr.atime_ns):
        if stamp is not None and not _NS_RANGE[0] <= stamp <= _NS_RANGE[1]:
            found.append(Refusal(f"time {stamp // 1_000_000_000} s out of range"))
    parent, _, base = name.rpartition("/")
    if not name:
        if hdr.kind is not _DIR:
            found.append(
                Refusal(
                    f"refusing to change the root directory into a {hdr.kind.value}", unsafe=True
                )
            )
    elif whiteout.is_whiteout(base):
        target = base[len(whiteout.PREFIX) :]
        if not target:
            found.append(Refusal("invalid whiteout: empty name", whiteout=True))
        elif target in (".", ".."):
            found.append(Refusal(f"invalid whiteout of {target!r}", unsafe=True, whiteout=True))
        # Only the directory is walked (a too-long target removes nothing).
        if len(parent) > _SHORT_NAME and _long_component(parent):
            found.append(_TOO_LONG)
        return found
    elif len(name) > _SHORT_NAME and _long_component(name):
        found.append(_TOO_LONG)
    kind = hdr.kind
    if kind is _HARDLINK:
        target = clean_path(hdr.linkname)
        if not target:
            found.append(Refusal("hardlink to the root directory"))
        elif len(target) > _SHORT_NAME and _long_component(target):
            found.append(Refusal(f"hardlink target has a component longer than {NAME_MAX} bytes"))
        return found  # a hardlink carries no metadata of its own
    if kind is _SYMLINK:
        link = hdr.linkname
        if not link:
            found.append(Refusal("symlink with an empty target"))
        elif len(link) > SYMLINK_MAX // 4 and len(os.fsencode(link)) > SYMLINK_MAX:
            found.append(Refusal(f"symlink target longer than {SYMLINK_MAX} bytes"))
    if hdr.xattrs:
        found.extend(_xattr_refusals(hdr.xattrs))
    return found


def check_entry(hdr: TarHeader, name: str) -> None:
    """Raise the first of :func:`refusals`, if any (LayerError, UnsafePathError)."""
    found = refusals(hdr, name)
    if found:
        raise found[0].error(hdr.name)


def _xattr_refusals(xattrs: dict[str, bytes]) -> list[Refusal]:
    found = []
    for key, value in xattrs.items():
        if not key or "\0" in key:
            found.append(Refusal(f"invalid xattr name {key!r}"))
        elif key in FORBIDDEN_XATTRS:
            continue  # never set, so never refused
        elif len(os.fsencode(key)) > XATTR_NAME_MAX:
            found.append(Refusal(f"xattr name {key[:32]!r}... longer than {XATTR_NAME_MAX} bytes"))
        elif len(value) > XATTR_SIZE_MAX:
            found.append(
                Refusal(f"xattr {key!r} value of {len(value)} bytes (at most {XATTR_SIZE_MAX})")
            )
    return found


def _long_component(path: str) -> bool:
    return any(
        len(part) > _SHORT_NAME and len(os.fsencode(part)) > NAME_MAX for part in path.split("/")
    )
