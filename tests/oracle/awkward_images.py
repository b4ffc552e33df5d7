"""A generator of awkward image layouts, for comparing ``stat`` with the Go umoci 0.6.

Each :class:`ImageCase` describes one image tagged ``t``: a config (a dict, raw
bytes, or ``None`` for a descriptor whose blob is absent), the manifest
fields around it, and how its blobs are encoded.  :func:`write_case` turns it
into an OCI layout.  Layers are made up (a few bytes each, never unpacked):
one per history entry that is not ``empty_layer``, unless a case asks for a
number of its own.

The cases come from what real tools write (BuildKit, docker save, skopeo,
crane, regctl) and from hand-made artefacts, and put every text field of
a config through the characters that change how ``stat`` prints it:
spaces, commas, quotes, backslashes, control characters, line separators,
non-ASCII and empty strings.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

T0 = "2025-01-02T03:04:05Z"

# Strings that each take a different path through stat's quoting rules.
AWKWARD = [
    "plain",
    "with space",
    "a,b",
    'say "hi"',
    "back\\slash",
    "tab\there",
    "two\nlines",
    "cr\rhere",
    "bell\x07",
    "nul\x00byte",
    "del\x7f",
    "ünïcödé",
    "日本語",
    "emoji 😀",
    "😀",
    "nbsp\u00a0x",
    "zw\u200bsp",
    "ls\u2028x",
    "<tag>&amp;",
    "'single'",
    "#hash;semi:colon=eq",
    "{brace}[bracket]",
    "",
    " ",
    "trailing ",
    "x" * 80,
]

Obj = dict[str, Any]


def _dumps(value: Any, style: str) -> bytes:
    if style == "go":  # what the Go umoci itself writes
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        for raw, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
            text = text.replace(raw, esc)
        return (text + "\n").encode()
    if style == "ascii":  # Python's default: spaces after separators, \u escapes
        return json.dumps(value).encode()
    if style == "pretty":  # docker save / skopeo style
        return json.dumps(value, indent=3, ensure_ascii=False).encode() + b"\r\n"
    raise ValueError(style)


@dataclass
class ImageCase:
    name: str
    config: Obj | bytes | None
    config_media_type: str = OCI_CONFIG
    manifest_media_type: str | None = OCI_MANIFEST  # None: the field is left out
    descriptor_media_type: str = OCI_MANIFEST  # in index.json
    layers: int | None = None  # None: one per non-empty history entry
    layer_media_type: str = OCI_LAYER_GZIP
    layer_annotations: dict[str, str] = field(default_factory=dict)
    layer_extra: Obj = field(default_factory=dict)  # merged into every layer descriptor
    config_descriptor_extra: Obj = field(default_factory=dict)
    manifest_extra: Obj = field(default_factory=dict)  # merged into the manifest
    index_descriptor_extra: Obj = field(default_factory=dict)
    style: str = "go"
    # The Go umoci 0.6 cannot show this image (it refuses or crashes); we
    # must still show it.  Every other case is compared byte for byte.
    oracle_fails: bool = False
    ours_fails: bool = False  # we refuse it too (with one line on stderr)
    embed_manifest_data: bool = False  # put the manifest's bytes in its index descriptor
    # Called with (layout, blob writer) to add blobs the manifest refers to.
    extra_blobs: Callable[[Callable[[bytes], Obj]], Obj] | None = None


def _history_layers(config: Obj | bytes | None) -> int:
    if not isinstance(config, dict):
        return 0
    history = config.get("history") or []
    return sum(1 for h in history if isinstance(h, dict) and not h.get("empty_layer"))


def write_case(layout: Path, case: ImageCase) -> None:
    """Write ``case`` as an OCI layout at ``layout`` (which must not exist)."""
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')

    def put(data: bytes) -> Obj:
        hexdigest = hashlib.sha256(data).hexdigest()
        (blobs / hexdigest).write_bytes(data)
        return {"digest": f"sha256:{hexdigest}", "size": len(data)}

    if case.config is None:
        missing = b'{"never":"written"}'
        config_ref = {
            "digest": f"sha256:{hashlib.sha256(missing).hexdigest()}",
            "size": len(missing),
        }
    elif isinstance(case.config, bytes):
        config_ref = put(case.config)
    else:
        config_ref = put(_dumps(case.config, case.style))
    config_descriptor = {"mediaType": case.config_media_type, **config_ref}
    config_descriptor.update(case.config_descriptor_extra)

    count = case.layers if case.layers is not None else _history_layers(case.config)
    layers = []
    for i in range(count):
        descriptor: Obj = {"mediaType": case.layer_media_type, **put(f"layer {i}\n".encode())}
        if case.layer_annotations:
            descriptor["annotations"] = dict(case.layer_annotations)
        descriptor.update(case.layer_extra)
        layers.append(descriptor)

    manifest: Obj = {"schemaVersion": 2}
    if case.manifest_media_type is not None:
        manifest["mediaType"] = case.manifest_media_type
    manifest["config"] = config_descriptor
    manifest["layers"] = layers
    manifest.update(case.manifest_extra)
    if case.extra_blobs is not None:
        manifest.update(case.extra_blobs(put))
    manifest_bytes = _dumps(manifest, case.style)
    manifest_descriptor = {
        "mediaType": case.descriptor_media_type,
        **put(manifest_bytes),
        "annotations": {"org.opencontainers.image.ref.name": "t"},
    }
    if case.embed_manifest_data:
        manifest_descriptor["data"] = base64.b64encode(manifest_bytes).decode()
    manifest_descriptor.update(case.index_descriptor_extra)
    index = {"schemaVersion": 2, "manifests": [manifest_descriptor]}
    (layout / "index.json").write_text(json.dumps(index))


def image_config(**overrides: Any) -> Obj:
    """A small valid image config; keyword arguments replace top-level fields.

    Unless ``rootfs`` is given, it carries one diff_id per layer the history
    implies (the Go umoci indexes diff_ids by history position).
    """
    config: Obj = {
        "created": T0,
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "history": [{"created": T0, "created_by": "/bin/sh -c #(nop) ADD file:abc in /"}],
    }
    config.update(overrides)
    if "rootfs" not in overrides:
        config["rootfs"] = {"type": "layers", "diff_ids": _diff_ids(_history_layers(config))}
    return config


def _diff_ids(n: int) -> list[str]:
    return ["sha256:" + hashlib.sha256(str(i).encode()).hexdigest() for i in range(n)]


def _with_diff_ids(config: Obj) -> Obj:
    config["rootfs"] = {"type": "layers", "diff_ids": _diff_ids(_history_layers(config))}
    return config


def _subject(put: Callable[[bytes], Obj]) -> Obj:
    target = put(b'{"schemaVersion":2}')
    return {"subject": {"mediaType": OCI_MANIFEST, **target}}


def _history_of(values: list[str]) -> list[Obj]:
    return [
        {"created": T0, "created_by": v, "comment": v, "author": v, "empty_layer": i % 2 == 1}
        for i, v in enumerate(values)
    ]


def all_cases() -> list[ImageCase]:
    cases: list[ImageCase] = []

    def add(case: ImageCase) -> None:
        cases.append(case)

    # -- one text field at a time through every awkward string -------------
    container_fields: list[tuple[str, Callable[[list[str]], Any]]] = [
        ("User", lambda vs: vs[2]),
        ("Entrypoint", lambda vs: vs),
        ("Cmd", lambda vs: vs),
        ("Env", lambda vs: [f"K{i}={v}" for i, v in enumerate(vs)]),
        ("ExposedPorts", lambda vs: {v: {} for v in vs}),
        ("Volumes", lambda vs: {"/" + v: {} for v in vs}),
        ("Labels", lambda vs: {f"l{i:02d}": v for i, v in enumerate(vs)} | {v: "k" for v in vs}),
        ("WorkingDir", lambda vs: vs[1]),
        ("StopSignal", lambda vs: vs[2]),
    ]
    for name, make in container_fields:
        add(ImageCase(f"container-{name}", image_config(config={name: make(AWKWARD)})))
    for i, value in enumerate(AWKWARD[:16]):
        add(
            ImageCase(
                f"scalars-{i:02d}",
                _with_diff_ids(
                    image_config(
                        author=value,
                        os=value,
                        architecture=value,
                        variant=value,
                        config={"User": value, "WorkingDir": value, "StopSignal": value},
                        history=[{"created": T0, "created_by": value, "comment": value}],
                    )
                ),
                manifest_extra={"annotations": {value: value}, "artifactType": value},
                layer_annotations={value: value, "plain": value},
            )
        )
    add(
        ImageCase(
            "history-cells",
            _with_diff_ids(image_config(history=_history_of(AWKWARD))),
            layer_annotations={"org.opencontainers.image.title": "layer"},
        )
    )
    add(ImageCase("empty-strings", image_config(author="", os="", architecture="")))

    # -- missing, null and empty fields ----------------------------------
    bare: Obj = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}}
    add(ImageCase("config-minimal", dict(bare)))
    add(ImageCase("config-empty-object", {}))
    add(ImageCase("config-created-null", image_config(created=None)))
    add(
        ImageCase(
            "config-created-missing", {k: v for k, v in image_config().items() if k != "created"}
        )
    )
    add(ImageCase("config-created-zero", image_config(created="0001-01-01T00:00:00Z")))
    add(
        ImageCase(
            "config-created-offset", image_config(created="2025-09-05T13:05:10.123456789-07:30")
        )
    )
    add(
        ImageCase(
            "config-empty-lists", image_config(config={"Entrypoint": [], "Cmd": [], "Env": []})
        )
    )
    add(ImageCase("config-null-lists", image_config(config={"Entrypoint": None, "Cmd": None})))
    add(ImageCase("config-entrypoint-only", image_config(config={"Entrypoint": ["/init"]})))
    add(
        ImageCase(
            "config-empty-maps",
            image_config(config={"ExposedPorts": {}, "Volumes": {}, "Labels": {}}),
        )
    )
    add(
        ImageCase(
            "args-escaped-both",
            image_config(
                config={"Entrypoint": ["cmd /S /C"], "Cmd": ["echo hi"], "ArgsEscaped": True}
            ),
        )
    )
    add(ImageCase("args-escaped-cmd", image_config(config={"Cmd": ["a b"], "ArgsEscaped": True})))
    add(ImageCase("args-escaped-none", image_config(config={"ArgsEscaped": True})))
    add(ImageCase("args-escaped-false", image_config(config={"Cmd": ["x"], "ArgsEscaped": False})))
    add(
        ImageCase(
            "history-missing-fields",
            _with_diff_ids(
                image_config(
                    history=[
                        {"created": T0},
                        {"created": T0, "empty_layer": True},
                        {"created": T0, "author": "x"},
                    ]
                )
            ),
        )
    )
    add(ImageCase("history-none", image_config(history=None)))
    add(ImageCase("history-empty", image_config(history=[])))
    add(
        ImageCase(
            "history-more-layers-than-entries",
            _with_diff_ids(image_config()),
            layers=3,
        )
    )
    add(
        ImageCase(
            "history-all-empty",
            image_config(
                history=[{"created": T0, "created_by": "ENV A=b", "empty_layer": True}] * 3
            ),
        )
    )

    # -- what other tools write ----------------------------------------
    docker_config = _with_diff_ids(
        image_config(
            docker_version="24.0.7",
            container="abc",
            config={
                "Hostname": "",
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                "Cmd": ["/bin/sh", "-c", "echo hello, world"],
                "Image": "sha256:" + "1" * 64,
                "OnBuild": None,
                "Labels": None,
                "Healthcheck": {"Test": ["CMD", "true"]},
                "Shell": ["/bin/bash", "-c"],
            },
            container_config={"Cmd": ["/bin/sh"]},
            history=[
                {
                    "created": "2024-01-01T00:00:00.123456789Z",
                    "created_by": "/bin/sh -c #(nop) ADD file:1 in / ",
                },
                {
                    "created": "2024-01-01T00:00:01Z",
                    "created_by": '/bin/sh -c #(nop)  CMD ["sh"]',
                    "empty_layer": True,
                },
            ],
        )
    )
    add(
        ImageCase(
            "docker-schema2",
            docker_config,
            config_media_type=DOCKER_CONFIG,
            manifest_media_type=DOCKER_MANIFEST,
            descriptor_media_type=DOCKER_MANIFEST,
            layer_media_type=DOCKER_LAYER,
            style="pretty",
            oracle_fails=True,  # 0.6: "descriptor does not point to ispec.MediaTypeImageManifest"
        )
    )
    buildkit = _with_diff_ids(
        image_config(
            config={
                "Env": ["PATH=/bin"],
                "WorkingDir": "/app",
                "Entrypoint": ["docker-entrypoint.sh"],
                "Cmd": ["node", "server.js"],
                "Labels": {"org.opencontainers.image.source": "https://example.com/x y"},
                "OnBuild": None,
            },
            history=[
                {
                    "created": T0,
                    "created_by": "ADD alpine-minirootfs.tar.gz / # buildkit",
                    "comment": "buildkit.dockerfile.v0",
                },
                {"created": T0, "created_by": "WORKDIR /app", "comment": "buildkit.dockerfile.v0"},
                {
                    "created": T0,
                    "created_by": 'CMD ["node" "server.js"]',
                    "comment": "buildkit.dockerfile.v0",
                    "empty_layer": True,
                },
            ],
            moby_extra="kept?",
        )
    )
    add(
        ImageCase(
            "buildkit",
            buildkit,
            layer_extra={"annotations": {"containerd.io/uncompressed": "sha256:" + "2" * 64}},
            index_descriptor_extra={"platform": {"architecture": "amd64", "os": "linux"}},
            style="ascii",
        )
    )
    add(ImageCase("manifest-without-media-type", image_config(), manifest_media_type=None))
    add(
        ImageCase(
            "manifest-subject",
            image_config(),
            extra_blobs=_subject,
            manifest_extra={"annotations": {"org.opencontainers.image.created": T0}},
        )
    )
    add(
        ImageCase(
            "descriptor-extras",
            image_config(),
            config_descriptor_extra={
                "urls": ["https://example.com/a b"],
                "annotations": {"x": "y z"},
                "artifactType": "application/x-thing",
                "platform": {"architecture": "arm", "os": "linux", "variant": "v7"},
                "unknownField": 1,
            },
            index_descriptor_extra={"urls": ["https://example.com/m"], "mystery": True},
            manifest_extra={"unknownTop": {"a": 1}},
        )
    )
    add(
        ImageCase(
            "config-unknown-fields",
            image_config(extraTop="x", config={"Cmd": ["a"], "Weird": [1, 2]}),
        )
    )
    # stat never reads layers, so their descriptors can claim any size.
    for size in (999, 1000, 123456789012, 2**62):
        add(ImageCase(f"layer-size-{size}", image_config(), layer_extra={"size": size}))

    # -- artefacts and embedded data ------------------------------------
    empty_data = base64.b64encode(b"{}").decode()
    add(
        ImageCase(
            "artifact-empty-config-with-data",
            b"{}",
            config_media_type=OCI_EMPTY,
            config_descriptor_extra={"data": empty_data},
            manifest_extra={"artifactType": "application/vnd.example.sbom+json"},
            layers=1,
            layer_media_type="application/spdx+json",
        )
    )
    add(
        ImageCase(
            "artifact-no-layers",
            b"{}",
            config_media_type=OCI_EMPTY,
            manifest_extra={"artifactType": "application/vnd.example.sig"},
            layers=0,
        )
    )
    add(
        ImageCase(
            "artifact-custom-config",
            b'{"helm":"chart", "version": "1.2.3"}',
            config_media_type="application/vnd.cncf.helm.config.v1+json",
            layers=1,
            layer_media_type="application/vnd.cncf.helm.chart.content.v1.tar+gzip",
        )
    )
    add(
        ImageCase(
            "artifact-binary-config",
            b"\x00\x01\x02 not json at all \xff",
            config_media_type="application/octet-stream",
            layers=0,
        )
    )
    add(
        ImageCase(
            "artifact-config-missing-blob",
            None,
            config_media_type="application/vnd.example.missing",
            layers=0,
            oracle_fails=True,  # both refuse: the config blob must be in the layout
            ours_fails=True,
        )
    )
    long_data = bytes(range(256)) * 2
    add(
        ImageCase(
            "layer-with-data",
            image_config(history=[{"created": T0, "created_by": "x"}])
            | {"rootfs": {"type": "layers", "diff_ids": _diff_ids(1)}},
            layer_extra={"data": base64.b64encode(long_data).decode()},
        )
    )
    add(
        ImageCase(
            "config-descriptor-data-wrong",
            image_config(),
            config_descriptor_extra={"data": base64.b64encode(b"short").decode()},
            oracle_fails=True,  # both refuse: the data is not the blob
            ours_fails=True,
        )
    )
    valid_config = _dumps(image_config(), "go")
    add(
        ImageCase(
            "config-descriptor-data-valid",
            valid_config,
            config_descriptor_extra={"data": base64.b64encode(valid_config).decode()},
            layers=1,
        )
    )
    add(ImageCase("manifest-descriptor-data", image_config(), embed_manifest_data=True))
    add(
        ImageCase(
            "platforms-everywhere",
            image_config(**{"os.version": "10.0.17763.1 x", "os.features": ["win32k", "a b"]}),
            index_descriptor_extra={
                "platform": {
                    "architecture": "arm 64",
                    "os": "linux,x",
                    "os.version": "10.0 1",
                    "os.features": ["a b", "c,d"],
                    "variant": "v 8",
                    "features": ["gone"],
                },
                "artifactType": "a b,c",
            },
            layer_media_type="a b,c",
            layer_extra={"platform": {"architecture": "", "os": ""}, "urls": ["a,b", ""]},
        )
    )
    add(
        ImageCase(
            "index-annotations",
            image_config(),
            index_descriptor_extra={
                "annotations": {
                    "org.opencontainers.image.ref.name": "t",
                    "org.opencontainers.image.created": T0,
                    "weird key": "tab\tvalue, comma",
                }
            },
        )
    )
    add(
        ImageCase(
            "lone-surrogates",
            image_config(author="\ud800x", config={"Cmd": ["\udfff"]}),
            style="ascii",
        )
    )
    add(ImageCase("line-separators-raw", image_config(author="a\u2028b\u2029c<&>")))
    add(
        ImageCase(
            "history-without-created",
            image_config(
                history=[{"created_by": "no time"}, {"comment": "x", "empty_layer": True}]
            ),
            oracle_fails=True,  # 0.6 dereferences the missing time and panics
        )
    )
    add(
        ImageCase(
            "history-too-few-diff-ids",
            image_config(rootfs={"type": "layers", "diff_ids": []}),
            oracle_fails=True,  # 0.6 indexes diff_ids past the end and panics
        )
    )
    add(
        ImageCase(
            "empty-config-not-empty",
            b'{"a": 1}',
            config_media_type=OCI_EMPTY,
            layers=0,
            oracle_fails=True,  # 0.6: "empty json blob is invalid"; we show the manifest
        )
    )
    add(ImageCase("empty-config-plain", b"{}", config_media_type=OCI_EMPTY, layers=0))
    add(
        ImageCase(
            "many-layers-mixed-history",
            image_config(
                history=[
                    {"created": T0, "created_by": f"step {i}", "empty_layer": i % 3 == 0}
                    for i in range(12)
                ]
            ),
            layer_annotations={"org.opencontainers.image.title": "part"},
        )
    )
    return cases
