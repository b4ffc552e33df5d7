"""``umoci config``: change an image's config and manifest annotations.

Changes are applied in the Go umoci's order: ``--clear`` first, then each
setting; list flags append, ``--config.env`` replaces a variable of the same
name in place, ``--config.entrypoint``/``--config.cmd`` replace the whole
list.  One deliberate quirk is kept for byte-compatibility with the Go umoci
0.6 (see ``shared/vectors/json-blobs`` v3): the platform ``variant`` is only
kept when ``--platform.variant`` is given on this call.
"""

from __future__ import annotations

from umoci import log as umoci_log
from umoci.errors import UsageError
from umoci.layout.refs import resolve
from umoci.mutate import Mutator
from umoci.oci.models import ContainerConfig, ImageConfig
from umoci.ops.basic import opened, write_target
from umoci.ops.history import history_entry
from umoci.ops.options import ConfigChanges, ConfigValues, HistoryOptions
from umoci.structs import replace

TYPE_CHECKING = False  # typing is for mypy only: collections.abc costs start-up ~2 ms
if TYPE_CHECKING:
    from collections.abc import Callable

log = umoci_log.get()

CLEARABLE = (
    "config.labels",
    "manifest.annotations",
    "config.exposedports",
    "config.env",
    "config.entrypoint",
    "config.cmd",
    "config.volume",
)


def _split_kv(text: str, flag: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep:
        raise UsageError(f"{flag}: must contain '=': {text}")
    if not name:
        raise UsageError(f"{flag}: must have non-empty name: {text}")
    return name, value


def _with_env(env: list[str], name: str, value: str) -> None:
    entry = f"{name}={value}"
    for i, existing in enumerate(env):
        if existing.startswith(name + "="):
            env[i] = entry
            return
    env.append(entry)


def apply_changes(
    config: ImageConfig, annotations: dict[str, str], changes: ConfigChanges
) -> tuple[ImageConfig, dict[str, str]]:
    """Return the changed config and manifest annotations (inputs are not modified)."""
    c = config.config
    labels = dict(c.labels)
    annotations = dict(annotations)
    env = list(c.env)
    ports = set(c.exposed_ports)
    volumes = set(c.volumes)
    entrypoint, cmd = c.entrypoint, c.cmd
    for key in changes.clear:
        match key:
            case "config.labels":
                labels = {}
            case "manifest.annotations":
                annotations = {}
            case "config.exposedports":
                ports = set()
            case "config.env":
                env = []
            case "config.volume":
                volumes = set()
            case "config.cmd":
                cmd = ()
            case "config.entrypoint":
                entrypoint = ()
            case "rootfs.diffids":
                raise UsageError("--clear=rootfs.diffids is not safe")
            case _:
                raise UsageError(f"unknown key to --clear: {key}")

    created = changes.created if changes.created is not None else config.created
    ports.update(changes.exposed_ports)
    for item in changes.env:
        _with_env(env, *_split_kv(item, "config.env"))
    if changes.entrypoint is not None:
        entrypoint = changes.entrypoint
    if changes.cmd is not None:
        cmd = changes.cmd
    volumes.update(changes.volumes)
    for item in changes.labels:
        name, value = _split_kv(item, "config.label")
        labels[name] = value
    for item in changes.manifest_annotations:
        name, value = _split_kv(item, "manifest.annotation")
        annotations[name] = value

    container = replace(
        c,
        user=changes.user if changes.user is not None else c.user,
        exposed_ports=tuple(sorted(ports)),
        env=tuple(env),
        entrypoint=tuple(entrypoint),
        cmd=tuple(cmd),
        volumes=tuple(sorted(volumes)),
        working_dir=changes.working_dir if changes.working_dir is not None else c.working_dir,
        labels=labels,
        stop_signal=changes.stop_signal if changes.stop_signal is not None else c.stop_signal,
    )
    new = replace(
        config,
        created=created,
        author=changes.author if changes.author is not None else config.author,
        architecture=(
            changes.architecture if changes.architecture is not None else config.architecture
        ),
        os=changes.os if changes.os is not None else config.os,
        variant=changes.variant or "",
        config=container,
    )
    return new, annotations


def rewrite_config(
    layout: str,
    ref: str,
    *,
    new_tag: str | None,
    history: HistoryOptions,
    platform: str | None,
    change: Callable[[ImageConfig, dict[str, str]], tuple[ImageConfig, dict[str, str]]],
) -> str:
    """One new config and manifest: *change* maps (config, annotations) to new ones.

    The config is read, changed and written under the layout's locks, with
    one history entry (unless *history* says none); the target tag is
    pointed at the result.  Shared by ``umoci config`` and the API's config
    builder.  Returns the tag written.
    """
    target = write_target(ref, new_tag)
    with opened(layout, writer=True) as store:
        path = resolve(store, ref, platform)
        mutator = Mutator(store, path)
        new_config, annotations = change(mutator.config, mutator.manifest.annotations)
        entry = history_entry(
            history, created_by="umoci config", author=new_config.author, empty_layer=True
        )
        mutator.set_config(new_config, entry)
        mutator.set_annotations(annotations)
        root = mutator.commit(target).root
    log.info("new image manifest created: %s -> %s", root.digest, target)
    return target


def with_values(config: ImageConfig, values: ConfigValues) -> tuple[ImageConfig, dict[str, str]]:
    """*config* with *values* laid over it, and the manifest annotations *values* give."""
    container = replace(
        config.config,
        env=values.env,
        labels=dict(values.labels),
        cmd=values.cmd,
        entrypoint=values.entrypoint,
        user=values.user,
        working_dir=values.working_dir,
        stop_signal=values.stop_signal,
        volumes=values.volumes,
        exposed_ports=values.exposed_ports,
    )
    changed = replace(
        config,
        config=container,
        author=values.author,
        os=values.os,
        architecture=values.architecture,
        variant=values.variant,
    )
    return changed, dict(values.annotations)


def set_config(
    layout: str,
    ref: str,
    *,
    new_tag: str | None,
    values: ConfigValues,
    history: HistoryOptions,
    platform: str | None = None,
) -> str:
    """One new config and manifest holding *values*; returns the tag written."""
    return rewrite_config(
        layout,
        ref,
        new_tag=new_tag,
        history=history,
        platform=platform,
        change=lambda config, _annotations: with_values(config, values),
    )


def config(
    layout: str,
    tag: str,
    *,
    new_tag: str | None,
    changes: ConfigChanges,
    history: HistoryOptions,
    platform: str | None = None,
) -> None:
    rewrite_config(
        layout,
        tag,
        new_tag=new_tag,
        history=history,
        platform=platform,
        change=lambda config, annotations: apply_changes(config, annotations, changes),
    )


__all__ = [
    "CLEARABLE",
    "ContainerConfig",
    "apply_changes",
    "config",
    "rewrite_config",
    "set_config",
    "with_values",
]
