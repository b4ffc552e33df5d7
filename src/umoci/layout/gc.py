"""Mark-and-sweep garbage collection of blobs unreachable from ``index.json``.

Marking reads every manifest and index reachable from ``index.json`` and
marks their config, layers, manifests and subject descriptors.  A
descriptor's media type is a claim, not a fact: one without a media type,
or with one we do not know, is read (when it is small enough to be JSON) and
followed if its content is an index or a manifest, so a blob that is
referenced in fact is never swept because a descriptor was mislabelled.
Known layer and config types are leaves.  If a manifest or index that must
be read is missing or corrupt, nothing is deleted: sweeping a layout we
could not fully read might delete blobs that are still in use.

Our own writers hold the blob lock that ``gc`` takes exclusively (see
:mod:`umoci.cas.locks`), so by default every unreachable blob is swept, as
the Go umoci does.  With ``grace`` > 0 (opt-in, ``--grace``), blobs modified
less than that many seconds ago are kept: a writer that takes no umoci lock
(skopeo, the Go umoci) may have stored them and not yet written
``index.json``.  Files under
``blobs/`` whose names are not digests, and everything outside ``blobs/``,
are left alone; stale ``.umoci-*`` temporary directories (no live umoci
holds their lock) are removed.

Nothing outside the layout is ever deleted: every blob is unlinked relative
to a descriptor of its ``blobs/<alg>/`` opened inside the layout, and if
``blobs/`` or a ``blobs/<alg>/`` is a symlink leading out of it (a shared
pool, or a planted link to a victim directory) gc refuses before deleting
anything.
"""

from __future__ import annotations

import time

from umoci import log as umoci_log
from umoci import progress
from umoci.cas.dir import DirStore
from umoci.errors import BlobNotFoundError, LayoutError, UmociError
from umoci.layout.refs import read_index_blob, read_manifest
from umoci.oci import mediatypes
from umoci.oci.models import Descriptor, referenced_descriptors

log = umoci_log.get()

# Blobs of an unknown type larger than this are not JSON documents worth reading.
_SNIFF_LIMIT = 4 << 20
_LEAF_TYPES = mediatypes.LAYER_TYPES | mediatypes.IMAGE_CONFIG_TYPES | {mediatypes.EMPTY}


def _children_by_content(store: DirStore, descriptor: Descriptor) -> list[Descriptor]:
    """Descriptors inside a blob whose type we were not told (none if it is not JSON)."""
    if descriptor.size > _SNIFF_LIMIT or not store.has_blob(descriptor.digest):
        return []
    try:
        data = store.read_blob(descriptor, limit=_SNIFF_LIMIT)
    except UmociError:
        return []
    return referenced_descriptors(data, f"blob {descriptor.digest}")


def _children(store: DirStore, descriptor: Descriptor) -> list[Descriptor]:
    if descriptor.media_type in mediatypes.INDEX_TYPES:
        index = read_index_blob(store, descriptor)
        subject = [index.subject] if index.subject is not None else []
        return [*index.manifests, *subject]
    if descriptor.media_type in mediatypes.MANIFEST_TYPES:
        manifest = read_manifest(store, descriptor)
        subject = [manifest.subject] if manifest.subject is not None else []
        return [manifest.config, *manifest.layers, *subject]
    if descriptor.media_type in _LEAF_TYPES or descriptor.data is not None:
        return []
    return _children_by_content(store, descriptor)


def reachable(store: DirStore) -> set[str]:
    """Digests of every blob reachable from ``index.json``."""
    marked: set[str] = set()
    pending: list[Descriptor] = list(store.read_index().manifests)
    while pending:
        descriptor = pending.pop()
        if descriptor.digest in marked:
            continue
        marked.add(descriptor.digest)
        pending.extend(_children(store, descriptor))
    return marked


def _younger_than(store: DirStore, digest: str, seconds: float, now: float) -> bool:
    try:
        st = store.stat_blob(digest)
    except FileNotFoundError:
        return False
    return now - st.st_mtime < seconds


def collect(store: DirStore, *, grace: float = 0.0) -> list[str]:
    """Delete unreachable blobs (older than *grace* s) and stale temp dirs; return the digests."""
    try:
        marked = reachable(store)
    except BlobNotFoundError as err:
        raise BlobNotFoundError(f"{err} (nothing was deleted)") from None
    try:
        # Listed whole before the first deletion: a blob directory that leads
        # out of the layout is refused while nothing is deleted yet.
        candidates = list(store.list_blobs())
    except LayoutError as err:
        raise LayoutError(f"{err} (nothing was deleted)") from None
    now = time.time()
    deleted = []
    kept = 0
    line = progress.current()
    line.start("blobs")
    for digest in candidates:
        line.add(entries=1)
        if digest in marked:
            continue
        if grace > 0 and _younger_than(store, digest, grace, now):
            kept += 1
            continue
        log.info("garbage collecting blob %s", digest)
        store.delete_blob(digest)
        deleted.append(digest)
    if kept:
        log.info("kept %d unreachable blobs younger than %g s (--grace)", kept, grace)
    for name in store.clean_temp_dirs():
        log.info("removed stale temporary directory %s", name)
    return deleted
