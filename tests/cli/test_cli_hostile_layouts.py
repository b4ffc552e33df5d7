"""Layouts and bundles shaped by an attacker (or a crash): errors, never hangs or lost blobs.

Each verb runs as a subprocess with a timeout, so a hang fails the test
instead of the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from integritykit import problems
from multikit import blob_path, entry, put_json, set_index, snapshot, umoci_ok
from umoci.fs.rmtree import remove_tree


def umoci(*argv: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "umoci", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def image(tmp_path: Path) -> Path:
    layout = tmp_path / "layout"
    umoci_ok("init", "--layout", layout)
    umoci_ok("new", "--image", f"{layout}:a")
    (tmp_path / "src").write_text("content")
    umoci_ok("insert", "--image", f"{layout}:a", tmp_path / "src", "/file")
    return layout


def _fifo_in_place_of(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


@pytest.mark.parametrize("which", ["manifest", "config", "layer", "index.json", "oci-layout"])
def test_a_fifo_instead_of_a_file_is_refused_not_waited_on(
    image: Path, tmp_path: Path, which: str
) -> None:
    descriptor = entry(image, "a")
    manifest = json.loads(blob_path(image, descriptor["digest"]).read_bytes())
    target = {
        "manifest": blob_path(image, descriptor["digest"]),
        "config": blob_path(image, manifest["config"]["digest"]),
        "layer": blob_path(image, manifest["layers"][0]["digest"]),
        "index.json": image / "index.json",
        "oci-layout": image / "oci-layout",
    }[which]
    _fifo_in_place_of(target)
    bundle = tmp_path / "bundle"
    # The verbs that must open the file (the others may not need it at all).
    readers = {
        "manifest": ("stat", "unpack", "config", "gc"),
        "config": ("stat", "unpack", "config"),
        "layer": ("unpack",),
        "index.json": ("stat", "unpack", "config", "gc", "tag"),
        "oci-layout": ("stat", "unpack", "config", "gc", "tag"),
    }[which]
    for argv in (
        ["stat", "--image", f"{image}:a"],
        ["unpack", "--image", f"{image}:a", bundle],
        ["config", "--image", f"{image}:a", "--config.user", "x"],
        ["gc", "--grace", "0", "--layout", image],
        ["tag", "--image", f"{image}:a", "b"],
    ):
        if argv[0] not in readers:
            continue
        result = umoci(*argv, timeout=30)
        assert result.returncode == 1, (argv, result.stderr)
        assert result.stderr.count("\n") == 1, result.stderr
        if which not in ("index.json", "oci-layout"):
            assert "not a regular file" in result.stderr, result.stderr
        assert not bundle.exists()


def test_a_symlinked_blob_is_refused(image: Path, tmp_path: Path) -> None:
    descriptor = entry(image, "a")
    path = blob_path(image, descriptor["digest"])
    outside = tmp_path / "outside-manifest"
    outside.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(outside)
    result = umoci("stat", "--image", f"{image}:a")
    assert result.returncode == 1
    assert "is a symlink" in result.stderr


def _deep_tree(top: Path, depth: int) -> None:
    """*depth* nested directories below *top*, made fd-relative (deeper than PATH_MAX)."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i in range(depth):
            name = f"level-{i:05d}"
            os.mkdir(name, dir_fd=fd)
            if i % 500 == 0:
                os.close(os.open(f"file-{i}", os.O_CREAT | os.O_WRONLY, 0o600, dir_fd=fd))
            child = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        os.fchmod(fd, 0o500)  # read-only, as a rootless extraction may leave it
    finally:
        os.close(fd)


def test_gc_removes_a_5000_deep_stale_temp_dir(image: Path) -> None:
    stale = image / ".umoci-stale"
    stale.mkdir()
    _deep_tree(stale, 5000)
    result = umoci("gc", "--layout", image)
    assert result.returncode == 0, result.stderr
    assert not stale.exists()
    assert problems(image) == []


def test_remove_tree_copes_with_depth_and_permissions(tmp_path: Path) -> None:
    top = tmp_path / "t"
    top.mkdir()
    _deep_tree(top, 3000)
    (top / "locked").mkdir()
    (top / "locked" / "f").write_text("x")
    (top / "locked").chmod(0)
    (top / "link").symlink_to(tmp_path)
    remove_tree(str(top))
    assert not top.exists()
    assert tmp_path.exists()


def test_failed_unpack_of_a_tree_deeper_than_path_max_leaves_nothing(tmp_path: Path) -> None:
    from unpack.imagekit import T, build_tar, write_image

    entries = []
    name = ""
    for i in range(300):
        name = f"{name}/d{i:03d}{'x' * 16}".lstrip("/")
        entries.append(T.dir(name))
    entries.append(T.reg(f"{name}/file", b"deep"))
    image = write_image(tmp_path / "layout", [build_tar(entries)])
    bundle = tmp_path / "bundle"
    result = umoci("unpack", "--image", image.ref, bundle)
    if result.returncode == 0:  # the walk managed it: then the bundle is whole
        assert (bundle / "umoci.json").exists()
        return
    assert not bundle.exists(), "the half-extracted bundle was removed"
    assert result.stderr.count("\n") == 1
    assert len(result.stderr) < 600, "long paths are elided"
    assert "characters)..." in result.stderr


