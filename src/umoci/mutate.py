"""Change an image's config, manifest or layers, rewrite every parent index, and tag the result.

A :class:`Mutator` starts from the descriptor path a reference resolved to
(``index.json`` entry → nested indexes → manifest), now or at unpack time
(a bundle's ``umoci.json``).  Changes are collected in memory;
:meth:`Mutator.commit` writes the new config blob and the new manifest,
then, under the ``index.json`` lock, takes the image as it is *now* (the
tag's current entry: another platform may have been repacked, removed or
relabelled since the path was read), writes a new copy of each index below
it that lists the old manifest, with that entry replaced, and points the
target tag at the result, as the last write (a manifest listed twice for
its platform is replaced in both places).  Should the tag no longer
list the old manifest (for the same platform), nothing is tagged and
:class:`RefNotFoundError` says so; :meth:`Mutator.check_still_listed`
asks the same before any blob is written.  A root named by digest is
content and is used as recorded; a manifest named directly by
``index.json`` is simply replaced, as the Go umoci does.

Indexes are rewritten by :func:`umoci.layout.index_blob.edit_entries`:
every other entry (another platform's manifest, fields we do not model)
stays exactly as it was, and an attestation of the replaced manifest is
dropped.  The replaced entry keeps its annotations and unknown fields; when
the config's platform changed, its ``platform`` follows (so ``config
--architecture`` on one child of a multi-platform index relabels that
child; an entry whose label already disagreed with its config is not
"corrected" by an unrelated change).  A manifest named directly by
``index.json`` gets no ``platform`` it did not have.

Internal: not part of the public API (:mod:`umoci.api`).
"""

from __future__ import annotations

from umoci.cas.dir import DirStore
from umoci.errors import BlobInvalidError, RefNotFoundError
from umoci.layout.index_blob import edit_entries
from umoci.layout.refs import (
    DescriptorPath,
    describe_ref,
    descriptor_platform,
    leaves,
    read_manifest,
    with_tag,
)
from umoci.oci import mediatypes
from umoci.oci.models import Descriptor, History, ImageConfig, Index, Manifest, Platform
from umoci.structs import replace


class Mutator:
    """Pending changes to the image at the end of one descriptor path."""

    def __init__(self, store: DirStore, path: DescriptorPath) -> None:
        self.store = store
        self.path = path
        self.manifest: Manifest = read_manifest(store, path.descriptor)
        self._config: ImageConfig | None = None
        self._config_changed = False
        self._manifest_changed = False
        self._original_platform: tuple[object, ...] | None = None

    @property
    def config(self) -> ImageConfig:
        """The image config (read on first use; refused for non-image configs)."""
        if self._config is None:
            descriptor = self.manifest.config
            if descriptor.media_type not in mediatypes.IMAGE_CONFIG_TYPES:
                raise BlobInvalidError(
                    f"manifest {self.path.descriptor.digest}: config media type "
                    f"{descriptor.media_type!r} is not an image config"
                )
            self._config = ImageConfig.from_bytes(
                self.store.read_blob(descriptor), f"config {descriptor.digest}"
            )
        return self._config

    def _platform_changed(self) -> bool:
        """Did the config's platform change?  (Only then is the index entry relabelled.)"""
        if not self._config_changed or self._original_platform is None:
            return False
        return _config_platform(self.config) != self._original_platform

    def set_config(self, config: ImageConfig, history: History | None = None) -> None:
        if self._original_platform is None:
            self._original_platform = _config_platform(self.config)
        if history is not None:
            config = replace(config, history=(*config.history, history))
        self._config = config
        self._config_changed = True

    def set_annotations(self, annotations: dict[str, str]) -> None:
        self.manifest = replace(self.manifest, annotations=dict(annotations))
        self._manifest_changed = True

    def add_layer(self, layer: Descriptor, diff_id: str, history: History | None) -> None:
        """Append a layer (its blob must already be stored) and its diff_id."""
        config = self.config
        self.set_config(replace(config, diff_ids=(*config.diff_ids, diff_id)), history)
        self.manifest = replace(self.manifest, layers=(*self.manifest.layers, layer))
        self._manifest_changed = True

    def check_still_listed(self) -> None:
        """Fail now, before a blob is written, if :meth:`commit` would find the image gone."""
        if len(self.path.walk) > 1:
            current_anchor(self.store, self.store.read_index(), self.path)
        else:
            self.store.read_index()  # a broken index.json would fail the final swap

    def commit(self, target: str) -> DescriptorPath:
        """Write the changed blobs, then point tag *target* at the result (the last write).

        Returns the new path, its root as ``index.json`` now lists it.
        """
        new_leaf = self._write_manifest()
        relabel = self.config if self._platform_changed() else None
        swap = _Swap(self.store, self.path.descriptor, new_leaf, relabel)
        if len(self.path.walk) == 1:
            # A manifest named directly by index.json: no index to re-read
            # (the Go umoci's behaviour).
            root = swap.entry(self.path.root, in_index=False)
            index = self.store.update_index(lambda current: with_tag(current, target, root))
            return DescriptorPath((index.manifests[-1],))

        def change(current: Index) -> Index:
            anchor = current_anchor(self.store, current, self.path)
            return with_tag(current, target, swap.entry(anchor, in_index=False))

        index = self.store.update_index(change)
        assert swap.written is not None  # current_anchor() found the manifest below the anchor
        return _path_to(self.store, index.manifests[-1], swap.written)

    def _write_manifest(self) -> Descriptor:
        """Store the changed config and manifest; the manifest's descriptor (old if unchanged)."""
        manifest = self.manifest
        if self._config_changed:
            config_descriptor = self.store.put_json(
                self.config.to_json(), self.manifest.config.media_type
            )
            old = self.manifest.config
            manifest = replace(
                manifest,
                config=replace(old, digest=config_descriptor.digest, size=config_descriptor.size),
            )
            self._manifest_changed = True
        if not self._manifest_changed:
            return self.path.descriptor
        written = self.store.put_json(manifest.to_json(), self.path.descriptor.media_type)
        return replace(self.path.descriptor, digest=written.digest, size=written.size)


