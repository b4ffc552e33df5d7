"""Index, manifest, descriptor and image-config models with Go-identical encoding.

Each model decodes untrusted JSON (type-checked, see :mod:`jsonfields`) and
encodes to a dict whose key order is the Go struct field order of the
image-spec, with Go's ``omitempty`` rules, so that
``gojson.dumps_blob(model.to_json())`` gives the bytes the Go umoci writes.
Fields we do not model are kept in ``extra`` and written after the known
ones: the Go umoci drops them, we do not want to lose another tool's data.
"""

from __future__ import annotations

from umoci.errors import BlobInvalidError
from umoci.oci import digest as digests
from umoci.oci import mediatypes
from umoci.oci.jsonfields import (
    extra_fields,
    get_bool,
    get_int,
    get_obj,
    get_set_map,
    get_str,
    get_str_list,
    get_str_map,
)
from umoci.oci.timefmt import GoTime, parse_time
from umoci.structs import dataclass, field, replace

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import Any, TypeAlias

REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"

JSON: TypeAlias = "dict[str, Any]"


def _put_map(out: JSON, key: str, value: dict[str, str]) -> None:
    if value:
        out[key] = {k: value[k] for k in sorted(value)}


def _obj_list(d: JSON, key: str, what: str) -> list[JSON]:
    value = d.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise BlobInvalidError(f"{what}: field {key!r} must be a list of objects")
    return value


def _time(d: JSON, key: str, what: str) -> GoTime | None:
    text = get_str(d, key, what)
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError as err:
        raise BlobInvalidError(f"{what}: field {key!r}: {err}") from None


@dataclass(frozen=True)
class Platform:
    architecture: str = ""
    os: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = ()
    variant: str = ""
    extra: JSON = field(default_factory=dict, compare=False)

    _KNOWN = frozenset({"architecture", "os", "os.version", "os.features", "variant"})

    @classmethod
    def from_json(cls, d: JSON, what: str) -> Platform:
        return cls(
            architecture=get_str(d, "architecture", what) or "",
            os=get_str(d, "os", what) or "",
            os_version=get_str(d, "os.version", what) or "",
            os_features=tuple(get_str_list(d, "os.features", what) or ()),
            variant=get_str(d, "variant", what) or "",
            extra=extra_fields(d, cls._KNOWN),
        )

    def to_json(self) -> JSON:
        out: JSON = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        if self.variant:
            out["variant"] = self.variant
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    urls: tuple[str, ...] = ()
    annotations: dict[str, str] = field(default_factory=dict)
    data: str | None = None
    platform: Platform | None = None
    artifact_type: str = ""
    extra: JSON = field(default_factory=dict, compare=False)

    _KNOWN = frozenset(
        {"mediaType", "digest", "size", "urls", "annotations", "data", "platform", "artifactType"}
    )

    @classmethod
    def from_json(cls, d: JSON, what: str = "descriptor") -> Descriptor:
        digest = get_str(d, "digest", what)
        if digest is None:
            raise BlobInvalidError(f"{what}: missing digest")
        digests.split(digest)
        size = get_int(d, "size", what)
        if size is None:
            raise BlobInvalidError(f"{what}: missing size")
        if size < 0:
            raise BlobInvalidError(f"{what}: negative size {size}")
        platform = get_obj(d, "platform", what)
        return cls(
            media_type=get_str(d, "mediaType", what) or "",
            digest=digest,
            size=size,
            urls=tuple(get_str_list(d, "urls", what) or ()),
            annotations=dict(get_str_map(d, "annotations", what) or {}),
            data=get_str(d, "data", what),
            platform=Platform.from_json(platform, what) if platform is not None else None,
            artifact_type=get_str(d, "artifactType", what) or "",
            extra=extra_fields(d, cls._KNOWN),
        )

    def to_json(self) -> JSON:
        out: JSON = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.urls:
            out["urls"] = list(self.urls)
        _put_map(out, "annotations", self.annotations)
        if self.data:
            out["data"] = self.data
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        out.update(self.extra)
        return out

    def embedded_data(self) -> bytes:
        """The content embedded in ``data`` (base64, as Go's ``[]byte`` in JSON)."""
        import base64

        assert self.data is not None
        try:
            return base64.b64decode(self.data.replace("\r", "").replace("\n", ""), validate=True)
        except ValueError:
            raise BlobInvalidError(
                f"descriptor {self.digest}: field 'data' is not base64"
            ) from None

    @property
    def ref_name(self) -> str | None:
        return self.annotations.get(REF_NAME_ANNOTATION)

    def with_annotations(self, annotations: dict[str, str]) -> Descriptor:
        return replace(self, annotations=annotations)


