"""OCI whiteout names (image-spec layer.md, "Whiteouts").

``.wh.NAME`` deletes NAME from the lower layers; ``.wh..wh..opq`` in a
directory deletes all of its lower-layer contents.  Neither may touch what
the *same* layer creates (whatever the order of the entries), so the
extractor keeps the set of paths it created -- see ``extract.py``.
"""

from __future__ import annotations

from umoci.errors import LayerError, UnsafePathError

PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"


def is_whiteout(base: str) -> bool:
    return base.startswith(PREFIX)


def whiteout_target(base: str, entry: str) -> str | None:
    """The name a whiteout removes, or None for the opaque marker.

    ``entry`` is the archive name, for error messages.
    """
    if base == OPAQUE:
        return None
    target = base[len(PREFIX) :]
    if not target:
        raise LayerError(f"unpack entry {entry}: invalid whiteout: empty name")
    if target in (".", ".."):
        raise UnsafePathError(f"unpack entry {entry}: invalid whiteout of {target!r}")
    return target
