"""The history entry a mutating verb appends (``--history.*``, ``--no-history``)."""

from __future__ import annotations

from umoci import log as umoci_log
from umoci.errors import UsageError
from umoci.oci.models import History
from umoci.oci.timefmt import GoTime, default_now, parse_time
from umoci.ops.options import HistoryOptions

log = umoci_log.get()


def parse_user_time(text: str, flag: str) -> GoTime:
    """An RFC 3339 time from the command line; UsageError naming the flag otherwise."""
    try:
        return parse_time(text)
    except ValueError as err:
        raise UsageError(f"parse {flag}: {err}") from None


def check_history(options: HistoryOptions) -> None:
    """Refuse a bad ``--history.created`` before a verb does anything else.

    A verb may end without needing its history entry (a repack with no
    changes), but a typo in a flag must still be an error, as in the Go umoci.
    """
    if options.created is not None:
        parse_user_time(options.created, "--history.created")


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
    created = (
        parse_user_time(options.created, "--history.created")
        if options.created is not None
        else default_now()
    )
    return History(
        created=created,
        created_by=options.created_by if options.created_by is not None else created_by,
        author=options.author if options.author is not None else author,
        comment=options.comment or "",
        empty_layer=empty_layer,
    )
