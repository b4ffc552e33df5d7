"""The object API: layouts, images and bundles as Python objects, for build tools.

This is the stable surface for Python callers (KIWI, rockcraft, osbuild...);
:mod:`umoci.ops` stays as the one-function-per-verb layer the CLI calls,
and this module is built on it.  Errors are the same
:class:`umoci.errors.UmociError` subclasses the CLI reports, and a failed
call leaves the layout as it was.

Example -- derive an image, change its config in one step, and tidy up::

    from umoci.api import Layout

    layout = Layout.open("oci")
    image = layout.image("base")
    bundle = image.unpack("bundle", rootless=True)
    (bundle.rootfs / "etc" / "motd").write_text("hello\\n")
    bundle.repack(layout, tag="derived")
    with layout.image("derived").config(tag="release") as c:
        c.env["PATH"] = "/usr/bin:/bin"
        c.cmd = ["/bin/sh"]
        c.labels["org.example.version"] = "1.0"
    layout.gc()

A :meth:`Image.config` block writes ONE new config and manifest, with at
most one history entry, however many changes it makes (the CLI's
``umoci config`` makes one per call).

Arguments and config fields are checked against their annotations (see
:mod:`umoci.apiargs`): a value of the wrong type raises
:class:`~umoci.errors.InvalidArgumentError` (a ``TypeError``) naming it,
before anything is written.  Where a list of strings is wanted a bare
``str`` is refused: ``c.cmd = "/bin/sh"`` would be seven arguments.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from umoci import ops
from umoci.apiargs import annotations_of, check, checked
from umoci.errors import UsageError
from umoci.idmap import IdMap, parse_id_map
from umoci.oci.models import Descriptor, ImageConfig
from umoci.ops.options import CopyOptions, HistoryOptions, MapOptions, RepackOptions
from umoci.ops.stat_image import ImageStat
from umoci.transport.registry.options import RegistryOptions, Secret

__all__ = ["Bundle", "ConfigBuilder", "Image", "Layout", "RegistryOptions", "Secret", "copy"]


class Layout:
    """An OCI image layout directory.  Make one with :meth:`init` or :meth:`open`.

    >>> layout = Layout.init("/tmp/doctest-layout")  # doctest: +SKIP
    >>> layout.new_image("empty").stat().manifest.layers  # doctest: +SKIP
    ()
    """

    @checked
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)

    @classmethod
    @checked
    def init(cls, path: str | os.PathLike[str]) -> Layout:
        """Create an empty layout at *path* (which must not exist)."""
        ops.init_layout(os.fspath(path))
        return cls(path)

    @classmethod
    @checked
    def open(cls, path: str | os.PathLike[str]) -> Layout:
        """An existing layout (checked now: :class:`~umoci.errors.LayoutError` if it is not one)."""
        from umoci.cas.layoutcheck import check_layout

        check_layout(os.fspath(path))
        return cls(path)

    def tags(self) -> list[str]:
        """The tags, in index.json order (``umoci ls``)."""
        return ops.list_tags(self.path)

    @checked
    def resolve(self, ref: str, platform: str | None = None) -> Descriptor:
        """The manifest descriptor *ref* (a tag or ``@sha256:...``) names, for *platform*."""
        from umoci.layout.refs import resolve
        from umoci.ops.basic import opened

        with opened(self.path) as store:
            return resolve(store, ref, platform).descriptor

    @checked
    def image(self, ref: str = "latest", platform: str | None = None) -> Image:
        """The image *ref* names (nothing is read until it is used)."""
        return Image(self, ref, platform)

    @checked
    def new_image(self, tag: str) -> Image:
        """An empty image for this host's platform, tagged *tag* (``umoci new``)."""
        ops.new_image(self.path, tag)
        return Image(self, tag)

    @checked
    def tag(self, ref: str, new_tag: str, *, platform: str | None = None) -> Image:
        """Point *new_tag* where *ref* points (``umoci tag``)."""
        ops.tag_image(self.path, ref, new_tag, platform=platform)
        return Image(self, new_tag)

    @checked
    def remove(self, tag: str) -> None:
        """Remove a tag (``umoci rm``); the blobs stay until :meth:`gc`."""
        ops.remove_tag(self.path, tag)

    @checked
    def import_image(
        self,
        source: str,
        tag: str,
        *,
        platform: str | None = None,
        all_platforms: bool = False,
        compress: str | None = None,
    ) -> Image:
        """Copy the image *source* names (``docker-archive:base.tar``, ...) in as *tag*.

        See :func:`copy`; the tag is replaced if it exists.
        """
        from umoci.oci.refs import check_tag

        check_tag(tag)
        copy(
            source,
            _oci_name(self.path, tag),
            platform=platform,
            all_platforms=all_platforms,
            compress=compress,
        )
        return Image(self, tag)

    @checked
    def gc(self, *, grace: float = 0.0) -> None:
        """Delete the blobs nothing reaches (``umoci gc``).

        *grace* (seconds, default 0) keeps unreachable blobs younger than
        that, for layouts shared with writers that take no umoci lock.
        """
        ops.gc(self.path, grace=grace)