def _descriptor_list(d: JSON, key: str, what: str) -> list[Descriptor]:
    return [
        Descriptor.from_json(x, f"{what}: {key}[{i}]")
        for i, x in enumerate(_obj_list(d, key, what))
    ]


def _check_media_type(d: JSON, expected: str, what: str) -> str:
    """The blob's own mediaType must agree with how it was reached (CVE-2021-41190)."""
    media_type = get_str(d, "mediaType", what) or ""
    if media_type and expected and media_type != expected:
        raise BlobInvalidError(
            f"{what}: mediaType {media_type!r} does not match descriptor media type {expected!r}"
        )
    return media_type


@dataclass(frozen=True)
class Manifest:
    config: Descriptor
    layers: tuple[Descriptor, ...] = ()
    media_type: str = mediatypes.MANIFEST
    schema_version: int = 2
    artifact_type: str = ""
    subject: Descriptor | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    extra: JSON = field(default_factory=dict, compare=False)

    _KNOWN = frozenset(
        {"schemaVersion", "mediaType", "artifactType", "config", "layers", "subject", "annotations"}
    )

    @classmethod
    def from_json(cls, d: JSON, descriptor_media_type: str, what: str = "manifest") -> Manifest:
        if "manifests" in d:
            # An index in disguise: refusing it closes the type confusion.
            raise BlobInvalidError(f"{what}: manifest has a 'manifests' field")
        config = get_obj(d, "config", what)
        if config is None:
            raise BlobInvalidError(f"{what}: missing config descriptor")
        return cls(
            config=Descriptor.from_json(config, f"{what}: config"),
            layers=tuple(_descriptor_list(d, "layers", what)),
            **_envelope(d, descriptor_media_type, what, cls._KNOWN),
        )

    def to_json(self) -> JSON:
        body = {
            "config": self.config.to_json(),
            "layers": [layer.to_json() for layer in self.layers],
        }
        return _envelope_json(self, body)


@dataclass(frozen=True)
class Index:
    manifests: tuple[Descriptor, ...] = ()
    media_type: str = mediatypes.INDEX
    schema_version: int = 2
    artifact_type: str = ""
    subject: Descriptor | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    extra: JSON = field(default_factory=dict, compare=False)

    _KNOWN = frozenset(
        {"schemaVersion", "mediaType", "artifactType", "manifests", "subject", "annotations"}
    )

    @classmethod
    def from_json(cls, d: JSON, descriptor_media_type: str, what: str = "index") -> Index:
        if "config" in d or "layers" in d:
            raise BlobInvalidError(f"{what}: index has a 'config' or 'layers' field")
        return cls(
            manifests=tuple(_descriptor_list(d, "manifests", what)),
            **_envelope(d, descriptor_media_type, what, cls._KNOWN),
        )

    def to_json(self) -> JSON:
        # Go writes "manifests": null for an empty slice; the schema wants an
        # array, and readers such as skopeo are happier with one.
        return _envelope_json(self, {"manifests": [m.to_json() for m in self.manifests]})


def _envelope(d: JSON, descriptor_media_type: str, what: str, known: frozenset[str]) -> JSON:
    """The fields manifests and indexes share, checked, as constructor arguments."""
    media_type = _check_media_type(d, descriptor_media_type, what)
    schema_version = get_int(d, "schemaVersion", what)
    if schema_version != 2:
        raise BlobInvalidError(f"{what}: unsupported schemaVersion {schema_version}")
    subject = get_obj(d, "subject", what)
    return {
        "media_type": media_type,
        "schema_version": schema_version,
        "artifact_type": get_str(d, "artifactType", what) or "",
        "subject": Descriptor.from_json(subject, f"{what}: subject") if subject else None,
        "annotations": dict(get_str_map(d, "annotations", what) or {}),
        "extra": extra_fields(d, known),
    }


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


