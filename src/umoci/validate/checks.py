"""The check ids of ``umoci validate`` (no imports: ``umoci --help`` lists them)."""

from __future__ import annotations

#: Every check id, with what it checks (the README's table is made from this).
CHECKS = {
    "oci-layout": "oci-layout exists, is JSON, and names image layout version 1.0.0",
    "index-json": "index.json exists and is a JSON object",
    "schema": (
        "index, manifest, config and descriptors follow the image-spec schemas and decode "
        "as the Go umoci decodes them (warning: keys only its case-insensitive match reads, "
        "fields given twice)"
    ),
    "media-type": "a blob's own mediaType agrees with the descriptor that reaches it",
    "digest": "digests follow the grammar and use a registered algorithm (sha256, sha512)",
    "blob-missing": "every descriptor's blob is in the layout",
    "blob-size": "every blob has the size its descriptor says",
    "blob-digest": "every blob hashes to the digest its descriptor says",
    "blob-type": "a blob is a regular file (not a FIFO, device or symlink)",
    "embedded-data": "a descriptor's embedded data matches its digest and size",
    "annotation-key": "annotation keys are non-empty (warning: not reverse-domain style)",
    "ref-name": "tags (org.opencontainers.image.ref.name) follow the ref grammar",
    "diff-ids": "the config has one rootfs.diff_id per manifest layer",
    "history-layers": "the config's non-empty history entries are one per layer",
    "created": "created times are RFC 3339",
    "platform": "an index entry's platform agrees with the config it leads to",
    "nesting": "indexes are not nested deeper than umoci follows (16)",
    "layer-media-type": "an image's layers have a layer media type umoci can unpack",
    "layer-codec": "each layer decompresses with its media type's codec",
    "layer-diff-id": "each layer's uncompressed content hashes to its diff_id",
    "layer-tar": "each layer is a tar archive umoci can read",
    "layer-entry": "no layer entry is one umoci unpack always refuses (names, ids, links, xattrs)",
    "layer-path": "no entry name or hardlink target climbs above the root with ..",
    "layer-whiteout": "whiteouts are empty regular files naming something (not . or ..)",
    "layer-hardlink": "(warning) hardlink targets that are not files earlier in the same layer",
    "layer-symlink": "(warning) symlink targets that climb above the root with ..",
    "unreferenced-blob": "(warning) blobs nothing in index.json reaches",
    "temp-file": "(warning) temporary files a crashed writer left behind",
    "bundle-config": "a bundle's config.json exists and follows the runtime-spec",
    "bundle-meta": "a bundle's umoci.json exists and parses",
    "bundle-mtree": "a bundle's mtree exists and parses",
    "bundle-rootfs": "a bundle's rootfs matches its mtree",
}
