"""The copy itself: choose what to copy, copy it blobs first, then name it.

1. **Choose.**  The source's anchors (what its name selects) give one root:
   with ``all_platforms`` the anchor itself (an index is copied whole);
   otherwise an index is narrowed to one manifest for the platform asked
   for (default: this host's), as the other verbs choose
   (:func:`umoci.layout.refs.choose`).  A Docker-format destination holds
   single images, so an index with several images there is an error
   before anything is written.
2. **Copy**, depth first, children before parents: layers and the config,
   then the manifest, then each index.  A blob the destination already
   has is not copied again.  A layer is copied byte for byte unless the
   destination needs it in another form -- a plain tar for Docker's
   formats, the ``compress`` codec if one was asked for, gzip for the
   plain layers of a Docker source going into an OCI destination -- in
   which case it is decompressed and recompressed in one stream and its
   uncompressed digest checked against the config's diff_id.  A manifest
   whose layers changed is rewritten (as an OCI manifest), and so is each
   index above a rewritten child; everything else keeps its bytes, so
   digests survive a copy that changes nothing.
3. **Commit** the name (:meth:`Destination.commit`), the only write that
   makes the copy visible.  Any failure before it calls
   :meth:`Destination.abort`.

Blobs are streamed, never held whole, except the JSON documents (capped at
:data:`~umoci.cas.layoutcheck.MAX_JSON_BYTES`).
"""

from __future__ import annotations

import io
import threading
import time

from umoci import log as umoci_log
from umoci import progress
from umoci.cas.verify import VerifiedReader
from umoci.compress import (
    CHUNK_SIZE,
    GZIP,
    LAYER_MEDIA_TYPES,
    NONE,
    Codec,
    HashingReader,
    layer_media_type,
    open_compressor,
    open_decompressor,
)
from umoci.errors import TransportError
from umoci.layout.refs import MAX_DEPTH, MAX_VISITS, DescriptorPath, choose, leaves
from umoci.oci import digest as digests
from umoci.oci import gojson, mediatypes
from umoci.oci import platforms as plat
from umoci.oci.models import Descriptor
from umoci.structs import replace
from umoci.transport.base import CopiedImage, CopyResult, Destination, Source, untagged
from umoci.transport.documents import parse_config, parse_index, parse_manifest

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from umoci.compress.streams import ByteReader

log = umoci_log.get()


def copy_image(
    source: Source, dest: Destination, root: Descriptor, *, compress: Codec | None = None
) -> CopyResult:
    """Copy *root* (what :func:`choose_root` chose) from *source* into *dest*, and commit it.

    *compress* recompresses layers into that codec (layers already in it
    are kept as they are).  Returns what was written.
    """
    started = time.monotonic()
    copier = _Copier(source, dest, compress)
    try:
        copied = copier.node(root, depth=0)
        result = CopyResult(untagged(copied), tuple(copier.images))
        dest.commit(result)
    except BaseException:
        dest.abort()
        raise
    log.info(
        "copied %s to %s: %s (%d blobs written, %.1f MB read in %.1f s; %d already there)",
        source.name,
        dest.name,
        copied.digest,
        copier.line.written,
        copier.line.bytes / 1e6,
        time.monotonic() - started,
        copier.line.present,
    )
    return result


def choose_root(
    source: Source, *, all_platforms: bool, platform: str | None, single_image: bool, dest: str
) -> Descriptor:
    """What to copy of what *source* names (before the destination *dest* is touched).

    *platform* (``OS/ARCH[/VARIANT]``, default this host's) chooses one
    image of an index unless *all_platforms*; a *single_image* destination
    (Docker's formats) cannot take an index of several.
    """
    want = plat.parse_platform(platform) if platform is not None else None
    anchors = source.anchors()
    if all_platforms:
        if len(anchors) != 1:
            raise TransportError(
                f"{source.name}: the name selects {len(anchors)} entries of index.json; "
                "--all copies one (name it by digest)"
            )
        root = anchors[0]
        if single_image and root.media_type in mediatypes.INDEX_TYPES:
            images = leaves(source, [DescriptorPath((root,))])
            if len(images) != 1:
                raise TransportError(
                    f"{dest}: holds a single image, and {source.name} is an index of "
                    f"{len(images)}: choose one with --platform instead of --all"
                )
            return images[0].descriptor
        return root
    if len(anchors) == 1 and anchors[0].media_type not in mediatypes.INDEX_TYPES:
        return anchors[0]
    paths = [DescriptorPath((anchor,)) for anchor in anchors]
    return choose(source, paths, source.name, want).descriptor


