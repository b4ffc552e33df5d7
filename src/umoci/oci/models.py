"""The OCI documents as models: decoded by Go's rules, encoded as Go writes them.

One model per document -- :class:`ImageLayout` (``oci-layout``),
:class:`Index` (``index.json`` and index blobs), :class:`Manifest`,
:class:`ImageConfig` (with :class:`ContainerConfig` and :class:`History`),
:class:`Descriptor` and :class:`Platform` -- each with the Go struct it
mirrors (image-spec v1.1) described as a :class:`~umoci.oci.decode.Struct`,
so that :mod:`umoci.oci.decode` reads every document the way the Go umoci
0.6 reads it (keys case-insensitively, later duplicates merged in, ``null``
as Go treats it, type errors refusing the document).

Encoding gives a dict whose key order is the Go struct's field order, with
Go's ``omitempty`` rules, so ``gojson.dumps_blob(model.to_json())`` is the
bytes the Go umoci writes.  Fields we do not model are kept in ``extra``
and written after the known ones: the Go umoci drops them, we do not want
to lose another tool's data.

:mod:`umoci.api` re-exports the document models (as the values
:meth:`umoci.api.Image.stat` returns); their decoding and encoding methods
are marked ``@private``, which leaves them out of the API reference.
"""

from __future__ import annotations

from umoci.errors import BlobInvalidError, LayoutError, UmociError
from umoci.oci import decode, mediatypes
from umoci.oci import digest as digests
from umoci.oci.decode import (
    BOOL,
    BYTES,
    INT,
    RAW,
    STRING,
    STRING_LIST,
    STRING_MAP,
    STRING_SET,
    TIME,
    Context,
    Kind,
    Pointer,
    Problem,
    Slice,
    Struct,
)
from umoci.structs import dataclass, field, replace

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import Any, TypeAlias

    from umoci.oci.decode import ErrorType
    from umoci.oci.timefmt import GoTime

REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"

JSON: TypeAlias = "dict[str, Any]"


def _put_map(out: JSON, key: str, value: dict[str, str]) -> None:
    if value:
        out[key] = {k: value[k] for k in sorted(value)}


def _check_digest(value: str, path: str, ctx: Context) -> None:
    if not ctx.strict:
        return  # validate judges digests itself
    try:
        digests.split(value)
    except BlobInvalidError as err:
        raise ctx.fail(path, str(err)) from None


@dataclass(frozen=True)
class ImageLayout:
    """``oci-layout``: the layout's version."""

    version: str = ""
    extra: JSON = field(default_factory=dict, compare=False)

    @classmethod
    def from_bytes(cls, data: bytes, what: str, error: ErrorType = LayoutError) -> ImageLayout:
        """Decode ``oci-layout`` (read as ``json.Unmarshal``: nothing may follow the object)."""
        value = decode.parse(data, what, error)
        layout = _IMAGE_LAYOUT.document(value, Context(what, error))
        assert isinstance(layout, ImageLayout)
        return layout


_IMAGE_LAYOUT = Struct(
    (("imageLayoutVersion", "version", STRING),),
    lambda kw, path, ctx: ImageLayout(**kw),  # type: ignore[arg-type]
)


@dataclass(frozen=True)
class Platform:
    """The platform an image is built for (a descriptor's ``platform``).

    *os* and *architecture* as Go names them (``linux``, ``arm64``),
    *variant* the CPU variant (``v8``), *os_version* and *os_features* for
    the systems that use them (Windows); *extra* holds fields this model
    does not know, kept when the document is rewritten.

    >>> platform = Layout.open("oci").resolve("multi", platform="linux/arm64").platform
    >>> platform.os, platform.architecture, platform.variant
    ('linux', 'arm64', 'v8')
    """

    architecture: str = ""
    os: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = ()
    variant: str = ""
    extra: JSON = field(default_factory=dict, compare=False)

    def to_json(self) -> JSON:
        """The document as the Go umoci writes it (key order, omitempty); ``extra`` last.

        @private: umoci's own reading and writing, left out of the API reference.
        """
        out: JSON = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        if self.variant:
            out["variant"] = self.variant
        out.update(self.extra)
        return out


_PLATFORM = Struct(
    (
        ("architecture", "architecture", STRING),
        ("os", "os", STRING),
        ("os.version", "os_version", STRING),
        ("os.features", "os_features", STRING_LIST),
        ("variant", "variant", STRING),
    ),
    lambda kw, path, ctx: Platform(**kw),  # type: ignore[arg-type]
)


