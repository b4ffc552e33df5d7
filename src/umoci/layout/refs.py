"""References: resolve a tag or digest to a manifest (choosing a platform), and edit tags.

A tag is a descriptor in ``index.json`` whose ``org.opencontainers.image.ref.name``
annotation is the tag.  A digest reference (``@sha256:...``, see
:mod:`umoci.oci.refs`) names any manifest or index reachable from
``index.json``, tagged or not, found breadth first (so the shallowest
occurrence wins); a prefix must match exactly one digest.  Either way the
named descriptor is the *anchor*: writes make a new version of it, and the
tag (or ``--tag``) is pointed at that.

When the anchor is an index, one manifest below it is chosen (nested
indexes are walked; the path of descriptors taken is kept, as the Go umoci
keeps it, so writes can rewrite every index on the way back up):

* an index with exactly one manifest below it yields that manifest,
  whatever its platform (the Go umoci's behaviour, so its images keep
  working);
* otherwise attestations, ``unknown/unknown`` entries and artefacts are
  set aside, and the best match for the requested platform (default: this
  host's, with its CPU variant) wins, ranked as
  :mod:`umoci.oci.platforms` describes; ties go to the first in the index.
  An entry without a ``platform`` is judged by its config.

Where the Go umoci gives up ("tag is ambiguous") we choose, and where no
entry fits, the error names the platforms the index does offer.
"""

from __future__ import annotations

from umoci import goquote
from umoci.cas.dir import DirStore
from umoci.errors import BlobInvalidError, RefNotFoundError, UmociError, UsageError
from umoci.oci import mediatypes
from umoci.oci import platforms as plat
from umoci.oci.models import REF_NAME_ANNOTATION, Descriptor, ImageConfig, Index, Manifest
from umoci.oci.refs import is_digest_ref
from umoci.structs import dataclass, replace

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import Protocol

    class JsonBlobs(Protocol):
        """What descriptors are walked in: a layout, or an image source of ``umoci copy``."""

        def read_blob(self, descriptor: Descriptor) -> bytes: ...

    class ImageStore(JsonBlobs, Protocol):
        """What references are resolved in: blobs, and an ``index.json`` naming some."""

        def read_index(self) -> Index: ...


#: Nested indexes deeper than this are refused (here and by ``umoci copy``): a
#: loop of indexes referring to each other cannot exist with content
#: addressing, but a very deep chain would still be a resource attack.
MAX_DEPTH = 16
#: Descriptors visited below one root, at most (a huge DAG, likewise).
MAX_VISITS = 1 << 16


@dataclass(frozen=True)
class DescriptorPath:
    """Descriptors from an ``index.json`` entry down to a manifest (first is the root)."""

    walk: tuple[Descriptor, ...]

    @property
    def root(self) -> Descriptor:
        return self.walk[0]

    @property
    def descriptor(self) -> Descriptor:
        return self.walk[-1]


def read_index_blob(store: JsonBlobs, descriptor: Descriptor) -> Index:
    return Index.from_bytes(
        store.read_blob(descriptor), descriptor.media_type, f"index {descriptor.digest}"
    )


def read_manifest(store: JsonBlobs, descriptor: Descriptor) -> Manifest:
    if descriptor.media_type not in mediatypes.MANIFEST_TYPES:
        raise BlobInvalidError(
            f"descriptor {descriptor.digest}: media type {descriptor.media_type!r} "
            "is not an image manifest"
        )
    return Manifest.from_bytes(
        store.read_blob(descriptor), descriptor.media_type, f"manifest {descriptor.digest}"
    )


