"""Option values the verbs take: plain frozen dataclasses, built by the CLI or by API users.

Strings are passed through as the user typed them; each verb validates its
own values (so the Python API and the CLI report the same errors).
"""

from __future__ import annotations

from umoci.idmap import IdMap
from umoci.structs import dataclass, field

TYPE_CHECKING = False  # typing is for mypy only
if TYPE_CHECKING:
    from umoci.transport.registry.options import RegistryOptions


@dataclass(frozen=True)
class HistoryOptions:
    """The ``--history.*`` / ``--no-history`` flags shared by mutating verbs.

    ``None`` means "not given": the verb picks its default (the Go umoci's).
    ``created`` is RFC 3339 text, parsed by the verb.
    """

    enabled: bool = True
    author: str | None = None
    comment: str | None = None
    created: str | None = None
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
    created: str | None = None
    author: str | None = None
    architecture: str | None = None
    os: str | None = None
    variant: str | None = None
    manifest_annotations: tuple[str, ...] = ()


@dataclass(frozen=True)
class RepackOptions:
    """Flags of ``umoci repack`` beyond the image and bundle."""

    history: HistoryOptions = field(default_factory=HistoryOptions)
    compress: str = "auto"
    mask_paths: tuple[str, ...] = ()
    mask_volumes: bool = True
    refresh_bundle: bool = False
    full_hash: bool = False


@dataclass(frozen=True)
class CopyOptions:
    """Flags of ``umoci copy`` beyond its two image names (skopeo's names in comments).

    ``platform`` chooses one image of an index (None: this host's) unless
    ``all_platforms``; ``compress`` (``gzip``, ``zstd``, ``none``; None:
    keep) recompresses layers; ``additional_tags`` name the copy too (tags
    for OCI destinations, ``NAME:TAG`` for Docker ones); ``tmpdir`` holds
    spooled streams (default ``$TMPDIR``, else ``/var/tmp``).
    """

    all_platforms: bool = False  # --all
    platform: str | None = None  # --platform, --override-os/arch/variant
    additional_tags: tuple[str, ...] = ()  # --additional-tag
    compress: str | None = None  # --dest-compress-format
    src_shared_blob_dir: str | None = None  # --src-shared-blob-dir
    dest_shared_blob_dir: str | None = None  # --dest-shared-blob-dir
    tmpdir: str | None = None  # --tmpdir
    # docker:// names: credentials, TLS and retries of each side (None: the defaults)
    src_registry: RegistryOptions | None = None  # --src-creds, --src-tls-verify, ...
    dest_registry: RegistryOptions | None = None  # --dest-creds, --dest-tls-verify, ...