@dataclass(frozen=True)
class Descriptor:
    """A reference to a blob: its *media_type*, *digest* (``sha256:...``) and *size*.

    *urls* are where else the blob may be fetched from, *annotations* its
    string labels, *data* the blob's bytes when embedded (None when not),
    *platform* the platform of the image it names (in an index), and
    *artifact_type* the type of an artefact; *extra* holds fields this
    model does not know, kept when the document is rewritten.

    >>> manifest = Layout.open("oci").image("base").stat().manifest
    >>> [(layer.media_type, layer.size) for layer in manifest.layers]
    [('application/vnd.oci.image.layer.v1.tar+gzip', 1048576)]
    """

    media_type: str
    digest: str
    size: int
    urls: tuple[str, ...] = ()
    annotations: dict[str, str] = field(default_factory=dict)
    data: bytes | None = None  # embedded content (base64 in JSON); None: absent
    platform: Platform | None = None
    artifact_type: str = ""
    extra: JSON = field(default_factory=dict, compare=False)

    @classmethod
    def from_json(
        cls,
        value: object,
        what: str = "descriptor",
        error: ErrorType = BlobInvalidError,
        problems: list[Problem] | None = None,
    ) -> Descriptor:
        """Decode a descriptor from parsed JSON (or a plain dict); see :class:`Context`.

        @private: umoci's own reading and writing, left out of the API reference.
        """
        descriptor = DESCRIPTOR_STRUCT.document(value, Context(what, error, problems))
        assert isinstance(descriptor, Descriptor)
        return descriptor

    def to_json(self) -> JSON:
        """The document as the Go umoci writes it (key order, omitempty); ``extra`` last.

        @private: umoci's own reading and writing, left out of the API reference.
        """
        out: JSON = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.urls:
            out["urls"] = list(self.urls)
        _put_map(out, "annotations", self.annotations)
        if self.data:
            import base64

            out["data"] = base64.b64encode(self.data).decode("ascii")
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        out.update(self.extra)
        return out

    def go_struct(self) -> Descriptor:
        """The descriptor as Go's struct holds it: the fields it does not know are gone.

        @private: umoci's own reading and writing, left out of the API reference.
        """
        platform = self.platform
        if platform is not None:
            platform = replace(platform, extra={})
        return replace(self, extra={}, platform=platform)

    @property
    def ref_name(self) -> str | None:
        """The tag an ``index.json`` entry carries (``org.opencontainers.image.ref.name``).

        >>> Layout.open("oci").stat("multi").descriptor.ref_name
        'multi'
        """
        return self.annotations.get(REF_NAME_ANNOTATION)

    def with_annotations(self, annotations: dict[str, str]) -> Descriptor:
        """This descriptor with *annotations* instead of its own.

        @private: umoci's own reading and writing, left out of the API reference.
        """
        return replace(self, annotations=annotations)


def _make_descriptor(kw: dict[str, object], path: str, ctx: Context) -> Descriptor:
    if ctx.strict:
        digest = kw.get("digest")
        if not isinstance(digest, str):
            raise ctx.fail(path, "missing digest")
        _check_digest(digest, f"{path}.digest" if path else "digest", ctx)
        size = kw.get("size")
        if not isinstance(size, int):
            raise ctx.fail(path, "missing size")
        if size < 0:
            raise ctx.fail(path, f"negative size {size}")
    return Descriptor(**{"media_type": "", "digest": "", "size": 0, **kw})  # type: ignore[arg-type]


DESCRIPTOR_STRUCT = Struct(
    (
        ("mediaType", "media_type", STRING),
        ("digest", "digest", STRING),
        ("size", "size", INT),
        ("urls", "urls", STRING_LIST),
        ("annotations", "annotations", STRING_MAP),
        ("data", "data", BYTES),
        ("platform", "platform", Pointer(_PLATFORM)),
        ("artifactType", "artifact_type", STRING),
    ),
    _make_descriptor,
)


def _check_media_type(media_type: str, expected: str, what: str) -> None:
    """The blob's own mediaType must agree with how it was reached (CVE-2021-41190)."""
    if media_type and expected and media_type != expected:
        raise BlobInvalidError(
            f"{what}: mediaType {media_type!r} does not match descriptor media type {expected!r}"
        )


def _check_schema_version(kw: dict[str, object], path: str, ctx: Context) -> None:
    # Go reads any int here; the image-spec allows only 2 (see the README's
    # deliberate differences).
    version = kw.setdefault("schema_version", 0)
    if ctx.strict and version != 2:
        raise ctx.fail(path, f"unsupported schemaVersion {version}")


