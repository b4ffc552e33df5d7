"""``umoci raw add-layer``: a tar archive appended verbatim as a new layer."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path

import pytest
from repackkit import (
    OCI_GZIP,
    OCI_TAR,
    OCI_ZSTD,
    SIZE_ANNOTATION,
    T,
    blob,
    config,
    fail,
    layers,
    layout_state,
    ok,
    tags,
    tar_bytes,
    uncompressed,
    write_image,
)

Capsys = pytest.CaptureFixture[str]

LAYER = [
    T.dir("etc"),
    T.reg("etc/hostname", b"from add-layer\n"),
    T.reg("etc/.wh.motd"),
    T.dir("opt/tree"),
    T.reg("opt/tree/.wh..wh..opq"),
    T.reg("opt/tree/only", b"only\n", mode=0o600, uid=7, gid=8),
    T.sym("opt/tree/link", "only"),
    T.hard("opt/tree/hard", "opt/tree/only"),
    T.reg("usr/bin/ünïcode", b"u", xattrs={"user.k": b"v"}),
]


def setup(tmp_path: Path) -> tuple[Path, Path]:
    layout = tmp_path / "image"
    write_image(layout, "t")
    archive = tmp_path / "layer.tar"
    archive.write_bytes(tar_bytes(LAYER))
    return layout, archive


@pytest.mark.parametrize(
    ("compress", "media_type"), [("gzip", OCI_GZIP), ("zstd", OCI_ZSTD), ("none", OCI_TAR)]
)
def test_layer_is_the_file_verbatim(
    capsys: Capsys, tmp_path: Path, compress: str, media_type: str
) -> None:
    layout, archive = setup(tmp_path)
    data = archive.read_bytes()
    ok(capsys, "raw", "add-layer", "--compress", compress, "--image", f"{layout}:t", archive)
    layer = layers(layout, "t")[-1]
    assert layer["mediaType"] == media_type
    assert uncompressed(layout, layer) == data
    assert config(layout, "t")["rootfs"]["diff_ids"][-1] == (
        "sha256:" + hashlib.sha256(data).hexdigest()
    )
    assert layer["annotations"] == {SIZE_ANNOTATION: str(len(data))}
    if compress == "none":
        assert blob(layout, layer["digest"]) == data


def test_auto_compress_and_unpack(capsys: Capsys, tmp_path: Path) -> None:
    layout, archive = setup(tmp_path)
    ok(capsys, "raw", "add-layer", "--image", f"{layout}:t", archive)
    assert layers(layout, "t")[-1]["mediaType"] == OCI_GZIP
    ok(capsys, "unpack", "--image", f"{layout}:t", tmp_path / "b")
    rootfs = tmp_path / "b/rootfs"
    assert (rootfs / "etc/hostname").read_bytes() == b"from add-layer\n"
    assert not (rootfs / "etc/motd").exists()
    assert sorted(os.listdir(rootfs / "opt/tree")) == ["hard", "link", "only"]
    assert os.path.samefile(rootfs / "opt/tree/only", rootfs / "opt/tree/hard")
    assert os.getxattr(rootfs / "usr/bin/ünïcode", "user.k") == b"v"


def test_a_compressed_layer_file_is_refused(capsys: Capsys, tmp_path: Path) -> None:
    """add-layer wants an uncompressed tar: a .tar.gz is not a tar and is refused."""
    layout, archive = setup(tmp_path)
    compressed = tmp_path / "layer.tar.gz"
    compressed.write_bytes(gzip.compress(archive.read_bytes()))
    before = layout_state(layout)
    fail(capsys, "raw", "add-layer", "--image", f"{layout}:t", compressed)
    assert layout_state(layout) == before


def test_tag_and_history(capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    layout, archive = setup(tmp_path)
    before = tags(layout)
    ok(capsys, "raw", "add-layer", "--image", f"{layout}:t", "--tag", "plain", archive)
    ok(
        capsys,
        "raw",
        "add-layer",
        "--image",
        f"{layout}:t",
        "--tag",
        "flags",
        "--history.author",
        "A",
        "--history.comment",
        "C",
        "--history.created",
        "2001-02-03T04:05:06Z",
        "--history.created_by",
        "B",
        archive,
    )
    ok(
        capsys,
        "raw",
        "add-layer",
        "--image",
        f"{layout}:t",
        "--tag",
        "none",
        "--no-history",
        archive,
    )
    assert tags(layout)["t"] == before["t"]
    assert len(layers(layout, "t")) == 1

    def last_history(tag: str) -> dict[str, str]:
        out = json.loads(ok(capsys, "stat", "--json", "--image", f"{layout}:{tag}"))
        entry: dict[str, str] = out["history"][-1]
        return entry

    plain = last_history("plain")
    assert (plain["created_by"], plain["created"]) == (
        "umoci raw add-layer",
        "2023-11-14T22:13:20Z",
    )
    flags = last_history("flags")
    assert (flags["author"], flags["comment"], flags["created"], flags["created_by"]) == (
        "A",
        "C",
        "2001-02-03T04:05:06Z",
        "B",
    )
    assert len(config(layout, "none")["history"]) == 1
    assert len(config(layout, "none")["rootfs"]["diff_ids"]) == 2
    assert layers(layout, "plain")[-1] == layers(layout, "none")[-1]


@pytest.mark.parametrize(
    "content",
    [b"this is not a tar archive\n" * 40, b"\x00" * 100, tar_bytes(LAYER)[:700]],
    ids=["text", "short-zeros", "truncated"],
)
def test_non_tar_is_refused_and_changes_nothing(
    capsys: Capsys, tmp_path: Path, content: bytes
) -> None:
    layout, _ = setup(tmp_path)
    bad = tmp_path / "bad.tar"
    bad.write_bytes(content)
    before, blobs = layout_state(layout), sorted(os.listdir(layout / "blobs/sha256"))
    err = fail(capsys, "raw", "add-layer", "--image", f"{layout}:t", bad)
    assert err.startswith("umoci: raw add-layer: ")
    assert layout_state(layout) == before
    assert sorted(os.listdir(layout / "blobs/sha256")) == blobs


@pytest.mark.parametrize(
    "argv",
    [
        ["raw", "add-layer", "--image", "{L}:t", "{T}/missing.tar"],
        ["raw", "add-layer", "--image", "{L}:t", "{T}"],
        ["raw", "add-layer", "--image", "{L}:missing", "{T}/layer.tar"],
        ["raw", "add-layer", "--image", "{L}:t", "--tag", "bad tag", "{T}/layer.tar"],
        ["raw", "add-layer", "--image", "{L}:t", "--compress", "xz", "{T}/layer.tar"],
        ["raw", "add-layer", "--image", "{L}:t"],
    ],
    ids=lambda a: " ".join(a[3:]),
)
def test_errors_change_nothing(capsys: Capsys, tmp_path: Path, argv: list[str]) -> None:
    layout, _ = setup(tmp_path)
    before = layout_state(layout)
    fail(capsys, *[a.replace("{L}", str(layout)).replace("{T}", str(tmp_path)) for a in argv])
    assert layout_state(layout) == before
