"""``umoci stat``: what there is to show of one image or index, as models.

Internal: :mod:`umoci.api` re-exports the result types (:class:`ImageStat`,
:class:`IndexStat` and their parts); the Go-format text and the ``--json``
document are the command line's, made from these values by
:mod:`umoci.cli.stat_text` and :mod:`umoci.cli.stat_json`.

An image is its manifest, config and history rows (each non-empty history
entry paired with the layer, and the diff_id, it consumed).  An index with
more than one manifest below it is its entries, nested indexes read as deep
as :data:`MAX_INDEX_DEPTH` (the Go umoci cannot show such an index: "tag is
ambiguous"); one with a single manifest below it is that manifest, as the Go
umoci shows it.

The manifest, config and index blobs are kept as stored (``--json`` embeds
their bytes).  A config is decoded only when it is an image config: an OCI
empty config (``{}``) is marked as such, and any other type stays raw.  Docker
schema 2 images count too (their Docker config is the image config), which
0.6 refuses: a deliberate difference listed in the README.
"""

from __future__ import annotations

from umoci.cas.dir import DirStore
from umoci.errors import BlobInvalidError, UmociError
from umoci.layout.refs import DescriptorPath, find_anchors, leaves, read_index_blob, resolve
from umoci.oci import mediatypes
from umoci.oci.models import Descriptor, History, ImageConfig, Index, Manifest
from umoci.ops.basic import opened
from umoci.structs import dataclass

#: Nested indexes below this many levels are listed but not read.
MAX_INDEX_DEPTH = 16
_EMPTY_BLOB = b"{}"


@dataclass(frozen=True)
class HistoryRow:
    """One *history* entry of an image config, with the *layer* it added and its *diff_id*.

    *layer* and *diff_id* are ``None`` and ``""`` for an empty-layer entry,
    and for an entry of a malformed image that has fewer layers (or diff_ids)
    than non-empty history entries.

    >>> row = Layout.open("oci").image("base").stat().history[-1]
    >>> row.history.created_by, row.layer is not None
    ('umoci insert', True)
    """

    history: History
    layer: Descriptor | None
    diff_id: str


@dataclass(frozen=True)
class ImageStat:
    """One image: its *manifest* (named by *manifest_descriptor*), config and history.

    *manifest_raw* and *config_raw* are the blobs' bytes as stored.  *config*
    is ``None`` when the config is not an image config (an artefact's);
    *config_is_empty* says it is the OCI empty config ``{}``.  *history* has
    one :class:`HistoryRow` per history entry of the config.

    >>> info = Layout.open("oci").image("base").stat()
    >>> info.config.os, len(info.manifest.layers)
    ('linux', 1)
    """

    manifest_descriptor: Descriptor
    manifest: Manifest
    manifest_raw: bytes
    config_raw: bytes
    config: ImageConfig | None
    config_is_empty: bool
    history: tuple[HistoryRow, ...]


@dataclass(frozen=True)
class IndexEntry:
    """One entry of an index: its *descriptor* and, for a nested index, its own entries.

    *entries* is empty for a manifest and for an index deeper than
    :data:`MAX_INDEX_DEPTH`; *unreadable* says why a nested index could not
    be read (its entries are then empty too).

    >>> [e.descriptor.platform for e in Layout.open("oci").stat("multi").entries]
    [Platform(architecture='amd64', os='linux', ...), ...]
    """

    descriptor: Descriptor
    entries: tuple[IndexEntry, ...] = ()
    unreadable: str | None = None


@dataclass(frozen=True)
class IndexStat:
    """An index with more than one manifest below it: the *index* and its entries.

    *descriptor* is the index's own (in ``index.json``, or the ``@digest``
    named), *index_raw* the index blob's bytes as stored; *entries* follow
    ``index.manifests`` in order.

    >>> info = Layout.open("oci").stat("multi")
    >>> info.index.media_type, len(info.entries)
    ('application/vnd.oci.image.index.v1+json', 3)
    """

    descriptor: Descriptor
    index: Index
    index_raw: bytes
    entries: tuple[IndexEntry, ...]


