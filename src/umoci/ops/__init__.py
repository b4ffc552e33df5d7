"""The verbs, one function per command: the layer the CLI and :mod:`umoci.api` call.

Internal: the public Python API is :mod:`umoci.api` (layouts, images and
bundles as objects, a config builder), built on these functions and on
nothing below them; the CLI calls them after turning its flags into the
typed options of :mod:`umoci.ops.options`.  Names and signatures here may
change with the CLI's needs.

An image is named by a layout path and a reference: a tag, or ``@`` and a
digest (``@sha256:HEX``, or a prefix of it of at least 12 digits).  Verbs
that read an image take ``platform`` (``OS/ARCH[/VARIANT]``) for choosing
one image of a multi-platform index; None means this host's platform.

Each function takes plain values (paths, tags, option records and enums
from :mod:`umoci.ops.options`), raises :class:`umoci.errors.UmociError`
subclasses for anything a user can cause, and leaves the layout unchanged
on error.  Heavy modules are imported inside the functions so that
``umoci ls`` starts fast.
"""

from __future__ import annotations

# Not "from typing import TYPE_CHECKING": importing typing costs ~10 ms of
# start-up, and mypy treats any constant named TYPE_CHECKING the same way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from umoci.oci.models import Descriptor
    from umoci.ops.image_stat import ImageStat, IndexStat
    from umoci.ops.options import (
        Compression,
        ConfigChanges,
        ConfigValues,
        CopyOptions,
        HistoryOptions,
        InsertMode,
        MapOptions,
        RepackOptions,
    )
    from umoci.validate.findings import Report

_OPTION_TYPES = (
    "Compression",
    "ConfigChanges",
    "ConfigValues",
    "CopyOptions",
    "HistoryOptions",
    "InsertMode",
    "MapOptions",
    "RepackOptions",
)


def __getattr__(name: str) -> Any:
    # The option classes are loaded on first use: "umoci ls" and the other
    # verbs without options should not pay for defining them.
    if name in _OPTION_TYPES:
        from umoci.ops import options

        return getattr(options, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Compression",
    "ConfigChanges",
    "ConfigValues",
    "CopyOptions",
    "HistoryOptions",
    "InsertMode",
    "MapOptions",
    "RepackOptions",
    "check_bundle",
    "check_layout",
    "check_platform",
    "check_tag",
    "config",
    "copy",
    "gc",
    "index_add",
    "index_create",
    "index_remove",
    "init_layout",
    "insert",
    "list_entries",
    "list_tags",
    "mtree_validate",
    "new_image",
    "raw_add_layer",
    "raw_runtime_config",
    "raw_unpack",
    "remove_tag",
    "repack",
    "resolve",
    "set_config",
    "stat",
    "stat_image",
    "tag_image",
    "unpack",
    "validate_bundle",
    "validate_image",
    "validate_layout",
]


def init_layout(layout: str) -> None:
    """``umoci init --layout LAYOUT``: create an empty layout; refuse an existing path."""
    from umoci.ops.basic import init_layout as impl

    impl(layout)


def new_image(layout: str, tag: str) -> None:
    """``umoci new --image LAYOUT:TAG``: an empty image for the host's os/arch."""
    from umoci.ops.basic import new_image as impl

    impl(layout, tag)


def tag_image(layout: str, tag: str, new_tag: str, *, platform: str | None = None) -> None:
    """``umoci tag --image LAYOUT:TAG NEW``: point NEW where TAG (or ``@DIGEST``) points.

    With *platform*, NEW names that platform's manifest inside the index.
    """
    from umoci.ops.basic import tag_image as impl

    impl(layout, tag, new_tag, platform=platform)


def remove_tag(layout: str, tag: str) -> None:
    """``umoci rm --image LAYOUT:TAG``."""
    from umoci.ops.basic import remove_tag as impl

    impl(layout, tag)


def list_tags(layout: str) -> list[str]:
    """``umoci ls --layout LAYOUT``: tag names in index order."""
    from umoci.ops.taglist import list_tags as impl

    return impl(layout)


def list_entries(layout: str) -> list[str]:
    """``umoci ls --long``: one tab-separated line per entry of index.json."""
    from umoci.ops.taglist import list_entries as impl

    return impl(layout)


