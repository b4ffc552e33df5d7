"""Fuzz targets: every parser of untrusted input parses it or raises an UmociError.

No other exception, no hang (each example has a deadline), no unbounded
memory.  Targets: the tar reader and the extractor behind it, the gzip and
zstd framing, the mtree parser, the JSON models (index, manifest, config,
descriptor, umoci.json, the runtime's view of a config), and the reference,
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
from umoci.oci import mediatypes
from umoci.oci.jsonfields import loads_object
from umoci.oci.models import Descriptor, ImageConfig, Index, Manifest
from umoci.oci.platforms import parse_platform
from umoci.oci.refs import parse_image_ref
from umoci.runtime.bundle_meta import parse_umoci_json
from umoci.runtime.imageconfig import parse_image_config

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


def decode_models(value: Any) -> None:
    if not isinstance(value, dict):
        return
    Index.from_json(value, mediatypes.INDEX)
    Manifest.from_json(value, mediatypes.MANIFEST)
    ImageConfig.from_json(value)
    Descriptor.from_json(value)


def decode_raw(raw: bytes) -> None:
    decode_models(loads_object(raw, "blob"))


@FUZZ
@given(json_values)
def test_json_models(value: Any) -> None:
    for decode in (decode_models, parse_image_config):
        parses_or_refuses(decode, value)
    raw = json.dumps(value).encode()
    parses_or_refuses(decode_raw, raw)
    parses_or_refuses(parse_umoci_json, raw)


@FUZZ
@given(st.binary(max_size=512))
@example(b"[" * 5000)
@example(b'{"a":' * 5000)
def test_json_bytes(raw: bytes) -> None:
    parses_or_refuses(decode_raw, raw)
    parses_or_refuses(parse_umoci_json, raw)


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
