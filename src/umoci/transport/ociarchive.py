"""``oci-archive:FILE[:REF]``: an OCI layout in a tar archive (rockcraft's ``.rock``, KIWI's).

Reading indexes the archive (:mod:`.tarindex`) and serves ``index.json``
and ``blobs/ALG/HEX`` from it directly: nothing is extracted.  A blob
entry must be a regular file (a symlink is refused, as in a layout).

Writing streams a new archive: ``oci-layout``, ``blobs/``, each blob as
the copy reaches it, and ``index.json`` last, naming the image by the
tag(s) given; the file replaces FILE only once it is complete.
"""

from __future__ import annotations

from typing import BinaryIO, cast

from umoci.cas.layoutcheck import LAYOUT_VERSION, MAX_JSON_BYTES
from umoci.cas.verify import VerifiedReader
from umoci.errors import BlobInvalidError, TransportError
from umoci.layout.refs import with_tag
from umoci.oci import digest as digests
from umoci.oci import gojson, mediatypes
from umoci.oci.models import Descriptor, Index
from umoci.transport.base import CopyResult, Source, select_anchors
from umoci.transport.documents import parse_index, parse_object
from umoci.transport.layout import destination_tags
from umoci.transport.tarindex import open_archive
from umoci.transport.tarout import ArchiveDestination, FileOutput, dir_entry

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from umoci.transport.names import OciArchiveName
    from umoci.transport.spool import SpoolDir
    from umoci.transport.tarindex import TarIndex

LAYOUT_FILE = "oci-layout"
INDEX_FILE = "index.json"


def read_layout_index(archive: TarIndex) -> Index:
    """The ``index.json`` of the layout inside *archive*, after checking its ``oci-layout``."""
    if not archive.has(LAYOUT_FILE):
        raise TransportError(f"{archive.what}: not an OCI layout archive: no {LAYOUT_FILE}")
    layout = parse_object(
        archive.read(archive.file(LAYOUT_FILE, follow=False), 1 << 16), LAYOUT_FILE
    )
    version = layout.get("imageLayoutVersion")
    if version != LAYOUT_VERSION:
        raise TransportError(f"{archive.what}: unsupported {LAYOUT_FILE} version {version!r}")
    data = archive.read(archive.file(INDEX_FILE, follow=False), MAX_JSON_BYTES)
    return parse_index(data, mediatypes.INDEX, INDEX_FILE)


def open_layout_blob(archive: TarIndex, descriptor: Descriptor) -> VerifiedReader:
    """The blob *descriptor* names in the layout inside *archive* (``blobs/ALG/HEX``), verified."""
    algorithm, encoded = digests.split(descriptor.digest)
    member = archive.file(
        f"blobs/{algorithm}/{encoded}", follow=False, what=f"blob {descriptor.digest}"
    )
    if member.size != descriptor.size:
        raise BlobInvalidError(
            f"blob {descriptor.digest}: {member.size} bytes in {archive.what}, "
            f"the descriptor says {descriptor.size}"
        )
    raw = cast("BinaryIO", archive.open(member))
    return VerifiedReader(raw, descriptor.digest, descriptor.size, f" (in {archive.what})")


class OciArchiveSource(Source):
    """Read an image from an OCI layout archive, without extracting it."""

    def __init__(self, name: OciArchiveName, *, tmpdir: SpoolDir) -> None:
        self.name = str(name)
        self._ref, self._entry = name.ref, name.index
        self._archive = open_archive(name.path, tmpdir=tmpdir, what=self.name)
        try:
            self._index = read_layout_index(self._archive)
        except BaseException:
            self._archive.close()
            raise

    def read_index(self) -> Index:
        return self._index

    def anchors(self) -> list[Descriptor]:
        return select_anchors(self, self._index, self._ref, self._entry, self.name)

    def _open_blob(self, descriptor: Descriptor) -> VerifiedReader:
        return open_layout_blob(self._archive, descriptor)

    def close(self) -> None:
        self._archive.close()


class OciArchiveDestination(ArchiveDestination):
    """Write an image as an OCI layout archive, tagged."""

    def __init__(
        self, name: OciArchiveName, *, additional_tags: tuple[str, ...] = (), tmpdir: SpoolDir
    ) -> None:
        self.name = str(name)
        self._tags = destination_tags(name.ref, name.index, additional_tags, self.name)
        super().__init__(FileOutput(name.path, self.name), tmpdir)
        self.add_bytes(LAYOUT_FILE, gojson.dumps_blob({"imageLayoutVersion": LAYOUT_VERSION}))
        self.add(dir_entry("blobs"))
        self._dirs: set[str] = set()

    def entry_name(self, descriptor: Descriptor) -> str:
        algorithm, encoded = digests.split(descriptor.digest)
        if algorithm not in self._dirs:
            self.add(dir_entry(f"blobs/{algorithm}"))
            self._dirs.add(algorithm)
        return f"blobs/{algorithm}/{encoded}"

    def finish(self, result: CopyResult) -> None:
        index = Index(manifests=() if self._tags else (result.root,))
        for tag in self._tags:
            index = with_tag(index, tag, result.root)
        self.add_bytes(INDEX_FILE, gojson.dumps_blob(index.to_json()))