def index_create(layout: str, tag: str, children: tuple[str, ...]) -> None:
    """``umoci index create --image LAYOUT:TAG CHILD...``: an index of the CHILD images."""
    from umoci.ops.index_edit import create as impl

    impl(layout, tag, children)


def index_add(layout: str, ref: str, child: str, *, new_tag: str | None = None) -> None:
    """``umoci index add``: put CHILD in the index, replacing the entry of its platform."""
    from umoci.ops.index_edit import add as impl

    impl(layout, ref, child, new_tag=new_tag)


def index_remove(layout: str, ref: str, platform: str, *, new_tag: str | None = None) -> None:
    """``umoci index remove``: drop the index's entries for *platform*."""
    from umoci.ops.index_edit import remove as impl

    impl(layout, ref, platform, new_tag=new_tag)


def validate_layout(layout: str, *, layers: bool = True) -> Report:
    """``umoci validate --layout``: every problem in the layout, as findings."""
    from umoci.validate import validate_layout as impl

    return impl(layout, layers=layers)


def validate_image(
    layout: str, tag: str, *, platform: str | None = None, layers: bool = True
) -> Report:
    """``umoci validate --image``: the problems of one image (a tag or ``@digest``)."""
    from umoci.validate import validate_image as impl

    return impl(layout, tag, platform=platform, layers=layers)


def validate_bundle(bundle: str) -> Report:
    """``umoci validate --bundle``: the problems of a runtime bundle."""
    from umoci.validate import validate_bundle as impl

    return impl(bundle)


def gc(layout: str, *, grace: float = 0.0) -> None:
    """``umoci gc --layout LAYOUT``: remove blobs unreachable from index.json.

    Unreachable blobs modified less than *grace* seconds ago are kept (for
    layouts shared with a writer that takes no umoci lock and may be about
    to reference them); the default 0 sweeps them all, as the Go umoci does.
    """
    from umoci.ops.basic import gc as impl

    impl(layout, grace=grace)


def copy(source: str, destination: str, *, options: CopyOptions) -> str:
    """``umoci copy SRC DST``: an image between layouts, archives and the Docker engine.

    Names use skopeo's syntax (``oci:PATH[:TAG]``, ``oci-archive:FILE[:TAG]``,
    ``docker-archive:FILE[:NAME:TAG]``, ``docker-daemon:NAME:TAG``); returns
    the digest of the manifest (or index) written.
    """
    from umoci.ops.image_copy import copy as impl

    return impl(source, destination, options=options)


def stat(layout: str, tag: str, *, platform: str | None = None) -> ImageStat | IndexStat:
    """``umoci stat``: one image, or an index of several (the CLI renders them as text or JSON)."""
    from umoci.ops.image_stat import stat as impl

    return impl(layout, tag, platform=platform)


def stat_image(layout: str, ref: str, *, platform: str | None = None) -> ImageStat:
    """The image *ref* names (in an index, *platform*'s; by default this host's), as models."""
    from umoci.ops.image_stat import collect_image as impl

    return impl(layout, ref, platform)


def resolve(layout: str, ref: str, *, platform: str | None = None) -> Descriptor:
    """The descriptor of the manifest *ref* names, for *platform*."""
    from umoci.ops.basic import resolve_manifest as impl

    return impl(layout, ref, platform)


def check_layout(layout: str) -> None:
    """Refuse (:class:`~umoci.errors.LayoutError`) a path that is no OCI image layout."""
    from umoci.cas.layoutcheck import check_layout as impl

    impl(layout)


def check_platform(platform: str) -> None:
    """Refuse (:class:`~umoci.errors.UsageError`) a malformed ``OS/ARCH[/VARIANT]``."""
    from umoci.oci.platforms import parse_platform

    parse_platform(platform)


def check_tag(tag: str) -> None:
    """Refuse (:class:`~umoci.errors.InvalidRefError`) a tag the ref.name grammar does not allow."""
    from umoci.oci.refs import check_tag as impl

    impl(tag)


def check_bundle(bundle: str) -> None:
    """Refuse (:class:`~umoci.errors.BundleError`) a directory that is no unpacked bundle."""
    from umoci.runtime.bundle_meta import read_bundle_meta

    read_bundle_meta(bundle)


