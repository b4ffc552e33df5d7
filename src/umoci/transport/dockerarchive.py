"""``docker-archive:FILE[:NAME:TAG]``: the format of ``docker save`` and ``docker load``.

The archive lists its images in ``manifest.json``: for each, a ``Config``
file (the image config, whose sha256 is the image ID), ``RepoTags`` and
the ``Layers`` files -- plain tar streams whose digests are the config's
diff_ids.  There are no manifests: reading one, we make an OCI manifest
up from those files (layers as ``...layer.v1.tar`` descriptors named by
their diff_id, so each is checked against it as it streams), and copying
into an OCI destination then gzip-compresses them, as skopeo does.  Since
Docker 25 the archive is also an OCI layout (``index.json``,
``blobs/sha256/``); the image's real manifest is then used when
``index.json`` has one with the same config.  Layer files that are
compressed anyway (gzip, zstd) are taken as such.

Writing gives what ``docker load`` and ``podman load`` expect, as skopeo
writes it: ``HEX.tar`` per layer (plain tar, HEX its diff_id), ``HEX.json``
for the config, ``manifest.json`` with the tags (``--additional-tag``
adds more) and, for old loaders, ``repositories`` and a legacy directory
per layer (``VERSION``, ``json``, ``layer.tar`` linking to the layer).
"""

from __future__ import annotations

import io
from typing import BinaryIO, cast

from umoci.cas.layoutcheck import MAX_JSON_BYTES
from umoci.cas.verify import VerifiedReader
from umoci.compress.magic import SNIFF_BYTES, sniff
from umoci.compress.streams import CHUNK_SIZE
from umoci.errors import (
    BlobInvalidError,
    InvalidRefError,
    RefNotFoundError,
    TransportError,
    UmociError,
    UsageError,
)
from umoci.layout.refs import DescriptorPath, leaves
from umoci.oci import digest as digests
from umoci.oci import gojson, mediatypes
from umoci.oci.models import Descriptor, Manifest
from umoci.structs import dataclass
from umoci.transport.base import CopyResult, Source
from umoci.transport.documents import parse_config, parse_json, parse_manifest, parse_object
from umoci.transport.names import DockerReference, parse_docker_reference
from umoci.transport.ociarchive import INDEX_FILE, LAYOUT_FILE, open_layout_blob, read_layout_index
from umoci.transport.tarindex import Member, TarIndex, open_archive, quote
from umoci.transport.tarout import ArchiveDestination, FileOutput, Output, symlink_entry

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from umoci.compress.streams import ByteReader
    from umoci.transport.names import DockerArchiveName
    from umoci.transport.spool import SpoolDir

MANIFEST_FILE = "manifest.json"
REPOSITORIES_FILE = "repositories"
_MAX_IMAGES = 4096

# Layer files that are compressed after all (as their first bytes say).
_COMPRESSED = {"gzip": mediatypes.LAYER_GZIP, "zstd": mediatypes.LAYER_ZSTD}


@dataclass(frozen=True)
class ArchivedImage:
    """One ``manifest.json`` entry: paths inside the archive, and the tags."""

    config: str
    repo_tags: tuple[str, ...]
    layers: tuple[str, ...]


def read_manifest_json(archive: TarIndex) -> list[ArchivedImage]:
    """The images ``manifest.json`` lists (type-checked; paths not yet resolved)."""
    if not archive.has(MANIFEST_FILE):
        raise TransportError(f"{archive.what}: not a docker-archive: no {MANIFEST_FILE}")
    data = archive.read(archive.file(MANIFEST_FILE, follow=True), MAX_JSON_BYTES)
    value = parse_json(data, MANIFEST_FILE)
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise BlobInvalidError(f"{MANIFEST_FILE}: not a list of objects")
    if len(value) > _MAX_IMAGES:
        raise BlobInvalidError(f"{MANIFEST_FILE}: more than {_MAX_IMAGES} images")
    images = []
    for i, entry in enumerate(value):
        what = f"{MANIFEST_FILE}[{i}]"
        config = entry.get("Config")
        if not isinstance(config, str) or not config:
            raise BlobInvalidError(f"{what}: Config must be a file name")
        repo_tags, layers = (_strings(entry.get(key), f"{what}: {key}") for key in _LISTS)
        images.append(ArchivedImage(config, repo_tags, layers))
    return images


_LISTS = ("RepoTags", "Layers")


