"""umoci's Python API: OCI image layouts, images and bundles as objects.

This is the one public Python surface of umoci (also importable from the
package itself: ``from umoci import Layout``).  Every other module is
internal and may change without notice; the command line is built on the
same verbs.  Options are typed (:class:`Compression`, :class:`InsertMode`,
:class:`HistoryOptions`, :class:`RepackOptions`, :class:`IdMap`,
:class:`GoTime`), results are models (:class:`ImageStat`,
:class:`IndexStat` and the OCI documents: :class:`Manifest`,
:class:`ImageConfig`, :class:`Index`, :class:`Descriptor`...), and errors
are the :class:`UmociError` subclasses the CLI reports.  A failed call
leaves the layout as it was.

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

Arguments and config fields are checked against their annotations: a value
of the wrong type raises :class:`InvalidArgumentError` (a ``TypeError``)
naming it, before anything is written.  Where a list of strings is wanted a
bare ``str`` is refused: ``c.cmd = "/bin/sh"`` would be seven arguments.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from umoci import ops
from umoci.apiargs import annotations_of, check, checked
from umoci.errors import (
    BlobInvalidError,
    BlobNotFoundError,
    BundleError,
    InvalidArgumentError,
    InvalidRefError,
    LayerError,
    LayoutError,
    MtreeError,
    RefNotFoundError,
    TransportError,
    UmociError,
    UnsafePathError,
    UsageError,
)
from umoci.idmap import IdMap
from umoci.oci.models import (
    ContainerConfig,
    Descriptor,
    History,
    ImageConfig,
    Index,
    Manifest,
    Platform,
)
from umoci.oci.timefmt import GoTime
from umoci.ops.image_stat import HistoryRow, ImageStat, IndexEntry, IndexStat
from umoci.ops.options import (
    Compression,
    ConfigValues,
    CopyOptions,
    HistoryOptions,
    InsertMode,
    MapOptions,
    RepackOptions,
)
from umoci.structs import compile_init
from umoci.transport.registry.options import RegistryOptions, Secret

__all__ = [
    "BlobInvalidError",
    "BlobNotFoundError",
    "Bundle",
    "BundleError",
    "Compression",
    "ConfigBuilder",
    "ContainerConfig",
    "Descriptor",
    "GoTime",
    "History",
    "HistoryOptions",
    "HistoryRow",
    "IdMap",
    "Image",
    "ImageConfig",
    "ImageStat",
    "Index",
    "IndexEntry",
    "IndexStat",
    "InsertMode",
    "InvalidArgumentError",
    "InvalidRefError",
    "LayerError",
    "Layout",
    "LayoutError",
    "Manifest",
    "MtreeError",
    "Platform",
    "RefNotFoundError",
    "RegistryOptions",
    "RepackOptions",
    "Secret",
    "TransportError",
    "UmociError",
    "UnsafePathError",
    "UsageError",
    "copy",
]


class Layout:
    """An OCI image layout directory at *path*.

    Make one with :meth:`init` (a new layout) or :meth:`open` (an existing
    one, checked); ``Layout(path)`` itself checks nothing.

    >>> layout = Layout.init("oci")
    >>> layout.new_image("empty").stat().manifest.layers
    ()
    """

    @checked
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)

    @classmethod
    @checked
    def init(cls, path: str | os.PathLike[str]) -> Layout:
        """Create an empty layout at *path*, which must not exist (``umoci init``).

        >>> Layout.init("oci").tags()
        []
        """
        ops.init_layout(os.fspath(path))
        return cls(path)

    @classmethod
    @checked
    def open(cls, path: str | os.PathLike[str]) -> Layout:
        """The existing layout at *path*, checked now (:class:`LayoutError` if it is none).

        >>> Layout.open("oci").path
        'oci'
        """
        ops.check_layout(os.fspath(path))
        return cls(path)

    def tags(self) -> list[str]:
        """The tags, in index.json order (``umoci ls``).

        >>> Layout.open("oci").tags()
        ['base', 'derived']
        """
        return ops.list_tags(self.path)

    @checked
    def resolve(self, ref: str, platform: str | None = None) -> Descriptor:
        """The descriptor of the manifest *ref* (a tag or ``@sha256:...``) names.

        In a multi-platform index, *platform* (``OS/ARCH[/VARIANT]``) picks
        the manifest; None picks this host's.

        >>> Layout.open("oci").resolve("multi", platform="linux/arm64").digest
        'sha256:6c3c...'
        """
        return ops.resolve(self.path, ref, platform=platform)

    @checked
    def image(self, ref: str = "latest", platform: str | None = None) -> Image:
        """The image *ref* (a tag or ``@sha256:...``) names, for *platform* (see :class:`Image`).

        Nothing is read until the image is used.

        >>> Layout.open("oci").image("multi", platform="linux/arm64")
        Image('oci', 'multi', platform='linux/arm64')
        """
        return Image(self, ref, platform)

    @checked
    def stat(self, ref: str = "latest", platform: str | None = None) -> ImageStat | IndexStat:
        """What ``umoci stat`` shows of *ref*: an :class:`IndexStat` for an index of several images.

        With *platform*, or for an index holding one image, it is that
        image's :class:`ImageStat` (as :meth:`Image.stat` gives).

        >>> info = Layout.open("oci").stat("multi")
        >>> [entry.descriptor.platform.architecture for entry in info.entries]
        ['amd64', 'arm64']
        """
        return ops.stat(self.path, ref, platform=platform)

    @checked
    def new_image(self, tag: str) -> Image:
        """An empty image for this host's platform, tagged *tag* (``umoci new``).

        >>> Layout.open("oci").new_image("scratch").stat().config.os
        'linux'
        """
        ops.new_image(self.path, tag)
        return Image(self, tag)

    @checked
    def tag(self, ref: str, new_tag: str, *, platform: str | None = None) -> Image:
        """Point *new_tag* where *ref* points (``umoci tag``).

        With *platform*, *new_tag* names that platform's manifest inside the
        index *ref* names.

        >>> Layout.open("oci").tag("build-42", "stable").ref
        'stable'
        """
        ops.tag_image(self.path, ref, new_tag, platform=platform)
        return Image(self, new_tag)

    @checked
    def remove(self, tag: str) -> None:
        """Remove *tag* (``umoci rm``); the blobs stay until :meth:`gc`.

        >>> Layout.open("oci").remove("build-41")
        """
        ops.remove_tag(self.path, tag)

    @checked
    def import_image(
        self,
        source: str,
        tag: str,
        *,
        platform: str | None = None,
        all_platforms: bool = False,
        compress: Compression | None = None,
    ) -> Image:
        """Copy the image *source* names (``docker-archive:base.tar``, ...) in as *tag*.

        See :func:`copy` for *platform*, *all_platforms* and *compress*; the
        tag is replaced if it exists.

        >>> Layout.open("oci").import_image("docker-archive:base.tar", "base").ref
        'base'
        """
        ops.check_tag(tag)
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

        >>> Layout.open("oci").gc(grace=600)
        """
        ops.gc(self.path, grace=grace)