def set_config(
    layout: str,
    ref: str,
    *,
    new_tag: str | None,
    values: ConfigValues,
    history: HistoryOptions,
    platform: str | None = None,
) -> str:
    """One new config and manifest holding *values* (the API's config builder); the tag written."""
    from umoci.ops.config_image import set_config as impl

    return impl(layout, ref, new_tag=new_tag, values=values, history=history, platform=platform)


def config(
    layout: str,
    tag: str,
    *,
    new_tag: str | None,
    changes: ConfigChanges,
    history: HistoryOptions,
    platform: str | None = None,
) -> None:
    """``umoci config``: rewrite the image config/manifest; store under new_tag or tag."""
    from umoci.ops.config_image import config as impl

    impl(layout, tag, new_tag=new_tag, changes=changes, history=history, platform=platform)


def unpack(
    layout: str,
    tag: str,
    bundle: str,
    *,
    maps: MapOptions,
    keep_dirlinks: bool = False,
    platform: str | None = None,
) -> None:
    """``umoci unpack``: image -> runtime bundle (rootfs, config.json, mtree, umoci.json)."""
    from umoci.ops.bundle_unpack import unpack as impl

    impl(layout, tag, bundle, maps=maps, keep_dirlinks=keep_dirlinks, platform=platform)


def raw_unpack(
    layout: str,
    tag: str,
    rootfs: str,
    *,
    maps: MapOptions,
    keep_dirlinks: bool = False,
    platform: str | None = None,
) -> None:
    """``umoci raw unpack``: extract the layers only."""
    from umoci.ops.bundle_unpack import raw_unpack as impl

    impl(layout, tag, rootfs, maps=maps, keep_dirlinks=keep_dirlinks, platform=platform)


def raw_runtime_config(
    layout: str,
    tag: str,
    config_path: str,
    *,
    rootfs: str | None,
    maps: MapOptions,
    platform: str | None = None,
) -> None:
    """``umoci raw runtime-config``: write the runtime config.json for an image."""
    from umoci.ops.bundle_unpack import raw_runtime_config as impl

    impl(layout, tag, config_path, rootfs=rootfs, maps=maps, platform=platform)


def repack(layout: str, tag: str | None, bundle: str, *, options: RepackOptions) -> str:
    """``umoci repack``: the bundle's rootfs changes -> a new layer; returns the tag written.

    *tag* None writes the tag the bundle was unpacked from.
    """
    from umoci.ops.bundle_repack import repack as impl

    return impl(layout, tag, bundle, options=options)


def insert(
    layout: str,
    tag: str,
    source: str | None,
    target: str,
    *,
    new_tag: str | None,
    mode: InsertMode,
    history: HistoryOptions,
    compress: Compression,
    maps: MapOptions,
    platform: str | None = None,
) -> None:
    """``umoci insert``: SOURCE at TARGET (or, *source* None, a whiteout of TARGET) as a layer."""
    from umoci.ops.layer_add import insert as impl

    impl(
        layout,
        tag,
        source,
        target,
        new_tag=new_tag,
        mode=mode,
        history=history,
        compress=compress,
        maps=maps,
        platform=platform,
    )


def raw_add_layer(
    layout: str,
    tag: str,
    layer_path: str,
    *,
    new_tag: str | None,
    history: HistoryOptions,
    compress: Compression,
    platform: str | None = None,
) -> None:
    """``umoci raw add-layer``: append an uncompressed tar archive as a layer."""
    from umoci.ops.layer_add import raw_add_layer as impl

    impl(
        layout,
        tag,
        layer_path,
        new_tag=new_tag,
        history=history,
        compress=compress,
        platform=platform,
    )


def mtree_validate(
    spec_path: str,
    root: str,
    *,
    use_keywords: tuple[str, ...],
    add_keywords: tuple[str, ...],
    umoci_keywords: bool,
    rootless: bool,
) -> list[str]:
    """``umoci raw mtree-validate``: one line per difference between ROOT and the spec."""
    from umoci.ops.mtree_check import mtree_validate as impl

    return impl(
        spec_path,
        root,
        use_keywords=use_keywords,
        add_keywords=add_keywords,
        umoci_keywords=umoci_keywords,
        rootless=rootless,
    )
