"""``umoci repack``: the changes in a bundle's rootfs become one new layer.

The bundle's mtree (written by our unpack or the Go umoci's) is compared
with a walk of ``rootfs/``; the differences, minus masked paths (``--mask-path``
and, unless ``--no-mask-volumes``, the image's volumes) and minus deletions
below a deleted directory, are written as a layer: added and modified
entries in full, deletions as whiteouts.  No change, no layer.  The new
manifest is tagged last (``index.json`` is the final write), so a failure
anywhere leaves every tag as it was.  When the image sits in an index, the
new manifest replaces its entry in the index the tag holds *now*
(:meth:`umoci.mutate.Mutator.commit`); a tag that no longer lists the
bundle's manifest is refused before anything is written.
``--refresh-bundle`` then rewrites the bundle's mtree and ``umoci.json`` to
describe the new image.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

from umoci import log as umoci_log
from umoci import mtree
from umoci.cas.layoutcheck import describe
from umoci.errors import BundleError, MtreeError, RefNotFoundError
from umoci.layer.changes import ChangeKind
from umoci.layer.generate import GenerateOptions, generate_layer
from umoci.layout.refs import DescriptorPath
from umoci.mtree.delta import Delta, DeltaType
from umoci.mutate import Mutator
from umoci.oci.models import Descriptor
from umoci.oci.refs import check_tag
from umoci.ops.basic import check_tag_ref, opened
from umoci.ops.history import history_entry
from umoci.ops.new_layer import choose_codec, clamp_time, media_type_for, write_layer
from umoci.ops.options import RepackOptions
from umoci.ops.repack_scan import SKIPPED_DIGEST, digest_cannot_matter, scan_deltas
from umoci.ops.statcache import Observations, Snapshot, read_cache, write_cache
from umoci.runtime.atomic import create_temp
from umoci.runtime.bundle_meta import (
    BundleMeta,
    bundle_rootfs,
    read_bundle_meta,
    write_bundle_meta,
)
from umoci.structs import replace

log = umoci_log.get()

_KIND = {
    DeltaType.EXTRA: ChangeKind.ADDED,
    DeltaType.MODIFIED: ChangeKind.MODIFIED,
    DeltaType.MISSING: ChangeKind.DELETED,
}


def _mtree_path(bundle: str, manifest: Descriptor) -> str:
    return os.path.join(bundle, f"sha256_{manifest.digest.partition(':')[2]}.mtree")


def _read_mtree(path: str) -> bytes:
    try:
        return mtree.read_spec_file(path)
    except FileNotFoundError:
        raise BundleError(f"bundle mtree {os.path.basename(path)} is missing") from None
    except OSError as err:
        raise BundleError(f"read {path}: {describe(err)}") from None


def _parse_spec(path: str, data: bytes) -> mtree.Spec:
    try:
        return mtree.parse(data)
    except MtreeError as err:
        raise BundleError(f"parse {os.path.basename(path)}: {err}") from None


def _source_path(meta: BundleMeta) -> DescriptorPath:
    if not meta.descriptor_walk:
        raise BundleError("umoci.json has an empty descriptor walk")
    return DescriptorPath(meta.descriptor_walk)


def _known_changed(old_spec: mtree.Spec) -> Callable[[bytes, os.stat_result], bool]:
    """:func:`~umoci.ops.repack_scan.digest_cannot_matter` against the old spec."""
    # Built on the first call: with the stat cache's digests consulted first,
    # only the few files whose stat changed ever get here.
    old: dict[bytes, mtree.Entry] | None = None

    def changed(path: bytes, st: os.stat_result) -> bool:
        nonlocal old
        if old is None:
            old = old_spec.index()
        return digest_cannot_matter(old.get(path), st)

    return changed


def changes_from(deltas: list[Delta], masks: list[str]) -> list[tuple[bytes, ChangeKind]]:
    kept = mtree.filter_deltas(deltas, mtree.mask_filter(masks), mtree.simplify_filter(deltas))
    return [(d.path, _KIND[d.type]) for d in kept]


def repack(layout: str, tag: str | None, bundle: str, *, options: RepackOptions) -> str:
    """The bundle's changes as a new layer of its image, tagged *tag* (None: as unpacked).

    Returns the tag written.
    """
    if tag is not None:
        check_tag_ref(tag)  # repack writes a tag: a digest cannot be one
    meta = read_bundle_meta(bundle)
    source = _source_path(meta)
    target = tag if tag is not None else source.root.ref_name
    if target is None:
        raise BundleError("the unpacked image had no tag: give one with --image PATH:TAG")
    check_tag(target)
    rootfs = bundle_rootfs(bundle)
    old_mtree = _mtree_path(bundle, source.descriptor)
    mtree_data = _read_mtree(old_mtree)
    snapshot = (
        None if options.full_hash else read_cache(bundle, os.path.basename(old_mtree), mtree_data)
    )
    deltas = None
    new_spec: mtree.Spec | None = None
    observations = Observations()
    if snapshot is not None and not options.refresh_bundle:
        # Without --refresh-bundle no new mtree is written: the changed
        # paths are all that is needed.
        deltas = scan_deltas(rootfs, snapshot, rootless=meta.rootless)
    if deltas is None:
        new_spec, deltas, observations = _walk_and_compare(
            rootfs,
            old_mtree,
            mtree_data=mtree_data,
            snapshot=snapshot,
            rootless=meta.rootless,
            options=options,
        )

    with opened(layout, writer=True) as store:
        mutator = Mutator(store, source)
        # Everything that can be checked is, before the first blob is
        # written: a corrupt index.json, or a tag that no longer lists the
        # bundle's manifest, would otherwise fail the swap and leave the new
        # layer orphaned.
        try:
            mutator.check_still_listed()
        except RefNotFoundError as err:
            raise BundleError(
                f"{err}: the bundle is out of date: unpack the image again "
                "(repack --refresh-bundle keeps a bundle current)"
            ) from None
        config = mutator.config
        masks = list(options.mask_paths)
        if options.mask_volumes:
            masks += list(config.config.volumes)
        changes = changes_from(deltas, masks)
        if not changes:
            # As the Go umoci 0.6: no layer, but the repack is still recorded.
            log.info("repack: no changes in %s: no new layer", rootfs)
            entry = history_entry(
                options.history, created_by="umoci repack", author=config.author, empty_layer=True
            )
            if entry is not None:
                mutator.set_config(config, entry)
        else:
            codec = choose_codec(options.compress, mutator.manifest)
            generate_options = GenerateOptions(
                rootless=meta.rootless,
                uid_maps=meta.uid_maps,
                gid_maps=meta.gid_maps,
                clamp_mtime=clamp_time(),
            )
            layer = write_layer(
                store,
                codec,
                media_type_for(codec, source.descriptor.media_type),
                lambda sink: generate_layer(rootfs, changes, sink, generate_options),
            )
            log.info("repack: new layer %s (%d changes)", layer.descriptor.digest, len(changes))
            entry = history_entry(
                options.history, created_by="umoci repack", author=config.author, empty_layer=False
            )
            mutator.add_layer(layer.descriptor, layer.diff_id, entry)
        # The bundle now stands for the image as tagged (with its new name),
        # so a later repack without a tag updates that tag.
        new_path = mutator.commit(target)

    if options.refresh_bundle:
        assert new_spec is not None  # --refresh-bundle always walks
        _refresh(
            bundle,
            meta=meta,
            old_mtree=old_mtree,
            new_path=new_path,
            new_spec=new_spec,
            observations=observations,
        )
    return target


def _walk_and_compare(
    rootfs: str,
    old_mtree: str,
    *,
    mtree_data: bytes,
    snapshot: Snapshot | None,
    rootless: bool,
    options: RepackOptions,
) -> tuple[mtree.Spec, list[Delta], Observations]:
    """The slow path: parse the mtree, walk the whole rootfs, compare.

    Only files whose stat changed since the snapshot are read.
    """
    old_spec = _parse_spec(old_mtree, mtree_data)
    observations = Observations()
    new_spec = mtree.walk(
        rootfs,
        rootless=rootless,
        known_digest=_known_digest(snapshot, old_spec, refresh_bundle=options.refresh_bundle),
        observe=observations.record,
    )
    return new_spec, mtree.compare(old_spec, new_spec, mtree.UMOCI_KEYWORDS), observations


def _known_digest(
    snapshot: Snapshot | None, old_spec: mtree.Spec, *, refresh_bundle: bool
) -> mtree.KnownDigest | None:
    """What the full walk need not read: the snapshot's unchanged files, and more.

    Without ``--refresh-bundle`` the new spec is only compared, never kept:
    a file that is new, or whose size or time already differs, need not be
    read either.
    """
    known = None if snapshot is None else snapshot.digests()
    cannot_matter = None if refresh_bundle else _known_changed(old_spec)
    if known is None and cannot_matter is None:
        return None

    def digest(path: bytes, st: os.stat_result) -> str | None:
        if known is not None:
            # First: an unchanged file (the common case) then costs one
            # lookup, and its real digest compares just as a skipped one would.
            sha256 = known.take(path, st)
            if sha256 is not None:
                return sha256
        if cannot_matter is not None and cannot_matter(path, st):
            return SKIPPED_DIGEST
        return None

    return digest


def _refresh(
    bundle: str,
    *,
    meta: BundleMeta,
    old_mtree: str,
    new_path: DescriptorPath,
    new_spec: mtree.Spec,
    observations: Observations,
) -> None:
    """Point the bundle at the new image: its mtree, stat cache and ``umoci.json``."""
    new_mtree = _mtree_path(bundle, new_path.descriptor)
    fd, temp = create_temp(new_mtree)
    try:
        with os.fdopen(fd, "wb") as f:
            mtree_sha256 = mtree.dump_to(new_spec, f)
        os.replace(temp, new_mtree)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    write_cache(bundle, os.path.basename(new_mtree), mtree_sha256, new_spec, observations)
    write_bundle_meta(bundle, replace(meta, descriptor_walk=new_path.walk))
    if old_mtree != new_mtree:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(old_mtree)