class _Copier:
    """One copy's state: what was copied already, and the images written."""

    def __init__(self, source: Source, dest: Destination, compress: Codec | None) -> None:
        self.source = source
        self.dest = dest
        self.compress = compress
        self.images: list[CopiedImage] = []
        self._nodes: dict[str, Descriptor] = {}  # source digest -> as written
        self._blobs: set[str] = set()  # digests put (or found) in the destination
        self._visits = 0
        self.line = _Line(progress.current())

    # -- the tree ------------------------------------------------------------

    def node(self, descriptor: Descriptor, depth: int) -> Descriptor:
        """Copy *descriptor* and everything below it; return it as the destination has it."""
        self._visits += 1
        if self._visits > MAX_VISITS:
            raise TransportError(f"{self.source.name}: more than {MAX_VISITS} descriptors")
        done = self._nodes.get(descriptor.digest)
        if done is None:
            if descriptor.media_type in mediatypes.INDEX_TYPES:
                if depth > MAX_DEPTH:
                    raise TransportError(
                        f"{self.source.name}: index {descriptor.digest}: nested too deeply"
                    )
                done = self._index(descriptor, depth)
            elif descriptor.media_type in mediatypes.MANIFEST_TYPES:
                done = self._image(descriptor)
            else:
                if self.dest.docker_format:
                    raise TransportError(
                        f"{self.dest.name}: {descriptor.digest} is not an image "
                        f"(media type {descriptor.media_type!r})"
                    )
                self._blob(descriptor)
                done = descriptor
            self._nodes[descriptor.digest] = done
        return replace(descriptor, media_type=done.media_type, digest=done.digest, size=done.size)

    def _index(self, descriptor: Descriptor, depth: int) -> Descriptor:
        what = f"index {descriptor.digest}"
        raw = self.source.read_blob(descriptor)
        index = parse_index(raw, descriptor.media_type, what)
        children = tuple(self.node(child, depth + 1) for child in index.manifests)
        if all(
            new.digest == old.digest for new, old in zip(children, index.manifests, strict=True)
        ):
            self._put_json(descriptor, raw)
            return descriptor
        rewritten = replace(index, manifests=children)
        media_type = descriptor.media_type
        if media_type == mediatypes.DOCKER_MANIFEST_LIST and any(
            child.media_type == mediatypes.MANIFEST for child in children
        ):
            # A Docker list cannot hold the OCI manifests its rewritten children became.
            media_type = mediatypes.INDEX
            rewritten = replace(rewritten, media_type=media_type if index.media_type else "")
        return self._put_json(None, gojson.dumps_blob(rewritten.to_json()), media_type)

    def _image(self, descriptor: Descriptor) -> Descriptor:
        what = f"manifest {descriptor.digest}"
        raw = self.source.read_blob(descriptor)
        manifest = parse_manifest(raw, descriptor.media_type, what)
        config = manifest.config
        diff_ids: tuple[str, ...] = ()
        config_raw: bytes | None = None
        if config.media_type in mediatypes.IMAGE_CONFIG_TYPES:
            config_raw = self.source.read_blob(config)
            diff_ids = parse_config(config_raw, f"config {config.digest}").diff_ids
        elif self.dest.docker_format:
            raise TransportError(
                f"{self.dest.name}: manifest {descriptor.digest} is not a container image "
                f"(config media type {config.media_type!r})"
            )
        if self.dest.docker_format and len(diff_ids) != len(manifest.layers):
            raise TransportError(
                f"{self.source.name}: manifest {descriptor.digest}: {len(manifest.layers)} "
                f"layers but {len(diff_ids)} diff_ids in its config"
            )
        layers = self._layers(manifest.layers, diff_ids, (config, config_raw))
        if layers == manifest.layers:
            written = self._put_json(descriptor, raw)
        else:
            if config.media_type == mediatypes.DOCKER_CONFIG:
                config = replace(config, media_type=mediatypes.CONFIG)
            # As an OCI manifest: Docker's has no media types for zstd or plain layers.
            rewritten = replace(
                manifest, media_type=mediatypes.MANIFEST, config=config, layers=layers
            )
            written = self._put_json(
                None, gojson.dumps_blob(rewritten.to_json()), mediatypes.MANIFEST
            )
        self.images.append(CopiedImage(written, config, layers))
        return written

    # -- blobs ---------------------------------------------------------------

    def _put_json(
        self, descriptor: Descriptor | None, data: bytes, media_type: str = ""
    ) -> Descriptor:
        """Store a JSON document (*descriptor* given: as the source has it; else new)."""
        if descriptor is None:
            digest = digests.sha256_of(data)
            descriptor = Descriptor(media_type, digest, len(data))
        self._blob(descriptor, data)
        return descriptor

    def _blob(self, descriptor: Descriptor, data: bytes | None = None) -> None:
        """Copy one blob as it is, unless the destination has it (*data*: its bytes, if read)."""
        if descriptor.digest in self._blobs:
            return
        if self.dest.has_blob(descriptor):
            log.info("blob %s: already in %s", descriptor.digest, self.dest.name)
            self.line.count(present=1)
        else:
            if data is not None:
                reader = VerifiedReader(io.BytesIO(data), descriptor.digest, descriptor.size)
            else:
                reader = self.source.open_blob(descriptor)
            self.line.start(f"blob {_short(descriptor.digest)}", total=descriptor.size)
            with reader:
                self.dest.put_blob(descriptor, _Counted(reader, self.line))
            self.line.count(written=1)
        self._blobs.add(descriptor.digest)

    def _layers(
        self,
        layers: tuple[Descriptor, ...],
        diff_ids: tuple[str, ...],
        config: tuple[Descriptor, bytes | None],
    ) -> tuple[Descriptor, ...]:
        """Copy a manifest's layers and its *config* (descriptor, and its bytes if read), in
        parallel when both ends allow; return the layers as written."""
        work = [
            (layer, diff_ids[i] if i < len(diff_ids) else None) for i, layer in enumerate(layers)
        ]
        jobs = min(self.source.parallel_transfers, self.dest.parallel_transfers, len(work) + 1)
        if jobs > 1:
            # Each distinct blob once, in parallel; the passes below then find them done.
            # The config too: its round trips to a registry overlap the layers' transfers
            # instead of following them.
            first = {layer.digest: (layer, diff_id) for layer, diff_id in reversed(work)}
            self._in_parallel(
                jobs, list(first.values()), None if config[0].digest in first else config
            )
        written = tuple(self._layer(layer, diff_id) for layer, diff_id in work)
        self._blob(*config)  # after the layers when one at a time (an archive's member order)
        return written

    def _in_parallel(
        self,
        jobs: int,
        work: list[tuple[Descriptor, str | None]],
        config: tuple[Descriptor, bytes | None] | None,
    ) -> None:
        """Run :meth:`_layer` over *work* and :meth:`_blob` for *config* with *jobs* threads;
        the first error stops the rest."""
        from concurrent.futures import Future, ThreadPoolExecutor

        # One line for the lot: each transfer restarting it would make it jump.
        total = sum(layer.size for layer, _ in work) + (0 if config is None else config[0].size)
        self.line.start(f"{len(work)} layers", total=total)
        self.line.grouped = True
        pool = ThreadPoolExecutor(jobs, thread_name_prefix="umoci-copy")
        try:
            # The config first: it is small, and would otherwise wait behind the layers.
            futures: list[Future[object]] = []
            if config is not None:
                futures.append(pool.submit(self._blob, *config))
            futures += [pool.submit(self._layer, layer, diff_id) for layer, diff_id in work]
            for future in futures:
                future.result()
        except BaseException:
            self.line.cancelled = True  # transfers still running stop at their next chunk
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            self.line.grouped = False

    def _layer(self, layer: Descriptor, diff_id: str | None) -> Descriptor:
        """Copy one layer, converted if the destination needs; return it as written."""
        target = self._target_codec(layer)
        if target is None:
            self._blob(layer)
            return layer
        key = f"{layer.digest} {target.name}"
        done = self._nodes.get(key)
        if done is None:
            done = self._nodes[key] = self._convert(layer, target, diff_id)
        # The layer's other fields (annotations ...) stay; its urls served the old bytes.
        return replace(
            layer, media_type=done.media_type, digest=done.digest, size=done.size, urls=()
        )

    def _target_codec(self, layer: Descriptor) -> Codec | None:
        """The codec *layer* must be stored in, or None to store it as it is."""
        have = LAYER_MEDIA_TYPES.get(layer.media_type)
        if have is None:
            if self.dest.docker_format:
                raise TransportError(
                    f"{self.dest.name}: layer {layer.digest}: media type {layer.media_type!r} "
                    "is not an image layer"
                )
            return None  # an artefact's blob: not ours to convert
        if self.dest.docker_format:
            want = NONE
        elif self.compress is not None:
            want = self.compress
        elif self.source.plain_layers and have is NONE:
            want = GZIP
        else:
            return None
        return None if want is have else want

    def _convert(self, layer: Descriptor, target: Codec, diff_id: str | None) -> Descriptor:
        """Decompress *layer* and compress it into *target*, checking its diff_id on the way.

        No stream is hashed twice: a plain source layer is verified against
        its own digest, which must then be the diff_id; a compressed one's
        uncompressed stream is hashed here, for the diff_id; a plain result
        is that stream, whose digest the destination is told instead of
        computing it again, and a compressed result is hashed once, by the
        destination, as it is written.
        """
        if diff_id is None:
            raise TransportError(
                f"{self.source.name}: layer {layer.digest}: no diff_id in the config to check "
                f"the {target.name} conversion against"
            )
        have = LAYER_MEDIA_TYPES[layer.media_type]
        if have is NONE and layer.digest != diff_id:
            raise TransportError(
                f"{self.source.name}: layer {layer.digest}: a plain layer must be named by its "
                f"diff_id, and the config says {diff_id}"
            )
        nondistributable = "nondistributable" in layer.media_type or "foreign" in layer.media_type
        self.line.start(f"layer {_short(layer.digest)} -> {target.name}", total=layer.size)
        known = diff_id if target is NONE else None
        with self.source.open_blob(layer) as raw, self.dest.new_blob(known) as sink:
            plain = open_decompressor(layer.media_type, _Counted(raw, self.line))
            hashed = None if have is NONE else HashingReader(plain)
            stream = plain if hashed is None else hashed
            if target is NONE:
                while chunk := stream.read(CHUNK_SIZE):
                    sink.write(chunk)
            else:
                writer = open_compressor(target, sink)
                while chunk := stream.read(CHUNK_SIZE):
                    writer.write(chunk)
                writer.close()
            raw.drain()  # the rest of the blob (bytes after the stream): digest and size checked
            if hashed is not None and hashed.digest() != diff_id:
                raise TransportError(
                    f"{self.source.name}: layer {layer.digest}: uncompressed content hashes to "
                    f"{hashed.digest()}, the config's diff_id says {diff_id}"
                )
            media_type = layer_media_type(target, nondistributable=nondistributable)
            converted = sink.commit(media_type)
        self.line.count(written=1)
        log.info("layer %s: stored as %s %s", layer.digest, target.name, converted.digest)
        return converted


