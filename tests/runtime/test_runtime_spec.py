"""Image config -> runtime config: the Go umoci 0.6 conversion rules."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from umoci.errors import BlobInvalidError, BundleError
from umoci.idmap import IdMap
from umoci.oci.models import ImageConfig
from umoci.runtime import (
    config_bytes,
    root_path_for,
    rootfs_opener,
    runtime_config,
    unprivileged_mount_flags,
)
from umoci.runtime.rootfs_open import RootfsOpener
from umoci.runtime.template import DEFAULT_ENV

PATH_ENV, TERM_ENV = DEFAULT_ENV
VOLUME_OPTIONS = ["rw", "nosuid", "nodev", "noexec", "relatime"]


def files(passwd: bytes | None = None, group: bytes | None = None) -> RootfsOpener:
    table = {"/etc/passwd": passwd, "/etc/group": group}

    def opener(path: str) -> BinaryIO | None:
        data = table.get(path)
        return None if data is None else io.BytesIO(data)

    return opener


def convert(config: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("rootfs_opener", files())
    return runtime_config(ImageConfig.from_json({"os": "linux", **config}), **kwargs)


def image(**config: Any) -> dict[str, Any]:
    return {"config": config}


@pytest.mark.parametrize(
    ("entrypoint", "cmd", "args"),
    [
        (None, None, ["sh"]),
        ([], [], ["sh"]),
        (["/bin/e", "-x"], None, ["/bin/e", "-x"]),
        (None, ["ls", "-l"], ["ls", "-l"]),
        (["/bin/e"], ["a", "b"], ["/bin/e", "a", "b"]),
        ([""], None, [""]),
    ],
)
def test_args(entrypoint: list[str] | None, cmd: list[str] | None, args: list[str]) -> None:
    spec = convert(image(Entrypoint=entrypoint, Cmd=cmd))
    assert spec["process"]["args"] == args


def test_env_replaces_in_place_and_appends() -> None:
    spec = convert(image(Env=["A=1", "PATH=/p", "A=2", "B=", "TERM=dumb", "C=x=y"]))
    assert spec["process"]["env"] == ["PATH=/p", "TERM=dumb", "A=2", "B=", "C=x=y"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("A", "environment variable must contain '=': A"),
        ("=x", "environment variable must have non-empty name: =x"),
    ],
)
def test_env_errors(entry: str, message: str) -> None:
    with pytest.raises(BlobInvalidError) as info:
        convert(image(Env=[entry]))
    assert str(info.value) == f"generate config.json: parsing image.Config.Env: {message}"


def test_cwd() -> None:
    assert convert(image())["process"]["cwd"] == "/"
    assert convert(image(WorkingDir="/srv"))["process"]["cwd"] == "/srv"


PASSWD = b"root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n"
GROUP = b"root:x:0:\nwheel:x:10:alice,root\nusers:x:100:alice\n"


def test_user_and_supplementary_groups() -> None:
    spec = convert(image(User="alice"), rootfs_opener=files(PASSWD, GROUP))
    assert spec["process"]["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [10, 100]}
    assert spec["process"]["env"][-1] == "HOME=/home/alice"
    spec = convert(image(User="alice:users"), rootfs_opener=files(PASSWD, GROUP))
    assert spec["process"]["user"] == {"uid": 1000, "gid": 100}


def test_empty_user_uses_root_entry() -> None:
    spec = convert(image(), rootfs_opener=files(PASSWD, GROUP))
    assert spec["process"]["user"] == {"uid": 0, "gid": 0, "additionalGids": [10]}
    assert spec["process"]["env"] == [PATH_ENV, TERM_ENV, "HOME=/root"]


def test_home_from_env_wins() -> None:
    spec = convert(image(User="alice", Env=["HOME=/custom"]), rootfs_opener=files(PASSWD))
    assert spec["process"]["env"] == [PATH_ENV, TERM_ENV, "HOME=/custom"]


def test_no_home_without_passwd_entry() -> None:
    spec = convert(image(User="4242:4343"), rootfs_opener=files(PASSWD))
    assert spec["process"]["user"] == {"uid": 4242, "gid": 4343}
    assert spec["process"]["env"] == [PATH_ENV, TERM_ENV]


def test_ids_are_uint32() -> None:
    passwd = b"neg:x:-3:-4::/n:\n"
    spec = convert(image(User="neg"), rootfs_opener=files(passwd))
    assert spec["process"]["user"] == {"uid": 2**32 - 3, "gid": 2**32 - 4}


def test_unknown_user_is_an_error() -> None:
    with pytest.raises(BlobInvalidError) as info:
        convert(image(User="nobody"), rootfs_opener=files(PASSWD))
    assert str(info.value) == (
        'generate config.json: cannot parse user spec: "nobody": '
        "unable to find user nobody: no matching entries in passwd file"
    )


def test_without_rootfs_names_fall_back_to_root(caplog: pytest.LogCaptureFixture) -> None:
    # Attach to our logger directly: the CLI may have stopped "umoci" from
    # propagating to the root logger that caplog listens on.
    logger = logging.getLogger("umoci.runtime.spec")
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="umoci.runtime.spec"):
            spec = convert(image(User="alice:wheel"), rootfs_opener=None)
    finally:
        logger.removeHandler(caplog.handler)
    assert spec["process"]["user"] == {"uid": 0, "gid": 0}
    assert 'could not parse user spec "alice:wheel" without a rootfs' in caplog.text
    spec = convert(image(User="7:8"), rootfs_opener=None)
    assert spec["process"]["user"] == {"uid": 7, "gid": 8}


def test_annotations_and_label_precedence() -> None:
    spec = convert(
        {
            "architecture": "arm64",
            "variant": "v8",
            "author": "me <me@example.com>",
            "created": "2023-11-14T22:13:20.500+01:00",
            "config": {
                "StopSignal": "SIGTERM",
                "ExposedPorts": {"80/tcp": {}, "53/udp": {}, "443": {}},
                "Labels": {
                    "org.opencontainers.image.os": "plan9",
                    "org.opencontainers.image.author": "",
                    "zz": "last",
                },
            },
        }
    )
    assert spec["annotations"] == {
        "org.opencontainers.image.architecture": "arm64",
        "org.opencontainers.image.author": "",
        "org.opencontainers.image.created": "2023-11-14T22:13:20.5+01:00",
        "org.opencontainers.image.exposedPorts": "443,53/udp,80/tcp",
        "org.opencontainers.image.os": "plan9",
        "org.opencontainers.image.stopSignal": "SIGTERM",
        "org.opencontainers.image.variant": "v8",
        "zz": "last",
    }
    assert list(spec["annotations"]) == sorted(spec["annotations"])


def test_empty_implicit_annotations_are_dropped() -> None:
    assert convert({})["annotations"] == {
        "org.opencontainers.image.created": "0001-01-01T00:00:00Z",
        "org.opencontainers.image.os": "linux",
    }


def test_volumes_are_sorted_tmpfs_mounts() -> None:
    spec = convert(image(Volumes={"/var/lib/b": {}, "/data": None, "/sysroot": {}}))
    assert spec["mounts"][7:] == [
        {"destination": d, "type": "tmpfs", "source": "none", "options": VOLUME_OPTIONS}
        for d in ("/data", "/sysroot", "/var/lib/b")
    ]


def test_unsupported_os() -> None:
    with pytest.raises(BlobInvalidError, match="unsupported OS: windows"):
        runtime_config(ImageConfig.from_json({"os": "windows"}), rootfs_opener=None)
    with pytest.raises(BlobInvalidError, match="unsupported OS: Linux"):
        runtime_config(ImageConfig.from_json({"os": "Linux"}), rootfs_opener=None)


def test_empty_os_is_linux_with_one_warning() -> None:
    # Buildpacks write configs without "os"; the Go umoci refuses them.
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("umoci.runtime.spec")
    logger.addHandler(handler)
    try:
        config = ImageConfig.from_json({"architecture": "amd64"})
        spec = runtime_config(config, rootfs_opener=None)
    finally:
        logger.removeHandler(handler)
    assert spec["process"]["args"] == ["sh"]
    assert [r.getMessage() for r in records] == ["image config has no os: taking it to be linux"]


def test_id_maps_add_user_namespace() -> None:
    uid_maps = (IdMap(0, 100000, 65536),)
    spec = convert({}, uid_maps=uid_maps)
    linux = spec["linux"]
    assert linux["uidMappings"] == [{"containerID": 0, "hostID": 100000, "size": 65536}]
    assert "gidMappings" not in linux
    assert [ns["type"] for ns in linux["namespaces"]] == [
        "cgroup",
        "pid",
        "network",
        "ipc",
        "uts",
        "mount",
        "user",
    ]
    assert list(linux) == ["uidMappings", "resources", "namespaces", "maskedPaths", "readonlyPaths"]


def test_rootless_rewrite() -> None:
    m = (IdMap(0, 1000, 1),)
    spec = convert(
        image(User="alice", Volumes={"/sysroot": {}, "/data": {}}),
        rootfs_opener=files(PASSWD, GROUP),
        rootless=True,
        uid_maps=m,
        gid_maps=m,
        mount_flags=lambda path: ["nosuid", "nodev"],
    )
    assert spec["process"]["user"] == {"uid": 1000, "gid": 1000}  # no additionalGids
    assert "resources" not in spec["linux"]
    assert [ns["type"] for ns in spec["linux"]["namespaces"]] == [
        "cgroup",
        "pid",
        "ipc",
        "uts",
        "mount",
        "user",
    ]
    destinations = [mount["destination"] for mount in spec["mounts"]]
    # Everything starting with "/sys" goes, even /sysroot (Go's prefix test).
    assert destinations == [
        "/proc",
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/mqueue",
        "/data",
        "/sys",
        "/etc/resolv.conf",
    ]
    assert "gid=5" not in spec["mounts"][2]["options"]
    assert spec["mounts"][-1]["options"] == ["nosuid", "nodev", "rbind", "ro"]


def test_rootless_resolv_conf_probe_errors_surface(tmp_path: Path) -> None:
    def probe(path: str) -> list[str]:
        return unprivileged_mount_flags(str(tmp_path / "missing"))

    with pytest.raises(BundleError, match="inspecting mount flags"):
        convert({}, rootless=True, mount_flags=probe)


def test_unprivileged_mount_flags_real_path(tmp_path: Path) -> None:
    flags = unprivileged_mount_flags(str(tmp_path))
    assert set(flags) <= {"ro", "nodev", "noexec", "nosuid", "noatime", "nodiratime"}


@pytest.mark.parametrize(
    ("rootfs", "expected"),
    [("bundle/rootfs", "rootfs"), ("/a/b/", "b"), ("", "."), ("///", "/"), ("r", "r")],
)
def test_root_path_for(rootfs: str, expected: str) -> None:
    assert root_path_for(rootfs) == expected


def test_root_path_used() -> None:
    assert convert({}, root_path=".")["root"] == {"path": "."}


def test_output_escapes_like_go() -> None:
    spec = convert(image(Labels={"k": "<a & b>\u2028é"}))
    data = config_bytes(spec)
    assert b'"k": "\\u003ca \\u0026 b\\u003e\\u2028\xc3\xa9"' in data
    assert data.endswith(b"\n}\n")
    assert json.loads(data) == spec


@pytest.mark.parametrize(
    "config",
    [
        [],
        "linux",
        {"os": 5},
        {"os": "linux", "config": []},
        {"os": "linux", "config": {"User": 0}},
        {"os": "linux", "config": {"Env": "A=1"}},
        {"os": "linux", "config": {"Env": [1]}},
        {"os": "linux", "config": {"Cmd": "sh"}},
        {"os": "linux", "config": {"Entrypoint": {"a": 1}}},
        {"os": "linux", "config": {"Volumes": ["/a"]}},
        {"os": "linux", "config": {"Volumes": {"/a": "x"}}},
        {"os": "linux", "config": {"ExposedPorts": {"80": 1}}},
        {"os": "linux", "config": {"Labels": {"a": 1}}},
        {"os": "linux", "config": {"Labels": ["a"]}},
        {"os": "linux", "config": {"WorkingDir": True}},
        {"os": "linux", "config": {"StopSignal": 15}},
        {"os": "linux", "config": {"ArgsEscaped": "yes"}},
        {"os": "linux", "created": 5},
        {"os": "linux", "created": "yesterday"},
        {"os": "linux", "author": ["me"]},
        {"os": "linux", "architecture": None, "variant": 1},
        {"os": "linux", "os.features": "x"},
        {"os": "linux", "rootfs": []},
        {"os": "linux", "rootfs": {"diff_ids": [1]}},
        {"os": "linux", "history": {}},
        {"os": "linux", "history": [5]},
        {"os": "linux", "history": [{"created": "now"}]},
        {"os": "linux", "history": [{"empty_layer": "true"}]},
    ],
)
def test_malformed_config_is_blob_invalid(config: Any) -> None:
    with pytest.raises(BlobInvalidError):
        ImageConfig.from_json(config)


def test_go_decoding_quirks() -> None:
    config = ImageConfig.from_json(
        {
            "OS": "linux",
            "config": {
                "cmd": ["a", None],
                "env": None,
                "Wor\u212aingdir": "/kelvin",
                "labels": {"x": None, "bad\ud800": "lone"},
                "Unknown": {"ignored": True},
                "\u0131\u0130\u0131\u0130\u0131\u0130\u0131\u0130": None,
                "Us\u0131\u0130": "no",  # extra letters: not a field
                "STOPS\u0130GNAL": "SIGKILL",  # 0.6: U+0130 does not fold to i
                "Stop\u017fignal": "SIGTERM",  # ... but U+017F folds to s
            },
            "history": [None],
        }
    )
    spec = runtime_config(config, rootfs_opener=None)
    assert spec["process"]["args"] == ["a", ""]
    assert spec["process"]["cwd"] == "/kelvin"
    assert spec["annotations"]["x"] == ""
    assert spec["annotations"]["org.opencontainers.image.stopSignal"] == "SIGTERM"
    assert spec["process"]["user"] == {"uid": 0, "gid": 0}
    assert spec["annotations"]["bad\ufffd"] == "lone"
    config_bytes(spec)  # encodable


def test_real_rootfs(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_bytes(PASSWD)
    (tmp_path / "etc/group").write_bytes(GROUP)
    spec = convert(image(User="alice"), rootfs_opener=rootfs_opener(str(tmp_path)))
    assert spec["process"]["user"]["additionalGids"] == [10, 100]
