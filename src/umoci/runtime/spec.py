"""Image config -> runtime-spec ``config.json``, byte for byte as the Go umoci 0.6 writes it.

The steps and their order follow the Go umoci's ``MutateRuntimeSpec`` and
``UnpackRuntimeJSON``, because the order decides the output:

1. refuse any OS but ``linux`` (an empty ``os`` is taken as ``linux``, with a warning);
2. ``cwd`` is ``WorkingDir`` or ``/``; each ``Env`` entry replaces the
   template's entry of that name in place or is appended; ``args`` is
   ``Entrypoint + Cmd`` unless both are empty (then the template's ``sh``);
3. annotations from os, architecture, variant, author, created (Go's zero
   time when absent), ``StopSignal`` and the sorted ``ExposedPorts`` --
   each dropped when empty -- and then ``Labels`` on top, so a label wins
   (conversion.md's precedence).  Manifest and index annotations are not
   used (conversion.md says a converter SHOULD NOT);
4. the user from the rootfs's passwd/group (:mod:`umoci.runtime.users`);
   ``HOME`` from passwd only when ``Env`` has none;
5. one tmpfs mount per volume, sorted, after the template's mounts;
6. with any id mapping, a user namespace (moved to the end) and the maps;
7. for ``--rootless``, the ``ToRootless`` rewrite: no network namespace, no
   supplementary gids, no device cgroup, nothing mounted under ``/sys``
   (a string-prefix test, as in Go), no ``uid=``/``gid=`` mount options,
   and bind mounts of the host's ``/sys`` and ``/etc/resolv.conf``.

JSON layout: Go's ``json.Encoder`` with a tab indent, HTML escaping and a
trailing newline; map keys (annotations) sorted.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from umoci import goquote
from umoci import log as umoci_log
from umoci.errors import BlobInvalidError, BundleError
from umoci.idmap import IdMap
from umoci.oci.gojson import dumps_indent
from umoci.oci.models import ImageConfig
from umoci.runtime import template
from umoci.runtime.atomic import write_atomic
from umoci.runtime.rootfs_open import RootfsOpener
from umoci.runtime.users import ExecUser, resolve_user

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import Any, BinaryIO

log = umoci_log.get(__name__)

OS_ANNOTATION = "org.opencontainers.image.os"
ARCH_ANNOTATION = "org.opencontainers.image.architecture"
VARIANT_ANNOTATION = "org.opencontainers.image.variant"
AUTHOR_ANNOTATION = "org.opencontainers.image.author"
CREATED_ANNOTATION = "org.opencontainers.image.created"
STOP_SIGNAL_ANNOTATION = "org.opencontainers.image.stopSignal"
EXPOSED_PORTS_ANNOTATION = "org.opencontainers.image.exposedPorts"

RESOLV_CONF = "/etc/resolv.conf"

MountFlagsProbe = Callable[[str], Sequence[str]]

# statfs(2) f_flags bits that a user namespace locks on a mount (the kernel
# refuses to clear them in a bind mount), in the order we report them.
# ST_RELATIME is 4096, not MS_RELATIME's 1<<21 that Go tests for, so Go
# never reports "relatime"; neither do we.
_LOCKED_FLAGS = (
    (os.ST_RDONLY, "ro"),
    (os.ST_NODEV, "nodev"),
    (os.ST_NOEXEC, "noexec"),
    (os.ST_NOSUID, "nosuid"),
    (os.ST_NOATIME, "noatime"),
    (os.ST_NODIRATIME, "nodiratime"),
)

_UINT32 = 0xFFFFFFFF

# time.Time{}.Format(time.RFC3339Nano): the created annotation when the config has no time.
ZERO_TIME = "0001-01-01T00:00:00Z"


def unprivileged_mount_flags(path: str) -> list[str]:
    """Mount options locked on the host mount holding ``path`` (Go's getUnprivilegedMountFlags).

    Raises :class:`BundleError` when ``path`` cannot be inspected.
    """
    try:
        flags = os.statvfs(path).f_flag
    except OSError as e:
        raise BundleError(
            f"convert spec to rootless: inspecting mount flags of {path}: {e.strerror}"
        ) from None
    return [name for bit, name in _LOCKED_FLAGS if flags & bit == bit]


def root_path_for(rootfs: str) -> str:
    """``root.path`` for a rootfs path: Go's ``filepath.Base`` ("" gives ".")."""
    if rootfs == "":
        return "."
    stripped = rootfs.rstrip("/")
    if stripped == "":
        return "/"
    return stripped.rsplit("/", 1)[-1]


def runtime_config(
    image_config: ImageConfig,
    *,
    rootfs_opener: RootfsOpener | None,
    root_path: str = "rootfs",
    rootless: bool = False,
    uid_maps: Sequence[IdMap] = (),
    gid_maps: Sequence[IdMap] = (),
    mount_flags: MountFlagsProbe = unprivileged_mount_flags,
) -> dict[str, Any]:
    """Build the runtime config for an image config (decoded by :mod:`umoci.oci.models`).

    ``rootfs_opener`` opens files inside the unpacked rootfs (see
    :func:`umoci.runtime.rootfs_open.rootfs_opener`); ``None`` means there is
    no rootfs (``raw runtime-config`` without ``--rootfs``): then a user
    that needs passwd/group becomes root:root with a warning, as in Go.
    ``uid_maps``/``gid_maps`` are the maps as given; for ``--rootless`` the
    caller passes the implied ``0:$(id -u):1`` maps itself.  ``root_path``
    is ``root.path`` (see :func:`root_path_for`).  ``mount_flags`` inspects
    the host's ``/etc/resolv.conf`` for rootless configs; tests inject a
    fixed answer.

    Raises :class:`BlobInvalidError` for configs the Go umoci refuses (an
    OS other than linux, ``Env`` entries without ``=``, unknown users).
    """
    container = image_config.config
    if image_config.os == "":
        # Buildpacks (imgutil, pack) write configs without an os; they are
        # Linux images, which the Go umoci refuses to unpack.
        log.warning("image config has no os: taking it to be linux")
    elif image_config.os != "linux":
        raise BlobInvalidError(f"generate config.json: unsupported OS: {image_config.os}")

    env = list(template.DEFAULT_ENV)
    for entry in container.env:
        name, sep, value = entry.partition("=")
        if not sep:
            raise BlobInvalidError(
                "generate config.json: parsing image.Config.Env: "
                f"environment variable must contain '=': {entry}"
            )
        if not name:
            raise BlobInvalidError(
                "generate config.json: parsing image.Config.Env: "
                f"environment variable must have non-empty name: {entry}"
            )
        _set_env(env, name, value, clobber=True)
    args = [*container.entrypoint, *container.cmd] or list(template.DEFAULT_ARGS)

    user = _exec_user(container.user, rootfs_opener)
    if user.home:
        _set_env(env, "HOME", user.home, clobber=False)

    mounts = template.default_mounts()
    volumes = sorted(container.volumes)
    mounts += [template.mount(v, "tmpfs", "none", template.VOLUME_OPTIONS) for v in volumes]
    namespaces = list(template.NAMESPACES)
    sgids = [g & _UINT32 for g in user.sgids]
    resources: dict[str, Any] | None = template.device_cgroup()

    if uid_maps or gid_maps:
        namespaces = [ns for ns in namespaces if ns != "user"] + ["user"]
    if rootless:
        sgids = []
        namespaces = [ns for ns in namespaces if ns not in ("network", "user")] + ["user"]
        mounts = _rootless_mounts(mounts, mount_flags)
        resources = None

    process_user: dict[str, Any] = {"uid": user.uid & _UINT32, "gid": user.gid & _UINT32}
    if sgids:
        process_user["additionalGids"] = sgids
    linux: dict[str, Any] = {}
    if uid_maps:
        linux["uidMappings"] = [m.to_json() for m in uid_maps]
    if gid_maps:
        linux["gidMappings"] = [m.to_json() for m in gid_maps]
    if resources is not None:
        linux["resources"] = resources
    linux["namespaces"] = [{"type": ns} for ns in namespaces]
    linux["maskedPaths"] = list(template.MASKED_PATHS)
    linux["readonlyPaths"] = list(template.READONLY_PATHS)

    return {
        "ociVersion": template.OCI_VERSION,
        "process": {
            "terminal": True,
            "user": process_user,
            "args": args,
            "env": env,
            "cwd": container.working_dir or "/",
            "capabilities": template.capabilities(),
            "rlimits": template.rlimits(),
            "noNewPrivileges": True,
        },
        "root": {"path": root_path},
        "hostname": template.DEFAULT_HOSTNAME,
        "mounts": mounts,
        # Never empty (the os annotation is always set), so Go's omitempty
        # never drops it.
        "annotations": _annotations(image_config),
        "linux": linux,
    }


def _set_env(env: list[str], name: str, value: str, *, clobber: bool) -> None:
    # Go's appendEnv: the first entry with this name is replaced (or, without
    # clobber, left alone); otherwise the entry is appended.
    prefix = name + "="
    for i, old in enumerate(env):
        if old.startswith(prefix):
            if clobber:
                env[i] = prefix + value
            return
    env.append(prefix + value)


def _annotations(cfg: ImageConfig) -> dict[str, str]:
    implicit = {
        OS_ANNOTATION: cfg.os,
        ARCH_ANNOTATION: cfg.architecture,
        VARIANT_ANNOTATION: cfg.variant,
        AUTHOR_ANNOTATION: cfg.author,
        CREATED_ANNOTATION: cfg.created.format() if cfg.created is not None else ZERO_TIME,
        STOP_SIGNAL_ANNOTATION: cfg.config.stop_signal,
        EXPOSED_PORTS_ANNOTATION: ",".join(sorted(cfg.config.exposed_ports)),
    }
    out = {k: v for k, v in implicit.items() if v}
    out.update(cfg.config.labels)  # labels win, even with an empty value
    return dict(sorted(out.items()))


def _exec_user(spec: str, opener: RootfsOpener | None) -> ExecUser:
    def open_file(path: str) -> Callable[[], BinaryIO | None]:
        return lambda: opener(path) if opener is not None else None

    try:
        return resolve_user(spec, open_file("/etc/passwd"), open_file("/etc/group"))
    except BlobInvalidError as e:
        if opener is not None:
            raise BlobInvalidError(
                f"generate config.json: cannot parse user spec: {goquote.quote(spec)}: {e}"
            ) from None
        log.warning(
            "could not parse user spec %s without a rootfs -- defaulting to root:root",
            goquote.quote(spec),
        )
        return ExecUser()


def _rootless_mounts(
    mounts: list[dict[str, Any]], mount_flags: MountFlagsProbe
) -> list[dict[str, Any]]:
    out = []
    for m in mounts:
        if m["destination"].startswith("/sys"):
            continue
        options = [o for o in m.get("options", ()) if not o.startswith(("gid=", "uid="))]
        out.append(template.mount(m["destination"], m["type"], m["source"], options))
    # "type: bind" is what runc needs here (opencontainers/runc#2035).
    out.append(template.mount("/sys", "bind", "/sys", ("rbind", "nosuid", "noexec", "nodev", "ro")))
    # The host mount's locked flags must be repeated, or runc's bind mount
    # from inside the user namespace fails with EPERM.
    locked = list(mount_flags(RESOLV_CONF))
    out.append(template.mount(RESOLV_CONF, "bind", RESOLV_CONF, [*locked, "rbind", "ro"]))
    return out


def config_bytes(spec: dict[str, Any]) -> bytes:
    """``config.json`` bytes: Go's Encoder with ``SetIndent("", "\\t")``, newline-terminated."""
    return (dumps_indent(spec, "\t") + "\n").encode("utf-8")


def write_config(path: str, spec: dict[str, Any]) -> None:
    """Write ``config.json`` atomically (mode 0666 minus the umask, as Go's ``os.Create``)."""
    write_atomic(path, config_bytes(spec))
