"""New versions of an index blob: entries replaced, dropped or appended.

The one place an index blob is edited: by ``umoci index add|remove`` and by
every write through an index (:mod:`umoci.mutate`).  The index is decoded
into its model and written back from it, so every entry left alone (another
platform's manifest) and the index's own fields and media type (a Docker
manifest list stays one) are kept, fields we do not model included; the
document takes Go's field order and compact form.

An attestation manifest (BuildKit's entry annotated
``vnd.docker.reference.type``, whose ``vnd.docker.reference.digest`` names
the manifest it describes) goes when the manifest it describes is no
longer listed by the edited index: it attests to content that is not there
any more, and only the builder could make one for the new manifest.
"""

from __future__ import annotations

from umoci.cas.dir import DirStore
from umoci.layout.refs import read_index_blob
from umoci.oci.models import Descriptor
from umoci.oci.platforms import ATTESTATION_ANNOTATION
from umoci.structs import replace

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from collections.abc import Callable

REFERENCE_DIGEST_ANNOTATION = "vnd.docker.reference.digest"


def edit_entries(
    store: DirStore,
    index: Descriptor,
    edit: Callable[[Descriptor], Descriptor | None],
    append: Descriptor | None = None,
) -> Descriptor:
    """Store a copy of *index* with *edit* applied to each entry; return its descriptor.

    *edit* returns the entry it is given to keep it as stored, another
    descriptor to put in its place, or None to drop it; *append* goes last.
    Attestations of the manifests that are gone go too.  When nothing
    changed, nothing is written and *index* itself is returned.
    """
    parsed = read_index_blob(store, index)
    edited: list[Descriptor] = []
    replaced: set[str] = set()
    for entry in parsed.manifests:
        new = edit(entry)
        if new is entry:
            edited.append(entry)
            continue
        replaced.add(entry.digest)
        if new is not None:
            edited.append(new)
    if append is not None:
        edited.append(append)
    elif not replaced:
        return index
    gone = replaced - {entry.digest for entry in edited}
    kept = tuple(entry for entry in edited if not attests(entry, gone))
    written = store.put_json(replace(parsed, manifests=kept).to_json(), index.media_type)
    return replace(index, digest=written.digest, size=written.size)


def attests(entry: Descriptor, digests: set[str]) -> bool:
    """Is *entry* an attestation of one of *digests*?"""
    annotations = entry.annotations
    return bool(annotations.get(ATTESTATION_ANNOTATION)) and (
        annotations.get(REFERENCE_DIGEST_ANNOTATION) in digests
    )
