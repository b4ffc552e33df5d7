"""``umoci unpack``, ``raw unpack`` and ``raw runtime-config``: image → bundle.

A bundle is ``rootfs/`` (the layers applied in order), ``config.json`` (the
runtime config generated from the image config, users resolved against the
rootfs), ``umoci.json`` (where it came from and the id maps) and
``sha256_<manifest hex>.mtree`` (the rootfs as go-mtree describes it; repack
diffs against it).  Blobs, diff_ids and layer entries are all verified while
streaming; on any failure the bundle (or its contents, if it existed empty)
is removed again.
"""

from __future__ import annotations

import os

from umoci import log as umoci_log
from umoci import mtree
from umoci.cas.dir import DirStore
from umoci.errors import UsageError
from umoci.fs.ops import fs_for
from umoci.fs.rootfs import fresh_files_get_xattrs, reset_root
from umoci.idmap import IdMap, check_id_map, to_host
from umoci.layer.extract import ExtractOptions, LayerExtractor
from umoci.ops.basic import opened
from umoci.ops.bundle import fresh_directory
from umoci.ops.extracted import ExtractedTree
from umoci.ops.image_layers import Image, apply_image_layers, load_image
from umoci.ops.layer_pipeline import DEFAULT_DEPTH
from umoci.ops.options import MapOptions
from umoci.ops.statcache import CacheWriter, Observations
from umoci.runtime import root_path_for, rootfs_opener, runtime_config, write_config
from umoci.runtime.bundle_meta import ROOTFS, umoci_json
from umoci.structs import replace

log = umoci_log.get()

CONFIG_JSON = "config.json"
UMOCI_JSON = "umoci.json"


def effective_maps(maps: MapOptions) -> MapOptions:
    """The maps a verb uses: checked, and rootless without maps maps container root to us.

    (The latter is the Go umoci's default.)  The CLI's maps were checked as
    it parsed them; the API's are checked here.
    """
    for mapping in (*maps.uid_maps, *maps.gid_maps):
        check_id_map(mapping)
    if not maps.rootless:
        return maps
    return replace(
        maps,
        uid_maps=maps.uid_maps or (IdMap(0, os.geteuid(), 1),),
        gid_maps=maps.gid_maps or (IdMap(0, os.getegid(), 1),),
    )


def mtree_name(image: Image) -> str:
    return f"sha256_{image.path.descriptor.digest.partition(':')[2]}.mtree"


def _extractor(
    rootfs: str,
    maps: MapOptions,
    keep_dirlinks: bool,
    extracted: ExtractedTree | None = None,
    *,
    fresh_files_bare: bool,
) -> LayerExtractor:
    return LayerExtractor(
        rootfs,
        ExtractOptions(
            rootless=maps.rootless,
            uid_maps=maps.uid_maps,
            gid_maps=maps.gid_maps,
            keep_dirlinks=keep_dirlinks,
            on_entry=extracted,
            fresh_files_bare=fresh_files_bare,
        ),
    )


def prepare_rootfs(rootfs: str, maps: MapOptions) -> None:
    """Give a new, empty rootfs the Go umoci's starting state.

    Owned by the container's root (mapped to the host), and with atime and
    mtime at the epoch: many images carry no entry for ``/``, and the Go
    umoci picks the epoch so that unpacking stays reproducible.
    """
    uid, gid = to_host(maps.uid_maps, 0), to_host(maps.gid_maps, 0)
    if uid is None or gid is None:
        if not maps.rootless:
            raise UsageError("the uid/gid maps do not map the container's root (0)")
        uid = gid = 0  # rootless records no owners: never used
    reset_root(rootfs, fs_for(rootless=maps.rootless), uid, gid)


def _write_file(path: str, data: bytes) -> None:
    with open(path, "xb") as f:
        f.write(data)


def _runtime_config(
    image: Image, rootfs: str | None, maps: MapOptions, root_path: str
) -> dict[str, object]:
    return runtime_config(
        image.config,
        rootfs_opener=rootfs_opener(rootfs) if rootfs is not None else None,
        root_path=root_path,
        rootless=maps.rootless,
        uid_maps=maps.uid_maps,
        gid_maps=maps.gid_maps,
    )


def _write_mtree_and_cache(
    bundle: str, name: str, rootfs: str, maps: MapOptions, extracted: ExtractedTree
) -> None:
    """Write the new rootfs's mtree and stat cache, listed from the extractor's records.

    Should the rootfs contradict the records (which it never should), it is
    walked instead, still with the extractor's digests.  Either way each
    line is written as soon as it is made: what is kept per entry is the
    records' (see :class:`~umoci.ops.extracted.ExtractedTree`).
    """
    try:
        _walk_into(bundle, name, rootfs, maps, extracted, listed=True)
    except mtree.ListingMismatch as e:
        log.debug("%s: walking the rootfs instead", e)
        os.unlink(os.path.join(bundle, name))
        _walk_into(bundle, name, rootfs, maps, extracted, listed=False)


