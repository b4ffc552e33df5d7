"""The history entry a mutating verb appends (``--history.*``, ``--no-history``)."""

from __future__ import annotations

from umoci import log as umoci_log
from umoci.oci.models import History
from umoci.oci.timefmt import default_now
from umoci.ops.options import HistoryOptions

log = umoci_log.get()


def history_entry(
    options: HistoryOptions, *, created_by: str, author: str, empty_layer: bool
) -> History | None:
    """The entry to append, or None with ``--no-history``; defaults as the Go umoci's.

    A new layer without an entry gets the Go umoci's warning (scripts and
    users see the same line): image tools pair layers with the history
    entries that are not ``empty_layer``, and this one has none.
    """
    if not options.enabled:
        if not empty_layer:
            log.warning("new layer has no history entry -- this will confuse many tools!")
        return None
    return History(
        created=options.created if options.created is not None else default_now(),
        created_by=options.created_by if options.created_by is not None else created_by,
        author=options.author if options.author is not None else author,
        comment=options.comment or "",
        empty_layer=empty_layer,
    )
