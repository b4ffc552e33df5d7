"""The image config as the runtime conversion reads it: Go's ``created`` time and zero values.

The config is decoded by the one decoder (:mod:`umoci.oci.models`); these
cases, checked against the Go umoci, pin what reaches ``config.json``.
"""

from __future__ import annotations

import pytest

from umoci.errors import BlobInvalidError
from umoci.oci.models import ImageConfig
from umoci.runtime.spec import CREATED_ANNOTATION, runtime_config


def format_go_time(text: str) -> str:
    """The created annotation unpack writes for a config created at *text*."""
    config = ImageConfig.from_json({"os": "linux", "created": text})
    return str(runtime_config(config, rootfs_opener=None)["annotations"][CREATED_ANNOTATION])


@pytest.mark.parametrize(
    ("text", "formatted"),
    [
        ("2023-11-14T22:13:20Z", "2023-11-14T22:13:20Z"),
        ("2023-11-14T22:13:20.123456789Z", "2023-11-14T22:13:20.123456789Z"),
        ("2023-11-14T22:13:20.1234567891234Z", "2023-11-14T22:13:20.123456789Z"),
        ("2023-11-14T22:13:20.100Z", "2023-11-14T22:13:20.1Z"),
        ("2023-11-14T22:13:20.000Z", "2023-11-14T22:13:20Z"),
        ("2023-11-14T22:13:20+00:00", "2023-11-14T22:13:20Z"),
        ("2023-11-14T22:13:20-00:00", "2023-11-14T22:13:20Z"),
        ("2023-11-14T22:13:20+05:30", "2023-11-14T22:13:20+05:30"),
        ("2023-11-14T22:13:20.5-07:00", "2023-11-14T22:13:20.5-07:00"),
        ("2023-11-14T2:13:20Z", "2023-11-14T02:13:20Z"),
        ("2023-11-14T22:13:20,5Z", "2023-11-14T22:13:20.5Z"),
        ("2023-11-14T22:13:20+24:00", "2023-11-14T22:13:20+24:00"),
        ("2023-11-14T22:13:20+23:60", "2023-11-14T22:13:20+24:00"),
        ("2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"),
        ("0000-01-01T00:00:00Z", "0000-01-01T00:00:00Z"),
    ],
)
def test_format_go_time(text: str, formatted: str) -> None:
    assert format_go_time(text) == formatted


@pytest.mark.parametrize(
    "text",
    [
        "2023-11-14t22:13:20Z",
        "2023-11-14T22:13:20z",
        "2023-02-29T00:00:00Z",
        "2100-02-29T00:00:00Z",
        "2023-04-31T00:00:00Z",
        "2023-13-01T00:00:00Z",
        "2023-11-14T24:00:00Z",
        "2023-11-14T22:60:00Z",
        "2023-11-14T22:13:60Z",
        "2023-11-14 22:13:20Z",
        "2023-11-14T22:13:20",
        "2023-11-14T22:13:20.Z",
        "20231114T221320Z",
        "2023-1-14T22:13:20Z",
        "+2023-11-14T22:13:20Z",
        "2023-11-14T22:13:20+0100",
        "2023-11-14T22:13:20+25:00",
        "2023-11-14T22:13:20Z ",
        "２０２３-11-14T22:13:20Z",
    ],
)
def test_refused_times(text: str) -> None:
    with pytest.raises(BlobInvalidError):
        format_go_time(text)


def test_parse_defaults() -> None:
    # null is Go's zero Image, as is {}: rootfs.type too is empty.
    assert ImageConfig.from_json(None) == ImageConfig(rootfs_type="")
    assert ImageConfig.from_json({}) == ImageConfig(rootfs_type="")
    cfg = ImageConfig.from_json(
        {"created": None, "config": {"Volumes": {"/b": {}, "/a": {}}, "ExposedPorts": None}}
    )
    assert cfg.created is None
    assert cfg.config.volumes == ("/a", "/b")
    assert cfg.config.exposed_ports == ()


def test_no_created_time_is_go_zero_time() -> None:
    config = ImageConfig.from_json({"os": "linux"})
    annotations = runtime_config(config, rootfs_opener=None)["annotations"]
    assert annotations[CREATED_ANNOTATION] == "0001-01-01T00:00:00Z"
