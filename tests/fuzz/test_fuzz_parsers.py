"""Fuzz targets: every parser of untrusted input parses it or raises an UmociError.

No other exception, no hang (each example has a deadline), no unbounded
memory.  Targets: the tar reader and the extractor behind it, the gzip and
zstd framing, the mtree parser, the one JSON decoder with every model
(oci-layout, index, manifest, config, descriptor, umoci.json; each model
read must also write back, and a config must convert to a runtime config or
be refused), gc's sniffing of blobs of unknown type, and the reference,
platform, id-map and duration parsers.  Crashers found become the
``@example`` rows (and regression tests elsewhere).
"""

from __future__ import annotations

import gzip
import io
import json
from typing import Any

import zstandard
from fuzzkit import FUZZ, fix_checksums, parses_or_refuses, seed_tars
from hypothesis import example, given
from hypothesis import strategies as st

from umoci import mtree
from umoci.compress import drain, open_decompressor
from umoci.durations import parse_duration
from umoci.idmap import parse_id_map
from umoci.layer.extract import ExtractOptions, LayerExtractor
from umoci.layer.tarstream import TarReader
from umoci.oci import decode, gojson, mediatypes
from umoci.oci.models import (
    Descriptor,
    ImageConfig,
    ImageLayout,
    Index,
    Manifest,
    referenced_descriptors,
)
from umoci.oci.platforms import parse_platform
from umoci.oci.refs import parse_image_ref
from umoci.runtime.bundle_meta import parse_umoci_json
from umoci.runtime.spec import runtime_config

SEEDS = seed_tars()

mutations = st.lists(st.tuples(st.integers(0, 8191), st.integers(0, 255)), max_size=12)


@st.composite
def mutated_tars(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for offset, value in draw(mutations):
        if offset < len(data):
            data[offset] = value
    if draw(st.booleans()):
        data = fix_checksums(data)
    cut = draw(st.integers(0, len(data)))
    return bytes(data[:cut] if draw(st.booleans()) else data)


def read_tar(data: bytes) -> None:
    reader = TarReader(io.BytesIO(data))
    while reader.next() is not None:
        for _ in reader.chunks():
            pass
    reader.drain()


@FUZZ
@given(mutated_tars() | st.binary(max_size=4096))
@example(b"\0" * 1024)
def test_tar_reader(data: bytes) -> None:
    parses_or_refuses(read_tar, data)


@FUZZ
@given(mutated_tars(), st.booleans())
def test_extractor(tmp_path_factory: Any, data: bytes, rootless: bool) -> None:
    base = tmp_path_factory.mktemp("extract")
    rootfs = base / "rootfs"
    rootfs.mkdir()
    extractor = LayerExtractor(rootfs, ExtractOptions(rootless=rootless))
    parses_or_refuses(extractor.apply, io.BytesIO(data))
    assert [p.name for p in base.iterdir()] == ["rootfs"], "nothing written beside the rootfs"


def _compressed_seeds() -> list[tuple[str, bytes]]:
    body = SEEDS[0]
    return [
        (mediatypes.LAYER_GZIP, gzip.compress(body)),
        (mediatypes.LAYER_ZSTD, zstandard.ZstdCompressor().compress(body)),
        (mediatypes.LAYER_GZIP, gzip.compress(body) + gzip.compress(body)),
    ]


@st.composite
def mutated_streams(draw: st.DrawFn) -> tuple[str, bytes]:
    media_type, data = draw(st.sampled_from(_compressed_seeds()))
    mutable = bytearray(data)
    for offset, value in draw(mutations):
        if offset < len(mutable):
            mutable[offset] = value
    return media_type, bytes(mutable[: draw(st.integers(0, len(mutable)))])


def decompress(media_type: str, data: bytes) -> None:
    drain(open_decompressor(media_type, io.BytesIO(data)))


@FUZZ
@given(
    mutated_streams()
    | st.tuples(st.sampled_from([mediatypes.LAYER_GZIP, mediatypes.LAYER_ZSTD]), st.binary())
)
def test_gzip_and_zstd_framing(case: tuple[str, bytes]) -> None:
    parses_or_refuses(decompress, *case)


MTREE_SEED = (
    b"#mtree v2.0\n/set type=file uid=0 gid=0 mode=0644\n. type=dir mode=0755\n"
    b"    a size=3 sha256digest=" + b"0" * 64 + b" xattr.user.x=dg==\n"
    b"    sub type=dir\n        l type=link link=../a tar_time=1.000000000\n        ..\n    ..\n"
)
mtree_lines = st.lists(
    st.sampled_from(
        [b"/set type=file", b"/unset all", b"..", b". type=dir", b"x size=-1", b"y\\012 type=link"]
    )
    | st.binary(max_size=60),
    max_size=20,
)


@FUZZ
@given(st.builds(b"\n".join, mtree_lines) | st.binary(max_size=2048))
@example(MTREE_SEED)
def test_mtree_parser(data: bytes) -> None:
    parses_or_refuses(mtree.parse, data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "schemaVersion",
                    "mediaType",
                    "manifests",
                    "config",
                    "layers",
                    "digest",
                    "size",
                    "annotations",
                    "platform",
                    "architecture",
                    "os",
                    "rootfs",
                    "diff_ids",
                    "history",
                    "created",
                    "Env",
                    "Cmd",
                    "ExposedPorts",
                    "data",
                    "urls",
                    "subject",
                    "type",
                    "umoci_version",
                    "from_descriptor_path",
                    "descriptor_walk",
                    "map_options",
                ]
            )
            | st.text(max_size=8),
            children,
            max_size=6,
        )
    ),
    max_leaves=30,
)


