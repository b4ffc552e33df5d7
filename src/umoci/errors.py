"""The exception tree every layer raises; the CLI maps it to one stderr line.

::

    UmociError                          anything a user can cause
    ├── UsageError (ValueError)         bad flags, arguments or values
    ├── InvalidArgumentError (TypeError)  a Python API argument of the wrong type
    ├── LayoutError                     not an OCI layout / bad oci-layout / index.json
    ├── BlobNotFoundError (LookupError) a descriptor whose blob is missing
    ├── BlobInvalidError (ValueError)   digest/size mismatch, bad JSON, bad media type
    ├── RefNotFoundError (LookupError)  no such tag / reference
    ├── InvalidRefError (ValueError)    tag does not match the ref.name grammar
    ├── LayerError (ValueError)         a layer archive we refuse (bad entry, whiteout)
    ├── UnsafePathError (PermissionError)  a path that would escape the rootfs
    ├── BundleError                     a bundle that is missing, not empty, or broken
    ├── MtreeError (ValueError)         an mtree spec we cannot parse
    └── TransportError                  an archive, the Docker engine or a registry refused
                                        (a hostile or broken archive, a daemon's error reply)

Each message is "<what>: <why>" without a trailing newline; the CLI prefixes
"umoci: <verb>: ".  Errors subclass the matching builtin so callers of the
Python API can catch them the ordinary way.

Internal module: :mod:`umoci.api` re-exports every class above; import them from there.
"""

from __future__ import annotations


class UmociError(Exception):
    """Base of every error a user can cause (exit status 1, one line).

    >>> try:
    ...     Layout.open("not-a-layout")
    ... except UmociError as err:
    ...     print(err)
    open layout not-a-layout: no such directory
    """


class UsageError(UmociError, ValueError):
    """The command line or one of its values is wrong.

    >>> Layout.open("oci").image("base", platform="linux")
    Traceback (most recent call last):
    umoci.errors.UsageError: invalid --platform 'linux': want OS/ARCH or OS/ARCH/VARIANT ...
    """


class InvalidArgumentError(UmociError, TypeError):
    """A value of the wrong type given to the Python API (:mod:`umoci.api`).

    >>> Layout.open("oci").image("base").unpack("bundle", rootless="yes")
    Traceback (most recent call last):
    umoci.errors.InvalidArgumentError: Image.unpack: rootless: want bool, got str 'yes'
    """


class LayoutError(UmociError):
    """The directory is not a usable OCI image layout.

    >>> Layout.init("oci")  # it exists already
    Traceback (most recent call last):
    umoci.errors.LayoutError: create layout oci: path already exists
    """


class BlobNotFoundError(UmociError, LookupError):
    """A blob referenced by a descriptor is not in the store.

    >>> Layout.open("oci").image("base").stat()  # its config blob was deleted
    Traceback (most recent call last):
    umoci.errors.BlobNotFoundError: ...
    """


class BlobInvalidError(UmociError, ValueError):
    """A blob's bytes do not match its descriptor, or its JSON is invalid.

    >>> Layout.open("oci").image("base").stat()  # its manifest blob was edited
    Traceback (most recent call last):
    umoci.errors.BlobInvalidError: ...
    """


class RefNotFoundError(UmociError, LookupError):
    """No reference (tag) of that name exists in the layout.

    >>> Layout.open("oci").resolve("nope")
    Traceback (most recent call last):
    umoci.errors.RefNotFoundError: tag not found: nope
    """


class InvalidRefError(UmociError, ValueError):
    """A tag that the image-spec ref.name grammar does not allow.

    >>> Layout.open("oci").new_image("bad tag")
    Traceback (most recent call last):
    umoci.errors.InvalidRefError: tag contains invalid characters: 'bad tag'
    """


class LayerError(UmociError, ValueError):
    """A layer archive (or one of its entries) that we refuse to apply.

    >>> Layout.open("oci").image("evil").unpack("bundle")  # a layer writes to ../../etc
    Traceback (most recent call last):
    umoci.errors.LayerError: ...
    """


class UnsafePathError(UmociError, PermissionError):
    """A path that would resolve outside the root it is confined to.

    >>> Layout.open("oci").image("evil").unpack("bundle")  # a link climbs out of the rootfs
    Traceback (most recent call last):
    umoci.errors.UnsafePathError: ...
    """


class BundleError(UmociError):
    """A runtime bundle that is missing, not empty, or inconsistent.

    >>> Bundle.open("not-a-bundle")
    Traceback (most recent call last):
    umoci.errors.BundleError: open metadata: not-a-bundle/umoci.json: No such file or directory
    """


class MtreeError(UmociError, ValueError):
    """An mtree specification that cannot be parsed or used.

    >>> Bundle.open("bundle").repack(Layout.open("oci"))  # its mtree file was truncated
    Traceback (most recent call last):
    umoci.errors.MtreeError: ...
    """


class TransportError(UmociError):
    """An image source or destination outside a layout refused (``umoci copy``).

    A hostile or broken archive, an image that does not fit the destination's
    format, or an error from the Docker engine.

    >>> copy("docker-archive:truncated.tar", "oci:image:base")
    Traceback (most recent call last):
    umoci.errors.TransportError: ...
    """
