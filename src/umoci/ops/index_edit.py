"""``umoci index create|add|remove``: build and edit multi-platform images in a layout.

A *child* is given as ``REF[=PLATFORM]``: ``REF`` is a tag or ``@DIGEST``
of the same layout (see :mod:`umoci.oci.refs`), ``PLATFORM`` is
``OS[(VERSION)]/ARCH[/VARIANT]``.  Without ``=PLATFORM`` the child's
platform is what its descriptor already says, or else what its config says
(``os``, ``architecture``, ``variant``, ``os.version``, ``os.features`` as
written there).  A child that is itself an index is nested as it is and
needs no platform.

* ``create`` writes a new OCI index of the children, in the order given,
  and points the tag at it; two children for one platform are refused.
* ``add`` replaces the entry of the same platform (or appends), and
  ``remove`` drops the entries of one platform (exact match after
  normalisation, no fallbacks).  Both keep every other entry of the index
  byte for byte, its media type (a Docker manifest list stays one) and its
  other fields, and also drop attestations that refer to a manifest they
  removed (see :mod:`umoci.layout.index_blob`, which every write through
  an index shares).  The index is read under the ``index.json`` lock, so
  an edit another umoci made meanwhile is kept.

Blobs are written first and ``index.json`` last, as in every verb.
"""

from __future__ import annotations

from umoci import log as umoci_log
from umoci.cas.dir import DirStore
from umoci.errors import RefNotFoundError, UsageError
from umoci.layout.index_blob import attests, edit_entries
from umoci.layout.refs import (
    describe_ref,
    descriptor_platform,
    find_anchors,
    read_index_blob,
    read_manifest,
    shown_platform,
    with_tag,
)
from umoci.oci import mediatypes
from umoci.oci import platforms as plat
from umoci.oci.models import REF_NAME_ANNOTATION, Descriptor, ImageConfig, Index, Platform
from umoci.oci.refs import check_digest_ref, check_tag, is_digest_ref
from umoci.ops.basic import check_tag_ref, opened, write_target
from umoci.structs import replace

log = umoci_log.get()


def _parse_child(text: str) -> tuple[str, plat.PlatformSpec | None]:
    ref, sep, platform_text = text.partition("=")
    if not ref:
        raise UsageError(f"invalid child {text!r}: want TAG or @DIGEST, then =PLATFORM if needed")
    if is_digest_ref(ref):
        algorithm, colon, encoded = ref[1:].partition(":")
        if not colon or algorithm not in ("sha256", "sha512"):
            raise UsageError(f"invalid child {text!r}: want @sha256:HEX")
        ref = check_digest_ref(algorithm, encoded)
    else:
        check_tag(ref)
    return ref, plat.parse_platform(platform_text) if sep else None


def _platform_field(spec: plat.PlatformSpec) -> Platform:
    return Platform(
        architecture=spec.architecture,
        os=spec.os,
        variant=spec.variant,
        os_version=spec.os_version,
    )


def _config_platform(store: DirStore, descriptor: Descriptor) -> Platform | None:
    manifest = read_manifest(store, descriptor)
    if manifest.config.media_type not in mediatypes.IMAGE_CONFIG_TYPES:
        return None
    config = ImageConfig.from_bytes(
        store.read_blob(manifest.config), f"config {manifest.config.digest}"
    )
    if not config.os and not config.architecture:
        return None
    return Platform(
        architecture=config.architecture,
        os=config.os,
        os_version=config.os_version,
        os_features=config.os_features,
        variant=config.variant,
    )


def child_descriptor(store: DirStore, text: str) -> Descriptor:
    """The index entry for ``REF[=PLATFORM]``: what REF names, labelled with its platform."""
    ref, given = _parse_child(text)
    found = _single_anchor(store, ref)
    # The child's tag names it in index.json, not inside the new index.
    annotations = {k: v for k, v in found.annotations.items() if k != REF_NAME_ANNOTATION}
    child = replace(found, annotations=annotations, extra={})
    if given is not None:
        return replace(child, platform=_platform_field(given))
    if child.platform is not None or child.media_type in mediatypes.INDEX_TYPES:
        return child
    if child.media_type not in mediatypes.MANIFEST_TYPES:
        raise UsageError(
            f"{describe_ref(ref)} is a {child.media_type!r} blob, not a manifest or index"
        )
    platform = _config_platform(store, child)
    if platform is None:
        raise UsageError(
            f"{describe_ref(ref)}: its config names no platform: give one as {ref}=OS/ARCH"
        )
    return replace(child, platform=platform)


