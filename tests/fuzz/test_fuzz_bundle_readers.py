"""Fuzz targets for the bundle readers: the mtree, the stat cache and ``umoci.json``.

A bundle is as untrusted as whoever handed it over.  Each example writes its
bytes into a real bundle (unpacked once per module), over the file the
verbs read, and runs the verbs' readers on it: ``validate --bundle`` and
``repack`` (and the stat cache's own loader and its consumers).  Arbitrary
bytes must give a clean parse or an UmociError, never another exception
or a hang (each example has a deadline).  The stat cache's loader must
not even refuse: a cache it cannot use is ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fuzzkit import FUZZ, parses_or_refuses
from hypothesis import example, given
from hypothesis import strategies as st

from umoci import ops
from umoci.cli import main
from umoci.ops.options import RepackOptions
from umoci.ops.statcache import CACHE_NAME, read_cache, recorded_keywords
from umoci.runtime.bundle_meta import META_NAME, read_bundle_meta


@dataclass(frozen=True)
class World:
    """A layout, a bundle unpacked from it, and the bundle's metadata as unpack wrote it."""

    layout: Path
    bundle: Path
    mtree_name: str
    pristine: dict[str, bytes]

    def reset(self, **replaced: bytes) -> None:
        """Put every metadata file back as unpack wrote it, except those given."""
        for path in self.bundle.iterdir():
            if path.name not in (*self.pristine, "config.json", "rootfs"):
                path.unlink()  # what a --refresh-bundle wrote
        for name, data in self.pristine.items():
            (self.bundle / name).write_bytes(replaced.get(name, data))

    def repack(self, refresh_bundle: bool = False) -> None:
        options = RepackOptions(refresh_bundle=refresh_bundle)
        ops.repack(str(self.layout), "fuzz", str(self.bundle), options=options)


def _run(*argv: str | Path) -> None:
    assert main([str(a) for a in argv]) == 0, argv


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    base = tmp_path_factory.mktemp("bundle-readers")
    layout, source, bundle = base / "layout", base / "src", base / "bundle"
    (source / "dir").mkdir(parents=True)
    (source / "dir" / "file").write_text("content")
    (source / "link").symlink_to("dir/file")
    _run("init", "--layout", layout)
    _run("new", "--image", f"{layout}:a")
    _run("insert", "--image", f"{layout}:a", source, "/src")
    _run("unpack", "--rootless", "--image", f"{layout}:a", bundle)
    (mtree_path,) = bundle.glob("*.mtree")
    names = (mtree_path.name, CACHE_NAME, META_NAME)
    return World(layout, bundle, mtree_path.name, {n: (bundle / n).read_bytes() for n in names})


@dataclass(frozen=True)
class Mutation:
    """Byte edits and a cut, applied to what unpack wrote (so most of it stays plausible)."""

    edits: list[tuple[int, int]]
    cut: int | None

    def apply(self, seed: bytes) -> bytes:
        data = bytearray(seed)
        for offset, value in self.edits:
            if data:
                data[offset % len(data)] = value
        return bytes(data if self.cut is None else data[: self.cut])


mutations = st.builds(
    Mutation,
    st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=8),
    st.none() | st.integers(0, 4096),
)


# -- the mtree --------------------------------------------------------------------------

mtree_lines = st.lists(
    st.sampled_from(
        [
            b"/set type=file uid=0 gid=0 mode=0644",
            b"/unset all",
            b"..",
            b". type=dir mode=0755",
            b"    src type=dir",
            b"    file size=-1 sha256digest=00",
            b"    link type=link link=../../etc/passwd",
            b"gone type=file",
            b"x\\012y mode=99999999999999999999",
            b"a\\",
            b"    tar_time=nan xattr.user.x=*** nlink=-1 uid=4294967296",
        ]
    )
    | st.binary(max_size=60),
    max_size=20,
)


@FUZZ
@given(st.binary(max_size=2048) | st.builds(b"\n".join, mtree_lines) | mutations)
@example(b"")
@example((b"file a=" + b"\\" * 100 + b"\n") * 3)
def test_bundle_mtree(world: World, case: bytes | Mutation) -> None:
    if isinstance(case, Mutation):
        case = case.apply(world.pristine[world.mtree_name])
    world.reset(**{world.mtree_name: case})
    ops.validate_bundle(str(world.bundle))  # findings, never an exception
    parses_or_refuses(world.repack)


