"""Change an image's config, manifest or layers and rewrite every parent up to the root.

A :class:`Mutator` starts from the descriptor path a tag resolved to
(``index.json`` entry → nested indexes → manifest).  Changes are collected
in memory; :meth:`Mutator.commit` writes the new config blob, the new
manifest, and a new copy of each parent index with the child descriptor
swapped, and returns the new root descriptor.  It never touches
``index.json``: the verb decides which tag to point at the result (the new
path's root), as the last write.
"""

from __future__ import annotations

from umoci.cas.dir import DirStore
from umoci.errors import BlobInvalidError
from umoci.layout.refs import DescriptorPath, read_index_blob, read_manifest
from umoci.oci import mediatypes
from umoci.oci.models import Descriptor, History, ImageConfig, Manifest
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

    def set_config(self, config: ImageConfig, history: History | None = None) -> None:
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
        child = replace(self.path.descriptor, digest=written.digest, size=written.size)
        new_walk = [child]
        # Walk up the nested indexes, replacing the old child in each.
        for parent, old_child in zip(
            reversed(self.path.walk[:-1]), reversed(self.path.walk[1:]), strict=True
        ):
            index = read_index_blob(self.store, parent)
            manifests = tuple(
                child if d.digest == old_child.digest and d == old_child else d
                for d in index.manifests
            )
            written = self.store.put_json(
                replace(index, manifests=manifests).to_json(), parent.media_type
            )
            child = replace(parent, digest=written.digest, size=written.size)
            new_walk.insert(0, child)
        return DescriptorPath(tuple(new_walk))
