"""``umoci.json``, the bundle metadata, as a model: decoded and encoded as the Go umoci does.

The Go umoci writes its ``Meta`` with ``json.NewEncoder(f).Encode``:
compact, fields in struct order, a trailing newline::

    {"umoci_version":"2",
     "from_descriptor_path":{"descriptor_walk":[<descriptor>, ...]},
     "map_options":{"uid_mappings":<maps or null>,"gid_mappings":...,"rootless":false}}

Absent id maps are ``null`` (a nil Go slice), not ``[]``.  Descriptors pass
through Go's ``ispec.Descriptor`` struct on the way, so they come out in
its field order with unknown fields dropped and empty optional fields
omitted (:meth:`Descriptor.go_struct`).

Reading treats the file as untrusted: it is decoded by the rules of
:mod:`umoci.oci.decode` (the first JSON value, as Go's ``json.Decoder``),
and any shape Go's decoder refuses is a :class:`BundleError`, as are a
version other than ``"2"`` and the deprecated ``whiteout_mode``.
"""

from __future__ import annotations

from umoci.errors import BundleError
from umoci.idmap import IdMap
from umoci.oci import decode
from umoci.oci.decode import BOOL, INT, STRING, UINT32, Context, Slice, Struct
from umoci.oci.gojson import dumps_blob
from umoci.oci.models import DESCRIPTOR_STRUCT, Descriptor
from umoci.structs import dataclass

META_VERSION = "2"
_WHAT = "decode umoci.json"


@dataclass(frozen=True)
class BundleMeta:
    """The contents of ``umoci.json``: where the bundle's image is, and its id maps."""

    descriptor_walk: tuple[Descriptor, ...]
    rootless: bool = False
    uid_maps: tuple[IdMap, ...] = ()
    gid_maps: tuple[IdMap, ...] = ()

    @classmethod
    def from_bytes(cls, data: bytes) -> BundleMeta:
        """Decode ``umoci.json``; :class:`BundleError` for anything Go refuses."""
        value = decode.parse(data, _WHAT, BundleError, first_value=True)
        meta = _META.document(value, Context(_WHAT, BundleError))
        assert isinstance(meta, BundleMeta)
        return meta

    def to_json(self) -> bytes:
        """The exact bytes the Go umoci writes for this metadata."""
        walk = [d.go_struct().to_json() for d in self.descriptor_walk]
        meta = {
            "umoci_version": META_VERSION,
            "from_descriptor_path": {"descriptor_walk": walk or None},
            "map_options": {
                "uid_mappings": [m.to_json() for m in self.uid_maps] or None,
                "gid_mappings": [m.to_json() for m in self.gid_maps] or None,
                "rootless": self.rootless,
            },
        }
        return dumps_blob(meta)


def _make_id_map(kw: dict[str, object], path: str, ctx: Context) -> IdMap:
    kw.pop("extra", None)
    return IdMap(**{"container_id": 0, "host_id": 0, "size": 0, **kw})  # type: ignore[arg-type]


# The runtime-spec's LinuxIDMapping, as umoci's MapOptions holds it.
_ID_MAP = Struct(
    (
        ("containerID", "container_id", UINT32),
        ("hostID", "host_id", UINT32),
        ("size", "size", UINT32),
    ),
    _make_id_map,
)

_DESCRIPTOR_PATH = Struct(
    (("descriptor_walk", "descriptor_walk", Slice(DESCRIPTOR_STRUCT)),),
    lambda kw, path, ctx: kw.get("descriptor_walk", ()),
)

_MAP_OPTIONS = Struct(
    (
        ("uid_mappings", "uid_maps", Slice(_ID_MAP)),
        ("gid_mappings", "gid_maps", Slice(_ID_MAP)),
        ("rootless", "rootless", BOOL),
    ),
    lambda kw, path, ctx: {k: v for k, v in kw.items() if k != "extra"},
)


def _make_meta(kw: dict[str, object], path: str, ctx: Context) -> BundleMeta:
    version = kw.get("version", "")
    if version != META_VERSION:
        from umoci.oci.gojson import dumps

        raise ctx.fail(path, f"unsupported version {dumps(version)}")
    whiteout = kw.get("whiteout_mode", 0)
    if whiteout != 0:
        raise ctx.fail(path, f"deprecated (broken) whiteout_mode field set ({whiteout})")
    options = kw.get("map_options", {})
    assert isinstance(options, dict)
    return BundleMeta(descriptor_walk=kw.get("walk", ()), **options)  # type: ignore[arg-type]


_META = Struct(
    (
        ("umoci_version", "version", STRING),
        ("from_descriptor_path", "walk", _DESCRIPTOR_PATH),
        ("map_options", "map_options", _MAP_OPTIONS),
        ("whiteout_mode", "whiteout_mode", INT),
    ),
    _make_meta,
)