@dataclass(frozen=True)
class Manifest:
    """An image manifest: the *config* descriptor and the *layers*, lowest first.

    *media_type* and *schema_version* (2) as the document states them,
    *artifact_type* for an artefact, *subject* the manifest this one refers
    to (a signature's, an attestation's), *annotations* its string labels;
    *extra* holds fields this model does not know, kept when rewritten.

    >>> manifest = Layout.open("oci").image("base").stat().manifest
    >>> manifest.config.media_type, len(manifest.layers)
    ('application/vnd.oci.image.config.v1+json', 1)
    """

    config: Descriptor
    layers: tuple[Descriptor, ...] = ()
    media_type: str = mediatypes.MANIFEST
    schema_version: int = 2
    artifact_type: str = ""
    subject: Descriptor | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    extra: JSON = field(default_factory=dict, compare=False)

    @classmethod
    def from_json(
        cls,
        value: object,
        descriptor_media_type: str,
        what: str = "manifest",
        problems: list[Problem] | None = None,
    ) -> Manifest:
        """Decode a manifest reached through a descriptor of *descriptor_media_type*.

        @private: umoci's own reading and writing, left out of the API reference.
        """
        manifest = _MANIFEST.document(value, Context(what, BlobInvalidError, problems))
        assert isinstance(manifest, Manifest)
        if problems is None:
            _check_media_type(manifest.media_type, descriptor_media_type, what)
        return manifest

    @classmethod
    def from_bytes(
        cls, data: bytes, descriptor_media_type: str, what: str = "manifest"
    ) -> Manifest:
        """Decode a manifest blob (its first JSON value, as Go's ``json.Decoder`` reads it).

        @private: umoci's own reading and writing, left out of the API reference.
        """
        value = decode.parse(data, what, BlobInvalidError, first_value=True)
        return cls.from_json(value, descriptor_media_type, what)

    def to_json(self) -> JSON:
        """The document as the Go umoci writes it (key order, omitempty); ``extra`` last.

        @private: umoci's own reading and writing, left out of the API reference.
        """
        body = {
            "config": self.config.to_json(),
            "layers": [layer.to_json() for layer in self.layers],
        }
        return _envelope_json(self, body)


def _make_manifest(kw: dict[str, object], path: str, ctx: Context) -> Manifest:
    if kw.pop("forbidden", False):
        # An index in disguise (also as null, as 0.6 has it): refusing it
        # closes the type confusion.
        ctx.refuse("forbidden", path, "manifest has a 'manifests' field", None)
    if "config" not in kw:
        if ctx.strict:
            raise ctx.fail(path, "missing config descriptor")
        kw["config"] = Descriptor(media_type="", digest="", size=0)
    _check_schema_version(kw, path, ctx)
    kw.setdefault("media_type", "")
    return Manifest(**kw)  # type: ignore[arg-type]


_MANIFEST = Struct(
    (
        ("schemaVersion", "schema_version", INT),
        ("mediaType", "media_type", STRING),
        ("artifactType", "artifact_type", STRING),
        ("config", "config", DESCRIPTOR_STRUCT),
        ("layers", "layers", Slice(DESCRIPTOR_STRUCT)),
        ("subject", "subject", Pointer(DESCRIPTOR_STRUCT)),
        ("annotations", "annotations", STRING_MAP),
        ("manifests", "forbidden", RAW),
    ),
    _make_manifest,
)


