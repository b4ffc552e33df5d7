"""Protocol buffer varints, shared by the two messages we write by hand.

``user.rootlesscontainers`` (layer/rootless_xattr.py) and the pprof profile
(pprof.py) are small fixed messages; a protobuf library would cost every
run its import for a dozen lines of encoding.

Internal: not part of the public API (:mod:`umoci.api`).
"""

from __future__ import annotations


def varint(value: int) -> bytes:
    """The base-128 varint of ``value``; a negative int64 is sent as its two's complement."""
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
