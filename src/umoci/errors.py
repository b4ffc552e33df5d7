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
    """Base of every error a user can cause (exit status 1, one line)."""


class UsageError(UmociError, ValueError):
    """The command line or one of its values is wrong."""


class InvalidArgumentError(UmociError, TypeError):
    """A value of the wrong type given to the Python API (:mod:`umoci.api`)."""


class LayoutError(UmociError):
    """The directory is not a usable OCI image layout."""


class BlobNotFoundError(UmociError, LookupError):
    """A blob referenced by a descriptor is not in the store."""


class BlobInvalidError(UmociError, ValueError):
    """A blob's bytes do not match its descriptor, or its JSON is invalid."""


class RefNotFoundError(UmociError, LookupError):
    """No reference (tag) of that name exists in the layout."""


class InvalidRefError(UmociError, ValueError):
    """A tag that the image-spec ref.name grammar does not allow."""


class LayerError(UmociError, ValueError):
    """A layer archive (or one of its entries) that we refuse to apply."""


class UnsafePathError(UmociError, PermissionError):
    """A path that would resolve outside the root it is confined to."""


class BundleError(UmociError):
    """A runtime bundle that is missing, not empty, or inconsistent."""


class MtreeError(UmociError, ValueError):
    """An mtree specification that cannot be parsed or used."""


class TransportError(UmociError):
    """An image source or destination outside a layout refused (``umoci copy``).

    A hostile or broken archive, an image that does not fit the destination's
    format, or an error from the Docker engine.
    """