class Image:
    """One image of a layout: a tag or ``@digest``, and a platform for indexes.

    >>> image = Layout.open("oci").image("multi", platform="linux/arm64")  # doctest: +SKIP
    >>> [row.history.created_by for row in image.stat().history]  # doctest: +SKIP
    ['umoci insert', 'umoci config']
    """

    @checked
    def __init__(self, layout: Layout, ref: str, platform: str | None = None) -> None:
        if platform is not None:
            from umoci.oci.platforms import parse_platform

            parse_platform(platform)  # a malformed platform is refused here, not at first use
        self.layout = layout
        self.ref = ref
        self.platform = platform

    def __repr__(self) -> str:
        return f"Image({self.layout.path!r}, {self.ref!r}, platform={self.platform!r})"

    def stat(self) -> ImageStat:
        """The manifest, config and history, as typed models (what ``umoci stat`` prints)."""
        from umoci.ops.stat_image import collect

        return collect(self.layout.path, self.ref, self.platform)

    @checked
    def config(
        self, *, tag: str | None = None, history: HistoryOptions | None = None
    ) -> ConfigBuilder:
        """Change the config in a ``with`` block: one new config and manifest at the end.

        The result is tagged *tag* (default: this image's tag).  *history*
        sets the one history entry (default: ``created_by="umoci config"``;
        ``HistoryOptions(enabled=False)`` for none).
        """
        return ConfigBuilder(self, tag, history or HistoryOptions())

    @checked
    def unpack(
        self,
        bundle: str | os.PathLike[str],
        *,
        rootless: bool = False,
        uid_map: tuple[str | IdMap, ...] = (),
        gid_map: tuple[str | IdMap, ...] = (),
    ) -> Bundle:
        """Unpack into a new runtime bundle (``umoci unpack``)."""
        maps = MapOptions(rootless=rootless, uid_maps=_maps(uid_map), gid_maps=_maps(gid_map))
        ops.unpack(self.layout.path, self.ref, os.fspath(bundle), maps=maps, platform=self.platform)
        return Bundle(bundle)

    @checked
    def insert(
        self,
        source: str | os.PathLike[str],
        target: str,
        *,
        tag: str | None = None,
        opaque: bool = False,
        history: HistoryOptions | None = None,
    ) -> Image:
        """Add *source* at *target* as a new layer (``umoci insert``); the resulting image."""
        ops.insert(
            self.layout.path,
            self.ref,
            os.fspath(source),
            target,
            new_tag=tag,
            opaque=opaque,
            whiteout=False,
            history=history or HistoryOptions(),
            compress="auto",
            maps=MapOptions(rootless=os.geteuid() != 0),
            platform=self.platform,
        )
        return Image(self.layout, tag or self.ref)

    @checked
    def export(
        self,
        destination: str,
        *,
        additional_tags: tuple[str, ...] = (),
        compress: str | None = None,
        all_platforms: bool = False,
    ) -> str:
        """Copy this image to *destination* (``oci-archive:app.rock:v1``, ...); see :func:`copy`.

        A multi-platform image is narrowed to this image's platform (by
        default the host's) unless *all_platforms*.
        """
        return copy(
            _oci_name(self.layout.path, self.ref),
            destination,
            platform=self.platform,
            all_platforms=all_platforms,
            additional_tags=additional_tags,
            compress=compress,
        )


