"""What the copy engine asks of a transport: a :class:`Source` and a :class:`Destination`.

A source names the image(s) its reference selects (:meth:`Source.anchors`,
descriptors as ``index.json`` would list them) and serves blobs by
descriptor, each through a :class:`~umoci.cas.verify.VerifiedReader`.
Sources whose format has no manifests (``docker save`` archives) make one
up from what they hold; it is theirs to serve like any other blob.

A destination stores blobs -- as they are (:meth:`Destination.put_blob`)
or as the engine produces them (:meth:`Destination.new_blob`, for
converted layers, whose digest is known only at the end) -- and then,
last, makes the result visible under its name (:meth:`Destination.commit`).
:meth:`Destination.abort` undoes what can be undone when the copy fails.
"""

from __future__ import annotations

import abc

from umoci.cas.layoutcheck import MAX_JSON_BYTES
from umoci.closing import Closing
from umoci.errors import RefNotFoundError, TransportError
from umoci.layout.refs import find_anchors
from umoci.oci.models import Descriptor, Index
from umoci.structs import dataclass

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Protocol, Self

    from umoci.cas.verify import VerifiedReader
    from umoci.compress.streams import ByteReader
    from umoci.layout.refs import ImageStore

    class BlobSink(Protocol):
        """A blob being written whose digest is learnt at the end (:class:`BlobWriter`'s shape)."""

        size: int

        def write(self, data: bytes | memoryview, /) -> int: ...
        def commit(
            self, media_type: str, annotations: dict[str, str] | None = None
        ) -> Descriptor: ...
        def abort(self) -> None: ...
        def __enter__(self) -> Self: ...
        def __exit__(
            self,
            exc_type: type[BaseException] | None,
            exc: BaseException | None,
            tb: TracebackType | None,
        ) -> None: ...


class Source(Closing):
    """Where a copy reads: the images a name selects, and their blobs, verified."""

    #: How messages name this source (``oci-archive:rock.tar``).
    name: str = ""
    #: Layers are plain tar only because the format stores them so (``docker
    #: save``): a destination that may hold compressed layers gets them
    #: gzip-compressed, as skopeo does.
    plain_layers: bool = False
    #: How many blobs may be read at once, each from its own thread.
    parallel_transfers: int = 1

    @abc.abstractmethod
    def anchors(self) -> list[Descriptor]:
        """What the name selects: one or more ``index.json``-style entries (manifest or index)."""

    def open_blob(self, descriptor: Descriptor) -> VerifiedReader:
        """Stream a blob; its size and digest are checked as it is read."""
        from umoci.cas.verify import open_embedded

        embedded = open_embedded(descriptor)
        return embedded if embedded is not None else self._open_blob(descriptor)

    @abc.abstractmethod
    def _open_blob(self, descriptor: Descriptor) -> VerifiedReader:
        """Stream a blob the source stores (through a :class:`VerifiedReader`)."""

    def read_blob(self, descriptor: Descriptor, limit: int = MAX_JSON_BYTES) -> bytes:
        """A whole small blob (a manifest, index or config), verified."""
        if descriptor.size > limit:
            raise TransportError(
                f"{self.name}: blob {descriptor.digest}: {descriptor.size} bytes is too large "
                "to read whole"
            )
        with self.open_blob(descriptor) as reader:
            return reader.read_all_verified()


def select_anchors(
    store: ImageStore, index: Index, ref: str | None, entry: int | None, where: str
) -> list[Descriptor]:
    """The ``index.json`` entries an OCI name selects: by tag or digest, ``@N``, or the only one.

    *where* names the source in errors.
    """
    if entry is not None:
        if entry >= len(index.manifests):
            raise RefNotFoundError(
                f"{where}: no entry @{entry}: index.json has {len(index.manifests)}"
            )
        return [index.manifests[entry]]
    if ref is not None:
        anchors = [path.root for path in find_anchors(store, ref, index)]
        if not anchors:
            raise RefNotFoundError(f"{where}: tag not found: {ref}")
        return anchors
    if len(index.manifests) != 1:
        tags = ", ".join(index.tag_names()) or "none"
        raise RefNotFoundError(
            f"{where}: holds {len(index.manifests)} images, not one: name one as "
            f"{where}:TAG or {where}:@N (tags: {tags})"
        )
    return list(index.manifests)


@dataclass(frozen=True)
class CopiedImage:
    """One image as the destination holds it (what Docker's formats list in manifest.json)."""

    manifest: Descriptor
    config: Descriptor
    layers: tuple[Descriptor, ...]


@dataclass(frozen=True)
class CopyResult:
    """What a copy wrote, for :meth:`Destination.commit` to name.

    *root* is the manifest or index to name, without annotations of the
    source's (the destination adds its own ref name); *images* are the
    images below it.
    """

    root: Descriptor
    images: tuple[CopiedImage, ...]


class Destination(Closing):
    """Where a copy writes: blobs first, then :meth:`commit` names the result."""

    name: str = ""
    #: Docker's formats: every layer as a plain tar whose digest is its
    #: diff_id, and one image per name (no indexes).
    docker_format: bool = False
    #: How many blobs may be written at once, each from its own thread.
    parallel_transfers: int = 1

    @abc.abstractmethod
    def has_blob(self, descriptor: Descriptor) -> bool:
        """Is this blob already there (so it need not be copied again)?"""

    @abc.abstractmethod
    def put_blob(self, descriptor: Descriptor, stream: ByteReader) -> None:
        """Store the blob *stream* holds, reading it in chunks to its end.

        The engine hands a stream that checks the bytes against *descriptor*
        as they go and raises at the end if they are not its content; so an
        implementation must not let anyone take the blob for that content
        before the end.  A layout keeps it in a private temporary file until
        :meth:`commit`, and so does an archive written to a file (renamed
        into place at commit).  An archive written to a stream -- standard
        output, a FIFO, the Docker engine's upload -- carries the bytes as
        they come: there the guarantee is that a failure stops the stream
        before its index (``index.json``, ``manifest.json``) and its end, so
        it is no image any reader loads, and the engine gets no complete
        upload.  Docker's formats keep configs and layers only: they ignore
        manifests and indexes here.
        """

    @abc.abstractmethod
    def new_blob(self, digest: str | None = None) -> BlobSink:
        """A writer for a blob made during the copy (a converted layer).

        *digest*, when given, is the content's digest, which the engine
        checks itself before :meth:`BlobSink.commit`: the sink may use it
        instead of hashing the bytes again.
        """

    @abc.abstractmethod
    def commit(self, result: CopyResult) -> None:
        """Make the copied image visible under this destination's name (the last write)."""

    def abort(self) -> None:
        """The copy failed: remove what it made that nothing else may use (called before close)."""


def untagged(descriptor: Descriptor) -> Descriptor:
    """*descriptor* as a new name should point at it: the source's annotations dropped.

    An ``index.json`` entry's annotations say what the *source* called the
    image (its ref name, containerd's image name); the destination names
    it anew.
    """
    return Descriptor(
        descriptor.media_type,
        descriptor.digest,
        descriptor.size,
        urls=descriptor.urls,
        platform=descriptor.platform,
        artifact_type=descriptor.artifact_type,
    )