@dataclass(frozen=True)
class ContainerConfig:
    """The ``config`` object of an image config (Go's ``ImageConfig``)."""

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

    _KNOWN = frozenset(
        {
            "User",
            "ExposedPorts",
            "Env",
            "Entrypoint",
            "Cmd",
            "Volumes",
            "WorkingDir",
            "Labels",
            "StopSignal",
            "ArgsEscaped",
        }
    )

    @classmethod
    def from_json(cls, d: JSON, what: str) -> ContainerConfig:
        return cls(
            user=get_str(d, "User", what) or "",
            exposed_ports=tuple(get_set_map(d, "ExposedPorts", what) or ()),
            env=tuple(get_str_list(d, "Env", what) or ()),
            entrypoint=tuple(get_str_list(d, "Entrypoint", what) or ()),
            cmd=tuple(get_str_list(d, "Cmd", what) or ()),
            volumes=tuple(get_set_map(d, "Volumes", what) or ()),
            working_dir=get_str(d, "WorkingDir", what) or "",
            labels=dict(get_str_map(d, "Labels", what) or {}),
            stop_signal=get_str(d, "StopSignal", what) or "",
            args_escaped=bool(get_bool(d, "ArgsEscaped", what)),
            extra=extra_fields(d, cls._KNOWN),
        )

    def to_json(self) -> JSON:
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


@dataclass(frozen=True)
class History:
    created: GoTime | None = None
    created_by: str = ""
    author: str = ""
    comment: str = ""
    empty_layer: bool = False
    extra: JSON = field(default_factory=dict, compare=False)

    _KNOWN = frozenset({"created", "created_by", "author", "comment", "empty_layer"})

    @classmethod
    def from_json(cls, d: JSON, what: str) -> History:
        return cls(
            created=_time(d, "created", what),
            created_by=get_str(d, "created_by", what) or "",
            author=get_str(d, "author", what) or "",
            comment=get_str(d, "comment", what) or "",
            empty_layer=bool(get_bool(d, "empty_layer", what)),
            extra=extra_fields(d, cls._KNOWN),
        )

    def to_json(self) -> JSON:
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


@dataclass(frozen=True)
class ImageConfig:
    """An image configuration blob (Go's ``ispec.Image``)."""

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

    _KNOWN = frozenset(
        {
            "created",
            "author",
            "architecture",
            "os",
            "os.version",
            "os.features",
            "variant",
            "config",
            "rootfs",
            "history",
        }
    )

    @classmethod
    def from_json(cls, d: JSON, what: str = "config") -> ImageConfig:
        config = get_obj(d, "config", what) or {}
        rootfs = get_obj(d, "rootfs", what) or {}
        diff_ids = get_str_list(rootfs, "diff_ids", f"{what}: rootfs") or []
        for i, diff_id in enumerate(diff_ids):
            try:
                digests.split(diff_id)
            except BlobInvalidError as err:
                raise BlobInvalidError(f"{what}: rootfs.diff_ids[{i}]: {err}") from None
        history = [
            History.from_json(h, f"{what}: history[{i}]")
            for i, h in enumerate(_obj_list(d, "history", what))
        ]
        return cls(
            architecture=get_str(d, "architecture", what) or "",
            os=get_str(d, "os", what) or "",
            created=_time(d, "created", what),
            author=get_str(d, "author", what) or "",
            os_version=get_str(d, "os.version", what) or "",
            os_features=tuple(get_str_list(d, "os.features", what) or ()),
            variant=get_str(d, "variant", what) or "",
            config=ContainerConfig.from_json(config, f"{what}: config"),
            rootfs_type=get_str(rootfs, "type", f"{what}: rootfs") or "",
            diff_ids=tuple(diff_ids),
            history=tuple(history),
            extra=extra_fields(d, cls._KNOWN),
            rootfs_extra=extra_fields(rootfs, frozenset({"type", "diff_ids"})),
        )

    def to_json(self) -> JSON:
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