@dataclass(frozen=True)
class Index:
    """An image index (``index.json``, or a multi-platform image): its *manifests*.

    *media_type* and *schema_version* (2) as the document states them,
    *artifact_type* for an artefact, *subject* the manifest it refers to,
    *annotations* its string labels; *extra* holds fields this model does
    not know, kept when rewritten.

    >>> index = Layout.open("oci").stat("multi").index
    >>> [m.platform.architecture for m in index.manifests]
    ['amd64', 'arm64']
    """

    manifests: tuple[Descriptor, ...] = ()
    media_type: str = mediatypes.INDEX
    schema_version: int = 2
    artifact_type: str = ""
    subject: Descriptor | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    extra: JSON = field(default_factory=dict, compare=False)

    @classmethod
    def from_json(
        cls,
        value: object,
        descriptor_media_type: str,
        what: str = "index",
        error: ErrorType = BlobInvalidError,
        problems: list[Problem] | None = None,
    ) -> Index:
        """Decode an index reached through a descriptor of *descriptor_media_type*.

        @private: umoci's own reading and writing, left out of the API reference.
        """
        index = _INDEX.document(value, Context(what, error, problems))
        assert isinstance(index, Index)
        if problems is None:
            try:
                _check_media_type(index.media_type, descriptor_media_type, what)
            except BlobInvalidError as err:
                raise error(str(err)) from None
        return index

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        descriptor_media_type: str,
        what: str = "index",
        error: ErrorType = BlobInvalidError,
        *,
        whole: bool = False,
    ) -> Index:
        """Decode an index blob (its first JSON value), or ``index.json`` with *whole*.

        Go reads blobs with ``json.Decoder`` and ``index.json`` with
        ``json.Unmarshal``, which refuses anything after the object.

        @private: umoci's own reading and writing, left out of the API reference.
        """
        value = decode.parse(data, what, error, first_value=not whole)
        return cls.from_json(value, descriptor_media_type, what, error)

    def tag_names(self) -> list[str]:
        """The entries' tag names (ref.name annotations) in index order, each once.

        @private: umoci's own reading and writing, left out of the API reference.
        """
        seen: dict[str, None] = {}
        for descriptor in self.manifests:
            name = descriptor.ref_name
            if name is not None:
                seen.setdefault(name, None)
        return list(seen)

    def to_json(self) -> JSON:
        # Go writes "manifests": null for an empty slice; the schema wants an
        # array, and readers such as skopeo are happier with one.
        """The document as the Go umoci writes it (key order, omitempty); ``extra`` last.

        @private: umoci's own reading and writing, left out of the API reference.
        """
        return _envelope_json(self, {"manifests": [m.to_json() for m in self.manifests]})


def _make_index(kw: dict[str, object], path: str, ctx: Context) -> Index:
    has_config, has_layers = kw.pop("has_config", False), kw.pop("has_layers", False)
    if has_config or has_layers:
        ctx.refuse("forbidden", path, "index has a 'config' or 'layers' field", None)
    _check_schema_version(kw, path, ctx)
    kw.setdefault("media_type", "")
    return Index(**kw)  # type: ignore[arg-type]


_INDEX = Struct(
    (
        ("schemaVersion", "schema_version", INT),
        ("mediaType", "media_type", STRING),
        ("artifactType", "artifact_type", STRING),
        ("manifests", "manifests", Slice(DESCRIPTOR_STRUCT)),
        ("subject", "subject", Pointer(DESCRIPTOR_STRUCT)),
        ("annotations", "annotations", STRING_MAP),
        ("config", "has_config", RAW),
        ("layers", "has_layers", RAW),
    ),
    _make_index,
)


def _envelope_json(blob: Manifest | Index, body: JSON) -> JSON:
    """Go's field order: schemaVersion, mediaType, artifactType, body, subject, annotations."""
    out: JSON = {"schemaVersion": blob.schema_version}
    if blob.media_type:
        out["mediaType"] = blob.media_type
    if blob.artifact_type:
        out["artifactType"] = blob.artifact_type
    out.update(body)
    if blob.subject is not None:
        out["subject"] = blob.subject.to_json()
    _put_map(out, "annotations", blob.annotations)
    out.update(blob.extra)
    return out


class _LastValue(Kind):
    """Any JSON value, kept as parsed (null leaves the earlier one): for sniffing."""

    __slots__ = ()

    def decode(self, value: object, old: object, path: str, ctx: Context) -> object:
        return old if value is None else value


_LAST = _LastValue()

# The fields of a manifest, an index or an artefact manifest (``blobs``) that
# hold descriptors, read with the same key rules as every other document.
_DESCRIPTOR_HOLDER = Struct(
    (
        ("manifests", "manifests", _LAST),
        ("layers", "layers", _LAST),
        ("blobs", "blobs", _LAST),
        ("config", "config", _LAST),
        ("subject", "subject", _LAST),
    ),
    lambda kw, path, ctx: kw,
)


