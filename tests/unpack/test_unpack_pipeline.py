"""The layer pipeline (umoci.ops.layer_pipeline) changes how fast layers arrive, nothing else.

Multi-layer images with whiteouts, opaque directories and hardlinks across
layers unpack to the same tree (mtree and stat cache byte for byte, and the
same inode groups) with read-ahead across layers, without it, and with a
queue of one batch; errors found ahead are raised only once every earlier
layer was applied; the producer stops when the consumer gives up.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from imagekit import Entry, Image, Layer, T, build_tar, image_of, sha256, tree, write_image

from umoci.cas.dir import DirStore
from umoci.errors import LayerError
from umoci.layer.extract import ExtractOptions, LayerExtractor
from umoci.ops.basic import opened
from umoci.ops.bundle_unpack import ROOTFS, unpack_into
from umoci.ops.image_layers import apply_image_layers, load_image
from umoci.ops.layer_pipeline import LayerPipeline
from umoci.ops.options import MapOptions

BIG = bytes(range(256)) * 8192  # 2 MiB: one file's data spans several batches


def multi_layers() -> list[list[Entry]]:
    """Five layers that use every cross-layer rule there is."""
    base = [
        T.dir("etc"),
        T.reg("etc/passwd", b"root:x:0:0::/root:/bin/sh\n", mode=0o644),
        T.dir("usr"),
        T.dir("usr/bin"),
        T.reg("usr/bin/tool", BIG, mode=0o755),
        T.dir("opaque"),
        T.reg("opaque/old", b"old"),
        T.dir("opaque/sub"),
        T.reg("opaque/sub/deep", b"deep"),
        T.reg("shared", b"shared data"),
        T.sym("etc/alias", "passwd"),
        T.dir("many"),
        # More entries than one batch holds.
        *(T.reg(f"many/f{i:04d}", f"file {i}\n".encode(), uid=i % 7) for i in range(1300)),
        T.dir("kept"),
        *(T.reg(f"kept/k{i:03d}", f"kept {i}\n".encode(), gid=i % 5) for i in range(700)),
    ]
    links = [
        T.hard("usr/bin/tool-link", "usr/bin/tool"),  # to a file of the layer below
        T.hard("etc/shared-link", "shared"),
        T.wh("many/.wh.f0007"),
        T.reg("etc/passwd", b"root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/home:/bin/sh\n"),
        T.reg("usr/bin/huge", BIG[::-1] + BIG, mode=0o700),
    ]
    opaque = [
        T.dir("opaque", mode=0o750),
        T.wh("opaque/.wh..wh..opq"),  # hides old and sub/, keeps what this layer adds
        T.reg("opaque/new", b"new"),
        T.wh(".wh.shared"),  # etc/shared-link keeps the old inode
        T.reg("shared", b"replaced"),
        T.hard("many/f0001-link", "many/f0001"),
        T.hard("many/f0001-link2", "many/f0001-link"),  # a hardlink to a hardlink
    ]
    replace = [
        T.wh("usr/bin/.wh.tool"),  # tool-link keeps the data
        T.reg("usr/bin/tool", b"#!/bin/sh\n", mode=0o755),
        T.wh("etc/.wh.alias"),
        T.dir("etc/alias"),  # a symlink becomes a directory
        T.reg("etc/alias/inside", b"x"),
        T.dir("many", mode=0o700),
    ]
    last = [
        T.wh("many/.wh..wh..opq"),
        T.reg("many/only", b"only"),
        T.hard("usr/bin/tool2", "usr/bin/tool"),
        T.reg("late-big", BIG),
    ]
    return [base, links, opaque, replace, last]


def unpack_with(
    image: Image,
    bundle: Path,
    *,
    read_ahead: bool,
    depth: int = 16,
    maps: MapOptions | None = None,
    producer: str = "thread",
) -> Path:
    with opened(str(image.layout), streams=True) as store:
        loaded = load_image(store, image.tag)
        bundle.mkdir()
        unpack_into(
            store,
            loaded,
            str(bundle),
            maps or MapOptions(),
            False,
            read_ahead=read_ahead,
            depth=depth,
            producer=producer,
        )
    return bundle


def mtree_body(bundle: Path) -> list[bytes]:
    """The bundle's mtree without its "tree:" and "date:" comments (paths and clocks differ)."""
    (name,) = [n for n in os.listdir(bundle) if n.endswith(".mtree")]
    lines = (bundle / name).read_bytes().splitlines()
    body = [
        line for line in lines if not line.startswith((b"#          tree:", b"#          date:"))
    ]
    assert len(lines) - len(body) == 2
    return body


