"""``umoci.json``: how a bundle was unpacked, so repack can find its image and id maps again.

The Go umoci writes ``Meta`` with ``json.NewEncoder(f).Encode``: compact,
fields in struct order, a trailing newline::

    {"umoci_version":"2",
     "from_descriptor_path":{"descriptor_walk":[<descriptor>, ...]},
     "map_options":{"uid_mappings":<maps or null>,"gid_mappings":...,"rootless":false}}

Absent id maps are ``null`` (a nil Go slice), not ``[]``.  Descriptors pass
through Go's ``ispec.Descriptor`` struct on the way, so they come out in its
field order with unknown fields dropped and empty optional fields omitted;
:func:`normalize_descriptor` does the same so our bytes match.

Reading is for repack and treats the file as untrusted: any shape Go's
decoder would refuse is a :class:`BundleError`, as are a version other than
``"2"`` and the deprecated ``whiteout_mode``.  Like Go's ``Decoder``, only
the first JSON value in the file is read.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import stat
from collections.abc import Mapping, Sequence

from umoci.cas.layoutcheck import describe, read_regular
from umoci.errors import BlobInvalidError, BundleError
from umoci.idmap import IdMap
from umoci.oci.gojson import dumps_blob
from umoci.runtime import godecode as gd
from umoci.runtime.atomic import write_atomic
from umoci.structs import dataclass

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import Any

META_NAME = "umoci.json"
META_VERSION = "2"

# umoci.json is a few hundred bytes; anything near this is not ours.
MAX_META_BYTES = 16 << 20

_INT64 = (-(2**63), 2**63 - 1)
_UINT32 = (0, 2**32 - 1)
_INT = _INT64  # Go int on 64-bit

_DESCRIPTOR_FIELDS = (
    "mediaType",
    "digest",
    "size",
    "urls",
    "annotations",
    "data",
    "platform",
    "artifactType",
)
_PLATFORM_FIELDS = ("architecture", "os", "os.version", "os.features", "variant")
_IDMAP_FIELDS = ("containerID", "hostID", "size")


@dataclass(frozen=True)
class BundleMeta:
    """The contents of ``umoci.json``; descriptors are already Go-normalised dicts."""

    descriptor_walk: tuple[dict[str, Any], ...]
    rootless: bool = False
    uid_maps: tuple[IdMap, ...] = ()
    gid_maps: tuple[IdMap, ...] = ()

    def to_json(self) -> bytes:
        """The exact bytes the Go umoci writes for this metadata."""
        return umoci_json(
            list(self.descriptor_walk),
            rootless=self.rootless,
            uid_maps=self.uid_maps,
            gid_maps=self.gid_maps,
        )


def normalize_descriptor(
    value: object, where: str = "descriptor", error: gd.ErrorType = BlobInvalidError
) -> dict[str, Any]:
    """A descriptor as Go's ``ispec.Descriptor`` (image-spec v1.1) re-encodes it."""
    d = gd.fields(value, _DESCRIPTOR_FIELDS, where, error)
    out: dict[str, Any] = {
        "mediaType": gd.string(d.get("mediaType"), f"{where}.mediaType", error),
        "digest": gd.string(d.get("digest"), f"{where}.digest", error),
        "size": gd.integer(d.get("size"), f"{where}.size", error, lo=_INT64[0], hi=_INT64[1]),
    }
    urls = gd.string_list(d.get("urls"), f"{where}.urls", error)
    if urls:
        out["urls"] = urls
    annotations = gd.string_map(d.get("annotations"), f"{where}.annotations", error)
    if annotations:
        out["annotations"] = dict(sorted(annotations.items()))
    data = _bytes(d.get("data"), f"{where}.data", error)
    if data:
        out["data"] = base64.b64encode(data).decode("ascii")
    if d.get("platform") is not None:
        out["platform"] = _platform(d["platform"], f"{where}.platform", error)
    artifact_type = gd.string(d.get("artifactType"), f"{where}.artifactType", error)
    if artifact_type:
        out["artifactType"] = artifact_type
    return out


def _bytes(value: object, where: str, error: gd.ErrorType) -> bytes:
    # Go decodes []byte from standard base64, skipping CR and LF.
    text = gd.string(value, where, error)
    try:
        return base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        raise error(f"{where}: invalid base64 data") from None


def _platform(value: object, where: str, error: gd.ErrorType) -> dict[str, Any]:
    p = gd.fields(value, _PLATFORM_FIELDS, where, error)
    out: dict[str, Any] = {
        "architecture": gd.string(p.get("architecture"), f"{where}.architecture", error),
        "os": gd.string(p.get("os"), f"{where}.os", error),
    }
    os_version = gd.string(p.get("os.version"), f"{where}.os.version", error)
    if os_version:
        out["os.version"] = os_version
    features = gd.string_list(p.get("os.features"), f"{where}.os.features", error)
    if features:
        out["os.features"] = features
    variant = gd.string(p.get("variant"), f"{where}.variant", error)
    if variant:
        out["variant"] = variant
    return out


