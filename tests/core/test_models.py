"""oci.models / gojson / timefmt / refs: Go-identical encoding and hostile JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from umoci.errors import BlobInvalidError, InvalidRefError, UsageError
from umoci.oci import gojson, mediatypes
from umoci.oci.models import Descriptor, ImageConfig, Index, Manifest
from umoci.oci.refs import check_tag, is_valid_tag, parse_image_ref
from umoci.oci.timefmt import GoTime, parse_time


def _blobs(vectors: Path) -> list[Path]:
    return sorted((vectors / "json-blobs").glob("v*/blobs/sha256/*"))


def test_vector_blobs_round_trip_byte_identical(vectors: Path) -> None:
    blobs = _blobs(vectors)
    assert len(blobs) >= 8
    for blob in blobs:
        data = blob.read_bytes()
        if b'"schemaVersion"' in data:
            model: Manifest | ImageConfig = Manifest.from_bytes(data, mediatypes.MANIFEST)
        else:
            model = ImageConfig.from_bytes(data)
        assert gojson.dumps_blob(model.to_json()) == data, blob


def test_vector_index_round_trip(vectors: Path) -> None:
    for path in (vectors / "json-blobs").glob("v*/index.json"):
        data = path.read_bytes()
        index = Index.from_bytes(data, mediatypes.INDEX, whole=True)
        assert gojson.dumps_blob(index.to_json()) == data


def test_go_escapes_html_characters_and_keeps_utf8() -> None:
    assert gojson.dumps({"a": "<&>ü\u2028"}) == '{"a":"\\u003c\\u0026\\u003eü\\u2028"}'
    assert gojson.dumps_blob([]) == b"[]\n"


def test_indent_matches_go_marshal_indent() -> None:
    assert gojson.dumps_indent({"a": [], "b": {}, "c": [1]}) == (
        '{\n\t"a": [],\n\t"b": {},\n\t"c": [\n\t\t1\n\t]\n}'
    )


def test_unknown_fields_are_preserved() -> None:
    doc = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Healthcheck": {"Test": ["CMD"]}, "User": "1"},
        "rootfs": {"type": "layers", "diff_ids": []},
        "container_config": {"Hostname": "x"},
    }
    out = ImageConfig.from_json(doc).to_json()
    assert out["container_config"] == {"Hostname": "x"}
    assert out["config"] == {"User": "1", "Healthcheck": {"Test": ["CMD"]}}


@pytest.mark.parametrize(
    "doc",
    [
        {"architecture": 1, "os": "linux"},
        {"config": []},
        {"config": {"Env": "PATH=/bin"}},
        {"config": {"Env": [1]}},
        {"config": {"Labels": {"a": 1}}},
        {"config": {"ExposedPorts": {"80/tcp": 1}}},
        {"rootfs": {"diff_ids": ["nope"]}},
        {"history": [{"created": "yesterday"}]},
        {"history": {"created": "2020-01-01T00:00:00Z"}},
        {"history": [{"empty_layer": "yes"}]},
        {"created": 5},
    ],
)
def test_hostile_config_json_is_refused(doc: dict[str, object]) -> None:
    with pytest.raises(BlobInvalidError):
        ImageConfig.from_json(doc)


DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    "desc",
    [
        {"mediaType": "x", "digest": DIGEST, "size": -1},
        {"mediaType": "x", "digest": DIGEST, "size": "1"},
        {"mediaType": "x", "digest": DIGEST, "size": True},
        {"mediaType": "x", "digest": DIGEST, "size": 2**63},
        {"mediaType": "x", "digest": DIGEST},
        {"mediaType": "x", "size": 1},
        {"mediaType": "x", "digest": "sha256:abc", "size": 1},
        {"mediaType": "x", "digest": "md5:" + "a" * 32, "size": 1},
        {"mediaType": "x", "digest": "sha256:" + "A" * 64, "size": 1},
        {"mediaType": "x", "digest": "sha256/../../x", "size": 1},
    ],
)
def test_bad_descriptors_are_refused(desc: dict[str, object]) -> None:
    with pytest.raises(BlobInvalidError):
        Descriptor.from_json(desc)


def test_manifest_media_type_must_match_descriptor() -> None:
    doc = {
        "schemaVersion": 2,
        "mediaType": mediatypes.INDEX,
        "config": {"mediaType": mediatypes.CONFIG, "digest": DIGEST, "size": 1},
        "layers": [],
    }
    with pytest.raises(BlobInvalidError, match="does not match"):
        Manifest.from_json(doc, mediatypes.MANIFEST)
    doc["mediaType"] = mediatypes.MANIFEST
    doc["manifests"] = []
    with pytest.raises(BlobInvalidError, match="manifests"):
        Manifest.from_json(doc, mediatypes.MANIFEST)


def test_index_with_manifest_fields_is_refused() -> None:
    doc = {"schemaVersion": 2, "manifests": [], "layers": []}
    with pytest.raises(BlobInvalidError):
        Index.from_json(doc, mediatypes.INDEX)


def test_bad_json_bytes() -> None:
    # null is Go's zero manifest, which has no config descriptor.
    for data in (b"{", b"[]", b"\xff\xfe", b"null", b'"x"', b"[" * 100000):
        with pytest.raises(BlobInvalidError):
            Manifest.from_bytes(data, mediatypes.MANIFEST)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-09-05T13:05:10.12345+10:00", "2025-09-05T13:05:10.12345+10:00"),
        ("2025-09-05T13:05:10.000000000Z", "2025-09-05T13:05:10Z"),
        ("2025-09-05T13:05:10+00:00", "2025-09-05T13:05:10Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
        ("1969-12-31T23:59:59.5-01:30", "1969-12-31T23:59:59.5-01:30"),
        # What Go's time.Parse also accepts (written by other tools).
        ("0000-01-01T00:00:00Z", "0000-01-01T00:00:00Z"),
        ("2023-11-14T2:13:20Z", "2023-11-14T02:13:20Z"),
        ("2023-11-14T22:13:20,5Z", "2023-11-14T22:13:20.5Z"),
        ("2023-11-14T22:13:20.1234567891234Z", "2023-11-14T22:13:20.123456789Z"),
        ("2023-11-14T22:13:20-00:00", "2023-11-14T22:13:20Z"),
        ("2023-11-14T22:13:20+23:60", "2023-11-14T22:13:20+24:00"),
        ("2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"),
    ],
)
def test_time_round_trip(text: str, expected: str) -> None:
    assert parse_time(text).format() == expected


@pytest.mark.parametrize(
    "text",
    [
        "2025-13-01T00:00:00Z",
        "2025-01-01",
        "now",
        "2025-01-01T00:00:00",
        "2023-02-29T00:00:00Z",
        "2023-11-14t22:13:20Z",
        "2023-11-14T22:13:20z",
        "2023-11-14T24:00:00Z",
        "2023-11-14T22:13:20+25:00",
        "2023-11-14T22:13:20.Z",
    ],
)
def test_time_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="time"):
        parse_time(text)


def test_time_from_unix() -> None:
    assert GoTime.from_unix(1700000000).format() == "2023-11-14T22:13:20Z"


def test_time_arithmetic_matches_datetime() -> None:
    import random
    from datetime import UTC, datetime, timedelta, timezone

    rng = random.Random(7)
    for _ in range(500):
        year, month, day = rng.randint(1, 9999), rng.randint(1, 12), rng.randint(1, 28)
        hour, minute, second = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
        offset = rng.randint(-23 * 60, 23 * 60)
        sign = "+" if offset >= 0 else "-"
        text = (
            f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
            f"{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
        )
        parsed = parse_time(text)
        when = datetime(
            year, month, day, hour, minute, second, tzinfo=timezone(timedelta(minutes=offset))
        )
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        assert parsed.unix_ns // 1_000_000_000 == (when - epoch) // timedelta(seconds=1)
        assert parsed.format() == (text if offset else text[:-6] + "Z")


@pytest.mark.parametrize("tag", ["latest", "a.b-c_d", "v1.0+build", "a/b/c", "a--b", "x:y@z"])
def test_valid_tags(tag: str) -> None:
    assert is_valid_tag(tag)
    assert check_tag(tag) == tag


@pytest.mark.parametrize("tag", ["", "-a", "a-", "a//b", "/a", "a b", "a/", "ü", "a..", "a\n"])
def test_invalid_tags(tag: str) -> None:
    assert not is_valid_tag(tag)
    with pytest.raises(InvalidRefError):
        check_tag(tag)


def test_parse_image_ref() -> None:
    assert parse_image_ref("img").tag == "latest"
    ref = parse_image_ref("dir/img:v1:x")
    assert (ref.layout, ref.tag) == ("dir/img", "v1:x")
    with pytest.raises(UsageError):
        parse_image_ref(":tag")
    with pytest.raises(InvalidRefError):
        parse_image_ref("img:")
    with pytest.raises(InvalidRefError):
        parse_image_ref("img:bad tag")


def test_index_encodes_empty_manifests_as_array() -> None:
    assert json.loads(gojson.dumps(Index().to_json()))["manifests"] == []