def statcache_records(bundle: Path) -> list[list[bytes]]:
    """The stat cache's records without inode numbers and ctimes (they differ per bundle)."""
    lines = (bundle / "umoci-statcache").read_bytes().splitlines()[1:]
    return [line.split(b" ", 2)[2:] for line in lines]


def inode_groups(rootfs: Path) -> list[list[str]]:
    groups: dict[tuple[int, int], list[str]] = {}
    for top, _dirs, files in os.walk(rootfs):
        for name in files:
            path = os.path.join(top, name)
            st = os.lstat(path)
            groups.setdefault((st.st_dev, st.st_ino), []).append(os.path.relpath(path, rootfs))
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)


@pytest.mark.parametrize("media_type", ["tar+gzip", "tar+zstd", "tar"])
def test_read_ahead_changes_nothing(tmp_path: Path, media_type: str) -> None:
    image = image_of(
        tmp_path / "image",
        *multi_layers(),
        media_type=f"application/vnd.oci.image.layer.v1.{media_type}",
    )
    ahead = unpack_with(image, tmp_path / "ahead", read_ahead=True)
    step = unpack_with(image, tmp_path / "step", read_ahead=False)
    tight = unpack_with(image, tmp_path / "tight", read_ahead=True, depth=1)
    child = unpack_with(image, tmp_path / "child", read_ahead=True, producer="process")

    expected = mtree_body(step)
    assert len(expected) > 700
    assert mtree_body(ahead) == expected
    assert mtree_body(tight) == expected
    assert mtree_body(child) == expected
    records = statcache_records(step)
    assert statcache_records(ahead) == records == statcache_records(tight)
    assert statcache_records(child) == records
    want_tree = tree(step / ROOTFS)
    assert tree(ahead / ROOTFS) == want_tree
    assert tree(tight / ROOTFS) == want_tree
    assert tree(child / ROOTFS) == want_tree
    groups = inode_groups(step / ROOTFS)
    assert inode_groups(ahead / ROOTFS) == groups == inode_groups(tight / ROOTFS)
    assert inode_groups(child / ROOTFS) == groups

    # The rules really were exercised (a tree that lost them would also be "equal").
    rootfs = ahead / ROOTFS
    assert sorted(os.listdir(rootfs / "opaque")) == ["new"]
    assert sorted(os.listdir(rootfs / "many")) == ["only"]
    assert (rootfs / "usr/bin/tool-link").read_bytes() == BIG
    assert (rootfs / "usr/bin/tool").read_bytes() == b"#!/bin/sh\n"
    assert (rootfs / "etc/shared-link").read_bytes() == b"shared data"
    assert (rootfs / "shared").read_bytes() == b"replaced"
    assert (rootfs / "etc/alias").is_dir()
    assert not (rootfs / "etc/alias").is_symlink()
    assert (rootfs / "usr/bin/huge").read_bytes() == BIG[::-1] + BIG
    assert groups == [["usr/bin/tool", "usr/bin/tool2"]]
    # The digests in the mtree are of the files on disk (the pipeline hashed them).
    huge = [line for line in expected if line.lstrip().startswith(b"huge ")]
    want = sha256(BIG[::-1] + BIG).removeprefix("sha256:").encode()
    assert len(huge) == 1, huge
    assert b"sha256digest=" + want in huge[0], huge


def test_read_ahead_matches_one_layer_at_a_time_through_the_extractor(tmp_path: Path) -> None:
    """The pipeline and the plain TarReader path give the same records, in the same order."""
    layers = multi_layers()
    image = image_of(tmp_path / "image", *layers)

    def records_plain() -> list[tuple[str, str | None]]:
        seen: list[tuple[str, str | None]] = []
        rootfs = tmp_path / "plain"
        rootfs.mkdir()
        extractor = LayerExtractor(rootfs, ExtractOptions(on_entry=lambda r: seen.append(_key(r))))
        for entries in layers:
            with (tmp_path / "layer.tar").open("wb") as f:
                f.write(build_tar(entries))
            with (tmp_path / "layer.tar").open("rb") as f:
                extractor.apply(f)
        return seen

    def records_pipelined(producer: str) -> list[tuple[str, str | None]]:
        seen: list[tuple[str, str | None]] = []
        rootfs = tmp_path / f"piped-{producer}"
        rootfs.mkdir()
        extractor = LayerExtractor(rootfs, ExtractOptions(on_entry=lambda r: seen.append(_key(r))))
        with opened(str(image.layout), streams=True) as store:
            apply_image_layers(
                store, load_image(store, image.tag), extractor, depth=1, producer=producer
            )
        return seen

    plain = records_plain()
    assert len(plain) > 1300
    assert records_pipelined("thread") == plain
    assert records_pipelined("process") == plain


def _key(record: object) -> tuple[str, str | None]:
    return (getattr(record, "path", ""), getattr(record, "sha256", None))


