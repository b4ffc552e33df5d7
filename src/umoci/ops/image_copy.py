"""``umoci copy SRC DST``: an image from one place to another (see :mod:`umoci.transport`)."""

from __future__ import annotations

from umoci import log as umoci_log
from umoci.errors import UsageError
from umoci.ops.options import Compression, CopyOptions
from umoci.transport.endpoints import holds_single_images, open_destination, open_source
from umoci.transport.engine import choose_root, copy_image
from umoci.transport.names import parse_image_name

log = umoci_log.get()


def copy(source: str, destination: str, *, options: CopyOptions) -> str:
    """Copy the image *source* names to *destination*; return the digest of what was written.

    That is the manifest's or index's digest; Docker's formats keep no
    manifest, and the image ID (the config's digest) stands for it there.

    Both names use skopeo's ``TRANSPORT:DETAILS`` syntax.  The source is
    opened (and, for an archive, indexed) before the destination is
    touched, so a source that cannot be read leaves nothing behind.
    """
    from umoci.compress import CODECS

    compress = None
    if options.compress is Compression.AUTO:
        raise UsageError("a copy recompresses to GZIP, ZSTD or NONE, not AUTO (None keeps layers)")
    if options.compress is not None:
        compress = CODECS[options.compress.value]
    if options.platform is not None:
        from umoci.oci.platforms import parse_platform

        parse_platform(options.platform)  # refused before anything is opened
    src_name = parse_image_name(source)
    dst_name = parse_image_name(destination)
    with open_source(
        src_name,
        shared_blobs=options.src_shared_blob_dir,
        tmpdir=options.tmpdir,
        registry=options.src_registry,
    ) as src:
        # Chosen before the destination is opened (or created): a name that
        # selects nothing, or too much, must leave no trace.
        root = choose_root(
            src,
            all_platforms=options.all_platforms,
            platform=options.platform,
            single_image=holds_single_images(dst_name),
            dest=str(dst_name),
        )
        with open_destination(
            dst_name,
            additional_tags=options.additional_tags,
            shared_blobs=options.dest_shared_blob_dir,
            tmpdir=options.tmpdir,
            registry=options.dest_registry,
            source=src_name,
        ) as dst:
            result = copy_image(src, dst, root, compress=compress)
            docker_format = dst.docker_format
    return result.images[0].config.digest if docker_format else result.root.digest