def _strings(value: object, what: str) -> tuple[str, ...]:
    """A JSON list of strings (null: none), or BlobInvalidError."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BlobInvalidError(f"{what} must be a list of strings")
    return tuple(value)


def _matches(repo_tag: str, reference: DockerReference) -> bool:
    try:
        return parse_docker_reference(repo_tag) == reference
    except InvalidRefError:
        return False


class DockerArchiveSource(Source):
    """Read an image from a ``docker save`` archive (a manifest made up, or Docker 25's own)."""

    plain_layers = True

    def __init__(
        self,
        archive: TarIndex,
        *,
        reference: DockerReference | None = None,
        entry: int | None = None,
    ) -> None:
        """Read from *archive* (owned from now on) the image *reference* or *entry* names."""
        self.name = archive.what
        self._archive = archive
        self._members: dict[str, Member] = {}  # config and layer files by digest
        self._made: dict[str, bytes] = {}  # made-up manifests by digest
        try:
            self._anchor = self._select(read_manifest_json(archive), reference, entry)
        except BaseException:
            archive.close()
            raise

    @classmethod
    def open(cls, name: DockerArchiveName, *, tmpdir: SpoolDir) -> DockerArchiveSource:
        archive = open_archive(name.path, tmpdir=tmpdir, what=str(name))
        return cls(archive, reference=name.reference, entry=name.index)

    def _select(
        self, images: list[ArchivedImage], reference: DockerReference | None, entry: int | None
    ) -> Descriptor:
        if entry is not None:
            if entry >= len(images):
                raise RefNotFoundError(
                    f"{self.name}: no image @{entry}: {MANIFEST_FILE} lists {len(images)}"
                )
            return self._anchor_of(images[entry])
        if reference is not None:
            found = [
                image for image in images if any(_matches(t, reference) for t in image.repo_tags)
            ]
            if len(found) != 1:
                tags = ", ".join(t for image in images for t in image.repo_tags) or "none"
                if not found:
                    raise RefNotFoundError(
                        f"{self.name}: no image tagged {reference} (tags: {tags})"
                    )
                raise TransportError(f"{self.name}: {len(found)} images are tagged {reference}")
            return self._anchor_of(found[0])
        if len(images) != 1:
            raise RefNotFoundError(
                f"{self.name}: holds {len(images)} images, not one: name one as "
                f"{self.name}:NAME:TAG or {self.name}:@N"
            )
        return self._anchor_of(images[0])

    def _anchor_of(self, image: ArchivedImage) -> Descriptor:
        """The manifest to copy for *image*: Docker 25's own, or one made up from its files."""
        config_member = self._archive.file(
            image.config, follow=True, what=f"config {quote(image.config)}"
        )
        config_bytes = self._archive.read(config_member, MAX_JSON_BYTES)
        config_digest = digests.sha256_of(config_bytes)
        self._members[config_digest] = config_member
        own = self._oci_manifest(config_digest)
        if own is not None:
            return own
        config = parse_config(config_bytes, f"config {image.config}")
        if len(config.diff_ids) != len(image.layers):
            raise TransportError(
                f"{self.name}: {image.config}: {len(image.layers)} layers but "
                f"{len(config.diff_ids)} diff_ids"
            )
        layers = tuple(
            self._layer(path, diff_id)
            for path, diff_id in zip(image.layers, config.diff_ids, strict=True)
        )
        config_descriptor = Descriptor(mediatypes.CONFIG, config_digest, len(config_bytes))
        data = gojson.dumps_blob(Manifest(config_descriptor, layers).to_json())
        descriptor = Descriptor(mediatypes.MANIFEST, digests.sha256_of(data), len(data))
        self._made[descriptor.digest] = data
        return descriptor

    def _oci_manifest(self, config_digest: str) -> Descriptor | None:
        """Docker 25+: the manifest of ``index.json`` whose config is *config_digest*, if any.

        ``docker save`` of a multi-platform image lists every platform but
        stores the blobs of one: manifests that cannot be read are passed
        over (the files manifest.json names are used then).
        """
        if not (self._archive.has(INDEX_FILE) and self._archive.has(LAYOUT_FILE)):
            return None
        try:
            index = read_layout_index(self._archive)
            paths = leaves(self, [DescriptorPath((d,)) for d in index.manifests])
        except UmociError:
            return None
        for path in paths:
            candidate = path.descriptor
            if candidate.media_type not in mediatypes.MANIFEST_TYPES:
                continue
            try:
                manifest = parse_manifest(
                    self.read_blob(candidate), candidate.media_type, f"manifest {candidate.digest}"
                )
            except UmociError:
                continue
            if manifest.config.digest == config_digest:
                return candidate
        return None

    def _layer(self, path: str, diff_id: str) -> Descriptor:
        """A layer file as a descriptor: plain (named by its diff_id) or as compressed."""
        member = self._archive.file(path, follow=True, what=f"layer {quote(path)}")
        with self._archive.open(member) as reader:
            head = reader.read(SNIFF_BYTES)
        media_type = _COMPRESSED.get(sniff(head) or "")
        if media_type is not None:
            # Compressed after all: its own digest is what names it.
            hasher = digests.hasher(digests.SHA256)
            with self._archive.open(member) as reader:
                while chunk := reader.read(CHUNK_SIZE):
                    hasher.update(chunk)
            digest = f"{digests.SHA256}:{hasher.hexdigest()}"
            self._members[digest] = member
            return Descriptor(media_type, digest, member.size)
        self._members[diff_id] = member
        return Descriptor(mediatypes.LAYER_TAR, diff_id, member.size)

    def anchors(self) -> list[Descriptor]:
        return [self._anchor]

    def _open_blob(self, descriptor: Descriptor) -> VerifiedReader:
        made = self._made.get(descriptor.digest)
        if made is not None:
            return VerifiedReader(io.BytesIO(made), descriptor.digest, descriptor.size)
        member = self._members.get(descriptor.digest)
        if member is None:
            return open_layout_blob(self._archive, descriptor)
        raw = cast("BinaryIO", self._archive.open(member))
        return VerifiedReader(
            raw, descriptor.digest, descriptor.size, f" ({member.name} in {self.name})"
        )

    def close(self) -> None:
        self._archive.close()


# The config fields a legacy loader reads from the top layer's json.
_LEGACY_CONFIG_FIELDS = (
    "architecture",
    "config",
    "container",
    "container_config",
    "created",
    "docker_version",
    "os",
)


class DockerArchiveDestination(ArchiveDestination):
    """Write one image in ``docker save``'s format, tagged ``NAME:TAG`` (and more)."""

    docker_format = True

    def __init__(
        self,
        name: str,
        output: Output,
        *,
        tags: tuple[DockerReference, ...],
        tmpdir: SpoolDir,
    ) -> None:
        self.name = name
        self._tags = tuple(dict.fromkeys(tags))
        self._configs: dict[str, bytes] = {}
        super().__init__(output, tmpdir)

    @classmethod
    def open(
        cls, name: DockerArchiveName, *, additional_tags: tuple[str, ...], tmpdir: SpoolDir
    ) -> DockerArchiveDestination:
        if name.index is not None:
            raise TransportError(f"{name}: a destination is named NAME:TAG, not @N")
        tags = docker_tags(name.reference, additional_tags)
        return cls(str(name), FileOutput(name.path, str(name)), tags=tags, tmpdir=tmpdir)

    def entry_name(self, descriptor: Descriptor) -> str | None:
        _, encoded = digests.split(descriptor.digest)
        if descriptor.media_type in mediatypes.IMAGE_CONFIG_TYPES:
            return f"{encoded}.json"
        if descriptor.media_type in mediatypes.LAYER_TYPES:
            return f"{encoded}.tar"
        return None  # manifests and indexes: the format has none

    def put_blob(self, descriptor: Descriptor, stream: ByteReader) -> None:
        if descriptor.media_type not in mediatypes.IMAGE_CONFIG_TYPES:
            super().put_blob(descriptor, stream)
            return
        # The config is needed again at the end (the legacy json): keep it.
        if descriptor.size > MAX_JSON_BYTES:
            raise TransportError(f"{self.name}: config {descriptor.digest} is too large")
        data = b"".join(iter(lambda: stream.read(CHUNK_SIZE), b""))
        self._configs[descriptor.digest] = data
        super().put_blob(descriptor, io.BytesIO(data))

    def finish(self, result: CopyResult) -> None:
        (image,) = result.images  # the engine copies one image into Docker's formats
        config_name = self.written[image.config.digest]
        layer_names = [self.written[layer.digest] for layer in image.layers]
        top = self._legacy_layers(image.config, layer_names)
        repo_tags = [str(tag) for tag in self._tags]
        manifest = [{"Config": config_name, "RepoTags": repo_tags, "Layers": layer_names}]
        self.add_bytes(MANIFEST_FILE, gojson.dumps_blob(manifest))
        repositories: dict[str, dict[str, str]] = {}
        if top is not None:
            for tag in self._tags:
                repositories.setdefault(tag.name, {})[tag.tag] = top
        self.add_bytes(REPOSITORIES_FILE, gojson.dumps_blob(repositories))

    def _legacy_layers(self, config: Descriptor, layer_names: list[str]) -> str | None:
        """A legacy directory per layer (for loaders older than manifest.json); the top one's ID.

        Each ID is a digest of its parent's, the layer's and the config's,
        so it depends on everything below it and differs between images.
        """
        config_fields = parse_object(self._configs[config.digest], f"config {config.digest}")
        parent: str | None = None
        for i, layer_name in enumerate(layer_names):
            seed = f"{parent or ''} {layer_name} {config.digest}".encode()
            layer_id = digests.split(digests.sha256_of(seed))[1]
            legacy: dict[str, object] = {"id": layer_id}
            if parent is not None:
                legacy["parent"] = parent
            if i == len(layer_names) - 1:
                for key in _LEGACY_CONFIG_FIELDS:
                    legacy[key] = config_fields.get(key)
            self.add_bytes(f"{layer_id}/VERSION", b"1.0")
            self.add_bytes(f"{layer_id}/json", gojson.dumps_blob(legacy))
            self.add(symlink_entry(f"{layer_id}/layer.tar", f"../{layer_name}"))
            parent = layer_id
        return parent


def docker_tags(
    reference: DockerReference | None, additional: tuple[str, ...]
) -> tuple[DockerReference, ...]:
    """The destination's name and the ``--additional-tag`` values, as Docker references."""
    tags = [] if reference is None else [reference]
    for text in additional:
        try:
            tags.append(parse_docker_reference(text))
        except InvalidRefError as err:
            raise UsageError(f"--additional-tag: {err}") from None
    return tuple(tags)