# -- the stat cache ---------------------------------------------------------------------

cache_lines = st.lists(
    st.sampled_from(
        [
            "1 2 ghost x",
            "1 2 src/dir/file 7 x sha256digest=" + "0" * 64,
            "-1 0 . 0 0 type=dir",
            "3 4 src/dir 0 0 ",
            "5 6 src/dir/file/under 1 1 type=file",
            "7 8 src\\012x 1 1 type=file",
            "9 9 ../escape 1 1 type=file",
            "99999999999999999999999 1 src 1 1 type=dir",
        ]
    )
    | st.text(max_size=60),
    max_size=12,
)


def _header(world: World) -> bytes:
    digest = hashlib.sha256(world.pristine[world.mtree_name]).hexdigest()
    return f"umoci-statcache 3 {world.mtree_name} {digest}\n".encode()


def load_and_use(world: World) -> None:
    """The loader and what repack does with what it loaded."""
    snapshot = read_cache(str(world.bundle), world.mtree_name, world.pristine[world.mtree_name])
    if snapshot is not None:
        snapshot.digests()
        for fingerprint in snapshot.entries.values():
            recorded_keywords(fingerprint)


@FUZZ
@given(
    st.booleans(),
    st.binary(max_size=2048)
    | st.builds(lambda lines: "\n".join(lines).encode("utf-8", "surrogateescape"), cache_lines)
    | mutations,
)
@example(True, b"1 2 ghost x\n")
@example(True, b"5 6 src/dir/file 7 x sha256digest=" + b"0" * 64 + b"\n")
def test_bundle_stat_cache(world: World, with_header: bool, body: bytes | Mutation) -> None:
    if isinstance(body, Mutation):
        pristine = world.pristine[CACHE_NAME]
        body = body.apply(pristine[pristine.index(b"\n") + 1 :])
    cache = (_header(world) if with_header else b"") + body
    world.reset(**{CACHE_NAME: cache})
    load_and_use(world)
    # Repack on the fast path (a scan against the cache) and on the slow one
    # (a walk that reuses the cache's digests).  A cache that lists paths
    # the rootfs cannot have may make the new layer fail (cleanly).
    parses_or_refuses(world.repack)
    world.reset(**{CACHE_NAME: cache})
    parses_or_refuses(world.repack, True)


# -- umoci.json -------------------------------------------------------------------------


def _replace_field(world: World, path: list[str], value: Any) -> bytes:
    meta = json.loads(world.pristine[META_NAME])
    node = meta
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return json.dumps(meta).encode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
meta_fields = st.sampled_from(
    [
        ["umoci_version"],
        ["from_descriptor_path"],
        ["from_descriptor_path", "descriptor_walk"],
        ["map_options"],
        ["map_options", "uid_mappings"],
        ["map_options", "rootless"],
        ["whiteout_mode"],
    ]
)


@FUZZ
@given(st.binary(max_size=1024) | mutations | st.tuples(meta_fields, json_values))
@example(b"{}")
@example(b'{"umoci_version":"2"} trailing')
def test_bundle_umoci_json(world: World, case: bytes | Mutation | tuple[list[str], Any]) -> None:
    if isinstance(case, Mutation):
        case = case.apply(world.pristine[META_NAME])
    elif isinstance(case, tuple):
        case = _replace_field(world, *case)
    world.reset(**{META_NAME: case})
    parses_or_refuses(read_bundle_meta, str(world.bundle))
    ops.validate_bundle(str(world.bundle))
    parses_or_refuses(world.repack)


def test_the_world_is_whole(world: World) -> None:
    # The targets start from a bundle that repacks cleanly (else they test nothing).
    world.reset()
    world.repack()
    assert ops.validate_bundle(str(world.bundle)).findings == []
    assert sorted(os.listdir(world.bundle)) == sorted([*world.pristine, "config.json", "rootfs"])
