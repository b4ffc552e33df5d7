"""Error words that scripts written for the Go umoci 0.6 grep for.

A blob whose bytes do not match its descriptor must say ``verified reader
digest mismatch`` or ``verified reader size mismatch`` (0.6's words), inside
our usual one-line context ``umoci: VERB: blob DIGEST: ...``.
"""

from __future__ import annotations

import json
import os
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


def _truncate(layer: Path) -> None:
    layer.write_bytes(layer.read_bytes()[:-3])


def _recompress(layer: Path) -> None:
    """The Go suite's blob hash hardening: ``gzip -d | gzip -3``, other bytes, other length."""
    import gzip

    original = layer.read_bytes()
    recompressed = gzip.compress(gzip.decompress(original), compresslevel=3, mtime=0)
    assert recompressed[: len(original)] != original
    layer.write_bytes(recompressed)


def _recompress_longer(layer: Path) -> None:
    _recompress(layer)
    layer.write_bytes(layer.read_bytes() + b"\0" * 64)


def _append(layer: Path) -> None:
    layer.write_bytes(layer.read_bytes() + b"\0")


# The digest of the bytes read is judged before their count (0.6's precedence):
# only a blob whose first `size` bytes are right and that goes on is a size error.
LAYER_DAMAGE = {
    "truncated": (_truncate, "digest"),
    "recompressed": (_recompress, "digest"),
    "recompressed-longer": (_recompress_longer, "digest"),
    "right-prefix-then-more": (_append, "size"),
}


@pytest.mark.parametrize("damage", LAYER_DAMAGE)
def test_damaged_layer_says_verified_reader_digest_before_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    change, word = LAYER_DAMAGE[damage]
    layout, layer = _image_with_a_layer(tmp_path, capsys)
    change(layer)
    err = _unpack_error(layout, tmp_path, capsys)
    assert re.match(
        rf"umoci: unpack: .*blob sha256:{layer.name}: verified reader {word} mismatch: ", err
    ), err


@pytest.mark.oracle
@pytest.mark.parametrize("damage", LAYER_DAMAGE)
def test_damaged_layer_wording_matches_the_go_umoci(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], oracle_umoci: Path, damage: str
) -> None:
    import subprocess

    change, word = LAYER_DAMAGE[damage]
    layout, layer = _image_with_a_layer(tmp_path, capsys)
    change(layer)
    rootless = ["--rootless"] if os.geteuid() != 0 else []
    theirs = subprocess.run(
        # As nobody the Go umoci needs --rootless (ours picks it itself).
        [oracle_umoci, "unpack", *rootless, "--image", f"{layout}:t", tmp_path / "go-bundle"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert theirs.returncode == 1
    assert f"verified reader {word} mismatch" in theirs.stderr, theirs.stderr
    assert f"verified reader {word} mismatch: " in _unpack_error(layout, tmp_path, capsys)


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