def round_trip_index(value: Any) -> None:
    gojson.dumps_blob(Index.from_json(value, mediatypes.INDEX).to_json())


def round_trip_manifest(value: Any) -> None:
    gojson.dumps_blob(Manifest.from_json(value, mediatypes.MANIFEST).to_json())


def round_trip_descriptor(value: Any) -> None:
    gojson.dumps_blob(Descriptor.from_json(value).to_json())


def round_trip_config(value: Any) -> None:
    config = ImageConfig.from_json(value)
    gojson.dumps_blob(config.to_json())
    runtime_config(config, rootfs_opener=None)


MODELS = (round_trip_index, round_trip_manifest, round_trip_descriptor, round_trip_config)


def decode_models(value: Any) -> None:
    for model in MODELS:
        parses_or_refuses(model, value)


def decode_raw(raw: bytes) -> None:
    referenced_descriptors(raw, "blob")  # never refuses: not a container is no children
    parses_or_refuses(ImageLayout.from_bytes, raw, "oci-layout")
    decode_models(decode.parse(raw, "blob", first_value=True))
    parses_or_refuses(lambda: parse_umoci_json(raw).to_json())


@FUZZ
@given(json_values)
def test_json_models(value: Any) -> None:
    decode_models(value)
    raw = json.dumps(value).encode()
    parses_or_refuses(decode_raw, raw)


@FUZZ
@given(st.binary(max_size=512))
@example(b"[" * 5000)
@example(b'{"a":' * 5000)
def test_json_bytes(raw: bytes) -> None:
    parses_or_refuses(decode_raw, raw)


words = st.text(st.sampled_from("abc019:@/._-+ sha256SHA(x)=\\\0é"), max_size=40) | st.text(
    max_size=40
)


@FUZZ
@given(words)
@example("L@sha256:" + "a" * 64)
@example("L@sha512:" + "a" * 11)
def test_reference_platform_idmap_duration_parsers(text: str) -> None:
    for parse in (parse_image_ref, parse_platform, parse_id_map):
        parses_or_refuses(parse, text)
    parses_or_refuses(parse_duration, text, "--grace")
