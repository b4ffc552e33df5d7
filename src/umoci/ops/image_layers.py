"""Reading an image's layers: resolve, verify blob digests and diff_ids, apply in order.

Each layer blob streams through ``VerifiedReader`` (size cap and blob
digest) → decompressor → ``HashingReader`` (diff_id) → the extractor, the
first three in a background thread (:class:`~umoci.compress.streams.Prefetcher`).  After
the tar's end the rest of the uncompressed stream, and any trailing bytes
after the compressed stream, are read too, so both digests cover every byte
and a blob with a wrong digest or diff_id is refused even when the extractor
stopped early.
"""

from __future__ import annotations

from umoci import goquote, progress
from umoci import log as umoci_log
from umoci.cas.dir import DirStore
from umoci.compress import HashingReader, codec_for_media_type, drain, open_decompressor
from umoci.compress.streams import Prefetcher
from umoci.errors import BlobInvalidError, LayerError, UmociError
from umoci.layer.extract import LayerExtractor
from umoci.layout.refs import DescriptorPath, read_manifest, resolve
from umoci.oci import mediatypes
from umoci.oci.models import Descriptor, ImageConfig, Manifest
from umoci.structs import dataclass, replace

log = umoci_log.get()

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import Any


@dataclass(frozen=True)
class Image:
    """A resolved image: its descriptor path, manifest and (decoded) config."""

    path: DescriptorPath
    manifest: Manifest
    config: ImageConfig
    raw_config: dict[str, Any]


def load_image(store: DirStore, ref: str, platform: str | None = None) -> Image:
    """Resolve *ref* (a tag or ``@digest``) to an image whose config is an image config."""
    path = resolve(store, ref, platform)
    manifest = read_manifest(store, path.descriptor)
    descriptor = manifest.config
    if descriptor.media_type not in mediatypes.IMAGE_CONFIG_TYPES:
        # An artefact (signature, SBOM, attestation...): its config media
        # type is its artefact type unless artifactType says otherwise.
        artifact_type = manifest.artifact_type or descriptor.media_type
        raise BlobInvalidError(
            f"manifest {path.descriptor.digest} is an artifact of type "
            f"{goquote.quote(artifact_type)}, not an image: its config "
            f"{goquote.quote(descriptor.media_type)} is not an image config"
        )
    raw = store.read_json(descriptor, "config")
    config = ImageConfig.from_json(raw, f"config {descriptor.digest}")
    if config.rootfs_type == "":
        # Some tools leave rootfs.type empty; "layers" is the only type there is.
        log.warning("config %s: empty rootfs.type: reading it as 'layers'", descriptor.digest)
        config = replace(config, rootfs_type="layers")
    elif config.rootfs_type != "layers":
        raise BlobInvalidError(
            f"config {descriptor.digest}: unsupported rootfs.type {config.rootfs_type!r}"
        )
    if len(config.diff_ids) != len(manifest.layers):
        raise BlobInvalidError(
            f"config {descriptor.digest}: {len(config.diff_ids)} diff_ids for "
            f"{len(manifest.layers)} layers"
        )
    for layer in manifest.layers:
        codec_for_media_type(layer.media_type)  # refuse unknown layer types up front
    return Image(path, manifest, config, raw)


def apply_layer_blob(
    store: DirStore, extractor: LayerExtractor, layer: Descriptor, diff_id: str
) -> None:
    """Apply one layer blob, verifying its digest, size and diff_id."""
    try:
        with store.open_blob(layer) as raw:
            counted = _Counted(raw, progress.current())
            hashing = HashingReader(open_decompressor(layer.media_type, counted))
            # Reading, verifying, decompressing and hashing run in a second
            # thread while this one creates the files.
            with Prefetcher(hashing, finish=raw.drain) as stream:
                entries = extractor.apply(stream)
                drain(stream)
            progress.current().add(entries=entries)
    except UmociError as err:
        if layer.digest in str(err):  # blob errors already name the digest
            raise
        raise type(err)(f"layer {layer.digest}: {err}") from None
    if hashing.digest() != diff_id:
        raise LayerError(
            f"layer {layer.digest}: diff_id mismatch: uncompressed content hashes to "
            f"{hashing.digest()}, config says {diff_id}"
        )


def apply_image_layers(store: DirStore, image: Image, extractor: LayerExtractor) -> None:
    layers = image.manifest.layers
    progress.current().start(f"{len(layers)} layers", total=sum(layer.size for layer in layers))
    for layer, diff_id in zip(layers, image.config.diff_ids, strict=True):
        apply_layer_blob(store, extractor, layer, diff_id)


class _Counted:
    """Reports the compressed bytes read to the progress line."""

    def __init__(self, raw: Any, line: progress._Silent) -> None:
        self._raw = raw
        self._line = line

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._raw.read(n)
        self._line.add(len(data))
        return data
