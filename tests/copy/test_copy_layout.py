"""``umoci copy oci:… oci:…``: layouts to layouts, the semantics build tools rely on."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from copykit import (
    REF_NAME,
    blob_path,
    copy_fails,
    entry,
    index_json,
    manifest,
    read_blob,
    tree,
    two_layer_image,
    umoci_ok,
)

from multikit import DOCKER_LIST, OCI_INDEX, attestation_for, put_json, three_platforms
from umoci import api
from umoci.cas import locks
from umoci.cas.dir import DirStore
from umoci.errors import InvalidArgumentError, LayoutError
from umoci.transport.base import CopyResult


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return two_layer_image(tmp_path, tmp_path / "src", "v1")


def test_copy_into_a_new_layout_keeps_every_digest(source: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    umoci_ok("copy", f"oci:{source}:v1", f"oci:{dest}:copied")
    assert entry(dest, "copied")["digest"] == entry(source, "v1")["digest"]
    for digest in (
        entry(source, "v1")["digest"],
        manifest(source, "v1")["config"]["digest"],
        *(layer["digest"] for layer in manifest(source, "v1")["layers"]),
    ):
        assert blob_path(dest, digest).read_bytes() == blob_path(source, digest).read_bytes()
    assert json.loads((dest / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    umoci_ok("validate", "--layout", dest)


def test_a_new_layout_needs_its_parent_directory(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As skopeo's oci: (and oci-archive:, here and there): no parents are made."""
    line = copy_fails(capsys, f"oci:{source}:v1", f"oci:{tmp_path / 'p1' / 'p2' / 'x'}:t")
    assert line.endswith(f"parent directory {tmp_path / 'p1' / 'p2'} does not exist"), line
    assert "No such file or directory" in copy_fails(
        capsys, f"oci:{source}:v1", f"oci-archive:{tmp_path / 'p1' / 'x.tar'}:t"
    )
    assert not (tmp_path / "p1").exists()


def test_retag_replaces_the_tag_and_leaves_no_untagged_manifest(
    source: Path, tmp_path: Path
) -> None:
    """stacker's oci:A:t -> oci:B:t2, without the untagged leftovers it prunes by hand."""
    dest = tmp_path / "dest"
    two_layer_image(tmp_path, dest, "t2")  # another image under the same tag
    old = entry(dest, "t2")["digest"]
    umoci_ok("copy", f"oci:{source}:v1", f"oci:{dest}:t2")
    manifests = index_json(dest)["manifests"]
    assert [m["digest"] for m in manifests] == [entry(source, "v1")["digest"]]
    assert manifests[0]["annotations"] == {REF_NAME: "t2"}
    assert old not in {m["digest"] for m in manifests}


def test_copy_within_one_layout_is_a_tag(source: Path) -> None:
    before = sorted(os.listdir(source / "blobs" / "sha256"))
    umoci_ok("copy", f"oci:{source}:v1", f"oci:{source}:v2")
    assert entry(source, "v2")["digest"] == entry(source, "v1")["digest"]
    assert sorted(os.listdir(source / "blobs" / "sha256")) == before


