"""Names from a layout never reach the terminal as control characters.

A layout is anybody's data: its tags, media types, platform fields and the
paths in its layers may hold ESC, BEL, CR or NUL.  ``ls``, ``ls --long`` and
the errors that list an index's platforms show such a name Go-quoted, as
``stat`` does, and ordinary names exactly as before
(``tests/oracle/test_oracle_ls.py`` holds ``ls`` to the Go umoci's bytes);
error and warning lines escape whatever control character they still hold.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from multikit import OCI_INDEX, REF_NAME, entry, put_json, set_index, snapshot, umoci_ok, untagged

HOSTILE_TAGS = ["e\x1b[31mred", "bel\x07", "cr\rX", "nul\x00z", "tab\tz", "del\x7f", 'q"\\']


def umoci(*argv: str | Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "umoci", *map(str, argv)],
        capture_output=True,
        timeout=60,
        check=False,
    )


def controls(data: bytes, allowed: bytes = b"\n") -> list[int]:
    """The bytes of *data* a terminal would act on (C0 controls and DEL), but *allowed*."""
    return [b for b in data if (b < 0x20 or b == 0x7F) and b not in allowed]


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """Tag ``a``, the hostile tags on its image, and ``multi``: an index of hostile platforms."""
    layout = tmp_path / "L"
    umoci_ok("init", "--layout", layout)
    umoci_ok("new", "--image", f"{layout}:a")
    image = entry(layout, "a")
    children = [
        untagged(image, platform={"os": "linux", "architecture": "amd\x1b[2J64"}),
        untagged(image, platform={"os": "li\rnux", "architecture": "arm64", "variant": "v\x078"}),
        untagged(image, platform={"os": "linux", "architecture": "riscv64", "os.version": "\x00"}),
    ]
    multi: dict[str, Any] = put_json(
        layout, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}, OCI_INDEX
    )
    multi["annotations"] = {REF_NAME: "multi"}
    hostile = [untagged(image, annotations={REF_NAME: tag}) for tag in HOSTILE_TAGS]
    set_index(layout, [image, multi, *hostile])
    return layout


def test_ls_quotes_hostile_tags_and_leaves_the_rest_bare(layout: Path) -> None:
    result = umoci("ls", "--layout", layout)
    assert result.returncode == 0, result.stderr
    assert controls(result.stdout + result.stderr) == []
    assert result.stdout.decode().splitlines() == [
        "a",
        "multi",
        '"e\\x1b[31mred"',
        '"bel\\a"',
        '"cr\\rX"',
        '"nul\\x00z"',
        '"tab\\tz"',
        '"del\\x7f"',
        '"q\\"\\\\"',
    ]


def test_ls_long_quotes_every_field_from_the_layout(layout: Path) -> None:
    result = umoci("ls", "--long", "--layout", layout)
    assert result.returncode == 0, result.stderr
    assert controls(result.stdout + result.stderr, allowed=b"\n\t") == []
    lines = result.stdout.decode().splitlines()
    assert [line.count("\t") for line in lines] == [3] * len(lines), "a tag's tab stays inside it"
    assert [line.split("\t")[0] for line in lines][:3] == ["a", "multi", '"e\\x1b[31mred"']
    platforms = lines[1].split("\t")[3]
    assert platforms == '"linux/amd\\x1b[2j64","li\\rnux/arm64/v\\a8","linux(\\x00)/riscv64"'


@pytest.mark.parametrize(
    "argv",
    [
        ["unpack", "--image", "{layout}:multi", "--platform", "linux/s390x", "{bundle}"],
        ["index", "remove", "--image", "{layout}:multi", "--platform", "linux/s390x"],
    ],
)
def test_errors_listing_hostile_platforms_escape_them(
    layout: Path, tmp_path: Path, argv: list[str]
) -> None:
    before = snapshot(layout)
    args = [a.format(layout=layout, bundle=tmp_path / "bundle") for a in argv]
    result = umoci(*args)
    assert result.returncode == 1
    assert result.stdout == b""
    assert controls(result.stderr) == []
    assert result.stderr.count(b"\n") == 1, result.stderr
    assert b'"linux/amd\\x1b[2j64", "li\\rnux/arm64/v\\a8"' in result.stderr
    assert snapshot(layout) == before
    assert not (tmp_path / "bundle").exists()


def test_the_error_boundary_escapes_what_a_message_still_holds(tmp_path: Path) -> None:
    # The path is the user's own, but a terminal acts on its ESC all the same.
    result = umoci("ls", "--layout", tmp_path / "no\x1b[2Jsuch")
    assert result.returncode == 1
    assert controls(result.stderr) == []
    assert b"no\\x1b[2Jsuch" in result.stderr


def test_warnings_escape_names_from_a_layer(tmp_path: Path) -> None:
    layout = tmp_path / "L"
    umoci_ok("init", "--layout", layout)
    umoci_ok("new", "--image", f"{layout}:a")
    layer = tmp_path / "dev.tar"
    with tarfile.open(layer, "w") as tar:
        device = tarfile.TarInfo("dev\x1b[2Jnull")
        device.type, device.devmajor, device.devminor = tarfile.CHRTYPE, 1, 3
        tar.addfile(device)
    umoci_ok("raw", "add-layer", "--image", f"{layout}:a", layer)
    # Rootless, a device becomes an empty file, with a warning naming it.
    result = umoci("unpack", "--rootless", "--image", f"{layout}:a", tmp_path / "bundle")
    assert result.returncode == 0, result.stderr
    assert controls(result.stderr) == []
    assert b"device dev\\x1b[2Jnull (1:3)" in result.stderr
