"""OCI whiteout names (image-spec layer.md, "Whiteouts").

``.wh.NAME`` deletes NAME from the lower layers; ``.wh..wh..opq`` in a
directory deletes all of its lower-layer contents.  Neither may touch what
the *same* layer creates (whatever the order of the entries), so the
extractor keeps the set of paths it created -- see ``extract.py``.  A
whiteout of nothing, of ``.`` or of ``..`` is refused by
:func:`umoci.layer.entryrules.refusals`.
"""

from __future__ import annotations

PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"


def is_whiteout(base: str) -> bool:
    return base.startswith(PREFIX)


def whiteout_target(base: str) -> str | None:
    """The name a whiteout removes, or None for the opaque marker.

    ``base`` has passed :func:`~umoci.layer.entryrules.refusals`: the name
    is neither empty nor ``.`` or ``..``.
    """
    if base == OPAQUE:
        return None
    return base[len(PREFIX) :]