def _short(digest: str) -> str:
    return digest.partition(":")[2][:12]


class _Line:
    """The progress line, the totals of the copy's summary, and whether the copy was called
    off (a parallel transfer failed).  Transfers in several threads report here."""

    def __init__(self, line: progress._Silent) -> None:
        self._line = line
        self._lock = threading.Lock()
        self.cancelled = False
        self.grouped = False  # parallel transfers share the line that was started last
        self.bytes = 0  # read from the source
        self.written = 0  # blobs written
        self.present = 0  # blobs the destination had

    def start(self, what: str, total: int | None = None) -> None:
        if not self.grouped:
            self._line.start(what, total)

    def add(self, nbytes: int) -> None:
        with self._lock:
            self.bytes += nbytes
        self._line.add(nbytes)

    def count(self, *, written: int = 0, present: int = 0) -> None:
        with self._lock:
            self.written += written
            self.present += present


class _Counted:
    """Pass reads through, reporting their sizes to the progress line."""

    def __init__(self, raw: ByteReader, line: _Line) -> None:
        self._raw = raw
        self._line = line

    def read(self, size: int = -1, /) -> bytes:
        if self._line.cancelled:
            raise TransportError("the copy was called off")
        data = self._raw.read(size)
        self._line.add(len(data))
        return data
