"""Reading an image's layers: resolve, verify blob digests and diff_ids, apply in order.

Each layer blob streams through ``VerifiedReader`` (size cap and blob
digest) → decompressor → ``HashingReader`` (diff_id) → tar parser → the
extractor, all but the last ahead of it: in a background thread
(:class:`~umoci.ops.layer_pipeline.LayerPipeline`) or, for large layers, a
process of its own (:class:`~umoci.ops.layer_process.ProcessPipeline`).  After the tar's end
the rest of the uncompressed stream, and any trailing bytes after the
compressed stream, are read too, so both digests cover every byte; a layer
is only over, for the extractor, once both were verified.
"""

from __future__ import annotations

from umoci import goquote, progress
from umoci import log as umoci_log
from umoci.cas.dir import DirStore
from umoci.compress import codec_for_media_type
from umoci.errors import BlobInvalidError, UmociError
from umoci.layer.extract import LayerExtractor
from umoci.layout.refs import DescriptorPath, read_manifest, resolve
from umoci.oci import mediatypes
from umoci.oci.models import ImageConfig, Manifest
from umoci.ops.layer_pipeline import DEFAULT_DEPTH, LayerPipeline
from umoci.structs import dataclass, replace

log = umoci_log.get()

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from umoci.ops.layer_process import ProcessPipeline


@dataclass(frozen=True)
class Image:
    """A resolved image: its descriptor path, manifest and (decoded) config."""

    path: DescriptorPath
    manifest: Manifest
    config: ImageConfig


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
    config = ImageConfig.from_bytes(store.read_blob(descriptor), f"config {descriptor.digest}")
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
    return Image(path, manifest, config)


def apply_image_layers(
    store: DirStore,
    image: Image,
    extractor: LayerExtractor,
    *,
    read_ahead: bool = True,
    depth: int = DEFAULT_DEPTH,
    producer: str = "auto",
) -> None:
    """Apply every layer of *image* in order, verifying digests, sizes and diff_ids.

    The layers are read, verified and parsed ahead in a second thread
    (:mod:`umoci.ops.layer_pipeline`), across layer boundaries unless
    ``read_ahead`` is false; the order of application is the same either way.
    ``depth`` bounds the read-ahead (batches of at most ~1 MiB in flight).
    ``producer`` is where the reading and parsing runs: ``"thread"``,
    ``"process"`` (:mod:`umoci.ops.layer_process`; only with read-ahead) or
    ``"auto"``: a process when the layers are large enough to pay for
    starting one (:data:`PROCESS_MIN_BYTES`) and one can be started.
    """
    layers = image.manifest.layers
    line = progress.current()
    line.start(f"{len(layers)} layers", total=sum(layer.size for layer in layers))
    with _pipeline(
        store, image, extractor, producer, read_ahead=read_ahead, depth=depth
    ) as pipeline:
        for layer in layers:
            entries = pipeline.layer()
            try:
                extractor.apply_entries(entries)
            except UmociError as err:
                if layer.digest in str(err):  # blob errors already name the digest
                    raise
                raise type(err)(f"layer {layer.digest}: {err}") from None
            line.add(entries=entries.entries)


#: Compressed layer bytes from which a producer process pays for its start
#: (~35 ms, mostly on the other core): below, the thread pipeline is as
#: fast.  Compressed bytes say little about the work (the 200,000 tiny
#: files of the benchmark are 3 MB), so the bar is low.
PROCESS_MIN_BYTES = 1 << 20


def _pipeline(
    store: DirStore,
    image: Image,
    extractor: LayerExtractor,
    producer: str,
    *,
    read_ahead: bool,
    depth: int,
) -> LayerPipeline | ProcessPipeline:
    layers = image.manifest.layers
    if producer not in ("auto", "thread", "process"):
        raise ValueError(f"unknown producer {producer!r}")
    if producer == "process" and not read_ahead:
        raise ValueError("the producer process always reads ahead")
    wants_process = producer == "process" or (
        producer == "auto"
        and read_ahead
        and sum(layer.size for layer in layers) >= PROCESS_MIN_BYTES
    )
    if wants_process:
        from umoci.ops.layer_process import ProcessPipeline

        try:
            return ProcessPipeline(
                store, layers, image.config.diff_ids, hash_files=extractor.wants_digests
            )
        except OSError as err:
            if producer == "process":
                raise
            log.debug("layer reader process not started (%s): reading in a thread", err)
    return LayerPipeline(
        store,
        layers,
        image.config.diff_ids,
        hash_files=extractor.wants_digests,
        read_ahead=read_ahead,
        depth=depth,
    )