class _Walk:
    """One walk below some anchors: index blobs read once, and a bound on the work.

    Indexes that list the same child index many times form a DAG whose
    walk grows exponentially with depth, so visits are capped.
    """

    def __init__(self, store: JsonBlobs) -> None:
        self.store = store
        self.indexes: dict[str, Index] = {}
        self.visits = 0
        self.out: list[DescriptorPath] = []

    def expand(self, path: tuple[Descriptor, ...]) -> None:
        self.visits += 1
        if self.visits > MAX_VISITS:
            raise BlobInvalidError(
                f"index {path[0].digest}: more than {MAX_VISITS} descriptors below it"
            )
        descriptor = path[-1]
        if descriptor.media_type not in mediatypes.INDEX_TYPES:
            self.out.append(DescriptorPath(path))
            return
        if len(path) > MAX_DEPTH:
            raise BlobInvalidError(f"index {descriptor.digest}: indexes nested too deeply")
        index = self.indexes.get(descriptor.digest)
        if index is None:
            index = self.indexes[descriptor.digest] = read_index_blob(self.store, descriptor)
        for child in index.manifests:
            self.expand((*path, child))


def describe_ref(ref: str) -> str:
    """How an error names a reference: ``tag "x"`` or ``digest sha256:...``."""
    return f"digest {ref[1:]}" if is_digest_ref(ref) else f"tag {ref!r}"


def find_anchors(store: ImageStore, ref: str, index: Index | None = None) -> list[DescriptorPath]:
    """The descriptors *ref* names (index.json entries for a tag; one for a digest).

    *index* is ``index.json`` as already read (under its lock, say); by
    default it is read now.
    """
    if index is None:
        index = store.read_index()
    if is_digest_ref(ref):
        return [_find_digest(store, index, ref[1:])]
    return [
        DescriptorPath((descriptor,))
        for descriptor in index.manifests
        if descriptor.ref_name == ref
    ]


def _find_digest(store: JsonBlobs, index: Index, prefix: str) -> DescriptorPath:
    """Breadth-first search for the manifest or index whose digest starts with *prefix*.

    Index blobs that cannot be read are passed over (an unrelated broken
    image must not hide the one asked for); the anchor loses its tag
    annotation, as it was named by content, not by tag.
    """
    found: dict[str, Descriptor] = {}
    level = list(index.manifests)
    searched: set[str] = set()
    for _ in range(MAX_DEPTH + 1):
        below: list[Descriptor] = []
        for descriptor in level:
            if descriptor.digest.startswith(prefix):
                found.setdefault(descriptor.digest, descriptor)
            is_index = descriptor.media_type in mediatypes.INDEX_TYPES
            if is_index and descriptor.digest not in searched:
                searched.add(descriptor.digest)
                try:
                    below.extend(read_index_blob(store, descriptor).manifests)
                except UmociError:
                    continue
        level = below
        if not level:
            break
    if not found:
        raise RefNotFoundError(f"digest not in the layout: {prefix}")
    if len(found) > 1:
        names = ", ".join(sorted(found))
        raise UsageError(
            f"digest prefix {prefix} is ambiguous: it matches {len(found)} descriptors ({names})"
        )
    (anchor,) = found.values()
    annotations = {k: v for k, v in anchor.annotations.items() if k != REF_NAME_ANNOTATION}
    return DescriptorPath((anchor.with_annotations(annotations),))


def leaves(store: JsonBlobs, anchors: list[DescriptorPath]) -> list[DescriptorPath]:
    """Every non-index descriptor below *anchors*, each with its path, in index order."""
    walk = _Walk(store)
    for anchor in anchors:
        walk.expand(anchor.walk)
    return walk.out


def is_runnable(descriptor: Descriptor) -> bool:
    """Could this index entry be an image to run (not an attestation, artefact, ...)?"""
    if descriptor.media_type not in mediatypes.MANIFEST_TYPES or descriptor.artifact_type:
        return False
    if descriptor.annotations.get(plat.ATTESTATION_ANNOTATION):
        return False
    p = descriptor.platform
    return p is None or not plat.normalize(p.os, p.architecture).is_unknown


def descriptor_platform(descriptor: Descriptor) -> plat.PlatformSpec | None:
    p = descriptor.platform
    if p is None:
        return None
    return plat.normalize(p.os, p.architecture, p.variant, p.os_version)


def shown_platform(platform: plat.PlatformSpec) -> str:
    """A platform read from a layout as a terminal may show it (its fields are anybody's text)."""
    return goquote.quote_if_needed(str(platform))


