"""``umoci repack`` flags: history, compression, the target tag, ``--refresh-bundle``.

Layer blobs are checked with the tools users have (GNU tar, ``zstd -dc``)
and with our own tarfile reader; history through ``umoci stat --json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from repackkit import (
    OCI_GZIP,
    OCI_TAR,
    OCI_ZSTD,
    SIZE_ANNOTATION,
    T,
    Unpacked,
    blob,
    config,
    fail,
    layers,
    manifest,
    ok,
    tags,
    tar_bytes,
    top_entries,
    uncompressed,
    write_image,
)

Capsys = pytest.CaptureFixture[str]

ONE_FILE = tar_bytes([T.dir("etc"), T.reg("etc/hostname", b"base\n")])


def stat_json(capsys: Capsys, layout: Path, tag: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(ok(capsys, "stat", "--json", "--image", f"{layout}:{tag}"))
    return result


def change(img: Unpacked, name: str = "etc/hostname", data: bytes = b"changed\n") -> None:
    (img.rootfs / name).write_bytes(data)


# -- history -----------------------------------------------------------------------------


def test_default_history_entry(
    capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    img = Unpacked.make(capsys, tmp_path)
    change(img)
    img.repack(capsys)
    history = stat_json(capsys, img.layout, "t")["history"]
    assert len(history) == 2
    entry = history[-1]
    assert entry["created_by"] == "umoci repack"
    assert entry["created"] == "2023-11-14T22:13:20Z"
    assert entry["diff_id"] == config(img.layout, "t")["rootfs"]["diff_ids"][-1]
    assert entry["layer"] == layers(img.layout, "t")[-1]
    assert not entry.get("empty_layer", False)


def test_history_flags_are_recorded(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    change(img)
    img.repack(
        capsys,
        "--history.author",
        "Jane <jane@example.com>",
        "--history.comment",
        "a comment: with colons",
        "--history.created",
        "2021-02-03T04:05:06.789+01:00",
        "--history.created_by",
        "make image",
    )
    entry = stat_json(capsys, img.layout, "t")["history"][-1]
    assert entry["author"] == "Jane <jane@example.com>"
    assert entry["comment"] == "a comment: with colons"
    assert entry["created"] == "2021-02-03T04:05:06.789+01:00"
    assert entry["created_by"] == "make image"
    assert config(img.layout, "t")["history"][-1]["created_by"] == "make image"


def test_no_history_adds_a_layer_but_no_entry(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    change(img)
    img.repack(capsys, "--no-history")
    cfg = config(img.layout, "t")
    assert len(cfg["rootfs"]["diff_ids"]) == 2
    assert [h["created_by"] for h in cfg["history"]] == ["base layer 0"]
    assert len(stat_json(capsys, img.layout, "t")["history"]) == 1


def test_no_history_with_history_flags_is_refused(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    change(img)
    before = (img.layout / "index.json").read_bytes()
    err = fail(
        capsys,
        "repack",
        "--no-history",
        "--history.comment",
        "x",
        "--image",
        img.layout,
        img.bundle,
    )
    assert "--no-history" in err
    assert (img.layout / "index.json").read_bytes() == before


def test_bad_history_created_is_refused(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    change(img)
    before = (img.layout / "index.json").read_bytes()
    err = fail(
        capsys, "repack", "--history.created", "yesterday", "--image", img.layout, img.bundle
    )
    assert "--history.created" in err
    assert (img.layout / "index.json").read_bytes() == before


# -- compression ---------------------------------------------------------------------------

MEDIA_TYPES = {"gzip": OCI_GZIP, "zstd": OCI_ZSTD, "none": OCI_TAR}


def gnu_tar_list(path: Path, media_type: str) -> list[str]:
    if media_type == OCI_ZSTD:
        tar = subprocess.run(
            f"zstd -dc {path} | tar -tf -", shell=True, capture_output=True, check=True
        )
    else:
        tar = subprocess.run(["tar", "-tf", path], capture_output=True, check=True)
    return tar.stdout.decode().splitlines()


@pytest.mark.parametrize("compress", ["gzip", "zstd", "none"])
def test_compress_media_types_readable_by_gnu_tar(
    capsys: Capsys, tmp_path: Path, compress: str
) -> None:
    img = Unpacked.make(capsys, tmp_path)
    change(img)
    (img.rootfs / "etc/new").write_bytes(b"new")
    img.repack(capsys, "--compress", compress)
    layer = layers(img.layout, "t")[-1]
    assert layer["mediaType"] == MEDIA_TYPES[compress]
    path = img.layout / "blobs/sha256" / layer["digest"].removeprefix("sha256:")
    assert gnu_tar_list(path, layer["mediaType"]) == ["etc/", "etc/hostname", "etc/new"]
    tar = uncompressed(img.layout, layer)
    assert layer["annotations"] == {SIZE_ANNOTATION: str(len(tar))}
    assert layer["size"] == len(blob(img.layout, layer["digest"]))
    assert config(img.layout, "t")["rootfs"]["diff_ids"][-1] == (
        "sha256:" + hashlib.sha256(tar).hexdigest()
    )


@pytest.mark.parametrize(
    ("lower", "expected"),
    [
        ([OCI_GZIP], OCI_GZIP),
        ([OCI_ZSTD], OCI_ZSTD),
        ([OCI_TAR], OCI_GZIP),
        ([], OCI_GZIP),
        ([OCI_ZSTD, OCI_TAR], OCI_ZSTD),
        ([OCI_GZIP, OCI_ZSTD], OCI_ZSTD),
        ([OCI_ZSTD, OCI_GZIP, OCI_TAR], OCI_GZIP),
    ],
    ids=lambda v: "+".join(t.rpartition(".")[2] for t in v) if isinstance(v, list) else "",
)
def test_auto_compress_follows_the_last_compressed_layer(
    capsys: Capsys, tmp_path: Path, lower: list[str], expected: str
) -> None:
    stack = [(tar_bytes([T.reg(f"layer{i}", b"x")]), mt) for i, mt in enumerate(lower)]
    img = Unpacked.make(capsys, tmp_path, layers=stack)
    (img.rootfs / "new").write_bytes(b"n")
    img.repack(capsys)  # --compress auto is the default
    assert layers(img.layout, "t")[-1]["mediaType"] == expected
    (img.rootfs / "new").write_bytes(b"nn")
    img.repack(capsys, "--compress", "auto", tag="explicit")
    assert layers(img.layout, "explicit")[-1]["mediaType"] == expected


def test_auto_after_a_zstd_repack_picks_zstd(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    change(img, data=b"1")
    img.repack(capsys, "--compress", "zstd", "--refresh-bundle")
    change(img, data=b"2")
    img.repack(capsys, "--refresh-bundle")
    assert [layer["mediaType"] for layer in layers(img.layout, "t")] == [
        OCI_GZIP,
        OCI_ZSTD,
        OCI_ZSTD,
    ]
    assert [e.data for e in top_entries(img.layout, "t")] == [b"2"]


def test_unknown_compress_value_is_refused(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    change(img)
    before = (img.layout / "index.json").read_bytes()
    err = fail(capsys, "repack", "--compress", "lz4", "--image", img.layout, img.bundle)
    assert "lz4" in err
    assert (img.layout / "index.json").read_bytes() == before


# -- tags ------------------------------------------------------------------------------------


def test_default_tag_is_the_one_the_bundle_came_from(capsys: Capsys, tmp_path: Path) -> None:
    layout = tmp_path / "image"
    write_image(layout, "t")
    write_image(layout, "src", [(ONE_FILE, OCI_GZIP)])
    before = tags(layout)
    ok(capsys, "unpack", "--image", f"{layout}:src", tmp_path / "bundle")
    (tmp_path / "bundle/rootfs/etc/hostname").write_bytes(b"x")
    ok(capsys, "repack", "--image", layout, tmp_path / "bundle")
    after = tags(layout)
    assert after["t"] == before["t"]
    assert after["src"] != before["src"]
    assert len(layers(layout, "src")) == 2


def test_image_tag_names_the_new_manifest(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    write_image(img.layout, "other", [(ONE_FILE, OCI_GZIP)])
    ok(capsys, "tag", "--image", f"{img.layout}:t", "alias")
    before = tags(img.layout)
    change(img)
    img.repack(capsys, tag="v2")
    after = tags(img.layout)
    assert set(after) == {"t", "alias", "other", "v2"}
    assert {k: after[k] for k in before} == before
    assert len(layers(img.layout, "v2")) == 2
    assert manifest(img.layout, "v2")["layers"][0] == manifest(img.layout, "t")["layers"][0]
    # Replacing an existing tag moves only that tag.
    change(img, data=b"again")
    img.repack(capsys, tag="other")
    assert tags(img.layout)["t"] == before["t"]
    assert tags(img.layout)["v2"] == after["v2"]
    assert [e.data for e in top_entries(img.layout, "other")] == [b"again"]


def test_invalid_tag_is_refused(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    change(img)
    before = (img.layout / "index.json").read_bytes()
    fail(capsys, "repack", "--image", f"{img.layout}:bad tag", img.bundle)
    assert (img.layout / "index.json").read_bytes() == before


# -- --refresh-bundle -------------------------------------------------------------------------


def mtrees(bundle: Path) -> list[str]:
    return sorted(p.name for p in bundle.glob("*.mtree"))


def test_refresh_bundle_points_the_bundle_at_the_new_image(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    change(img, data=b"first")
    img.repack(capsys, "--refresh-bundle")
    digest = tags(img.layout)["t"]
    assert mtrees(img.bundle) == [f"{digest.replace(':', '_')}.mtree"]
    meta = json.loads((img.bundle / "umoci.json").read_text())
    assert meta["from_descriptor_path"]["descriptor_walk"][0]["digest"] == digest
    # The refreshed mtree describes the rootfs as it is now.
    ok(
        capsys,
        "raw",
        "mtree-validate",
        "--manifest",
        img.bundle / mtrees(img.bundle)[0],
        "--path",
        img.rootfs,
    )
    # Nothing changed since: no layer.
    before = layers(img.layout, "t")
    img.repack(capsys, "--refresh-bundle")
    assert layers(img.layout, "t") == before
    # A second change: a layer with that change only.
    (img.rootfs / "etc/motd").write_bytes(b"second")
    img.repack(capsys, "--refresh-bundle")
    assert len(layers(img.layout, "t")) == 3
    assert [(e.name, e.data) for e in top_entries(img.layout, "t")] == [("etc/motd", b"second")]
    assert mtrees(img.bundle) == [f"{tags(img.layout)['t'].replace(':', '_')}.mtree"]


def test_without_refresh_each_repack_starts_from_the_unpacked_image(
    capsys: Capsys, tmp_path: Path
) -> None:
    img = Unpacked.make(capsys, tmp_path)
    old_mtrees = mtrees(img.bundle)
    old_meta = (img.bundle / "umoci.json").read_bytes()
    change(img, data=b"first")
    img.repack(capsys)
    assert mtrees(img.bundle) == old_mtrees
    assert (img.bundle / "umoci.json").read_bytes() == old_meta
    (img.rootfs / "etc/motd").write_bytes(b"second")
    img.repack(capsys)
    # Still one layer on the base: both changes, relative to the unpacked image.
    assert len(layers(img.layout, "t")) == 2
    assert [(e.name, e.data) for e in top_entries(img.layout, "t")] == [
        ("etc/hostname", b"first"),
        ("etc/motd", b"second"),
    ]


def test_refresh_bundle_with_another_tag(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    base = tags(img.layout)["t"]
    change(img, data=b"first")
    img.repack(capsys, "--refresh-bundle", tag="next")
    assert tags(img.layout)["t"] == base
    (img.rootfs / "etc/motd").write_bytes(b"second")
    img.repack(capsys, "--refresh-bundle", tag="next")
    assert tags(img.layout)["t"] == base
    assert len(layers(img.layout, "next")) == 3
    assert [e.name for e in top_entries(img.layout, "next")] == ["etc/motd"]


def test_refresh_bundle_follows_the_new_tag(capsys: Capsys, tmp_path: Path) -> None:
    # After "repack --image L:next --refresh-bundle" the bundle stands for
    # "next": a later repack without a tag updates "next", not "t".
    img = Unpacked.make(capsys, tmp_path)
    before_t = tags(img.layout)["t"]
    (img.rootfs / "one").write_text("1")
    img.repack(capsys, "--refresh-bundle", tag="next")
    meta = json.loads((img.bundle / "umoci.json").read_text())
    walk = meta["from_descriptor_path"]["descriptor_walk"]
    assert walk[0]["annotations"]["org.opencontainers.image.ref.name"] == "next"
    root = os.stat(img.rootfs)
    (img.rootfs / "two").write_text("2")
    # The root's mtime as recorded: whether adding "two" moved it into the
    # next second must not decide whether "." joins the layer.
    os.utime(img.rootfs, ns=(root.st_atime_ns, root.st_mtime_ns))
    img.repack(capsys, tag="")
    assert tags(img.layout)["t"] == before_t
    assert [e.name for e in top_entries(img.layout, "next")] == ["two"]