def _check_distinct(children: list[Descriptor]) -> None:
    seen: dict[plat.PlatformSpec, Descriptor] = {}
    for child in children:
        key = descriptor_platform(child)
        if key is None:
            continue
        if key in seen:
            raise UsageError(
                f"two children for platform {key}: {seen[key].digest} and {child.digest}"
            )
        seen[key] = child


def create(layout: str, tag: str, children: tuple[str, ...]) -> None:
    check_tag_ref(tag)
    if not children:
        raise UsageError("index create needs at least one child (TAG or @DIGEST)")
    with opened(layout, writer=True) as store:
        entries = [child_descriptor(store, text) for text in children]
        _check_distinct(entries)
        written = store.put_json(Index(manifests=tuple(entries)).to_json(), mediatypes.INDEX)
        store.update_index(lambda current: with_tag(current, tag, written))
    log.info("new index %s -> %s (%d entries)", written.digest, tag, len(entries))


def _single_anchor(store: DirStore, ref: str, index: Index | None = None) -> Descriptor:
    """The one descriptor *ref* names (a tag given to several entries is refused)."""
    anchors = find_anchors(store, ref, index)
    if not anchors:
        raise RefNotFoundError(f"tag not found: {ref}")
    if len(anchors) > 1:
        raise UsageError(f"{describe_ref(ref)} names {len(anchors)} entries of index.json")
    return anchors[0].root


def _index_anchor(store: DirStore, index: Index, ref: str) -> Descriptor:
    """The index *ref* names in *index* (``index.json``)."""
    anchor = _single_anchor(store, ref, index)
    if anchor.media_type not in mediatypes.INDEX_TYPES:
        raise UsageError(
            f"{describe_ref(ref)} names a {anchor.media_type!r}, not an index: "
            "make one with umoci index create"
        )
    return anchor


def add(layout: str, ref: str, child: str, *, new_tag: str | None) -> None:
    target = write_target(ref, new_tag)
    with opened(layout, writer=True) as store:
        entry = child_descriptor(store, child)
        key = descriptor_platform(entry)
        replaced: list[Descriptor] = []

        def same_platform(existing: Descriptor) -> Descriptor | None:
            if key is None or descriptor_platform(existing) != key:
                return existing
            replaced.append(existing)
            return None

        def change(current: Index) -> Index:
            # Read under the index lock, so an edit made meanwhile is kept.
            anchor = _index_anchor(store, current, ref)
            new_anchor = edit_entries(store, anchor, same_platform, append=entry)
            return with_tag(current, target, new_anchor)

        index = store.update_index(change)
    log.info(
        "index %s -> %s: added %s (replaced %d)",
        index.manifests[-1].digest,
        target,
        entry.digest,
        len(replaced),
    )


def remove(layout: str, ref: str, platform: str, *, new_tag: str | None) -> None:
    target = write_target(ref, new_tag)
    want = plat.parse_platform(platform)

    def other_platform(existing: Descriptor) -> Descriptor | None:
        return existing if descriptor_platform(existing) != want else None

    with opened(layout, writer=True) as store:

        def change(current: Index) -> Index:
            # Read under the index lock, so an edit made meanwhile is kept.
            anchor = _index_anchor(store, current, ref)
            entries = read_index_blob(store, anchor).manifests
            matching = [d for d in entries if descriptor_platform(d) == want]
            if not matching:
                offered = ", ".join(
                    dict.fromkeys(
                        shown_platform(k)
                        for d in entries
                        if (k := descriptor_platform(d)) is not None
                    )
                )
                raise RefNotFoundError(
                    f"{describe_ref(ref)}: no entry for platform {want}: "
                    f"the index has {offered or 'no platforms'}"
                )
            # Attestations of the removed images go with them (edit_entries).
            removed = {d.digest for d in matching}
            left = [d for d in entries if d not in matching and not attests(d, removed)]
            if not left:
                raise UsageError(
                    f"{describe_ref(ref)}: removing {want} would leave the index empty "
                    "(remove the tag with umoci rm instead)"
                )
            return with_tag(current, target, edit_entries(store, anchor, other_platform))

        index = store.update_index(change)
    log.info("index %s -> %s: removed %s", index.manifests[-1].digest, target, want)