def test_blobs_already_present_are_not_written_again(source: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    umoci_ok("copy", f"oci:{source}:v1", f"oci:{dest}:a")
    layer = manifest(dest, "a")["layers"][0]["digest"]
    inode = blob_path(dest, layer).stat().st_ino
    umoci_ok("copy", f"oci:{source}:v1", f"oci:{dest}:b")
    assert blob_path(dest, layer).stat().st_ino == inode  # not replaced by a new file


def test_additional_tags_and_untagged_destinations(source: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    umoci_ok(
        "copy",
        "--additional-tag",
        "x",
        "--additional-tag",
        "y",
        f"oci:{source}:v1",
        f"oci:{dest}:w",
    )
    digest = entry(source, "v1")["digest"]
    assert {entry(dest, tag)["digest"] for tag in ("w", "x", "y")} == {digest}
    bare = tmp_path / "bare"
    umoci_ok("copy", f"oci:{source}:v1", f"oci:{bare}")
    umoci_ok("copy", f"oci:{source}:v1", f"oci:{bare}")  # no second untagged entry
    assert [(m["digest"], "annotations" in m) for m in index_json(bare)["manifests"]] == [
        (digest, False)
    ]


def test_sources_by_digest_by_entry_and_alone(source: Path, tmp_path: Path) -> None:
    digest = entry(source, "v1")["digest"]
    umoci_ok("copy", f"oci:{source}:@{digest}", f"oci:{tmp_path / 'a'}:x")
    umoci_ok("copy", f"oci:{source}:@sha256:{digest[7:19]}", f"oci:{tmp_path / 'b'}:x")
    umoci_ok("copy", f"oci:{source}:@0", f"oci:{tmp_path / 'c'}:x")
    umoci_ok("copy", f"oci:{source}", f"oci:{tmp_path / 'd'}:x")  # the only image
    for name in "abcd":
        assert entry(tmp_path / name, "x")["digest"] == digest


def test_a_source_with_several_images_needs_a_name(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    umoci_ok("tag", "--image", f"{source}:v1", "other")
    line = copy_fails(capsys, f"oci:{source}", f"oci:{tmp_path / 'd'}:x")
    assert "holds 2 images" in line
    assert "tags: v1, other" in line
    assert "tag not found: nope" in copy_fails(capsys, f"oci:{source}:nope", f"oci:{tmp_path}/e:x")
    assert "no entry @5" in copy_fails(capsys, f"oci:{source}:@5", f"oci:{tmp_path}/e:x")
    assert not (tmp_path / "d").exists()
    assert not (tmp_path / "e").exists()


def test_destination_names_a_tag(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for bad in (f"oci:{tmp_path / 'd'}:@0", f"oci:{tmp_path / 'd'}:@sha256:0123456789ab"):
        assert "named by a tag" in copy_fails(capsys, f"oci:{source}:v1", bad)
    assert not (tmp_path / "d").exists()


def test_a_corrupt_blob_fails_and_leaves_the_destination_as_it_was(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first layer is good and the second is not: not even the good one stays behind."""
    dest = two_layer_image(tmp_path, tmp_path / "dest", "keep")
    layer = blob_path(source, manifest(source, "v1")["layers"][1]["digest"])
    data = bytearray(layer.read_bytes())
    data[len(data) // 2] ^= 0xFF
    layer.write_bytes(bytes(data))
    before = tree(dest)
    line = copy_fails(capsys, f"oci:{source}:v1", f"oci:{dest}:keep")
    assert "digest mismatch" in line
    assert tree(dest) == before
    # A layout the copy created is removed again.
    copy_fails(capsys, f"oci:{source}:v1", f"oci:{tmp_path / 'fresh'}:x")
    assert not (tmp_path / "fresh").exists()
    # And so are blobs staged in a shared blob directory.
    shared = tmp_path / "shared"
    copy_fails(capsys, "--dest-shared-blob-dir", shared, f"oci:{source}:v1", f"oci:{dest}:keep")
    assert tree(shared) == {}
    assert tree(dest) == before


def test_a_commit_that_fails_moves_no_blob_into_the_layout(
    source: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Blobs go into blobs/ only once index.json has been read under its lock, and go
    again if index.json cannot be written after all."""
    dest = two_layer_image(tmp_path, tmp_path / "dest", "keep")
    good_index = (dest / "index.json").read_bytes()
    (dest / "index.json").write_text('{"schemaVersion":2,"manifests":[],"mediaType":5}')
    before = tree(dest)
    assert "index.json" in copy_fails(capsys, f"oci:{source}:v1", f"oci:{dest}:v1")
    assert tree(dest) == before
    (dest / "index.json").write_bytes(good_index)
    before = tree(dest)
    monkeypatch.setattr(locks, "TIMEOUT", 0.1)
    holder = os.open(dest / "oci-layout", os.O_RDONLY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        line = copy_fails(capsys, f"oci:{source}:v1", f"oci:{dest}:v1")
    finally:
        os.close(holder)
    assert "another umoci still holds it" in line
    assert tree(dest) == before

    def disk_full(self: DirStore, index: object) -> None:
        raise LayoutError(f"write index.json in {self.path}: No space left on device")

    monkeypatch.setattr(DirStore, "write_index", disk_full)
    line = copy_fails(capsys, f"oci:{source}:v1", f"oci:{dest}:v1")
    assert line.endswith("No space left on device")
    assert tree(dest) == before


def test_shared_blob_directories(source: Path, tmp_path: Path) -> None:
    """LXC's --dest-shared-blob-dir: blobs in DIR/sha256, the layout keeps only index.json."""
    shared = tmp_path / "shared"
    dest = tmp_path / "dest"
    umoci_ok("copy", "--dest-shared-blob-dir", shared, f"oci:{source}:v1", f"oci:{dest}:x")
    digest = entry(dest, "x")["digest"]
    assert os.listdir(dest / "blobs" / "sha256") == []
    assert (shared / "sha256" / digest[7:]).is_file()
    back = tmp_path / "back"
    umoci_ok("copy", "--src-shared-blob-dir", shared, f"oci:{dest}:x", f"oci:{back}:y")
    plain = tmp_path / "plain"
    umoci_ok("copy", f"oci:{source}:v1", f"oci:{plain}:y")
    assert tree(back / "blobs") == tree(plain / "blobs")
    assert tree(shared / "sha256") == tree(plain / "blobs" / "sha256")


def test_a_shared_blob_directory_is_synced_before_index_json_names_its_blobs(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync = os.fsync
    real_replace = os.replace

    def fsync(fd: int) -> None:
        events.append(f"fsync {os.readlink(f'/proc/self/fd/{fd}')}")
        real_fsync(fd)

    def replace(src: str, dst: str, **kwargs: int | None) -> None:
        events.append(f"replace {dst}")
        real_replace(src, dst, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    shared = tmp_path / "shared"
    dest = tmp_path / "dest"
    umoci_ok("copy", "--dest-shared-blob-dir", shared, f"oci:{source}:v1", f"oci:{dest}:x")
    last_index = max(i for i, event in enumerate(events) if event == f"replace {dest}/index.json")
    synced = [i for i, event in enumerate(events) if event == f"fsync {shared}/sha256"]
    blobs_moved = [
        i for i, event in enumerate(events) if re.fullmatch("replace [0-9a-f]{64}", event)
    ]
    assert synced, events
    assert len(blobs_moved) == 4  # config, two layers, manifest
    assert blobs_moved[-1] < synced[-1] < last_index


class _CountingHasher:
    """A hash object that records, when asked for its digest, what it hashed."""

    def __init__(self, inner: Any, log: list[str]) -> None:
        self._inner = inner
        self._log = log
        self.name = inner.name

    def update(self, data: bytes | bytearray | memoryview, /) -> None:
        self._inner.update(data)

    def hexdigest(self) -> str:
        value: str = self._inner.hexdigest()
        self._log.append(value)
        return value


@pytest.mark.parametrize("compress", [None, "zstd"])
def test_each_layer_written_into_a_layout_is_hashed_once(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compress: str | None
) -> None:
    """The source's verified digest names the copy; a converted layer is hashed as it is made."""
    from umoci.oci import digest as digests

    hashed: list[str] = []
    real_hasher = digests.hasher
    monkeypatch.setattr(
        digests, "hasher", lambda *a, **k: _CountingHasher(real_hasher(*a, **k), hashed)
    )
    dest = tmp_path / "dest"
    how = ["--dest-compress-format", compress] if compress else []
    umoci_ok("copy", *how, f"oci:{source}:v1", f"oci:{dest}:x")
    layers = [layer["digest"].partition(":")[2] for layer in manifest(dest, "x")["layers"]]
    assert [hashed.count(layer) for layer in layers] == [1, 1]


def test_what_root_adds_to_a_shared_blob_directory_is_its_owners(
    source: Path, tmp_path: Path
) -> None:
    """As in a layout: ``sudo umoci copy`` leaves no root-owned entries in a user's directory."""
    owner = (65534, 65534) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chown(shared, *owner)
    umoci_ok(
        "copy", "--dest-shared-blob-dir", shared, f"oci:{source}:v1", f"oci:{tmp_path / 'd'}:x"
    )
    owners = {(p.stat().st_uid, p.stat().st_gid) for p in [shared, *shared.rglob("*")]}
    assert owners == {owner}


def test_all_platforms_and_one_platform(tmp_path: Path) -> None:
    multi = three_platforms(tmp_path)
    whole = tmp_path / "whole"
    umoci_ok("copy", "--all", f"oci:{multi}:multi", f"oci:{whole}:m")
    top = entry(whole, "m")["digest"]
    assert top == entry(multi, "multi")["digest"]
    assert len(read_blob(whole, top)["manifests"]) == 3
    one = tmp_path / "one"
    umoci_ok("copy", "--platform", "linux/arm64", f"oci:{multi}:multi", f"oci:{one}:m")
    assert entry(one, "m")["digest"] == entry(multi, "arm64")["digest"]
    skopeo_style = tmp_path / "skopeo-style"
    umoci_ok(
        "copy",
        "--override-arch",
        "s390x",
        "--override-os",
        "linux",
        f"oci:{multi}:multi",
        f"oci:{skopeo_style}:m",
    )
    assert entry(skopeo_style, "m")["digest"] == entry(multi, "s390x")["digest"]


def test_unknown_platform_names_the_offers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    multi = three_platforms(tmp_path)
    line = copy_fails(
        capsys, "--platform", "linux/riscv64", f"oci:{multi}:multi", f"oci:{tmp_path / 'd'}:x"
    )
    assert "the index offers linux/amd64, linux/arm64, linux/s390x" in line
    assert not (tmp_path / "d").exists()


def test_recompress_keeps_diff_ids(source: Path, tmp_path: Path) -> None:
    dest = tmp_path / "zstd"
    umoci_ok("copy", "--dest-compress-format", "zstd", f"oci:{source}:v1", f"oci:{dest}:z")
    layers = manifest(dest, "z")["layers"]
    assert {layer["mediaType"] for layer in layers} == {
        "application/vnd.oci.image.layer.v1.tar+zstd"
    }
    assert manifest(dest, "z")["config"] == manifest(source, "v1")["config"]
    umoci_ok("validate", "--image", f"{dest}:z")  # every layer hashed against its diff_id
    bundle = tmp_path / "bundle"
    umoci_ok("unpack", "--image", f"{dest}:z", bundle)
    assert (bundle / "rootfs" / "etc" / "hello").read_text() == "hello from v1\n"


def test_bad_options(source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = f"oci:{tmp_path / 'd'}:x"
    assert "invalid --dest-compress-format 'lz4'" in copy_fails(
        capsys, "--dest-compress-format", "lz4", f"oci:{source}:v1", dest
    )
    assert "conflict" in copy_fails(
        capsys, "--platform", "linux/amd64", "--override-arch", "arm64", f"oci:{source}:v1", dest
    )
    assert "invalid number of positional arguments" in copy_fails(capsys, f"oci:{source}:v1")
    assert "--additional-tag" in copy_fails(
        capsys, "--additional-tag", "bad tag", f"oci:{source}:v1", dest
    )
    assert "--src-shared-blob-dir applies to oci: names only" in copy_fails(
        capsys, "--src-shared-blob-dir", tmp_path, "oci-archive:x.tar", dest
    )
    assert not (tmp_path / "d").exists()


def test_python_api(source: Path, tmp_path: Path) -> None:
    digest = api.copy(f"oci:{source}:v1", f"oci:{tmp_path / 'a'}:x", additional_tags=["y"])
    assert digest == entry(source, "v1")["digest"]
    layout = api.Layout.init(tmp_path / "b")
    image = layout.import_image(f"oci:{source}:v1", "imported")
    assert (
        image.stat().manifest.layers == api.Layout.open(source).image("v1").stat().manifest.layers
    )
    assert image.export(f"oci:{tmp_path / 'c'}:exported") == digest
    with pytest.raises(InvalidArgumentError, match="additional_tags"):
        api.copy(f"oci:{source}:v1", f"oci:{tmp_path / 'a'}:x", additional_tags="y")  # type: ignore[arg-type]
    # Compression is an enum, as everywhere in the API; AUTO means nothing to a copy.
    with pytest.raises(InvalidArgumentError, match=r"compress: want Compression \| None, got str"):
        image.export(f"oci:{tmp_path / 'd'}:z", compress="zstd")  # type: ignore[arg-type]
    with pytest.raises(api.UsageError, match="not AUTO"):
        image.export(f"oci:{tmp_path / 'd'}:z", compress=api.Compression.AUTO)
    assert not (tmp_path / "d").exists()
    zstd = layout.import_image(f"oci:{source}:v1", "zstd", compress=api.Compression.ZSTD)
    layers = zstd.stat().manifest.layers
    assert {layer.media_type for layer in layers} == {"application/vnd.oci.image.layer.v1.tar+zstd"}


def test_an_empty_directory_becomes_a_layout(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As with skopeo, ``mkdir D; copy ... oci:D:t`` works; a failed copy leaves D empty."""
    empty = tmp_path / "empty"
    empty.mkdir()
    umoci_ok("copy", f"oci:{source}:v1", f"oci:{empty}:x")
    assert entry(empty, "x")["digest"] == entry(source, "v1")["digest"]
    again = tmp_path / "again"
    again.mkdir()
    copy_fails(capsys, f"oci:{source}:nope", f"oci:{again}:x")
    layer = blob_path(source, manifest(source, "v1")["layers"][0]["digest"])
    layer.write_bytes(b"broken")
    copy_fails(capsys, f"oci:{source}:v1", f"oci:{again}:x")
    assert again.is_dir()
    assert list(again.iterdir()) == []
    full = tmp_path / "full"
    full.mkdir()
    (full / "file").write_text("mine")
    assert "not an OCI layout" in copy_fails(capsys, f"oci:{tmp_path / 'empty'}:x", f"oci:{full}:x")
    assert tree(full) == {"file": b"mine"}


def test_an_existing_empty_directory_stays_the_same_directory(
    source: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The layout is made inside it: owner, mode and inode stay (it may be a mount point)."""
    broken = tmp_path / "broken"
    umoci_ok("copy", f"oci:{source}:v1", f"oci:{broken}:v1")
    blob_path(broken, manifest(broken, "v1")["layers"][1]["digest"]).write_bytes(b"broken")
    empty = tmp_path / "empty"
    empty.mkdir()
    os.chmod(empty, 0o2770)
    if os.geteuid() == 0:
        os.chown(empty, 65534, 65534)

    def identity(path: Path) -> tuple[int, int, int, int]:
        st = path.stat()
        return st.st_ino, st.st_mode, st.st_uid, st.st_gid

    before = identity(empty)
    assert "digest mismatch" in copy_fails(capsys, f"oci:{broken}:v1", f"oci:{empty}:x")
    assert identity(empty) == before
    assert list(empty.iterdir()) == []
    umoci_ok("copy", f"oci:{source}:v1", f"oci:{empty}:x")
    assert identity(empty) == before
    assert entry(empty, "x")["digest"] == entry(source, "v1")["digest"]
    if os.geteuid() == 0:  # what root makes in a user's layout is the user's
        assert (empty / "index.json").stat().st_uid == 65534
    # The current directory cannot be removed and made again at all.
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    umoci_ok("copy", f"oci:{source}:v1", "oci:.:x")
    assert entry(here, "x")["digest"] == entry(source, "v1")["digest"]


def test_recompressing_a_whole_index_rewrites_it(tmp_path: Path) -> None:
    """--all with --dest-compress-format: new manifests, and new indexes above them only.

    An attestation (its layer is no image layer) is copied as it is; a Docker
    manifest list whose children became OCI manifests becomes an OCI index.
    """
    multi = three_platforms(tmp_path)
    top = entry(multi, "multi")
    children = read_blob(multi, top["digest"])["manifests"]
    attestation = attestation_for(multi, children[0]["digest"])
    docker_list = {
        "schemaVersion": 2,
        "mediaType": DOCKER_LIST,
        "manifests": [*children, attestation],
    }
    listed = put_json(multi, docker_list, DOCKER_LIST)
    index = index_json(multi)
    index["manifests"].append({**listed, "annotations": {REF_NAME: "list"}})
    (multi / "index.json").write_text(json.dumps(index))
    dest = tmp_path / "dest"
    umoci_ok(
        "copy", "--all", "--dest-compress-format", "zstd", f"oci:{multi}:list", f"oci:{dest}:l"
    )
    copied = entry(dest, "l")
    assert copied["mediaType"] == OCI_INDEX
    document = read_blob(dest, copied["digest"])
    assert document["mediaType"] == OCI_INDEX
    new_children = document["manifests"]
    assert [c["digest"] for c in new_children[:3]] != [c["digest"] for c in children]
    assert new_children[3] == attestation  # not an image: kept byte for byte
    for child in new_children[:3]:
        layers = read_blob(dest, child["digest"])["layers"]
        assert {layer["mediaType"] for layer in layers} == {
            "application/vnd.oci.image.layer.v1.tar+zstd"
        }
    umoci_ok("validate", "--layout", dest)
    # An index document need not repeat its media type: the descriptor's stands.
    bare = put_json(multi, {"schemaVersion": 2, "manifests": children}, OCI_INDEX)
    index["manifests"].append({**bare, "annotations": {REF_NAME: "bare"}})
    (multi / "index.json").write_text(json.dumps(index))
    umoci_ok(
        "copy", "--all", "--dest-compress-format", "zstd", f"oci:{multi}:bare", f"oci:{dest}:b"
    )
    assert entry(dest, "b")["mediaType"] == OCI_INDEX
    umoci_ok("validate", "--layout", dest)


def test_blobs_waiting_for_the_commit_hold_no_open_file(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each blob is synced and closed once complete, so any number can wait for index.json.

    (They held a file open each, and past 512 were committed early: a copy
    that failed after that left them behind.)
    """
    from umoci.transport.layout import LayoutDestination

    open_blob_files: list[str] = []
    real_commit = LayoutDestination.commit

    def commit(self: LayoutDestination, result: CopyResult) -> None:
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):  # the listing's own fd is gone
                target = os.readlink(f"/proc/self/fd/{fd}")
                if "/.umoci-" in target and "/blob-" in target:
                    open_blob_files.append(target)
        real_commit(self, result)

    monkeypatch.setattr(LayoutDestination, "commit", commit)
    dest = tmp_path / "dest"
    umoci_ok("copy", "--dest-compress-format", "zstd", f"oci:{source}:v1", f"oci:{dest}:x")
    assert open_blob_files == []
    assert len(manifest(dest, "x")["layers"]) == 2
    umoci_ok("validate", "--layout", dest)
