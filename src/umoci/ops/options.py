"""Option values the verbs take: enums and frozen records, no command-line text.

Internal module: :mod:`umoci.api` re-exports these types for Python callers.
The CLI turns its flags into them at its boundary (:mod:`umoci.cli.options`:
``--compress`` into a :class:`Compression`, ``--history.created`` into a
:class:`~umoci.oci.timefmt.GoTime`, ``--uid-map`` into
:class:`~umoci.idmap.IdMap` values) and reports a flag it cannot read there,
naming the flag; a verb checks only what depends on the image or the file
system.
"""

from __future__ import annotations

import enum

from umoci.idmap import IdMap
from umoci.oci.timefmt import GoTime
from umoci.structs import dataclass, field

TYPE_CHECKING = False  # typing is for mypy only
if TYPE_CHECKING:
    from umoci.transport.registry.options import RegistryOptions


class Compression(enum.Enum):
    """How a verb compresses the layer blobs it writes (``--compress``).

    ``AUTO`` uses the codec of the image's newest compressed layer, and gzip
    for an image without one (the Go umoci's default).

    >>> Compression("zstd") is Compression.ZSTD
    True
    """

    AUTO = "auto"
    NONE = "none"
    GZIP = "gzip"
    ZSTD = "zstd"


class InsertMode(enum.Enum):
    """What ``insert`` does at its target path.

    ``MERGE`` adds the source over what the lower layers have there;
    ``OPAQUE`` (``--opaque``) makes the target directory hold the source's
    entries only, hiding the lower layers' ones; ``WHITEOUT``
    (``--whiteout``) deletes the target and takes no source.

    >>> InsertMode.OPAQUE.value
    'opaque'
    """

    MERGE = "merge"
    OPAQUE = "opaque"
    WHITEOUT = "whiteout"


@dataclass(frozen=True)
class HistoryOptions:
    """The history entry a mutating verb appends (``--history.*``, ``--no-history``).

    *enabled* False appends none.  ``None`` means "not given": the verb
    picks the Go umoci's default (*created*: ``SOURCE_DATE_EPOCH`` if set,
    else now; *created_by*: the verb, e.g. ``"umoci config"``; *author*:
    the config's author, empty for ``insert``; *comment*: empty).

    Example::

        history = HistoryOptions(
            created_by="build.sh", created=GoTime.parse("2025-01-01T00:00:00Z")
        )
        with Layout.open("oci").image("base").config(history=history) as c:
            c.user = "app"
    """

    enabled: bool = True
    author: str | None = None
    comment: str | None = None
    created: GoTime | None = None
    created_by: str | None = None


@dataclass(frozen=True)
class MapOptions:
    """``--rootless``, ``--uid-map`` and ``--gid-map``."""

    rootless: bool = False
    uid_maps: tuple[IdMap, ...] = ()
    gid_maps: tuple[IdMap, ...] = ()


@dataclass(frozen=True)
class ConfigChanges:
    """Everything ``umoci config`` can change; ``None``/empty means "leave alone".

    ``entrypoint``/``cmd`` are ``None`` when the flag was not given at all and
    a (possibly empty) tuple when it was, matching the Go umoci's "IsSet".
    Repeatable flags keep the order the user gave them.
    """

    clear: tuple[str, ...] = ()
    user: str | None = None
    exposed_ports: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    volumes: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    working_dir: str | None = None
    stop_signal: str | None = None
    created: GoTime | None = None
    author: str | None = None
    architecture: str | None = None
    os: str | None = None
    variant: str | None = None
    manifest_annotations: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConfigValues:
    """The settable config fields as whole new values (the API's config builder).

    Where :class:`ConfigChanges` describes edits, these replace: the config
    gets exactly this environment, these labels, this command...  The
    manifest gets *annotations*.
    """

    env: tuple[str, ...]
    labels: dict[str, str]
    annotations: dict[str, str]
    cmd: tuple[str, ...]
    entrypoint: tuple[str, ...]
    user: str
    working_dir: str
    stop_signal: str
    volumes: tuple[str, ...]
    exposed_ports: tuple[str, ...]
    author: str
    os: str
    architecture: str
    variant: str


@dataclass(frozen=True)
class RepackOptions:
    """How ``repack`` makes its layer (the flags of ``umoci repack``).

    *history* is the history entry and *compress* the layer's compression;
    *mask_paths* are left out of the layer (and *mask_volumes* leaves out
    the config's volumes too); *refresh_bundle* updates the bundle's
    metadata to the new image, so that another repack builds on it;
    *full_hash* re-hashes every file instead of trusting unchanged stat data.

    Example::

        options = RepackOptions(compress=Compression.ZSTD, mask_paths=("/var/cache",))
        Bundle.open("bundle").repack(Layout.open("oci"), tag="v2", options=options)
    """

    history: HistoryOptions = field(default_factory=HistoryOptions)
    compress: Compression = Compression.AUTO
    mask_paths: tuple[str, ...] = ()
    mask_volumes: bool = True
    refresh_bundle: bool = False
    full_hash: bool = False


@dataclass(frozen=True)
class CopyOptions:
    """Flags of ``umoci copy`` beyond its two image names (skopeo's names in comments).

    ``platform`` chooses one image of an index (None: this host's) unless
    ``all_platforms``; ``compress`` (``GZIP``, ``ZSTD``, ``NONE``; None:
    keep; ``AUTO`` is refused: a copy has no layer to take it from)
    recompresses layers; ``additional_tags`` name the copy too (tags
    for OCI destinations, ``NAME:TAG`` for Docker ones); ``tmpdir`` holds
    spooled streams (default ``$TMPDIR``, else ``/var/tmp``).
    """

    all_platforms: bool = False  # --all
    platform: str | None = None  # --platform, --override-os/arch/variant
    additional_tags: tuple[str, ...] = ()  # --additional-tag
    compress: Compression | None = None  # --dest-compress-format
    src_shared_blob_dir: str | None = None  # --src-shared-blob-dir
    dest_shared_blob_dir: str | None = None  # --dest-shared-blob-dir
    tmpdir: str | None = None  # --tmpdir
    # docker:// names: credentials, TLS and retries of each side (None: the defaults)
    src_registry: RegistryOptions | None = None  # --src-creds, --src-tls-verify, ...
    dest_registry: RegistryOptions | None = None  # --dest-creds, --dest-tls-verify, ...
