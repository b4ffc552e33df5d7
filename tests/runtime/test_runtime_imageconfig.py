"""Go's time parsing/formatting for ``created`` (cases checked against the Go umoci)."""

from __future__ import annotations

import pytest

from umoci.errors import BlobInvalidError
from umoci.runtime.imageconfig import ImageConfig, format_go_time, parse_image_config


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
    assert parse_image_config(None) == ImageConfig()
    assert parse_image_config({}) == ImageConfig()
    cfg = parse_image_config(
        {"created": None, "config": {"Volumes": {"/b": {}, "/a": {}}, "ExposedPorts": None}}
    )
    assert cfg.created is None
    assert cfg.volumes == ("/a", "/b")
    assert cfg.exposed_ports == ()