class Image:
    """The image *ref* (a tag or ``@sha256:...``) names in *layout*.

    When *ref* names a multi-platform index, *platform*
    (``OS/ARCH[/VARIANT]``) picks one of its images, and None this host's;
    a malformed *platform* is refused here (:class:`UsageError`).  Writing
    through an index replaces that platform's entry in it.

    >>> image = Layout.open("oci").image("multi", platform="linux/arm64")
    >>> [row.history.created_by for row in image.stat().history]
    ['umoci insert', 'umoci config']
    """

    @checked
    def __init__(self, layout: Layout, ref: str, platform: str | None = None) -> None:
        if platform is not None:
            ops.check_platform(platform)  # refused here, not at first use
        self.layout = layout
        self.ref = ref
        self.platform = platform

    def __repr__(self) -> str:
        return f"Image({self.layout.path!r}, {self.ref!r}, platform={self.platform!r})"

    def stat(self) -> ImageStat:
        """The manifest, config and history, as models (what ``umoci stat`` prints).

        >>> info = Layout.open("oci").image("base").stat()
        >>> info.config.config.cmd, len(info.manifest.layers)
        (('/bin/sh',), 1)
        """
        return ops.stat_image(self.layout.path, self.ref, platform=self.platform)

    @checked
    def config(
        self, *, tag: str | None = None, history: HistoryOptions | None = None
    ) -> ConfigBuilder:
        """Change the config in a ``with`` block: one new config and manifest at the end.

        The result is tagged *tag* (default: this image's tag; an image
        named by digest needs one).  *history* sets the one history entry
        (default: ``created_by="umoci config"``; ``HistoryOptions(enabled=False)``
        for none).

        >>> with Layout.open("oci").image("base").config(tag="web") as c:
        ...     c.exposed_ports.add("80/tcp")
        """
        return ConfigBuilder(self, tag, history or HistoryOptions())

    @checked
    def unpack(
        self,
        bundle: str | os.PathLike[str],
        *,
        rootless: bool = False,
        uid_map: tuple[IdMap, ...] = (),
        gid_map: tuple[IdMap, ...] = (),
    ) -> Bundle:
        """Unpack into the new runtime bundle *bundle* (``umoci unpack``).

        *rootless* extracts as an unprivileged user can (no device nodes,
        owners recorded rather than set); *uid_map* and *gid_map* map the
        image's ids to the host's (rootless without maps maps container
        root to the calling user).

        >>> bundle = Layout.open("oci").image("base").unpack(
        ...     "bundle", rootless=True, uid_map=[IdMap(0, 100000, 65536)]
        ... )
        """
        maps = MapOptions(rootless=rootless, uid_maps=tuple(uid_map), gid_maps=tuple(gid_map))
        ops.unpack(self.layout.path, self.ref, os.fspath(bundle), maps=maps, platform=self.platform)
        return Bundle(bundle)

    @checked
    def insert(
        self,
        source: str | os.PathLike[str] | None,
        target: str,
        *,
        tag: str | None = None,
        mode: InsertMode = InsertMode.MERGE,
        history: HistoryOptions | None = None,
        compress: Compression = Compression.AUTO,
    ) -> Image:
        """Add *source* (a file or tree) at *target* as a new layer (``umoci insert``).

        *mode* is how it meets the lower layers (:class:`InsertMode`; for
        ``WHITEOUT`` *source* is None and *target* is deleted).  The result
        is tagged *tag* (default: this image's tag); *history* sets its
        history entry and *compress* the layer's compression.  Returns the
        resulting image.

        >>> image = Layout.open("oci").image("base")
        >>> image.insert("build/app", "/opt/app", tag="app").ref
        'app'
        >>> image.insert(None, "/var/cache", mode=InsertMode.WHITEOUT)
        Image('oci', 'base', platform=None)
        """
        ops.insert(
            self.layout.path,
            self.ref,
            None if source is None else os.fspath(source),
            target,
            new_tag=tag,
            mode=mode,
            history=history or HistoryOptions(),
            compress=compress,
            maps=MapOptions(rootless=os.geteuid() != 0),
            platform=self.platform,
        )
        return Image(self.layout, tag or self.ref, self.platform)

    @checked
    def export(
        self,
        destination: str,
        *,
        additional_tags: tuple[str, ...] = (),
        compress: Compression | None = None,
        all_platforms: bool = False,
    ) -> str:
        """Copy this image to *destination* (``oci-archive:app.rock:v1``, ...); see :func:`copy`.

        A multi-platform image is narrowed to this image's platform (by
        default the host's) unless *all_platforms*; *additional_tags* name
        the copy too and *compress* recompresses its layers.  Returns the
        digest :func:`copy` returns.

        >>> Layout.open("oci").image("app").export("oci-archive:app.rock:v1")
        'sha256:...'
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
    compress: Compression | None = None,
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
    *additional_tags* name the copy too; *compress* (``Compression.GZIP``,
    ``ZSTD`` or ``NONE``; None keeps them) recompresses the layers.
    *src_shared_blob_dir* and *dest_shared_blob_dir* hold the blobs of an
    ``oci:`` source or destination kept elsewhere, and *tmpdir* spooled
    streams.  Returns the digest of the manifest (or index) written -- for
    Docker's formats, the image ID.  A failed copy leaves the destination as
    it was.

    >>> copy("docker-archive:base.tar", "oci:image:base")
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


class Bundle:
    """The runtime bundle at *path*, made by :meth:`Image.unpack` (or ``umoci unpack``).

    ``Bundle(path)`` checks nothing; :meth:`open` reads the bundle's
    ``umoci.json`` first.

    >>> bundle = Bundle.open("bundle")
    >>> (bundle.rootfs / "etc" / "hostname").write_text("box\\n")
    >>> bundle.repack(Layout.open("oci"), tag="v2").ref
    'v2'
    """

    @checked
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @classmethod
    @checked
    def open(cls, path: str | os.PathLike[str]) -> Bundle:
        """The bundle at *path*, checked now (:class:`BundleError` if it is none).

        >>> Bundle.open("bundle").rootfs
        PosixPath('bundle/rootfs')
        """
        ops.check_bundle(os.fspath(path))
        return cls(path)

    @property
    def rootfs(self) -> Path:
        """The root filesystem directory, to change before :meth:`repack`.

        >>> (Bundle.open("bundle").rootfs / "etc" / "motd").write_text("hi\\n")
        3
        """
        return self.path / "rootfs"

    @checked
    def repack(
        self, layout: Layout, *, tag: str | None = None, options: RepackOptions | None = None
    ) -> Image:
        """The rootfs's changes as a new layer in *layout* (``umoci repack``).

        The result is tagged *tag* (default: the tag the bundle was unpacked
        from); *options* (:class:`RepackOptions`) set the history entry,
        compression and masked paths.  Returns the resulting image.

        >>> bundle = Bundle.open("bundle")
        >>> bundle.repack(Layout.open("oci"), options=RepackOptions(mask_paths=("/tmp",)))
        Image('oci', 'base', platform=None)
        """
        written = ops.repack(
            layout.path, tag, os.fspath(self.path), options=options or RepackOptions()
        )
        return Image(layout, written)


class ConfigBuilder:
    """Pending config changes of *image*; the ``with`` block's end writes them all at once.

    Made by :meth:`Image.config`, which passes the *tag* to write and the
    *history* entry.  ``env``, ``labels`` and ``annotations`` (the
    manifest's) are plain dicts; ``cmd``, ``entrypoint``, ``user``,
    ``working_dir``, ``stop_signal``, ``author``, ``os``, ``architecture``,
    ``variant`` are attributes; ``volumes`` and ``exposed_ports`` are sets.
    Nothing is written if the block raises.

    Each field is checked against its annotation when it is assigned, and
    all of them again at the block's end (a dict, list or set may have been
    changed in place): :class:`InvalidArgumentError` for a wrong type,
    :class:`UsageError` for an empty name or an environment variable name
    holding ``=``.  A field name the builder does not have (a typo) is an
    ``AttributeError``, not silently ignored.

    >>> with Layout.open("oci").image("base").config(tag="web") as c:
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
        info = self._image.stat()
        config = info.config
        if config is None:
            raise BlobInvalidError(
                f"manifest {info.manifest_descriptor.digest}: config media type "
                f"{info.manifest.config.media_type!r} is not an image config"
            )
        c = config.config
        self.env = dict(e.partition("=")[::2] for e in c.env)
        self.labels = dict(c.labels)
        self.annotations = dict(info.manifest.annotations)
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
        self._check_fields()
        values = ConfigValues(
            env=tuple(f"{k}={v}" for k, v in self.env.items()),
            labels=dict(self.labels),
            annotations=dict(self.annotations),
            cmd=tuple(self.cmd),
            entrypoint=tuple(self.entrypoint),
            user=self.user,
            working_dir=self.working_dir,
            stop_signal=self.stop_signal,
            volumes=tuple(sorted(self.volumes)),
            exposed_ports=tuple(sorted(self.exposed_ports)),
            author=self.author,
            os=self.os,
            architecture=self.architecture,
            variant=self.variant,
        )
        ops.set_config(
            self._image.layout.path,
            self._image.ref,
            new_tag=self._tag,
            values=values,
            history=self._history,
            platform=self._image.platform,
        )


# A record's __init__ is compiled on its first instance (umoci.structs): the
# API's get theirs now, so that help() and the reference show their fields.
for _name in __all__:
    compile_init(globals()[_name])
