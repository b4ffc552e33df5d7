"""The small layout verbs: init, new, tag, rm, gc (``ls`` is in :mod:`umoci.ops.taglist`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from umoci import log as umoci_log
from umoci.cas.dir import DirStore, create_layout, open_layout
from umoci.errors import RefNotFoundError
from umoci.layout import gc as gc_algorithm
from umoci.layout.refs import host_arch, host_os, resolve, with_tag, without_tag
from umoci.oci import mediatypes
from umoci.oci.models import ImageConfig, Manifest
from umoci.oci.refs import check_tag
from umoci.oci.timefmt import default_now

log = umoci_log.get()


@contextmanager
def opened(layout: str) -> Iterator[DirStore]:
    """Open a layout for one verb; its temporary directory goes away on exit."""
    store = open_layout(layout)
    try:
        yield store
    finally:
        store.close()


def init_layout(layout: str) -> None:
    create_layout(layout)
    log.info("created new OCI image layout: %s", layout)


def new_image(layout: str, tag: str) -> None:
    check_tag(tag)
    with opened(layout) as store:
        config = ImageConfig(architecture=host_arch(), os=host_os(), created=default_now())
        config_descriptor = store.put_json(config.to_json(), mediatypes.CONFIG)
        manifest = Manifest(config=config_descriptor)
        manifest_descriptor = store.put_json(manifest.to_json(), mediatypes.MANIFEST)
        store.write_index(with_tag(store.read_index(), tag, manifest_descriptor))
    log.info("new image created: %s", manifest_descriptor.digest)


def tag_image(layout: str, tag: str, new_tag: str) -> None:
    check_tag(new_tag)
    with opened(layout) as store:
        path = resolve(store, tag)
        store.write_index(with_tag(store.read_index(), new_tag, path.root))
    log.info("created new tag %s -> %s", new_tag, path.root.digest)


def remove_tag(layout: str, tag: str) -> None:
    with opened(layout) as store:
        try:
            index = without_tag(store.read_index(), tag)
        except RefNotFoundError:
            # Removing a tag that is not there succeeds, as with the Go umoci:
            # scripts use "rm" to make sure a name is free.
            log.info("tag not found, nothing to remove: %s", tag)
            return
        store.write_index(index)
    log.info("removed tag %s", tag)


def gc(layout: str) -> None:
    with opened(layout) as store:
        deleted = gc_algorithm.collect(store)
    log.info("garbage collected %d blobs", len(deleted))
