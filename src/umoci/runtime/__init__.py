"""Image config -> runtime bundle metadata: ``config.json`` and ``umoci.json``.

* :func:`runtime_config` builds the runtime-spec config the Go umoci 0.6
  would write for an image config (user lookup in the rootfs, env, HOME,
  volumes, annotations, id maps, rootless rewrite), and
  :func:`write_config` writes it byte-identically (tab-indented).
* :func:`rootfs_opener` gives the confined file access the user lookup
  needs (:func:`umoci.fs.open_in_root`); callers may inject their own.
* :func:`umoci_json` / :func:`parse_umoci_json` write and read ``umoci.json``.

Modules: ``spec`` (conversion), ``template`` (the Go defaults),
``users`` (passwd/group), ``rootfs_open`` (confined open), ``bundle_meta``
(the umoci.json file), ``atomic`` (writes).  The image config and
umoci.json are decoded by :mod:`umoci.oci` (the one JSON decoder).

Internal: this package and its modules are not part of the public API, which is
:mod:`umoci.api`; they may change in any release.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import Any

    from umoci.runtime.bundle_meta import (
        META_NAME,
        BundleMeta,
        parse_umoci_json,
        read_bundle_meta,
        umoci_json,
        write_bundle_meta,
    )
    from umoci.runtime.rootfs_open import RootfsOpener, open_in_root, rootfs_opener
    from umoci.runtime.spec import (
        config_bytes,
        root_path_for,
        runtime_config,
        unprivileged_mount_flags,
        write_config,
    )
    from umoci.runtime.users import ExecUser, resolve_user

# Names are loaded from their modules on first use: ``repack`` needs only
# bundle_meta, and importing the conversion code (dataclasses, templates,
# user lookup) would cost it start-up time for nothing.
_HOMES = {
    "bundle_meta": (
        "META_NAME",
        "BundleMeta",
        "parse_umoci_json",
        "read_bundle_meta",
        "umoci_json",
        "write_bundle_meta",
    ),
    "rootfs_open": ("RootfsOpener", "open_in_root", "rootfs_opener"),
    "spec": (
        "config_bytes",
        "root_path_for",
        "runtime_config",
        "unprivileged_mount_flags",
        "write_config",
    ),
    "users": ("ExecUser", "resolve_user"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "META_NAME",
    "BundleMeta",
    "ExecUser",
    "RootfsOpener",
    "config_bytes",
    "open_in_root",
    "parse_umoci_json",
    "read_bundle_meta",
    "resolve_user",
    "root_path_for",
    "rootfs_opener",
    "runtime_config",
    "umoci_json",
    "unprivileged_mount_flags",
    "write_bundle_meta",
    "write_config",
]
