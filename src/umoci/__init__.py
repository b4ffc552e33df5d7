"""umoci modifies Open Container images: a Python implementation of the Go umoci.

The public Python API is :mod:`umoci.api`, and its names can be imported
from here too (``from umoci import Layout``); the command line is ``umoci``
(:mod:`umoci.cli`).  Every other module -- :mod:`umoci.ops` (the verbs the
CLI and the API call) included -- is internal: its names and behaviour may
change in any release.  See ``DESIGN.md`` in the shared folder for the
layering of the packages.

``import umoci`` itself loads nothing else: :mod:`umoci.api` is imported on
the first use of one of its names, so the command line does not pay for it.
"""

__version__ = "0.6.0"

#: The image-spec and runtime-spec versions whose formats we read and write.
IMAGE_SPEC_VERSION = "1.1.1"
RUNTIME_SPEC_VERSION = "1.3.0"

# Not "from typing import TYPE_CHECKING": importing typing costs ~10 ms of
# start-up, and mypy treats any constant named TYPE_CHECKING the same way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from umoci.api import *  # noqa: F403 (mypy sees the names __getattr__ gives)


# umoci.api's __all__, spelt out so that looking a name up costs no import:
# "from umoci import ops" asks this module for "ops" first (tests check that
# the two lists agree).
_API_NAMES = frozenset(
    {
        "BlobInvalidError",
        "BlobNotFoundError",
        "Bundle",
        "BundleError",
        "Compression",
        "ConfigBuilder",
        "ContainerConfig",
        "Descriptor",
        "GoTime",
        "History",
        "HistoryOptions",
        "HistoryRow",
        "IdMap",
        "Image",
        "ImageConfig",
        "ImageStat",
        "Index",
        "IndexEntry",
        "IndexStat",
        "InsertMode",
        "InvalidArgumentError",
        "InvalidRefError",
        "LayerError",
        "Layout",
        "LayoutError",
        "Manifest",
        "MtreeError",
        "Platform",
        "RefNotFoundError",
        "RegistryOptions",
        "RepackOptions",
        "Secret",
        "TransportError",
        "UmociError",
        "UnsafePathError",
        "UsageError",
        "copy",
    }
)


def __getattr__(name: str) -> object:
    # Called only for names the module does not have yet.  Anything but an
    # API name (a submodule not imported yet, a typo) stays an
    # AttributeError, on which "from umoci import <submodule>" falls back to
    # importing the submodule.
    if name not in _API_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from umoci import api

    return getattr(api, name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_API_NAMES})
