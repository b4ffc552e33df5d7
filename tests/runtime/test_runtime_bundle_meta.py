"""umoci.json: exact bytes on write, strict shapes on read."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from umoci.errors import BlobInvalidError, BundleError
from umoci.idmap import IdMap
from umoci.oci.models import Descriptor
from umoci.runtime import (
    BundleMeta,
    parse_umoci_json,
    read_bundle_meta,
    umoci_json,
    write_bundle_meta,
)

DIGEST = "sha256:" + "ab" * 32
MANIFEST = {
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": DIGEST,
    "size": 458,
    "annotations": {"org.opencontainers.image.ref.name": "latest"},
}
WALK = (Descriptor.from_json(MANIFEST),)


def meta_doc(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "umoci_version": "2",
        "from_descriptor_path": {"descriptor_walk": [MANIFEST]},
        "map_options": {"uid_mappings": None, "gid_mappings": None, "rootless": False},
    }
    doc.update(overrides)
    return doc


def test_shape_and_nulls() -> None:
    data = umoci_json(WALK, rootless=False, uid_maps=(), gid_maps=())
    assert data.endswith(b"}\n")
    assert data.count(b"\n") == 1
    assert b'"map_options":{"uid_mappings":null,"gid_mappings":null,"rootless":false}' in data


def test_maps_written_in_order() -> None:
    maps = (IdMap(0, 1000, 1), IdMap(1, 100000, 65536))
    data = umoci_json(WALK, rootless=True, uid_maps=maps, gid_maps=())
    doc = json.loads(data)
    assert doc["map_options"] == {
        "uid_mappings": [
            {"containerID": 0, "hostID": 1000, "size": 1},
            {"containerID": 1, "hostID": 100000, "size": 65536},
        ],
        "gid_mappings": None,
        "rootless": True,
    }
    assert parse_umoci_json(data).uid_maps == maps


def test_descriptor_goes_through_go_struct() -> None:
    raw = {
        "annotations": {"b": "2", "a": "1"},
        "size": 3,
        "extra": "dropped",
        "urls": [],
        "digest": DIGEST,
        "platform": {"os": "linux", "architecture": "amd64", "variant": "", "features": ["x"]},
        "data": "aGk=\n",
        "mediaType": "m",
        "artifactType": "",
    }
    data = umoci_json([Descriptor.from_json(raw)], rootless=False, uid_maps=(), gid_maps=())
    written = json.loads(data)["from_descriptor_path"]["descriptor_walk"][0]
    assert list(written.items()) == [
        ("mediaType", "m"),
        ("digest", DIGEST),
        ("size", 3),
        ("annotations", {"a": "1", "b": "2"}),
        ("data", "aGk="),
        ("platform", {"architecture": "amd64", "os": "linux"}),
    ]
    assert list(written["annotations"]) == ["a", "b"]


@pytest.mark.parametrize(
    "descriptor",
    [
        [],
        {"size": "3"},
        {"size": 1.0},
        {"size": True},
        {"size": 2**63},
        {"digest": 5},
        {"annotations": {"a": 1}},
        {"urls": "x"},
        {"data": "not base64!"},
        {"platform": "linux"},
    ],
)
def test_bad_descriptor_refused(descriptor: Any) -> None:
    # umoci_json() writes typed descriptors: a shape Go refuses never gets
    # that far, neither from a blob nor from umoci.json itself.
    value = {**MANIFEST, **descriptor} if isinstance(descriptor, dict) else descriptor
    with pytest.raises(BlobInvalidError):
        Descriptor.from_json(value)
    bad = meta_doc(from_descriptor_path={"descriptor_walk": [value]})
    with pytest.raises(BundleError, match="descriptor_walk"):
        parse_umoci_json(json.dumps(bad).encode())


def test_parse_round_trip_and_first_value_only() -> None:
    data = umoci_json(WALK, rootless=False, uid_maps=(), gid_maps=())
    meta = parse_umoci_json(b" \n" + data + b"trailing garbage")
    assert meta == BundleMeta(descriptor_walk=WALK)
    assert meta.to_json() == data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "decode umoci.json"),
        (b"[]", "expected object"),
        (b"null", "decode umoci.json: unsupported version"),
        (json.dumps(meta_doc(umoci_version="1")).encode(), 'version "1"'),
        (json.dumps(meta_doc(umoci_version=2)).encode(), "expected string"),
        (json.dumps(meta_doc(whiteout_mode=1)).encode(), r"whiteout_mode field set \(1\)"),
        (json.dumps(meta_doc(whiteout_mode="x")).encode(), "expected integer"),
        (json.dumps(meta_doc(from_descriptor_path=[])).encode(), "expected object"),
        (json.dumps(meta_doc(from_descriptor_path={"descriptor_walk": {}})).encode(), "array"),
        (
            json.dumps(
                meta_doc(from_descriptor_path={"descriptor_walk": [{"size": "1"}]})
            ).encode(),
            "size",
        ),
        (json.dumps(meta_doc(map_options=5)).encode(), "expected object"),
        (json.dumps(meta_doc(map_options={"rootless": "yes"})).encode(), "expected bool"),
        (json.dumps(meta_doc(map_options={"uid_mappings": [{"size": -1}]})).encode(), "range"),
        (json.dumps(meta_doc(map_options={"uid_mappings": [{"size": 2**32}]})).encode(), "range"),
        (json.dumps(meta_doc(map_options={"gid_mappings": [{"hostID": 1.5}]})).encode(), "integer"),
        (json.dumps(meta_doc(map_options={"gid_mappings": ["0:0:1"]})).encode(), "object"),
        (b'{"umoci_version":"2","whiteout_mode":NaN}', "NaN"),
    ],
)
def test_parse_refuses_bad_shapes(data: bytes, message: str) -> None:
    with pytest.raises(BundleError, match=message):
        parse_umoci_json(data)


def test_parse_is_case_insensitive_like_go() -> None:
    doc = {
        "UMOCI_VERSION": "2",
        "From_Descriptor_Path": {"Descriptor_Walk": [MANIFEST]},
        "map_options": {"Rootless": True, "uid_mappings": [{"containerid": 1, "HOSTID": 2}]},
    }
    meta = parse_umoci_json(json.dumps(doc).encode())
    assert meta.rootless
    assert meta.uid_maps == (IdMap(1, 2, 0),)
    assert meta.descriptor_walk == WALK


def test_read_and_write(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="open metadata"):
        read_bundle_meta(str(tmp_path))
    meta = BundleMeta(descriptor_walk=WALK, rootless=True, uid_maps=(IdMap(0, 5, 1),))
    write_bundle_meta(str(tmp_path), meta)
    assert read_bundle_meta(str(tmp_path)) == meta
    assert sorted(os.listdir(tmp_path)) == ["umoci.json"]


def test_read_refuses_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "umoci.json")
    with pytest.raises(BundleError, match="not a regular file"):
        read_bundle_meta(str(tmp_path))


def test_parse_refuses_nesting_deeper_than_the_decoder() -> None:
    # Found by tests/fuzz: json's C decoder raised RecursionError, which
    # escaped as an internal error.
    for data in (b"[" * 100_000, b'{"umoci_version":' * 50_000):
        with pytest.raises(BundleError, match=r"decode umoci\.json"):
            parse_umoci_json(data)
