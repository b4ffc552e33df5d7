"""The user.rootlesscontainers protobuf, encoded and decoded by hand."""

from __future__ import annotations

import pytest

from umoci.errors import LayerError
from umoci.layer import rootless_xattr as rx


@pytest.mark.parametrize(
    ("uid", "gid", "encoded"),
    [
        (1000, 1000, "08e80710e807"),  # the bundle vector: a 1000:1000 directory
        (1000, 0, "08e80710ffffffff0f"),  # gid 0 is written as NoopID
        (0, 5, "08ffffffff0f1005"),
        (1, 1, "08011001"),
        (2**32 - 2, 300, "08feffffff0f10ac02"),
    ],
)
def test_encode(uid, gid, encoded):
    assert rx.owner_to_xattr(uid, gid) == bytes.fromhex(encoded)


def test_root_owner_has_no_xattr():
    assert rx.owner_to_xattr(0, 0) is None


def test_roundtrip():
    for uid in (0, 1, 127, 128, 1000, 65534, 2**31, 2**32 - 2):
        for gid in (0, 3, 65535):
            data = rx.owner_to_xattr(uid, gid)
            if data is None:
                continue
            assert rx.owner_from_xattr(data) == (uid or None, gid or None)


def test_decode_semantics():
    # A missing field is a literal 0 (proto3), NoopID means "unchanged".
    assert rx.decode(b"") == rx.Resource(0, 0)
    assert rx.owner_from_xattr(b"") == (0, 0)
    assert rx.owner_from_xattr(bytes.fromhex("08ffffffff0f")) == (None, 0)
    # Unknown fields of every wire type are skipped; the last value wins.
    data = bytes.fromhex("18012103000000000000002a0568656c6c6f2d0102030408050807")
    assert rx.decode(data) == rx.Resource(7, 0)


@pytest.mark.parametrize("hexdata", ["08", "08ff", "2a05aa", "0f", "2d0102"])
def test_decode_errors(hexdata):
    with pytest.raises(LayerError):
        rx.decode(bytes.fromhex(hexdata))


def test_encode_range():
    with pytest.raises(ValueError, match="uint32"):
        rx.encode(rx.Resource(2**32, 0))