@checked
def copy(
    source: str,
    destination: str,
    *,
    platform: str | None = None,
    all_platforms: bool = False,
    additional_tags: tuple[str, ...] = (),
    compress: str | None = None,
    src_shared_blob_dir: str | os.PathLike[str] | None = None,
    dest_shared_blob_dir: str | os.PathLike[str] | None = None,
    tmpdir: str | os.PathLike[str] | None = None,
    src_registry: RegistryOptions | None = None,
    dest_registry: RegistryOptions | None = None,
) -> str:
    """Copy an image between layouts, archives, registries and the Docker engine (``umoci copy``).

    *source* and *destination* use skopeo's names: ``oci:PATH[:TAG]``,
    ``oci-archive:FILE[:TAG]``, ``docker-archive:FILE[:NAME:TAG]``,
    ``docker-daemon:NAME[:TAG]``, ``docker://[HOST/]REPO[:TAG|@DIGEST]``.
    *src_registry* / *dest_registry* say how to reach a registry
    (credentials, TLS, retries: :class:`RegistryOptions`, passwords and
    tokens wrapped in :class:`Secret`); by default the credential files
    are read and TLS is verified.  *platform* picks one image of a
    multi-platform index (default: this host's) unless *all_platforms*;
    *additional_tags* name the copy too; *compress* (``gzip``, ``zstd``,
    ``none``) recompresses the layers.  Returns the digest of the manifest
    (or index) written -- for Docker's formats, the image ID.  A failed
    copy leaves the destination as it was.

    >>> copy("docker-archive:base.tar", "oci:image:base")  # doctest: +SKIP
    'sha256:...'
    >>> copy(  # doctest: +SKIP
    ...     "oci:image:v1",
    ...     "docker://registry.example.com/team/app:v1",
    ...     dest_registry=RegistryOptions(creds=Secret("user:token"), retry_times=3),
    ... )
    'sha256:...'
    """
    options = CopyOptions(
        all_platforms=all_platforms,
        platform=platform,
        additional_tags=tuple(additional_tags),
        compress=compress,
        src_shared_blob_dir=_optional_path(src_shared_blob_dir),
        dest_shared_blob_dir=_optional_path(dest_shared_blob_dir),
        tmpdir=_optional_path(tmpdir),
        src_registry=src_registry,
        dest_registry=dest_registry,
    )
    return ops.copy(source, destination, options=options)


def _oci_name(path: str, ref: str) -> str:
    """``oci:PATH:REF``, which ends PATH at its first ':' (so it may not hold one)."""
    if ":" in path:
        raise UsageError(f"layout path {path!r}: a copy cannot name a path holding ':'")
    return f"oci:{path}:{ref}"


def _optional_path(path: str | os.PathLike[str] | None) -> str | None:
    return None if path is None else os.fspath(path)


def _maps(maps: tuple[str | IdMap, ...]) -> tuple[IdMap, ...]:
    return tuple(m if isinstance(m, IdMap) else parse_id_map(m) for m in maps)


class Bundle:
    """A runtime bundle made by :meth:`Image.unpack` (or ``umoci unpack``).

    >>> bundle = Bundle.open("bundle")  # doctest: +SKIP
    >>> (bundle.rootfs / "etc" / "hostname").write_text("box\\n")  # doctest: +SKIP
    >>> bundle.repack(Layout.open("oci"), tag="v2").ref  # doctest: +SKIP
    'v2'
    """

    @checked
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @classmethod
    @checked
    def open(cls, path: str | os.PathLike[str]) -> Bundle:
        """An existing bundle (its umoci.json is read now)."""
        from umoci.runtime.bundle_meta import read_bundle_meta

        read_bundle_meta(os.fspath(path))
        return cls(path)

    @property
    def rootfs(self) -> Path:
        return self.path / "rootfs"

    @checked
    def repack(
        self, layout: Layout, *, tag: str | None = None, options: RepackOptions | None = None
    ) -> Image:
        """The rootfs's changes as a new layer (``umoci repack``), tagged *tag* or as unpacked."""
        ops.repack(layout.path, tag, os.fspath(self.path), options=options or RepackOptions())
        if tag is None:
            from umoci.runtime.bundle_meta import read_bundle_meta

            walk = read_bundle_meta(os.fspath(self.path)).descriptor_walk
            tag = walk[0].ref_name
        return Image(layout, tag or "latest")


