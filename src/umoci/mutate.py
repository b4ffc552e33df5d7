"""Change an image's config, manifest or layers and rewrite every parent up to the root.

A :class:`Mutator` starts from the descriptor path a tag resolved to
(``index.json`` entry → nested indexes → manifest).  Changes are collected
in memory; :meth:`Mutator.commit` writes the new config blob, the new
manifest, and a new copy of each parent index with the child descriptor
swapped, and returns the new root descriptor.  It never touches
``index.json``: the verb decides which tag to point at the result (the new
path's root), as the last write.

Each parent index is rewritten from its own JSON with only the changed
entry replaced, so every other entry (another platform's manifest, an
attestation, fields we do not model) stays exactly as it was; only the
document's whitespace becomes Go's compact form.  The changed entry keeps
its annotations and unknown fields; when the config's platform changed, its
``platform`` follows (so ``config --architecture`` on one child of a
multi-platform index relabels that child; an entry whose label already
disagreed with its config is not "corrected" by an unrelated change).  A
manifest named directly by ``index.json`` gets no ``platform`` it did not
have.
"""

from __future__ import annotations

from umoci.cas.dir import DirStore
from umoci.errors import BlobInvalidError
from umoci.layout.refs import DescriptorPath, read_index_blob, read_manifest
from umoci.oci import mediatypes
from umoci.oci.models import Descriptor, History, ImageConfig, Manifest, Platform
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
            self._config = ImageConfig.from_json(
                self.store.read_json(descriptor, "config"), f"config {descriptor.digest}"
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

    def commit(self) -> DescriptorPath:
        """Write the changed blobs bottom-up; return the new path (root first)."""
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
            return self.path
        written = self.store.put_json(manifest.to_json(), self.path.descriptor.media_type)
        leaf = self.path.descriptor
        platform: Platform | None = None  # None: each entry keeps its own
        if self._platform_changed() and (leaf.platform is not None or len(self.path.walk) > 1):
            platform = _platform_from(self.config, leaf.platform)
        child = replace(leaf, digest=written.digest, size=written.size)
        if platform is not None:
            child = replace(child, platform=platform)
        new_walk = [child]
        # Walk up the nested indexes, replacing the old child in each.
        for parent, old_child in zip(
            reversed(self.path.walk[:-1]), reversed(self.path.walk[1:]), strict=True
        ):
            written, new_walk[0] = self._rewrite_parent(parent, old_child, child, platform)
            platform = None  # only the manifest's own entry is relabelled
            child = replace(parent, digest=written.digest, size=written.size)
            new_walk.insert(0, child)
        return DescriptorPath(tuple(new_walk))

    def _rewrite_parent(
        self,
        parent: Descriptor,
        old_child: Descriptor,
        new_child: Descriptor,
        platform: Platform | None,
    ) -> tuple[Descriptor, Descriptor]:
        """Store a copy of index *parent* listing *new_child* where it listed *old_child*.

        Returns the new index's descriptor and the entry as written.
        """
        read_index_blob(self.store, parent)  # validates the index before editing its JSON
        raw = self.store.read_json(parent, "index")
        entries = raw.get("manifests")
        assert isinstance(entries, list)  # read_index_blob checked it
        written_entry: Descriptor | None = None
        for i, entry in enumerate(entries):
            current = Descriptor.from_json(entry, f"index {parent.digest}: manifests[{i}]")
            if current.digest != old_child.digest:
                continue
            if old_child.platform is not None and current.platform != old_child.platform:
                continue  # the same manifest listed again for another platform
            # The entry as the index has it (annotations, unknown fields),
            # with what changed.
            written_entry = replace(
                current,
                digest=new_child.digest,
                size=new_child.size,
                platform=platform if platform is not None else current.platform,
            )
            entries[i] = written_entry.to_json()
        if written_entry is None:
            raise BlobInvalidError(
                f"index {parent.digest} no longer lists {old_child.digest}: "
                "the image changed since it was read"
            )
        return self.store.put_json(raw, parent.media_type), written_entry


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