def referenced_descriptors(data: bytes, what: str) -> list[Descriptor]:
    """The descriptors a JSON blob of unknown type holds, if it holds any.

    For ``gc``: a blob whose media type we were not told may still be an
    index or a manifest.  Anything that is not a JSON object, and every
    member that is not a valid descriptor, is passed over.
    """
    ctx = Context(what, BlobInvalidError)
    try:
        document = decode.parse(data, what, first_value=True)
        if decode.members(document) is None:
            return []
        found = _DESCRIPTOR_HOLDER.document(document, ctx)
    except UmociError:
        return []
    assert isinstance(found, dict)
    candidates: list[object] = []
    for key in ("manifests", "layers", "blobs"):
        value = found.get(key)
        if decode.is_array(value):
            assert isinstance(value, list)
            candidates.extend(value)
    candidates += [found.get("config"), found.get("subject")]
    out = []
    for value in candidates:
        if decode.members(value) is not None:
            try:
                out.append(Descriptor.from_json(value, what))
            except UmociError:
                continue
    return out


@dataclass(frozen=True)
class ContainerConfig:
    """How a container of the image runs: the ``config`` object of an image config.

    *user*, *env* (``NAME=value`` strings), *entrypoint* and *cmd*,
    *working_dir*, *stop_signal*, *exposed_ports* (``80/tcp``) and
    *volumes*, *labels*, and *args_escaped* (a Windows quirk); *extra*
    holds fields this model does not know, kept when rewritten.  (Go's
    ``ImageConfig`` type.)

    >>> config = Layout.open("oci").image("base").stat().config.config
    >>> config.cmd, config.env
    (('/bin/sh',), ('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',))
    """

    user: str = ""
    exposed_ports: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    working_dir: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    stop_signal: str = ""
    args_escaped: bool = False
    extra: JSON = field(default_factory=dict, compare=False)

    def to_json(self) -> JSON:
        """The document as the Go umoci writes it (key order, omitempty); ``extra`` last.

        @private: umoci's own reading and writing, left out of the API reference.
        """
        out: JSON = {}
        if self.user:
            out["User"] = self.user
        if self.exposed_ports:
            out["ExposedPorts"] = {p: {} for p in sorted(self.exposed_ports)}
        if self.env:
            out["Env"] = list(self.env)
        if self.entrypoint:
            out["Entrypoint"] = list(self.entrypoint)
        if self.cmd:
            out["Cmd"] = list(self.cmd)
        if self.volumes:
            out["Volumes"] = {v: {} for v in sorted(self.volumes)}
        if self.working_dir:
            out["WorkingDir"] = self.working_dir
        _put_map(out, "Labels", self.labels)
        if self.stop_signal:
            out["StopSignal"] = self.stop_signal
        if self.args_escaped:
            out["ArgsEscaped"] = True
        out.update(self.extra)
        return out


_CONTAINER_CONFIG = Struct(
    (
        ("User", "user", STRING),
        ("ExposedPorts", "exposed_ports", STRING_SET),
        ("Env", "env", STRING_LIST),
        ("Entrypoint", "entrypoint", STRING_LIST),
        ("Cmd", "cmd", STRING_LIST),
        ("Volumes", "volumes", STRING_SET),
        ("WorkingDir", "working_dir", STRING),
        ("Labels", "labels", STRING_MAP),
        ("StopSignal", "stop_signal", STRING),
        ("ArgsEscaped", "args_escaped", BOOL),
    ),
    lambda kw, path, ctx: ContainerConfig(**kw),  # type: ignore[arg-type]
)


@dataclass(frozen=True)
class History:
    """One history entry of an image config: what made a layer (or a config change).

    *created* (a :class:`~umoci.oci.timefmt.GoTime`, None if unknown),
    *created_by* (the command), *author*, *comment*, and *empty_layer*
    (True when the step added no layer); *extra* holds fields this model
    does not know, kept when rewritten.

    >>> [h.created_by for h in Layout.open("oci").image("base").stat().config.history]
    ['umoci insert', 'umoci config']
    """

    created: GoTime | None = None
    created_by: str = ""
    author: str = ""
    comment: str = ""
    empty_layer: bool = False
    extra: JSON = field(default_factory=dict, compare=False)

    def to_json(self) -> JSON:
        """The document as the Go umoci writes it (key order, omitempty); ``extra`` last.

        @private: umoci's own reading and writing, left out of the API reference.
        """
        out: JSON = {}
        if self.created is not None:
            out["created"] = self.created.format()
        if self.created_by:
            out["created_by"] = self.created_by
        if self.author:
            out["author"] = self.author
        if self.comment:
            out["comment"] = self.comment
        if self.empty_layer:
            out["empty_layer"] = True
        out.update(self.extra)
        return out


_HISTORY = Struct(
    (
        ("created", "created", TIME),
        ("created_by", "created_by", STRING),
        ("author", "author", STRING),
        ("comment", "comment", STRING),
        ("empty_layer", "empty_layer", BOOL),
    ),
    lambda kw, path, ctx: History(**kw),  # type: ignore[arg-type]
)