class ConfigBuilder:
    """Pending config changes; the ``with`` block's end writes them all at once.

    ``env``, ``labels`` and ``annotations`` (the manifest's) are plain dicts;
    ``cmd``, ``entrypoint``, ``user``, ``working_dir``, ``stop_signal``,
    ``author``, ``os``, ``architecture``, ``variant`` are attributes;
    ``volumes`` and ``exposed_ports`` are sets.  Nothing is written if the
    block raises.

    Each field is checked against its annotation when it is assigned, and
    all of them again at the block's end (a dict, list or set may have been
    changed in place): :class:`~umoci.errors.InvalidArgumentError` for a
    wrong type, :class:`~umoci.errors.UsageError` for an empty name or an
    environment variable name holding ``=``.  A field name the builder does
    not have (a typo) is an ``AttributeError``, not silently ignored.

    >>> with Layout.open("oci").image("base").config(tag="web") as c:  # doctest: +SKIP
    ...     c.exposed_ports.add("80/tcp")
    ...     c.env["PORT"] = "80"
    """

    env: dict[str, str]
    labels: dict[str, str]
    annotations: dict[str, str]
    cmd: list[str]
    entrypoint: list[str]
    user: str
    working_dir: str
    stop_signal: str
    volumes: set[str]
    exposed_ports: set[str]
    author: str
    os: str
    architecture: str
    variant: str

    # The fields above, and no others: a misspelt field is an AttributeError.
    __slots__ = ("_history", "_image", "_tag", *__annotations__)

    @checked
    def __init__(self, image: Image, tag: str | None, history: HistoryOptions) -> None:
        self._image = image
        self._tag = tag
        self._history = history

    def __setattr__(self, name: str, value: object) -> None:
        annotation = annotations_of(ConfigBuilder).get(name)
        if annotation is not None:
            check(f"ConfigBuilder.{name}", value, annotation)
        object.__setattr__(self, name, value)

    def __enter__(self) -> ConfigBuilder:
        from umoci.layout.refs import read_manifest, resolve
        from umoci.ops.basic import opened

        with opened(self._image.layout.path) as store:
            path = resolve(store, self._image.ref, self._image.platform)
            manifest = read_manifest(store, path.descriptor)
            raw = store.read_blob(manifest.config)
        config = ImageConfig.from_bytes(raw, f"config {manifest.config.digest}")
        c = config.config
        self.env = dict(e.partition("=")[::2] for e in c.env)
        self.labels = dict(c.labels)
        self.annotations = dict(manifest.annotations)
        self.cmd = list(c.cmd)
        self.entrypoint = list(c.entrypoint)
        self.user = c.user
        self.working_dir = c.working_dir
        self.stop_signal = c.stop_signal
        self.volumes = set(c.volumes)
        self.exposed_ports = set(c.exposed_ports)
        self.author = config.author
        self.os = config.os
        self.architecture = config.architecture
        self.variant = config.variant
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self._commit()

    def _changed(
        self, config: ImageConfig, annotations: dict[str, str]
    ) -> tuple[ImageConfig, dict[str, str]]:
        """The block's values laid over *config* (as read again under the layout's lock)."""
        from umoci.structs import replace

        container = replace(
            config.config,
            env=tuple(f"{k}={v}" for k, v in self.env.items()),
            labels=dict(self.labels),
            cmd=tuple(self.cmd),
            entrypoint=tuple(self.entrypoint),
            user=self.user,
            working_dir=self.working_dir,
            stop_signal=self.stop_signal,
            volumes=tuple(sorted(self.volumes)),
            exposed_ports=tuple(sorted(self.exposed_ports)),
        )
        changed = replace(
            config,
            config=container,
            author=self.author,
            os=self.os,
            architecture=self.architecture,
            variant=self.variant,
        )
        return changed, dict(self.annotations)

    def _check_fields(self) -> None:
        """Every field as the block left it: the right types, and names the config can hold."""
        for name, annotation in annotations_of(ConfigBuilder).items():
            check(f"ConfigBuilder.{name}", getattr(self, name), annotation)
        for field in ("env", "labels", "annotations"):
            if "" in getattr(self, field):
                raise UsageError(f"ConfigBuilder.{field}: a name must not be empty")
        for name in self.env:
            if "=" in name:
                # "A=B" with value "c" would be written "A=B=c" and read back as A.
                raise UsageError(f"ConfigBuilder.env: name {name!r} must not contain '='")

    def _commit(self) -> None:
        from umoci.ops.config_image import rewrite_config

        self._check_fields()
        rewrite_config(
            self._image.layout.path,
            self._image.ref,
            new_tag=self._tag,
            history=self._history,
            platform=self._image.platform,
            change=self._changed,
        )
