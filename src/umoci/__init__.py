"""umoci modifies Open Container images: a Python implementation of the Go umoci.

The public Python API lives in :mod:`umoci.ops` (one function per verb); the
command line in :mod:`umoci.cli`.  See ``DESIGN.md`` in the shared folder for
the layering of the packages.
"""

__version__ = "0.6.0"

#: The image-spec and runtime-spec versions whose formats we read and write.
IMAGE_SPEC_VERSION = "1.1.1"
RUNTIME_SPEC_VERSION = "1.3.0"