def _make_rootfs(kw: dict[str, object], path: str, ctx: Context) -> dict[str, object]:
    diff_ids = kw.get("diff_ids", ())
    assert isinstance(diff_ids, tuple)
    for i, diff_id in enumerate(diff_ids):
        _check_digest(diff_id, f"{path}.diff_ids[{i}]", ctx)
    return {
        "rootfs_type": kw.get("type", ""),
        "diff_ids": diff_ids,
        "rootfs_extra": kw.get("extra", {}),
    }


_ROOTFS = Struct(
    (("type", "type", STRING), ("diff_ids", "diff_ids", STRING_LIST)),
    _make_rootfs,
)


@dataclass(frozen=True)
class ImageConfig:
    """An image configuration blob: the platform, the run settings and the layers' history.

    *os*, *architecture*, *variant*, *os_version* and *os_features* name
    the platform; *created* (a :class:`~umoci.oci.timefmt.GoTime`, None if
    unknown) and *author* describe the image; *config* is the
    :class:`ContainerConfig`; *rootfs_type* (``layers``) and *diff_ids*
    (the uncompressed layers' digests) are the ``rootfs`` object, and
    *history* the :class:`History` entries.  *extra* and *rootfs_extra*
    hold fields this model does not know, kept when rewritten.  (Go's
    ``ispec.Image`` type.)

    >>> config = Layout.open("oci").image("base").stat().config
    >>> config.os, config.architecture, len(config.diff_ids)
    ('linux', 'amd64', 1)
    """

    architecture: str = ""
    os: str = ""
    created: GoTime | None = None
    author: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = ()
    variant: str = ""
    config: ContainerConfig = field(default_factory=ContainerConfig)
    rootfs_type: str = "layers"
    diff_ids: tuple[str, ...] = ()
    history: tuple[History, ...] = ()
    extra: JSON = field(default_factory=dict, compare=False)
    rootfs_extra: JSON = field(default_factory=dict, compare=False)

    @classmethod
    def from_json(
        cls, value: object, what: str = "config", problems: list[Problem] | None = None
    ) -> ImageConfig:
        """Decode an image config from parsed JSON (or a plain dict); see :class:`Context`.

        @private: umoci's own reading and writing, left out of the API reference.
        """
        config = _IMAGE_CONFIG.document(value, Context(what, BlobInvalidError, problems))
        assert isinstance(config, ImageConfig)
        return config

    @classmethod
    def from_bytes(cls, data: bytes, what: str = "config") -> ImageConfig:
        """Decode a config blob (its first JSON value, as Go's ``json.Decoder`` reads it).

        @private: umoci's own reading and writing, left out of the API reference.
        """
        return cls.from_json(decode.parse(data, what, first_value=True), what)

    def to_json(self) -> JSON:
        """The document as the Go umoci writes it (key order, omitempty); ``extra`` last.

        @private: umoci's own reading and writing, left out of the API reference.
        """
        out: JSON = {}
        if self.created is not None:
            out["created"] = self.created.format()
        if self.author:
            out["author"] = self.author
        out["architecture"] = self.architecture
        out["os"] = self.os
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        if self.variant:
            out["variant"] = self.variant
        out["config"] = self.config.to_json()
        out["rootfs"] = {"type": self.rootfs_type, "diff_ids": list(self.diff_ids)}
        out["rootfs"].update(self.rootfs_extra)
        if self.history:
            out["history"] = [h.to_json() for h in self.history]
        out.update(self.extra)
        return out


def _make_image_config(kw: dict[str, object], path: str, ctx: Context) -> ImageConfig:
    rootfs = kw.pop("rootfs", None)
    # An absent rootfs is Go's zero RootFS: an empty type.
    kw.update(rootfs if isinstance(rootfs, dict) else {"rootfs_type": ""})
    return ImageConfig(**kw)  # type: ignore[arg-type]


_IMAGE_CONFIG = Struct(
    (
        ("created", "created", TIME),
        ("author", "author", STRING),
        ("architecture", "architecture", STRING),
        ("os", "os", STRING),
        ("os.version", "os_version", STRING),
        ("os.features", "os_features", STRING_LIST),
        ("variant", "variant", STRING),
        ("config", "config", _CONTAINER_CONFIG),
        ("rootfs", "rootfs", _ROOTFS),
        ("history", "history", Slice(_HISTORY)),
    ),
    _make_image_config,
)