@pytest.mark.parametrize("producer", ["thread", "process"])
def test_an_error_ahead_waits_for_the_earlier_layers(tmp_path: Path, producer: str) -> None:
    """A bad diff_id in layer 3 is raised after layers 1 and 2 were applied, not before."""
    tars = [build_tar(x) for x in multi_layers()[:3]]
    tars[2] = build_tar([T.reg("third", b"3")])
    image = write_image(
        tmp_path / "image",
        [Layer(t) for t in tars],
        diff_ids=[sha256(tars[0]), sha256(tars[1]), "sha256:" + "0" * 64],
    )
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    extractor = LayerExtractor(rootfs)
    with opened(str(image.layout), streams=True) as store:
        loaded = load_image(store, image.tag)
        with pytest.raises(LayerError, match="diff_id mismatch") as err:
            apply_image_layers(store, loaded, extractor, producer=producer)
    assert image.layer_digests[2] in str(err.value)
    # Layers 1 and 2 are all there; layer 3's file was written (its data was
    # fine) but the layer was refused at its end, as without the pipeline.
    assert (rootfs / "usr/bin/huge").read_bytes() == BIG[::-1] + BIG
    assert (rootfs / "etc/shared-link").exists()


class _CountingStore:
    """A store that records which layer blobs were opened, and when."""

    def __init__(self, store: DirStore) -> None:
        self._store = store
        self.opened: list[str] = []

    def open_blob(self, descriptor: object) -> object:
        self.opened.append(getattr(descriptor, "digest", ""))
        return self._store.open_blob(descriptor)  # type: ignore[arg-type]


def _wait_for(condition: object, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


@pytest.mark.parametrize("read_ahead", [True, False])
def test_the_producer_reads_ahead_only_when_asked(tmp_path: Path, read_ahead: bool) -> None:
    small = [[T.reg(f"f{i}", b"x")] for i in range(3)]
    image = image_of(tmp_path / "image", *small)
    with opened(str(image.layout), streams=True) as real:
        loaded = load_image(real, image.tag)
        store = _CountingStore(real)
        with LayerPipeline(
            store,  # type: ignore[arg-type]
            loaded.manifest.layers,
            loaded.config.diff_ids,
            hash_files=True,
            read_ahead=read_ahead,
        ) as pipeline:
            first = pipeline.layer()
            while first.next() is not None:
                pass
            if read_ahead:
                # Layer 1 is not even finished for the extractor, yet all
                # three blobs get read: the queue has room for them.
                assert _wait_for(lambda: len(store.opened) == 3), store.opened
            else:
                time.sleep(0.2)  # a producer that wrongly ran ahead would have by now
                assert store.opened == image.layer_digests[:1]
            for _ in range(2):
                layer = pipeline.layer()
                while layer.next() is not None:
                    pass
            assert store.opened == image.layer_digests


def _pipeline(store: DirStore, image: Image) -> LayerPipeline:
    """A pipeline over *image*'s layers with the smallest queue (the producer blocks soonest)."""
    loaded = load_image(store, image.tag)
    return LayerPipeline(
        store, loaded.manifest.layers, loaded.config.diff_ids, hash_files=True, depth=1
    )


def test_closing_early_stops_the_producer(tmp_path: Path) -> None:
    image = image_of(tmp_path / "image", *multi_layers())
    before = {t.ident for t in threading.enumerate()}
    with opened(str(image.layout), streams=True) as store, _pipeline(store, image) as pipeline:
        layer = pipeline.layer()
        assert layer.next() is not None  # the producer is now blocked on a full queue
    assert _wait_for(lambda: {t.ident for t in threading.enumerate()} <= before)


def test_data_sha256_is_each_files_own(tmp_path: Path) -> None:
    entries = [
        T.reg("a", b"alpha"),
        T.dir("d"),
        T.fifo("p"),
        T.reg("b", BIG),
        T.reg("empty"),
    ]
    image = image_of(tmp_path / "image", entries)
    seen: dict[str, str | None] = {}
    with opened(str(image.layout), streams=True) as store, _pipeline(store, image) as pipeline:
        layer = pipeline.layer()
        while (hdr := layer.next()) is not None:
            data = b"".join(bytes(c) for c in layer.chunks())
            seen[hdr.name] = layer.data_sha256
            if layer.data_sha256 is not None:
                assert "sha256:" + layer.data_sha256 == sha256(data), hdr.name
        assert layer.entries == len(entries)
    assert seen["b"] == sha256(BIG).removeprefix("sha256:")
    assert seen["a"] != seen["b"]
    # Entries without data get the digest of no data (what a rootless fake device holds).
    assert seen["p"] == seen["empty"] == sha256(b"").removeprefix("sha256:")
