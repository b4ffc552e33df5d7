"""Open the source or destination an image name stands for (each transport imported on use)."""

from __future__ import annotations

import os
from typing import assert_never

from umoci.errors import UsageError
from umoci.transport.base import Destination, Source
from umoci.transport.names import (
    DockerArchiveName,
    DockerDaemonName,
    ImageName,
    LayoutName,
    OciArchiveName,
    RegistryName,
)
from umoci.transport.registry.options import RegistryOptions
from umoci.transport.spool import SpoolDir

#: Where streams are spooled when no --tmpdir is given: large files belong
#: on disk, not in a tmpfs /tmp (skopeo's default too).
DEFAULT_TMPDIR = "/var/tmp"


def temporary_directory(tmpdir: str | None) -> SpoolDir:
    """``--tmpdir``, else ``$TMPDIR``, else :data:`DEFAULT_TMPDIR` (checked when first used)."""
    if tmpdir:
        return SpoolDir(tmpdir, "--tmpdir")
    from_environment = os.environ.get("TMPDIR")
    if from_environment:
        return SpoolDir(from_environment, "$TMPDIR")
    return SpoolDir(DEFAULT_TMPDIR)


def open_source(
    name: ImageName,
    *,
    shared_blobs: str | None = None,
    tmpdir: str | None = None,
    registry: RegistryOptions | None = None,
) -> Source:
    """Open what *name* names for reading (*registry*: how to reach a ``docker://`` one)."""
    match name:
        case LayoutName():
            from umoci.transport.layout import LayoutSource

            return LayoutSource(name, shared_blobs=shared_blobs)
        case OciArchiveName():
            from umoci.transport.ociarchive import OciArchiveSource

            _no_shared_blobs(shared_blobs, "--src-shared-blob-dir", name)
            return OciArchiveSource(name, tmpdir=temporary_directory(tmpdir))
        case DockerArchiveName():
            from umoci.transport.dockerarchive import DockerArchiveSource

            _no_shared_blobs(shared_blobs, "--src-shared-blob-dir", name)
            return DockerArchiveSource.open(name, tmpdir=temporary_directory(tmpdir))
        case DockerDaemonName():
            from umoci.transport.daemon import open_daemon_source

            _no_shared_blobs(shared_blobs, "--src-shared-blob-dir", name)
            return open_daemon_source(name, tmpdir=temporary_directory(tmpdir))
        case RegistryName():
            from umoci.transport.registry.source import RegistrySource

            _no_shared_blobs(shared_blobs, "--src-shared-blob-dir", name)
            return RegistrySource(name, registry or RegistryOptions())
        case _:
            assert_never(name)


def open_destination(
    name: ImageName,
    *,
    additional_tags: tuple[str, ...] = (),
    shared_blobs: str | None = None,
    tmpdir: str | None = None,
    registry: RegistryOptions | None = None,
    source: ImageName | None = None,
) -> Destination:
    """Open what *name* names for writing.

    *registry* says how to reach a ``docker://`` destination, and a
    *source* on the same registry lets it mount blobs instead of uploading.
    """
    match name:
        case LayoutName():
            from umoci.transport.layout import LayoutDestination

            return LayoutDestination(
                name, additional_tags=_oci_tags(additional_tags), shared_blobs=shared_blobs
            )
        case OciArchiveName():
            from umoci.transport.ociarchive import OciArchiveDestination

            _no_shared_blobs(shared_blobs, "--dest-shared-blob-dir", name)
            return OciArchiveDestination(
                name, additional_tags=_oci_tags(additional_tags), tmpdir=temporary_directory(tmpdir)
            )
        case DockerArchiveName():
            from umoci.transport.dockerarchive import DockerArchiveDestination

            _no_shared_blobs(shared_blobs, "--dest-shared-blob-dir", name)
            return DockerArchiveDestination.open(
                name, additional_tags=additional_tags, tmpdir=temporary_directory(tmpdir)
            )
        case DockerDaemonName():
            from umoci.transport.daemon import open_daemon_destination

            _no_shared_blobs(shared_blobs, "--dest-shared-blob-dir", name)
            return open_daemon_destination(
                name, additional_tags=additional_tags, tmpdir=temporary_directory(tmpdir)
            )
        case RegistryName():
            from umoci.transport.registry.destination import RegistryDestination

            _no_shared_blobs(shared_blobs, "--dest-shared-blob-dir", name)
            return RegistryDestination(
                name,
                registry or RegistryOptions(),
                tmpdir=temporary_directory(tmpdir),
                additional_tags=additional_tags,
                mount_from=source if isinstance(source, RegistryName) else None,
            )
        case _:
            assert_never(name)


def holds_single_images(name: ImageName) -> bool:
    """Does the destination *name* hold one image per name (Docker's formats: no indexes)?"""
    return isinstance(name, DockerArchiveName | DockerDaemonName)


def _no_shared_blobs(shared_blobs: str | None, flag: str, name: ImageName) -> None:
    if shared_blobs is not None:
        raise UsageError(f"{flag} applies to oci: names only, not {name}")


def _oci_tags(tags: tuple[str, ...]) -> tuple[str, ...]:
    """``--additional-tag`` values for an OCI destination: ref.name tags."""
    from umoci.errors import InvalidRefError
    from umoci.oci.refs import check_tag

    try:
        return tuple(check_tag(tag) for tag in tags)
    except InvalidRefError as err:
        raise UsageError(f"--additional-tag: {err}") from None
