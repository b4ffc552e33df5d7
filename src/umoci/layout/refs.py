"""Tags: resolve a name to a manifest, set, delete and list names in ``index.json``.

A tag is a descriptor in ``index.json`` whose ``org.opencontainers.image.ref.name``
annotation is the tag.  It may point at a manifest directly or at an index
(e.g. a multi-platform image); resolving descends through indexes until it
reaches manifests, recording the path of descriptors taken, as the Go umoci
does.  Where the Go umoci gives up on more than one manifest ("tag is
ambiguous") we pick the one for the host platform if exactly one matches.
"""

from __future__ import annotations

from umoci.cas.dir import DirStore
from umoci.errors import BlobInvalidError, RefNotFoundError
from umoci.oci import mediatypes
from umoci.oci.models import REF_NAME_ANNOTATION, Descriptor, Index, Manifest
from umoci.structs import dataclass, replace

# Nested indexes deeper than this are refused: a loop of indexes referring
# to each other cannot exist with content addressing, but a very deep chain
# would still be a resource attack.
_MAX_DEPTH = 16

_GO_ARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
    "i686": "386",
    "i386": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "mips64": "mips64",
    "loongarch64": "loong64",
}


def host_os() -> str:
    import platform as host_platform  # only for new images: keep it off start-up

    return host_platform.system().lower() or "linux"


def host_arch() -> str:
    import platform as host_platform  # only for new images: keep it off start-up

    machine = host_platform.machine()
    return _GO_ARCH.get(machine, machine.lower())


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


def read_index_blob(store: DirStore, descriptor: Descriptor) -> Index:
    return Index.from_json(
        store.read_json(descriptor, "index"), descriptor.media_type, f"index {descriptor.digest}"
    )


def read_manifest(store: DirStore, descriptor: Descriptor) -> Manifest:
    if descriptor.media_type not in mediatypes.MANIFEST_TYPES:
        raise BlobInvalidError(
            f"descriptor {descriptor.digest}: media type {descriptor.media_type!r} "
            "is not an image manifest"
        )
    return Manifest.from_json(
        store.read_json(descriptor, "manifest"),
        descriptor.media_type,
        f"manifest {descriptor.digest}",
    )


def _expand(store: DirStore, path: tuple[Descriptor, ...], out: list[DescriptorPath]) -> None:
    descriptor = path[-1]
    if descriptor.media_type in mediatypes.INDEX_TYPES:
        if len(path) > _MAX_DEPTH:
            raise BlobInvalidError(f"index {descriptor.digest}: indexes nested too deeply")
        for child in read_index_blob(store, descriptor).manifests:
            _expand(store, (*path, child), out)
    else:
        out.append(DescriptorPath(path))


def resolve_all(store: DirStore, tag: str) -> list[DescriptorPath]:
    """Every manifest path reachable from the index entries named *tag*."""
    out: list[DescriptorPath] = []
    for descriptor in store.read_index().manifests:
        if descriptor.ref_name == tag:
            _expand(store, (descriptor,), out)
    return out


def resolve(store: DirStore, tag: str) -> DescriptorPath:
    """The single manifest *tag* names; RefNotFoundError if none."""
    paths = resolve_all(store, tag)
    if not paths:
        raise RefNotFoundError(f"tag not found: {tag}")
    if len(paths) == 1:
        return paths[0]
    matching = [
        p
        for p in paths
        if p.descriptor.platform is not None
        and p.descriptor.platform.os == host_os()
        and p.descriptor.platform.architecture == host_arch()
    ]
    if len(matching) == 1:
        return matching[0]
    raise RefNotFoundError(f"tag is ambiguous: {tag}: it names {len(paths)} manifests")


def list_tags(index: Index) -> list[str]:
    """Names in index order, each once."""
    seen: dict[str, None] = {}
    for descriptor in index.manifests:
        name = descriptor.ref_name
        if name is not None:
            seen.setdefault(name, None)
    return list(seen)


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
