"""Mark-and-sweep garbage collection of blobs unreachable from ``index.json``.

Marking reads every manifest and index reachable from ``index.json`` and
marks their config, layers, manifests and subject descriptors; blobs of any
other media type are leaves.  If a manifest or index that must be read is
missing or corrupt, nothing is deleted: sweeping a layout we could not fully
read might delete blobs that are still in use.  Files under ``blobs/`` whose
names are not digests, and everything outside ``blobs/``, are left alone;
stale ``.umoci-*`` temporary directories (no live umoci holds their lock) are
removed.
"""

from __future__ import annotations

from umoci import log as umoci_log
from umoci.cas.dir import DirStore
from umoci.layout.refs import read_index_blob, read_manifest
from umoci.oci import mediatypes
from umoci.oci.models import Descriptor

log = umoci_log.get()


def reachable(store: DirStore) -> set[str]:
    """Digests of every blob reachable from ``index.json``."""
    marked: set[str] = set()
    pending: list[Descriptor] = list(store.read_index().manifests)
    while pending:
        descriptor = pending.pop()
        if descriptor.digest in marked:
            continue
        marked.add(descriptor.digest)
        if descriptor.media_type in mediatypes.INDEX_TYPES:
            index = read_index_blob(store, descriptor)
            pending.extend(index.manifests)
            if index.subject is not None:
                pending.append(index.subject)
        elif descriptor.media_type in mediatypes.MANIFEST_TYPES:
            manifest = read_manifest(store, descriptor)
            pending.append(manifest.config)
            pending.extend(manifest.layers)
            if manifest.subject is not None:
                pending.append(manifest.subject)
    return marked


def collect(store: DirStore) -> list[str]:
    """Delete unreachable blobs and stale temp dirs; return the deleted digests."""
    marked = reachable(store)
    deleted = []
    for digest in list(store.list_blobs()):
        if digest not in marked:
            log.info("garbage collecting blob %s", digest)
            store.delete_blob(digest)
            deleted.append(digest)
    for name in store.clean_temp_dirs():
        log.info("removed stale temporary directory %s", name)
    return deleted