def _walk_into(
    bundle: str, name: str, rootfs: str, maps: MapOptions, extracted: ExtractedTree, *, listed: bool
) -> None:
    """Walk the rootfs into mtree and cache, its directories ``listed`` by ``extracted`` or read."""
    observations = Observations()
    with open(os.path.join(bundle, name), "xb") as f, CacheWriter(bundle, name) as cache:
        spec_writer = mtree.SpecWriter(f)

        class Sink:
            @staticmethod
            def append(node: mtree.Node) -> None:
                spec_writer.append(node)
                if isinstance(node, mtree.Entry):
                    cache.add(node, observations.pop(node.path))

        mtree.walk(
            rootfs,
            rootless=maps.rootless,
            known_digest=extracted.known_digest,
            observe=observations.record,
            sink=Sink(),
            listing=extracted if listed else None,
        )
        cache.finish(spec_writer.finish())


def unpack_into(
    store: DirStore,
    image: Image,
    bundle: str,
    maps: MapOptions,
    keep_dirlinks: bool,
    *,
    read_ahead: bool = True,
    depth: int = DEFAULT_DEPTH,
    producer: str = "auto",
) -> None:
    """Fill an empty bundle directory from *image* (no cleanup on error: the caller's).

    ``read_ahead``, ``depth`` and ``producer`` tune the layer pipeline
    (:func:`~umoci.ops.image_layers.apply_image_layers`); the result is the
    same whatever they are.
    """
    rootfs = os.path.join(bundle, ROOTFS)
    os.mkdir(rootfs, 0o755)
    bare = not fresh_files_get_xattrs(rootfs)  # before prepare_rootfs sets its times
    extracted = ExtractedTree(fresh_files_bare=bare)
    prepare_rootfs(rootfs, maps)
    extractor = _extractor(rootfs, maps, keep_dirlinks, extracted, fresh_files_bare=bare)
    apply_image_layers(
        store, image, extractor, read_ahead=read_ahead, depth=depth, producer=producer
    )
    log.info("unpacked %d layers into %s", len(image.manifest.layers), rootfs)
    _write_mtree_and_cache(bundle, mtree_name(image), rootfs, maps, extracted)
    spec = _runtime_config(image, rootfs, maps, root_path_for(ROOTFS))
    write_config(os.path.join(bundle, CONFIG_JSON), spec)
    meta = umoci_json(
        image.path.walk,
        rootless=maps.rootless,
        uid_maps=maps.uid_maps,
        gid_maps=maps.gid_maps,
    )
    # Last, and whole or not at all: its presence says the bundle is complete
    # (repack refuses a bundle without it).
    partial = os.path.join(bundle, UMOCI_JSON + ".partial")
    _write_file(partial, meta)
    os.replace(partial, os.path.join(bundle, UMOCI_JSON))


def unpack(
    layout: str,
    tag: str,
    bundle: str,
    *,
    maps: MapOptions,
    keep_dirlinks: bool = False,
    platform: str | None = None,
) -> None:
    maps = effective_maps(maps)
    with opened(layout, streams=True) as store:
        image = load_image(store, tag, platform)
        with fresh_directory(bundle, 0o700):
            unpack_into(store, image, bundle, maps, keep_dirlinks)


def raw_unpack(
    layout: str,
    tag: str,
    rootfs: str,
    *,
    maps: MapOptions,
    keep_dirlinks: bool = False,
    platform: str | None = None,
) -> None:
    maps = effective_maps(maps)
    with opened(layout, streams=True) as store:
        image = load_image(store, tag, platform)
        with fresh_directory(rootfs, 0o755):
            bare = not fresh_files_get_xattrs(rootfs)  # before prepare_rootfs sets its times
            prepare_rootfs(rootfs, maps)
            extractor = _extractor(rootfs, maps, keep_dirlinks, fresh_files_bare=bare)
            apply_image_layers(store, image, extractor)


def raw_runtime_config(
    layout: str,
    tag: str,
    config_path: str,
    *,
    rootfs: str | None,
    maps: MapOptions,
    platform: str | None = None,
) -> None:
    maps = effective_maps(maps)
    with opened(layout) as store:
        image = load_image(store, tag, platform)
        # root.path is the --rootfs directory's name, as Go's filepath.Base
        # gives it ("." without --rootfs).
        spec = _runtime_config(image, rootfs, maps, root_path_for(rootfs or ""))
        write_config(config_path, spec)