def current_anchor(store: DirStore, index: Index, path: DescriptorPath) -> Descriptor:
    """What a write through *path* rewrites now: its root as *index* lists it.

    A root named by a tag is that tag's entry in *index* (the first, should
    the tag name several) that still lists the manifest *path* ends in; a
    root named by digest is content, which cannot have changed.  A
    :class:`RefNotFoundError` if the manifest is no longer there.
    """
    tag = path.root.ref_name
    roots = [path.root] if tag is None else [d for d in index.manifests if d.ref_name == tag]
    # One walk below them all: leaves() bounds it (depth, visits), and so
    # the rewrite of the anchor found, which walks a part of it.
    for found in leaves(store, [DescriptorPath((root,)) for root in roots]):
        if _is_entry(found.descriptor, path.descriptor):
            return found.root
    where = describe_ref(tag) if tag is not None else f"index {path.root.digest}"
    platform = descriptor_platform(path.descriptor)
    raise RefNotFoundError(
        f"{where} no longer lists manifest {path.descriptor.digest}"
        f"{f' ({platform})' if platform is not None else ''}, which this image was read from"
    )


def _is_entry(entry: Descriptor, manifest: Descriptor) -> bool:
    """Is *entry* an entry of *manifest*?  (The same manifest may be listed for two platforms.)"""
    if entry.digest != manifest.digest:
        return False
    return manifest.platform is None or entry.platform == manifest.platform


class _Swap:
    """One manifest's entries below an anchor replaced by its new version, parents rewritten."""

    def __init__(
        self,
        store: DirStore,
        old: Descriptor,
        new: Descriptor,
        relabel: ImageConfig | None,
    ) -> None:
        self.store = store
        self.old = old
        self.new = new
        self.relabel = relabel  # the config whose platform the entries take, if it changed
        self.written: Descriptor | None = None  # the first replaced entry, as written
        # An index listed in several places is rewritten once.
        self._indexes: dict[str, Descriptor] = {}

    def entry(self, entry: Descriptor, *, in_index: bool = True) -> Descriptor:
        """*entry* with the manifest replaced in it or below it (*entry* itself if not)."""
        if _is_entry(entry, self.old):
            platform = entry.platform
            # A manifest named directly by index.json gets no platform it did not have.
            if self.relabel is not None and (in_index or platform is not None):
                platform = _platform_from(self.relabel, platform)
            new = replace(entry, digest=self.new.digest, size=self.new.size, platform=platform)
            if self.written is None:
                self.written = new
            return entry if new == entry else new
        if entry.media_type not in mediatypes.INDEX_TYPES:
            return entry
        written = self._indexes.get(entry.digest)
        if written is None:
            written = self._indexes[entry.digest] = edit_entries(self.store, entry, self.entry)
        if written.digest == entry.digest:
            return entry
        return replace(entry, digest=written.digest, size=written.size)


def _path_to(store: DirStore, root: Descriptor, leaf: Descriptor) -> DescriptorPath:
    """The path from *root* to the first entry of manifest *leaf*."""
    for path in leaves(store, [DescriptorPath((root,))]):
        if _is_entry(path.descriptor, leaf):
            return path
    raise AssertionError(f"{root.digest} does not list the manifest just written")


def _config_platform(config: ImageConfig) -> tuple[object, ...]:
    return (config.os, config.architecture, config.variant, config.os_version, config.os_features)


def _platform_from(config: ImageConfig, old: Platform | None) -> Platform:
    """A descriptor platform saying what *config* says (other fields of *old* kept)."""
    base = old if old is not None else Platform()
    return replace(
        base,
        architecture=config.architecture,
        os=config.os,
        variant=config.variant,
        os_version=config.os_version or base.os_version,
        os_features=config.os_features or base.os_features,
    )
