"""``umoci.json``: how a bundle was unpacked, so repack can find its image and id maps again.

The document itself -- its model, how Go decodes it and the bytes Go
writes -- is :class:`umoci.oci.umocijson.BundleMeta`; this module reads
and writes the file in a bundle.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence

from umoci.cas.layoutcheck import describe, read_regular
from umoci.errors import BundleError
from umoci.idmap import IdMap
from umoci.oci.models import Descriptor
from umoci.oci.umocijson import BundleMeta
from umoci.runtime.atomic import write_atomic

META_NAME = "umoci.json"

# umoci.json is a few hundred bytes; anything near this is not ours.
MAX_META_BYTES = 16 << 20


def umoci_json(
    descriptor_walk: Sequence[Descriptor],
    *,
    rootless: bool,
    uid_maps: Sequence[IdMap],
    gid_maps: Sequence[IdMap],
) -> bytes:
    """The bytes of ``umoci.json`` for an unpack from ``descriptor_walk`` (index -> manifest)."""
    meta = BundleMeta(
        descriptor_walk=tuple(descriptor_walk),
        rootless=rootless,
        uid_maps=tuple(uid_maps),
        gid_maps=tuple(gid_maps),
    )
    return meta.to_json()


def parse_umoci_json(data: bytes) -> BundleMeta:
    """Parse ``umoci.json`` bytes; :class:`BundleError` on anything Go would refuse."""
    return BundleMeta.from_bytes(data)


def write_bundle_meta(bundle: str, meta: BundleMeta) -> None:
    """Write ``<bundle>/umoci.json`` atomically."""
    write_atomic(os.path.join(bundle, META_NAME), meta.to_json())


def read_bundle_meta(bundle: str) -> BundleMeta:
    """Read and parse ``<bundle>/umoci.json`` (a regular file, size-capped)."""
    path = os.path.join(bundle, META_NAME)
    try:
        data = read_regular(path, MAX_META_BYTES)
    except FileNotFoundError:
        if os.path.isdir(os.path.join(bundle, ROOTFS)):
            # umoci.json is the last file unpack writes: without it the
            # rootfs may be half-extracted, and repacking it would record
            # every missing file as deleted.
            raise BundleError(
                f"open metadata: {path}: missing: the bundle is incomplete "
                "(an unpack did not finish); unpack it again"
            ) from None
        raise BundleError(f"open metadata: {path}: {os.strerror(2)}") from None
    except OSError as e:
        raise BundleError(f"open metadata: {path}: {describe(e)}") from None
    return parse_umoci_json(data)


#: A bundle's root filesystem directory, beside config.json and umoci.json.
ROOTFS = "rootfs"


def bundle_rootfs(bundle: str) -> str:
    """The path of *bundle*'s rootfs, refused unless it is a real directory.

    A ``rootfs`` that is a symlink would make repack pack (and validate walk)
    whatever it points at, ``/etc`` included, into a layer; the Go umoci 0.6
    crashes on it.  Nothing in a bundle we unpacked is ever a link there.
    """
    rootfs = os.path.join(bundle, ROOTFS)
    try:
        st = os.lstat(rootfs)
    except FileNotFoundError:
        raise BundleError(f"{rootfs}: missing") from None
    except OSError as err:
        raise BundleError(f"{rootfs}: {describe(err)}") from None
    if stat.S_ISLNK(st.st_mode):
        raise BundleError(f"{rootfs}: is a symlink, not the bundle's own directory")
    if not stat.S_ISDIR(st.st_mode):
        raise BundleError(f"{rootfs}: not a directory")
    return rootfs


__all__ = [
    "MAX_META_BYTES",
    "META_NAME",
    "ROOTFS",
    "BundleMeta",
    "bundle_rootfs",
    "parse_umoci_json",
    "read_bundle_meta",
    "umoci_json",
    "write_bundle_meta",
]