def platform_of(store: JsonBlobs, descriptor: Descriptor) -> plat.PlatformSpec | None:
    """An entry's platform: its descriptor's, or else its config's (None if unreadable)."""
    declared = descriptor_platform(descriptor)
    if declared is not None:
        return declared
    try:
        manifest = read_manifest(store, descriptor)
        if manifest.config.media_type not in mediatypes.IMAGE_CONFIG_TYPES:
            return None
        config = ImageConfig.from_bytes(
            store.read_blob(manifest.config), f"config {manifest.config.digest}"
        )
    except UmociError:
        return None
    if not config.os and not config.architecture:
        return None
    return plat.normalize(config.os, config.architecture, config.variant, config.os_version)


def resolve(store: ImageStore, ref: str, platform: str | None = None) -> DescriptorPath:
    """The one manifest *ref* names, for *platform* (``OS/ARCH[/VARIANT]``; None: the host's)."""
    want = plat.parse_platform(platform) if platform is not None else None
    anchors = find_anchors(store, ref)
    if not anchors:
        raise RefNotFoundError(f"tag not found: {ref}")
    return choose(store, anchors, describe_ref(ref), want)


def choose(
    store: JsonBlobs, anchors: list[DescriptorPath], what: str, want: plat.PlatformSpec | None
) -> DescriptorPath:
    """The one manifest below *anchors* (named *what* in errors) for *want* (None: the host's)."""
    paths = leaves(store, anchors)
    if not paths:
        raise RefNotFoundError(f"{what} names an index with no manifests")
    if want is None and len(paths) == 1:
        return paths[0]
    candidates = [p for p in paths if is_runnable(p.descriptor)]
    if want is None and len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise RefNotFoundError(
            f"{what} has no runnable image: only attestations or artefacts ({len(paths)} entries)"
        )
    if want is None:
        from umoci.hostplatform import host_platform

        target, asked = host_platform(), "this host's platform"
    else:
        target, asked = want, "platform"
    best: tuple[int, DescriptorPath] | None = None
    offered: list[str] = []
    for path in candidates:
        offers = platform_of(store, path.descriptor)
        offered.append("(unknown)" if offers is None else shown_platform(offers))
        score = None if offers is None else plat.rank(target, offers)
        if score is not None and (best is None or score < best[0]):
            best = (score, path)
    if best is None:
        choices = ", ".join(dict.fromkeys(offered))
        hint = "" if want is not None else "; choose one with --platform"
        raise RefNotFoundError(
            f"{what}: no manifest for {asked} {target}: the index offers {choices}{hint}"
        )
    return best[1]


def resolve_anchor(store: DirStore, ref: str, platform: str | None = None) -> Descriptor:
    """What ``tag`` points a new name at: what *ref* names, or one platform's manifest in it."""
    if platform is not None:
        return resolve(store, ref, platform).descriptor
    anchors = find_anchors(store, ref)
    if len(anchors) == 1:
        return anchors[0].root
    return resolve(store, ref).root


def with_tag(index: Index, tag: str, descriptor: Descriptor) -> Index:
    """*index* with every entry named *tag* replaced by *descriptor* (appended last)."""
    annotations = dict(descriptor.annotations)
    annotations[REF_NAME_ANNOTATION] = tag
    kept = tuple(d for d in index.manifests if d.ref_name != tag)
    return _replace_manifests(index, (*kept, descriptor.with_annotations(annotations)))


def without_tag(index: Index, tag: str) -> Index:
    """*index* without entries named *tag*; RefNotFoundError if there were none."""
    kept = tuple(d for d in index.manifests if d.ref_name != tag)
    if len(kept) == len(index.manifests):
        raise RefNotFoundError(f"tag not found: {tag}")
    return _replace_manifests(index, kept)


def _replace_manifests(index: Index, manifests: tuple[Descriptor, ...]) -> Index:
    return replace(index, manifests=manifests, media_type=mediatypes.INDEX)
