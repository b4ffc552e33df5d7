"""Media types we read and write (image-spec media-types.md, plus Docker's schema 2)."""

from __future__ import annotations

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
EMPTY = "application/vnd.oci.empty.v1+json"

LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
LAYER_ND_TAR = "application/vnd.oci.image.layer.nondistributable.v1.tar"
LAYER_ND_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
LAYER_ND_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_FOREIGN_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

MANIFEST_TYPES = frozenset({MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({INDEX, DOCKER_MANIFEST_LIST})
IMAGE_CONFIG_TYPES = frozenset({CONFIG, DOCKER_CONFIG})
LAYER_TYPES = frozenset(
    {
        LAYER_TAR,
        LAYER_GZIP,
        LAYER_ZSTD,
        LAYER_ND_TAR,
        LAYER_ND_GZIP,
        LAYER_ND_ZSTD,
        DOCKER_LAYER_GZIP,
        DOCKER_LAYER_FOREIGN_GZIP,
    }
)
