"""``umoci insert``: files, trees, ``--opaque``, ``--whiteout``, tags, history, owners."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from repackkit import (
    OCI_GZIP,
    OCI_TAR,
    OCI_ZSTD,
    SIZE_ANNOTATION,
    Rec,
    T,
    by_name,
    config,
    fail,
    layer_entries,
    layers,
    layout_state,
    ok,
    tags,
    tar_bytes,
    top_entries,
    uncompressed,
    write_image,
)

Capsys = pytest.CaptureFixture[str]


def strip(entries: list[Rec]) -> list[Rec]:
    """Entries without mtimes, in archive order."""
    return [
        Rec(e.name, e.type, e.mode, e.uid, e.gid, e.data, e.link, e.xattrs, e.dev) for e in entries
    ]


def base(tmp_path: Path) -> Path:
    layout = tmp_path / "image"
    write_image(layout, "t")
    return layout


def source_tree(root: Path) -> Path:
    (root / "sub/deeper").mkdir(parents=True)
    (root / "a").write_bytes(b"a")
    os.chmod(root / "a", 0o600)
    os.link(root / "a", root / "a-link")
    (root / "l").symlink_to("a")
    (root / "sub/b").write_bytes(b"b")
    (root / "sub/deeper/c").write_bytes(b"c")
    os.chmod(root / "sub", 0o750)
    return root


def unpacked(capsys: Capsys, layout: Path, tag: str, where: Path) -> Path:
    ok(capsys, "unpack", "--image", f"{layout}:{tag}", where)
    return where / "rootfs"


def test_insert_a_file(capsys: Capsys, tmp_path: Path) -> None:
    layout = base(tmp_path)
    src = tmp_path / "tool"
    src.write_bytes(b"#!/bin/sh\necho hi\n")
    os.chmod(src, 0o750)
    ok(capsys, "insert", "--image", f"{layout}:t", src, "/usr/local/bin/tool")
    assert strip(top_entries(layout, "t")) == [
        Rec("usr/local/bin/tool", "file", 0o750, data=b"#!/bin/sh\necho hi\n")
    ]
    rootfs = unpacked(capsys, layout, "t", tmp_path / "b")
    assert (rootfs / "usr/local/bin/tool").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert (rootfs / "etc/hostname").read_bytes() == b"base\n"


def test_insert_a_file_over_an_existing_one(capsys: Capsys, tmp_path: Path) -> None:
    layout = base(tmp_path)
    src = tmp_path / "hostname"
    src.write_bytes(b"inserted\n")
    ok(capsys, "insert", "--image", f"{layout}:t", src, "etc/hostname")
    assert [e.name for e in top_entries(layout, "t")] == ["etc/hostname"]
    rootfs = unpacked(capsys, layout, "t", tmp_path / "b")
    assert (rootfs / "etc/hostname").read_bytes() == b"inserted\n"


def test_insert_a_directory(capsys: Capsys, tmp_path: Path) -> None:
    layout = base(tmp_path)
    src = source_tree(tmp_path / "src")
    ok(capsys, "insert", "--image", f"{layout}:t", src, "/opt/new")
    assert strip(top_entries(layout, "t")) == [
        Rec("opt/new/", "dir", 0o755),
        Rec("opt/new/a", "file", 0o600, data=b"a"),
        Rec("opt/new/a-link", "hardlink", 0o600, link="opt/new/a"),
        Rec("opt/new/l", "symlink", 0o777, link="a"),
        Rec("opt/new/sub/", "dir", 0o750),
        Rec("opt/new/sub/b", "file", data=b"b"),
        Rec("opt/new/sub/deeper/", "dir", 0o755),
        Rec("opt/new/sub/deeper/c", "file", data=b"c"),
    ]
    rootfs = unpacked(capsys, layout, "t", tmp_path / "b")
    assert os.path.samefile(rootfs / "opt/new/a", rootfs / "opt/new/a-link")
    # Merged with what the lower layers had there.
    assert sorted(os.listdir(rootfs / "opt")) == ["new", "tree"]


def test_insert_directory_merges_unless_opaque(capsys: Capsys, tmp_path: Path) -> None:
    layout = base(tmp_path)
    src = tmp_path / "src"
    src.mkdir()
    (src / "x").write_bytes(b"replaced x")
    (src / "added").write_bytes(b"added")
    ok(capsys, "insert", "--image", f"{layout}:t", "--tag", "merged", src, "/opt/tree")
    merged = unpacked(capsys, layout, "merged", tmp_path / "m")
    assert sorted(os.listdir(merged / "opt/tree")) == ["a", "added", "x"]
    ok(capsys, "insert", "--opaque", "--image", f"{layout}:t", "--tag", "opaque", src, "/opt/tree")
    assert [e.name for e in top_entries(layout, "opaque")] == [
        "opt/tree/.wh..wh..opq",
        "opt/tree/",
        "opt/tree/added",
        "opt/tree/x",
    ]
    opaque = unpacked(capsys, layout, "opaque", tmp_path / "o")
    assert sorted(os.listdir(opaque / "opt/tree")) == ["added", "x"]
    assert (opaque / "opt/tree/x").read_bytes() == b"replaced x"
    assert sorted(os.listdir(opaque / "opt")) == ["tree"]


def test_whiteout_deletes_a_path(capsys: Capsys, tmp_path: Path) -> None:
    layout = base(tmp_path)
    ok(capsys, "insert", "--whiteout", "--image", f"{layout}:t", "/etc/motd")
    ok(capsys, "insert", "--whiteout", "--image", f"{layout}:t", "/opt/tree")
    assert strip(top_entries(layout, "t")) == [Rec("opt/.wh.tree", "file", 0, data=b"")]
    assert [e.name for e in layer_entries(layout, layers(layout, "t")[-2])] == ["etc/.wh.motd"]
    rootfs = unpacked(capsys, layout, "t", tmp_path / "b")
    assert not (rootfs / "etc/motd").exists()
    assert os.listdir(rootfs / "opt") == []
    assert (rootfs / "etc/hostname").exists()


def test_tag_leaves_the_source_tag_alone(capsys: Capsys, tmp_path: Path) -> None:
    layout = base(tmp_path)
    before = tags(layout)
    src = tmp_path / "f"
    src.write_bytes(b"f")
    ok(capsys, "insert", "--image", f"{layout}:t", "--tag", "new", src, "/f")
    after = tags(layout)
    assert after["t"] == before["t"]
    assert set(after) == {"t", "new"}
    assert len(layers(layout, "new")) == 2
    assert layers(layout, "new")[0] == layers(layout, "t")[0]


def stat_history(capsys: Capsys, layout: Path, tag: str) -> list[dict[str, Any]]:
    history: list[dict[str, Any]] = json.loads(
        ok(capsys, "stat", "--json", "--image", f"{layout}:{tag}")
    )["history"]
    return history


def test_history(capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    layout = base(tmp_path)
    src = tmp_path / "f"
    src.write_bytes(b"f")
    ok(capsys, "insert", "--image", f"{layout}:t", "--tag", "default", src, "/f")
    entry = stat_history(capsys, layout, "default")[-1]
    assert entry["created_by"] == "umoci insert"
    assert entry["created"] == "2023-11-14T22:13:20Z"
    assert "author" not in entry
    ok(
        capsys,
        "insert",
        "--history.author",
        "A <a@b>",
        "--history.comment",
        "why",
        "--history.created",
        "2000-01-01T00:00:00Z",
        "--history.created_by",
        "script",
        "--image",
        f"{layout}:t",
        "--tag",
        "flags",
        src,
        "/f",
    )
    entry = stat_history(capsys, layout, "flags")[-1]
    assert (entry["author"], entry["comment"], entry["created"], entry["created_by"]) == (
        "A <a@b>",
        "why",
        "2000-01-01T00:00:00Z",
        "script",
    )
    ok(capsys, "insert", "--no-history", "--image", f"{layout}:t", "--tag", "none", src, "/f")
    assert len(stat_history(capsys, layout, "none")) == 1
    assert len(config(layout, "none")["rootfs"]["diff_ids"]) == 2


@pytest.mark.parametrize(
    ("compress", "lower", "expected"),
    [
        ("gzip", OCI_ZSTD, OCI_GZIP),
        ("zstd", OCI_GZIP, OCI_ZSTD),
        ("none", OCI_GZIP, OCI_TAR),
        ("auto", OCI_ZSTD, OCI_ZSTD),
        ("auto", OCI_TAR, OCI_GZIP),
    ],
)
def test_compress(capsys: Capsys, tmp_path: Path, compress: str, lower: str, expected: str) -> None:
    layout = tmp_path / "image"
    write_image(layout, "t", [(tar_bytes([T.reg("base", b"b")]), lower)])
    src = tmp_path / "f"
    src.write_bytes(b"inserted")
    ok(capsys, "insert", "--compress", compress, "--image", f"{layout}:t", src, "/f")
    layer = layers(layout, "t")[-1]
    assert layer["mediaType"] == expected
    assert layer["annotations"][SIZE_ANNOTATION] == str(len(uncompressed(layout, layer)))
    rootfs = unpacked(capsys, layout, "t", tmp_path / "b")
    assert (rootfs / "f").read_bytes() == b"inserted"


@pytest.mark.root
def test_uid_and_gid_maps(capsys: Capsys, tmp_path: Path) -> None:
    layout = base(tmp_path)
    src = source_tree(tmp_path / "src")
    for path in [src, *src.rglob("*")]:
        os.chown(path, 100000, 200000, follow_symlinks=False)
    os.chown(src / "sub/b", 100033, 200044)
    maps = ("--uid-map", "0:100000:65536", "--gid-map", "0:200000:65536")
    ok(capsys, "insert", *maps, "--image", f"{layout}:t", src, "/opt/new")
    owners = {e.name: (e.uid, e.gid) for e in top_entries(layout, "t")}
    assert owners.pop("opt/new/sub/b") == (33, 44)
    assert set(owners.values()) == {(0, 0)}
    # An owner outside the maps is an error, and the image stays as it was.
    os.chown(src / "a", 5, 5)
    before = layout_state(layout)
    err = fail(capsys, "insert", *maps, "--image", f"{layout}:t", src, "/opt/other")
    assert "not mapped" in err
    assert layout_state(layout) == before


@pytest.mark.root
def test_rootless_records_root_ownership(capsys: Capsys, tmp_path: Path) -> None:
    layout = base(tmp_path)
    src = source_tree(tmp_path / "src")
    for path in [src, *src.rglob("*")]:
        os.chown(path, 1234, 5678, follow_symlinks=False)
    ok(capsys, "insert", "--rootless", "--image", f"{layout}:t", src, "/opt/new")
    entries = top_entries(layout, "t")
    assert {(e.uid, e.gid) for e in entries} == {(0, 0)}
    assert by_name(entries)["opt/new/a"].mode == 0o600


@pytest.mark.parametrize(
    "argv",
    [
        ["insert", "--image", "{L}:t", "{T}/missing", "/x"],
        ["insert", "--image", "{L}:t", "{T}/file"],
        ["insert", "--image", "{L}:t", "--whiteout", "{T}/file", "/x"],
        ["insert", "--image", "{L}:t", "--whiteout", "--opaque", "/x"],
        ["insert", "--image", "{L}:t", "{T}/file", "/"],
        ["insert", "--image", "{L}:t", "{T}/file", "/../../etc/passwd"],
        ["insert", "--image", "{L}:missing", "{T}/file", "/x"],
        ["insert", "--image", "{L}:t", "--tag", "bad tag", "{T}/file", "/x"],
        ["insert", "--image", "{L}:t", "--compress", "brotli", "{T}/file", "/x"],
        ["insert", "--image", "{L}:t", "--uid-map", "nope", "{T}/file", "/x"],
    ],
    ids=lambda a: " ".join(a[3:]),
)
def test_errors_change_nothing(capsys: Capsys, tmp_path: Path, argv: list[str]) -> None:
    layout = base(tmp_path)
    (tmp_path / "file").write_bytes(b"f")
    before, blobs = layout_state(layout), sorted(os.listdir(layout / "blobs/sha256"))
    fail(capsys, *[a.replace("{L}", str(layout)).replace("{T}", str(tmp_path)) for a in argv])
    assert layout_state(layout) == before
    assert sorted(os.listdir(layout / "blobs/sha256")) == blobs