def umoci_json(
    descriptor_walk: Sequence[Mapping[str, Any]],
    *,
    rootless: bool,
    uid_maps: Sequence[IdMap],
    gid_maps: Sequence[IdMap],
) -> bytes:
    """The bytes of ``umoci.json`` for an unpack from ``descriptor_walk`` (index -> manifest).

    Raises :class:`BlobInvalidError` if a descriptor has a shape Go would refuse.
    """
    walk = [normalize_descriptor(d, f"descriptor_walk[{i}]") for i, d in enumerate(descriptor_walk)]
    meta = {
        "umoci_version": META_VERSION,
        "from_descriptor_path": {"descriptor_walk": walk or None},
        "map_options": {
            "uid_mappings": [m.to_json() for m in uid_maps] or None,
            "gid_mappings": [m.to_json() for m in gid_maps] or None,
            "rootless": rootless,
        },
    }
    return dumps_blob(meta)


def _reject_constant(name: str) -> object:
    raise ValueError(f"invalid JSON value {name}")


def parse_umoci_json(data: bytes) -> BundleMeta:
    """Parse ``umoci.json`` bytes; :class:`BundleError` on anything Go would refuse."""
    text = data.decode("utf-8", "replace")  # Go decodes bad UTF-8 as U+FFFD
    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    try:
        start = len(text) - len(text.lstrip(" \t\r\n"))
        obj, _ = decoder.raw_decode(text, start)
    except (ValueError, RecursionError) as e:  # nesting deeper than the C stack allows
        raise BundleError(f"decode umoci.json: {e}") from None
    err = BundleError
    top = gd.fields(
        obj,
        ("umoci_version", "from_descriptor_path", "map_options", "whiteout_mode"),
        "decode umoci.json",
        err,
    )
    version = gd.string(top.get("umoci_version"), "decode umoci.json: umoci_version", err)
    if version != META_VERSION:
        raise BundleError(f"decode umoci.json: unsupported version {json.dumps(version)}")
    whiteout = gd.integer(
        top.get("whiteout_mode"), "decode umoci.json: whiteout_mode", err, lo=_INT[0], hi=_INT[1]
    )
    if whiteout != 0:
        raise BundleError(
            f"decode umoci.json: deprecated (broken) whiteout_mode field set ({whiteout})"
        )
    where = "decode umoci.json: from_descriptor_path"
    path = gd.fields(top.get("from_descriptor_path"), ("descriptor_walk",), where, err)
    walk = gd.array(path.get("descriptor_walk"), f"{where}.descriptor_walk", err)
    descriptors = tuple(
        normalize_descriptor(d, f"{where}.descriptor_walk[{i}]", err) for i, d in enumerate(walk)
    )
    where = "decode umoci.json: map_options"
    opts = gd.fields(
        top.get("map_options"), ("uid_mappings", "gid_mappings", "rootless"), where, err
    )
    return BundleMeta(
        descriptor_walk=descriptors,
        rootless=gd.boolean(opts.get("rootless"), f"{where}.rootless", err),
        uid_maps=_id_maps(opts.get("uid_mappings"), f"{where}.uid_mappings"),
        gid_maps=_id_maps(opts.get("gid_mappings"), f"{where}.gid_mappings"),
    )


def _id_maps(value: object, where: str) -> tuple[IdMap, ...]:
    maps = []
    for i, item in enumerate(gd.array(value, where, BundleError)):
        f = gd.fields(item, _IDMAP_FIELDS, f"{where}[{i}]", BundleError)
        c, h, s = (
            gd.integer(f.get(n), f"{where}[{i}].{n}", BundleError, lo=_UINT32[0], hi=_UINT32[1])
            for n in _IDMAP_FIELDS
        )
        maps.append(IdMap(container_id=c, host_id=h, size=s))
    return tuple(maps)


def write_bundle_meta(bundle: str, meta: BundleMeta) -> None:
    """Write ``<bundle>/umoci.json`` atomically."""
    write_atomic(os.path.join(bundle, META_NAME), meta.to_json())


def read_bundle_meta(bundle: str) -> BundleMeta:
    """Read and parse ``<bundle>/umoci.json`` (a regular file, size-capped)."""
    path = os.path.join(bundle, META_NAME)
    try:
        data = read_regular(path, MAX_META_BYTES)
    except FileNotFoundError:
        if os.path.isdir(os.path.join(bundle, "rootfs")):
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
