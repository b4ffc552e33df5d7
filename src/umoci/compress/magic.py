"""The first bytes of each compressed format we read, and the sniffer that checks them.

One table for every place that recognises a format by its content rather
than its name: the gzip and zstd readers (where one stream ends and
another may begin), ``umoci copy``'s archives (gzip, zstd, xz, bzip2) and
``docker save`` layer files that are compressed after all.
"""

from __future__ import annotations

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
XZ_MAGIC = b"\xfd7zXZ\x00"
BZIP2_MAGIC = b"BZh"

_FORMATS = (("gzip", GZIP_MAGIC), ("zstd", ZSTD_MAGIC), ("xz", XZ_MAGIC), ("bzip2", BZIP2_MAGIC))
#: Bytes :func:`sniff` needs to tell every format apart.
SNIFF_BYTES = max(len(magic) for _, magic in _FORMATS)


def sniff(head: bytes) -> str | None:
    """The format (``gzip``, ``zstd``, ``xz``, ``bzip2``) *head* starts with; None: none."""
    for name, magic in _FORMATS:
        if head.startswith(magic):
            return name
    return None