def test_gc_follows_descriptors_without_a_media_type(image: Path) -> None:
    descriptor = entry(image, "a")
    unlabelled = {k: v for k, v in descriptor.items() if k != "mediaType"}
    index = put_json(
        image,
        {"schemaVersion": 2, "manifests": [unlabelled]},
        "application/vnd.oci.image.index.v1+json",
    )
    wrapper = {k: v for k, v in index.items() if k != "mediaType"}
    wrapper["annotations"] = {"org.opencontainers.image.ref.name": "kept"}
    set_index(image, [wrapper])
    result = umoci("gc", "--grace", "0", "--layout", image)
    assert result.returncode == 0, result.stderr
    assert blob_path(image, index["digest"]).exists()
    # Labelled again, the image is whole: gc kept its manifest, config and layer.
    set_index(image, [descriptor])
    assert problems(image) == []


def test_repack_with_a_corrupt_index_json_writes_no_blob(image: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    umoci_ok("unpack", "--image", f"{image}:a", bundle)
    (bundle / "rootfs" / "new").write_text("new")
    (image / "index.json").write_text('{"schemaVersion": 2, "manifests": [{"digest": 5}]}')
    before = snapshot(image)
    result = umoci("repack", "--image", f"{image}:b", bundle)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert snapshot(image) == before, "no orphaned blob"


@pytest.mark.parametrize("link", ["blobs/sha256", "blobs"])
def test_gc_never_deletes_through_a_blob_dir_leading_outside(
    image: Path, tmp_path: Path, link: str
) -> None:
    # A planted link: blobs/sha256 -> ../../victim (or blobs -> ../pool), and
    # beside the image's blobs someone else's 64-hex-named files, unreachable.
    if link == "blobs/sha256":
        victim = tmp_path / "victim"
        (image / link).rename(victim)
        (image / link).symlink_to("../../victim")
    else:
        (image / link).rename(tmp_path / "pool")
        (image / link).symlink_to("../pool")
        victim = tmp_path / "pool" / "sha256"
    for i in range(3):
        (victim / (f"{i}" * 64)).write_text(f"not a blob {i}")
    victim_before, layout_before = snapshot(victim), snapshot(image)
    result = umoci("gc", "--grace", "0", "--layout", image, timeout=30)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"umoci: gc: {link}"), result.stderr
    assert "leads outside the layout" in result.stderr
    assert "nothing was deleted" in result.stderr
    assert snapshot(victim) == victim_before
    assert snapshot(image) == layout_before


@pytest.mark.parametrize(
    "argv",
    [
        ["new", "--image", "{layout}:b"],
        ["insert", "--image", "{layout}:a", "{src}", "/other"],
        ["config", "--image", "{layout}:a", "--config.user", "x"],
    ],
)
def test_no_blob_is_written_through_a_blob_dir_leading_outside(
    image: Path, tmp_path: Path, argv: list[str]
) -> None:
    victim = tmp_path / "victim"
    (image / "blobs" / "sha256").rename(victim)
    (image / "blobs" / "sha256").symlink_to(victim)
    victim_before, layout_before = snapshot(victim), snapshot(image)
    args = [a.format(layout=image, src=tmp_path / "src") for a in argv]
    result = umoci(*args, timeout=30)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "blobs/sha256 leads outside the layout" in result.stderr, result.stderr
    assert snapshot(victim) == victim_before
    assert snapshot(image) == layout_before


def _nest_in_index(layout: Path, depth: int) -> None:
    """An unknown index.json field holding *depth* nested arrays (Go reads 10000 levels)."""
    text = (layout / "index.json").read_text().rstrip()
    assert text.endswith("}")
    (layout / "index.json").write_text(text[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}")


@pytest.mark.parametrize("depth", [10, 70, 400, 900])
def test_deeply_nested_unknown_fields_are_read_by_every_verb(image: Path, depth: int) -> None:
    """Nesting the scanner reads must not overflow a walk after it (it crashed at ~330)."""
    _nest_in_index(image, depth)
    for argv in (
        ["ls", "--layout", image],
        ["stat", "--image", f"{image}:a"],
        ["validate", "--layout", image],
        ["gc", "--layout", image],
        ["copy", f"oci:{image}:a", f"oci-archive:{image.parent / 'out.tar'}:a"],
        ["config", "--image", f"{image}:a", "--config.user", "7"],
    ):
        result = umoci(*argv)
        assert result.returncode == 0, (argv, result.stderr)
    # A rewrite keeps an unknown field it can write back, up to 64 levels (Go keeps none).
    kept = json.loads((image / "index.json").read_text()).get("x")
    assert (kept is not None) == (depth < 64)


def test_nesting_beyond_the_scanner_is_one_line(image: Path) -> None:
    _nest_in_index(image, 5000)
    before = snapshot(image)
    for verb, argv in (("ls", ["--layout", image]), ("gc", ["--layout", image])):
        result = umoci(verb, *argv)
        assert result.returncode == 1
        assert result.stderr == f"umoci: {verb}: index.json: invalid JSON: nested too deeply\n"
    assert snapshot(image) == before