def stat(layout: str, ref: str, *, platform: str | None = None) -> ImageStat | IndexStat:
    """What ``umoci stat`` shows of *ref*: an :class:`IndexStat` for an index of several images.

    With *platform* (or for an index holding one image) it is the chosen
    image's :class:`ImageStat`.
    """
    with opened(layout) as store:
        if platform is None:
            anchors = find_anchors(store, ref)
            is_index = len(anchors) == 1 and anchors[0].root.media_type in mediatypes.INDEX_TYPES
            if is_index and len(leaves(store, anchors)) != 1:
                return _index_stat(store, anchors[0])
        return collect_image_from(store, resolve(store, ref, platform).descriptor)


def collect_image(layout: str, ref: str, platform: str | None = None) -> ImageStat:
    """The :class:`ImageStat` of the image *ref* names (for *platform*; None: the host's)."""
    with opened(layout) as store:
        return collect_image_from(store, resolve(store, ref, platform).descriptor)


def collect_image_from(store: DirStore, descriptor: Descriptor) -> ImageStat:
    """Everything ``stat`` shows of the manifest *descriptor*."""
    if descriptor.media_type not in mediatypes.MANIFEST_TYPES:
        raise BlobInvalidError(
            f"descriptor {descriptor.digest}: media type {descriptor.media_type!r} "
            "is not an image manifest"
        )
    manifest_raw = store.read_blob(descriptor)
    manifest = Manifest.from_bytes(
        manifest_raw, descriptor.media_type, f"manifest {descriptor.digest}"
    )
    config_descriptor = manifest.config
    # 0.6 reads the config blob whatever its type: a missing one is an error.
    config_raw = store.read_blob(config_descriptor)
    config: ImageConfig | None = None
    if _is_image_config(descriptor.media_type, config_descriptor.media_type):
        config = ImageConfig.from_bytes(config_raw, f"config {config_descriptor.digest}")
    is_empty = config_descriptor.media_type == mediatypes.EMPTY and config_raw == _EMPTY_BLOB
    history = _history_rows(manifest, config) if config is not None else ()
    return ImageStat(descriptor, manifest, manifest_raw, config_raw, config, is_empty, history)


def _is_image_config(manifest_media_type: str, config_media_type: str) -> bool:
    if config_media_type == mediatypes.CONFIG:
        return True
    return (
        config_media_type == mediatypes.DOCKER_CONFIG
        and manifest_media_type == mediatypes.DOCKER_MANIFEST
    )


def _history_rows(manifest: Manifest, config: ImageConfig) -> tuple[HistoryRow, ...]:
    # Non-empty history entries consume layers (and diff_ids) in order; a
    # malformed image with too few layers shows the rest as <none>.
    rows = []
    layer_index = 0
    for history in config.history:
        layer: Descriptor | None = None
        diff_id = ""
        if not history.empty_layer:
            if layer_index < len(manifest.layers):
                layer = manifest.layers[layer_index]
            if layer_index < len(config.diff_ids):
                diff_id = config.diff_ids[layer_index]
            layer_index += 1
        rows.append(HistoryRow(history, layer, diff_id))
    return tuple(rows)


def _index_stat(store: DirStore, anchor: DescriptorPath) -> IndexStat:
    descriptor = anchor.root
    raw = store.read_blob(descriptor)
    index = read_index_blob(store, descriptor)
    return IndexStat(descriptor, index, raw, _entries(store, index, 0))


def _entries(store: DirStore, index: Index, depth: int) -> tuple[IndexEntry, ...]:
    entries = []
    for child in index.manifests:
        if child.media_type not in mediatypes.INDEX_TYPES or depth >= MAX_INDEX_DEPTH:
            entries.append(IndexEntry(child))
            continue
        try:
            nested = read_index_blob(store, child)
        except UmociError as err:
            # A listing shows what it can: the rest of the index is still worth seeing.
            entries.append(IndexEntry(child, unreadable=str(err)))
            continue
        entries.append(IndexEntry(child, _entries(store, nested, depth + 1)))
    return tuple(entries)
