"""The ``user.rootlesscontainers`` xattr: who a file *should* belong to.

A rootless unpack cannot chown, so the owner a layer asks for is kept in this
xattr (the rootless-containers ``Resource`` protobuf message) and read back
when repacking.  The message has two ``uint32`` fields, ``uid = 1`` and
``gid = 2``; ``0xFFFFFFFF`` ("NoopID", ``(uint32_t) -1`` as in chown(2))
means "unchanged", and a *missing* field decodes to 0 -- proto3 cannot tell
"unset" from zero, which is exactly why "root" is written as NoopID.

The Go umoci's rules, mirrored here: an id of 0 is stored as NoopID, and the
xattr is omitted entirely when both ids are 0 (the files already belong to
the unpacking user, who plays container root).  Two varint fields do not
justify a protobuf dependency, so the wire format is written by hand.
"""

from __future__ import annotations

from umoci.errors import LayerError
from umoci.protowire import varint
from umoci.structs import dataclass

XATTR_NAME = "user.rootlesscontainers"
NOOP_ID = 0xFFFFFFFF

_UID_FIELD = 1
_GID_FIELD = 2
_WIRE_VARINT, _WIRE_I64, _WIRE_LEN, _WIRE_I32 = 0, 1, 2, 5


@dataclass(frozen=True)
class Resource:
    """The decoded message: raw field values (NOOP_ID means "unchanged")."""

    uid: int = 0
    gid: int = 0


def encode(resource: Resource) -> bytes:
    """Serialise like protobuf does: fields in number order, zero values omitted."""
    out = b""
    for number, value in ((_UID_FIELD, resource.uid), (_GID_FIELD, resource.gid)):
        if not 0 <= value <= NOOP_ID:
            raise ValueError(f"rootlesscontainers: id {value} out of uint32 range")
        if value:
            out += varint(number << 3 | _WIRE_VARINT) + varint(value)
    return out


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise LayerError(f"decode {XATTR_NAME}: truncated or overlong varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def decode(data: bytes) -> Resource:
    """Parse the message; unknown fields are skipped as protobuf requires."""
    uid = gid = 0
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 0x07
        if wire == _WIRE_VARINT:
            value, pos = _read_varint(data, pos)
            # uint32 fields parse a 64-bit varint and keep the low 32 bits.
            if number == _UID_FIELD:
                uid = value & 0xFFFFFFFF
            elif number == _GID_FIELD:
                gid = value & 0xFFFFFFFF
        elif wire == _WIRE_I64:
            pos += 8
        elif wire == _WIRE_I32:
            pos += 4
        elif wire == _WIRE_LEN:
            length, pos = _read_varint(data, pos)
            pos += length
        else:
            raise LayerError(f"decode {XATTR_NAME}: unsupported wire type {wire}")
        if pos > len(data):
            raise LayerError(f"decode {XATTR_NAME}: truncated field {number}")
    return Resource(uid, gid)


def owner_to_xattr(uid: int, gid: int) -> bytes | None:
    """The xattr value recording container owner ``uid:gid``; ``None`` for ``0:0``."""
    resource = Resource(uid or NOOP_ID, gid or NOOP_ID)
    if resource == Resource(NOOP_ID, NOOP_ID):
        return None
    return encode(resource)


def owner_from_xattr(data: bytes) -> tuple[int | None, int | None]:
    """The container owner recorded in ``data``; ``None`` for an id left unchanged."""
    resource = decode(data)
    return (
        None if resource.uid == NOOP_ID else resource.uid,
        None if resource.gid == NOOP_ID else resource.gid,
    )
