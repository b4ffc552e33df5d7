"""Where blobs were seen: which repositories of which registries hold a digest.

A push can *mount* a blob the registry already holds in another
repository instead of uploading it, if it knows where: a blob pulled from
``registry/base`` into a layout, and pushed later from that layout (under
an image built on it) to ``registry/app``, is such a case -- the base
layers go up by reference.  containers/image keeps the same record (its
"blob info cache").

The record is a small SQLite database in ``$XDG_CACHE_HOME/umoci/``
(``~/.cache/umoci/``): a row (digest, registry, repository) for each blob
a pull fetched and each blob a push found or wrote.  It is only a hint:
a mount the registry refuses falls back to an upload, and a record that
cannot be read or written (read-only home, a locked or damaged file) is
skipped with a debug message, never failing a copy.
"""

from __future__ import annotations

import os
import sqlite3
import time

from umoci import log as umoci_log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

log = umoci_log.get()

_FILE = "blob-locations.sqlite"
#: Candidates offered per blob, most recently seen first.
MAX_CANDIDATES = 3
#: Rows kept at most; the oldest go first.
MAX_ROWS = 100_000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS locations (
    digest TEXT NOT NULL,
    registry TEXT NOT NULL,
    repository TEXT NOT NULL,
    seen REAL NOT NULL,
    PRIMARY KEY (digest, registry, repository)
)
"""


def database_path() -> str:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "umoci", _FILE)


def _connect() -> sqlite3.Connection:
    path = database_path()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    connection = sqlite3.connect(path, timeout=5)
    connection.execute(_SCHEMA)
    return connection


def record(registry: str, repository: str, digests: Iterable[str]) -> None:
    """Remember that *registry*/*repository* holds each of *digests*."""
    rows = [(digest, registry, repository, time.time()) for digest in digests]
    if not rows:
        return
    try:
        connection = _connect()
        try:
            with connection:
                connection.executemany("INSERT OR REPLACE INTO locations VALUES (?, ?, ?, ?)", rows)
                # A row written (or rewritten: REPLACE deletes and inserts) gets the next
                # rowid, so the newest rows are the last MAX_ROWS rowids: a range of the
                # table's own key to delete, where sorting by "seen" cost ~60 ms a copy
                # once the record was full.
                connection.execute(
                    "DELETE FROM locations WHERE rowid <= (SELECT max(rowid) FROM locations) - ?",
                    (MAX_ROWS,),
                )
        finally:
            connection.close()
    except (sqlite3.Error, OSError) as err:
        log.debug("blob locations %s: not recorded: %s", database_path(), err)


def candidates(registry: str, digest: str, *, besides: str) -> list[str]:
    """Repositories of *registry* known to hold *digest*, other than *besides*."""
    try:
        connection = _connect()
        try:
            found = connection.execute(
                "SELECT repository FROM locations WHERE digest = ? AND registry = ? "
                "AND repository != ? ORDER BY seen DESC LIMIT ?",
                (digest, registry, besides, MAX_CANDIDATES),
            ).fetchall()
        finally:
            connection.close()
    except (sqlite3.Error, OSError) as err:
        log.debug("blob locations %s: not read: %s", database_path(), err)
        return []
    return [str(repository) for (repository,) in found]
