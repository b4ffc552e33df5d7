"""Error words that scripts written for the Go umoci 0.6 grep for.

A blob whose bytes do not match its descriptor must say ``verified reader
digest mismatch`` or ``verified reader size mismatch`` (0.6's words), inside
our usual one-line context ``umoci: VERB: blob DIGEST: ...``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from umoci.cli import main


def _image_with_a_layer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    layout = tmp_path / "img"
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "file").write_bytes(b"some content\n" * 100)
    for argv in (
        ["init", "--layout", str(layout)],
        ["new", "--image", f"{layout}:t"],
        ["insert", "--image", f"{layout}:t", str(tree), "/"],
    ):
        assert main(argv) == 0, capsys.readouterr().err
    index = json.loads((layout / "index.json").read_text())
    manifest_hex = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((layout / "blobs" / "sha256" / manifest_hex).read_bytes())
    layer_hex = manifest["layers"][-1]["digest"].split(":")[1]
    capsys.readouterr()
    return layout, layout / "blobs" / "sha256" / layer_hex


def _unpack_error(layout: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    status = main(["unpack", "--image", f"{layout}:t", str(tmp_path / "bundle")])
    err = capsys.readouterr().err
    assert status == 1
    assert len(err.splitlines()) == 1, err
    return err


def test_truncated_layer_says_verified_reader_size_mismatch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout, layer = _image_with_a_layer(tmp_path, capsys)
    layer.write_bytes(layer.read_bytes()[:-3])
    err = _unpack_error(layout, tmp_path, capsys)
    assert re.match(
        rf"umoci: unpack: .*blob sha256:{layer.name}: verified reader size mismatch: ", err
    ), err


def test_longer_layer_says_verified_reader_size_mismatch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout, layer = _image_with_a_layer(tmp_path, capsys)
    layer.write_bytes(layer.read_bytes() + b"\0")
    err = _unpack_error(layout, tmp_path, capsys)
    assert f"blob sha256:{layer.name}: verified reader size mismatch: " in err, err


def test_altered_layer_says_verified_reader_digest_mismatch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout, layer = _image_with_a_layer(tmp_path, capsys)
    data = bytearray(layer.read_bytes())
    data[-1] ^= 0xFF  # same size, other bytes
    layer.write_bytes(bytes(data))
    err = _unpack_error(layout, tmp_path, capsys)
    assert f"blob sha256:{layer.name}: verified reader digest mismatch: " in err, err


@pytest.mark.parametrize("verb", [["stat"], ["stat", "--json"], ["config", "--config.user", "x"]])
def test_altered_manifest_says_verified_reader_digest_mismatch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], verb: list[str]
) -> None:
    layout, _ = _image_with_a_layer(tmp_path, capsys)
    index = json.loads((layout / "index.json").read_text())
    manifest = layout / "blobs" / "sha256" / index["manifests"][0]["digest"].split(":")[1]
    manifest.write_bytes(manifest.read_bytes().replace(b'"layers"', b'"Layers"'))
    status = main([verb[0], "--image", f"{layout}:t", *verb[1:]])
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith(f"umoci: {verb[0]}: ")
    assert "verified reader digest mismatch" in err, err
