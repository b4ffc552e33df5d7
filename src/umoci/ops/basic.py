"""The small layout verbs: init, new, tag, rm, gc, and resolving a reference (``ls`` is in
:mod:`umoci.ops.taglist`)."""

from __future__ import annotations

from umoci import log as umoci_log
from umoci.cas.dir import DirStore, create_layout, open_layout
from umoci.errors import RefNotFoundError, UsageError
from umoci.layout.refs import resolve, resolve_anchor, with_tag, without_tag
from umoci.oci import mediatypes
from umoci.oci.models import Descriptor, ImageConfig, Manifest
from umoci.oci.refs import check_tag, is_digest_ref
from umoci.oci.timefmt import default_now

log = umoci_log.get()


def opened(layout: str, *, writer: bool = False, streams: bool = False) -> DirStore:
    """Open a layout for one verb (``with opened(...) as store``): temp dir and locks go on exit.

    A *writer* (a verb that adds blobs or changes tags) holds the shared
    blob lock for the whole verb, so ``gc`` cannot sweep what it read and
    will refer to; so does a verb that *streams* blobs (unpack), so they do
    not vanish under it (see :mod:`umoci.cas.locks`).  A plain function
    rather than a ``contextlib`` generator: the store is its own context
    manager, and ``contextlib`` would cost every verb's start-up ~3 ms.
    """
    store = open_layout(layout)
    if writer or streams:
        try:
            store.hold_blobs()
        except BaseException:
            store.close()
            raise
    return store


def init_layout(layout: str) -> None:
    create_layout(layout)
    log.info("created new OCI image layout: %s", layout)


def new_image(layout: str, tag: str) -> None:
    check_tag_ref(tag)
    with opened(layout, writer=True) as store:
        from umoci.hostplatform import host_arch, host_os  # only new images need the host's

        config = ImageConfig(architecture=host_arch(), os=host_os(), created=default_now())
        config_descriptor = store.put_json(config.to_json(), mediatypes.CONFIG)
        manifest = Manifest(config=config_descriptor)
        manifest_descriptor = store.put_json(manifest.to_json(), mediatypes.MANIFEST)
        store.update_index(lambda index: with_tag(index, tag, manifest_descriptor))
    log.info("new image created: %s", manifest_descriptor.digest)


def write_target(ref: str, new_tag: str | None) -> str:
    """The tag a writing verb points at its result: ``--tag``, else the tag it read.

    A digest names content, which cannot change: writing through one needs
    a new tag for the result.
    """
    if new_tag is not None:
        return check_tag(new_tag)
    if is_digest_ref(ref):
        raise UsageError(
            f"--image names {ref[1:]} by digest: give --tag NEW to name the result "
            "(a digest cannot be moved)"
        )
    return check_tag(ref)


def check_tag_ref(ref: str, what: str = "--image") -> str:
    """Refuse a digest where only a tag makes sense (``new``, ``rm``, ...)."""
    if is_digest_ref(ref):
        raise UsageError(f"{what} must name a tag here, not a digest ({ref[1:]})")
    return check_tag(ref)


def resolve_manifest(layout: str, ref: str, platform: str | None = None) -> Descriptor:
    """The descriptor of the manifest *ref* names, for *platform* (None: the host's)."""
    with opened(layout) as store:
        return resolve(store, ref, platform).descriptor


def tag_image(layout: str, ref: str, new_tag: str, *, platform: str | None = None) -> None:
    check_tag(new_tag)
    with opened(layout, writer=True) as store:
        descriptor = resolve_anchor(store, ref, platform)
        store.update_index(lambda index: with_tag(index, new_tag, descriptor))
    log.info("created new tag %s -> %s", new_tag, descriptor.digest)


def remove_tag(layout: str, tag: str) -> None:
    check_tag_ref(tag)
    with opened(layout, writer=True) as store:
        try:
            store.update_index(lambda index: without_tag(index, tag))
        except RefNotFoundError:
            # Removing a tag that is not there succeeds, as with the Go umoci:
            # scripts use "rm" to make sure a name is free.
            log.info("tag not found, nothing to remove: %s", tag)
            return
    log.info("removed tag %s", tag)


def gc(layout: str, *, grace: float = 0.0) -> None:
    from umoci.layout import gc as gc_algorithm  # only gc needs it (and it loads progress)

    with opened(layout) as store, store.lock_for_gc():
        deleted = gc_algorithm.collect(store, grace=grace)
    log.info("garbage collected %d blobs", len(deleted))
