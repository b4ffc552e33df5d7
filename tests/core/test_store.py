"""cas.dir and layout: verified reads, atomic writes, references, gc."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from conftest import snapshot
from umoci import ops
from umoci.cas import layoutcheck
from umoci.cas.dir import DirStore, open_layout
from umoci.cli.stat_json import stat_json as render_json
from umoci.cli.stat_text import stat_text as render_text
from umoci.errors import BlobInvalidError, BlobNotFoundError, LayoutError, RefNotFoundError
from umoci.layout import gc as gc_algorithm
from umoci.layout.refs import resolve
from umoci.oci import mediatypes
from umoci.oci.models import Descriptor


def put_raw(layout: Path, data: bytes) -> str:
    hexdigest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / hexdigest).write_bytes(data)
    return "sha256:" + hexdigest


def set_index(layout: Path, manifests: list[dict[str, object]]) -> None:
    doc = {"schemaVersion": 2, "mediaType": mediatypes.INDEX, "manifests": manifests}
    (layout / "index.json").write_text(json.dumps(doc))


def test_init_creates_valid_layout(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b"
    ops.init_layout(str(path))
    assert json.loads((path / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    assert (path / "blobs" / "sha256").is_dir()
    assert ops.list_tags(str(path)) == []
    assert not [p for p in os.listdir(path) if p.startswith(".umoci-")]


def test_init_refuses_existing_path(layout: Path) -> None:
    before = snapshot(layout)
    with pytest.raises(LayoutError, match="exists"):
        ops.init_layout(str(layout))
    assert snapshot(layout) == before


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: (p / "oci-layout").unlink(), "oci-layout"),
        (lambda p: (p / "oci-layout").write_text('{"imageLayoutVersion":"2.0.0"}'), "version"),
        (lambda p: (p / "oci-layout").write_text("garbage"), "JSON"),
        (lambda p: (p / "index.json").unlink(), "index.json"),
        (lambda p: (p / "index.json").write_text("[]"), "index.json"),
        (lambda p: (p / "index.json").write_text('{"schemaVersion":1}'), "schemaVersion"),
    ],
)
def test_open_refuses_broken_layouts(layout: Path, mutate: object, message: str) -> None:
    mutate(layout)  # type: ignore[operator]
    with pytest.raises(LayoutError, match=message):
        ops.list_tags(str(layout))


def test_blobs_dir_may_be_symlink_inside_the_layout(tmp_path: Path) -> None:
    layout = tmp_path / "img"
    ops.init_layout(str(layout))
    pool = layout / "pool"
    (layout / "blobs" / "sha256").rename(pool)
    (layout / "blobs" / "sha256").symlink_to("../pool")
    ops.new_image(str(layout), "t")
    assert ops.list_tags(str(layout)) == ["t"]
    assert "t" in render_text(ops.stat(str(layout), "t"))
    assert len(os.listdir(pool)) == 2
    put_raw(layout, b"stray")
    ops.gc(str(layout), grace=0)
    assert len(os.listdir(pool)) == 2, "gc sweeps through a link that stays inside"


@pytest.mark.parametrize("link", ["blobs", "blobs/sha256"])
def test_a_blob_pool_outside_the_layout_is_read_never_written(tmp_path: Path, link: str) -> None:
    layout = tmp_path / "img"
    ops.init_layout(str(layout))
    ops.new_image(str(layout), "t")
    pool = tmp_path / "pool"
    (layout / link).rename(pool)
    (layout / link).symlink_to(pool)
    assert "t" in render_text(ops.stat(str(layout), "t")), "reads follow the link"
    pool_before, layout_before = snapshot(pool), snapshot(layout)
    for write in (
        lambda: ops.new_image(str(layout), "u"),
        lambda: ops.gc(str(layout), grace=0),
    ):
        with pytest.raises(LayoutError, match=f"^{link}(/sha256)? leads outside the layout"):
            write()
        assert snapshot(pool) == pool_before
        assert snapshot(layout) == layout_before


def test_a_blob_dir_swapped_for_a_link_after_the_check_is_not_followed(
    layout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The check resolves the path first; the open must not trust that answer.
    victim = tmp_path / "victim"
    (layout / "blobs" / "sha256").rename(victim)
    (layout / "blobs" / "sha256").symlink_to(victim)
    monkeypatch.setattr(layoutcheck.os.path, "realpath", os.path.abspath)
    # O_NOFOLLOW | O_DIRECTORY on a link: ENOTDIR (or ELOOP).
    with pytest.raises(OSError, match=r"Not a directory|Too many levels of symbolic links"):
        layoutcheck.open_dir_inside(str(layout), "blobs/sha256")


def test_a_missing_blob_dir_is_made_inside_the_layout(layout: Path) -> None:
    (layout / "blobs" / "sha256").rmdir()
    ops.new_image(str(layout), "t")
    assert len(os.listdir(layout / "blobs" / "sha256")) == 2
    assert "t" in render_text(ops.stat(str(layout), "t"))


def test_gc_removes_an_unreachable_blob_link_not_its_target(layout: Path, tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_bytes(b"keep")
    link = layout / "blobs" / "sha256" / hashlib.sha256(b"keep").hexdigest()
    link.symlink_to(target)
    ops.gc(str(layout), grace=0)
    assert not link.is_symlink()
    assert target.read_bytes() == b"keep"


def test_verified_reads(layout: Path) -> None:
    digest = put_raw(layout, b"hello world")
    with open_layout(str(layout)) as store:
        ok = Descriptor("x", digest, 11)
        assert store.read_blob(ok) == b"hello world"
        # The digest of what was read is judged first (as the Go umoci): the
        # first 5 bytes do not hash to it; all 11 do, and then the blob ends early.
        with pytest.raises(BlobInvalidError, match="verified reader digest mismatch"):
            store.read_blob(Descriptor("x", digest, 5))
        with pytest.raises(BlobInvalidError, match="verified reader size mismatch: got 11 bytes"):
            store.read_blob(Descriptor("x", digest, 12))
        with pytest.raises(BlobNotFoundError):
            store.read_blob(Descriptor("x", "sha256:" + "0" * 64, 1))
        # Content that does not hash to its name.
        (layout / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(b"hello WORLD")
        with pytest.raises(BlobInvalidError, match="verified reader digest mismatch"):
            store.read_blob(ok)


def test_streaming_read_stops_at_descriptor_size(layout: Path) -> None:
    data = os.urandom(3 << 20)
    digest = put_raw(layout, data)
    with (
        open_layout(str(layout)) as store,
        store.open_blob(Descriptor("x", digest, len(data))) as r,
    ):
        got = b""
        while chunk := r.read(65536):
            got += chunk
        assert got == data


def test_write_is_atomic_and_temp_is_cleaned(layout: Path) -> None:
    with open_layout(str(layout)) as store:
        writer = store.blob_writer()
        writer.write(b"partial")
        writer.abort()
        temp_dirs = [p for p in os.listdir(layout) if p.startswith(".umoci-")]
        assert len(temp_dirs) == 1
        assert os.listdir(layout / temp_dirs[0]) == []
    assert not [p for p in os.listdir(layout) if p.startswith(".umoci-")]
    assert os.listdir(layout / "blobs" / "sha256") == []


def _write_big_blob(store: DirStore, chunks: int) -> tuple[Descriptor, bytes]:
    data = b"".join(os.urandom(1 << 20) for _ in range(chunks))
    with store.blob_writer() as writer:
        for start in range(0, len(data), 1 << 20):
            writer.write(data[start : start + (1 << 20)])
        return writer.commit(mediatypes.LAYER_GZIP), data


def test_big_blob_is_written_back_while_writing(
    layout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real = os.fdatasync

    def counting(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fdatasync", counting)
    with open_layout(str(layout)) as store:
        descriptor, data = _write_big_blob(store, 40)
    assert synced  # writeback started before commit
    assert descriptor.size == len(data)
    assert descriptor.digest == "sha256:" + hashlib.sha256(data).hexdigest()
    assert (layout / "blobs/sha256" / descriptor.digest[7:]).read_bytes() == data


def test_writeback_error_fails_the_commit(layout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", failing)
    before = snapshot(layout)
    with open_layout(str(layout)) as store, pytest.raises(LayoutError, match="Input/output"):
        _write_big_blob(store, 20)
    assert snapshot(layout) == before


def test_read_only_layout_allows_read_commands(layout: Path) -> None:
    ops.new_image(str(layout), "t")
    for dirpath, _dirnames, filenames in os.walk(layout):
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o444)
        os.chmod(dirpath, 0o555)
    try:
        # As root the bits are not enforced; the snapshot still proves that
        # read verbs create nothing (no temp dir, no rewrite).
        before = snapshot(layout)
        assert ops.list_tags(str(layout)) == ["t"]
        render_json(ops.stat(str(layout), "t"))
        assert snapshot(layout) == before
    finally:
        for dirpath, _, _ in os.walk(layout):
            os.chmod(dirpath, 0o755)


def test_tag_rm_and_ls(layout: Path) -> None:
    ops.new_image(str(layout), "a")
    ops.tag_image(str(layout), "a", "b")
    ops.tag_image(str(layout), "a", "c")
    assert ops.list_tags(str(layout)) == ["a", "b", "c"]
    ops.new_image(str(layout), "b")  # replaces b, moves it last
    assert ops.list_tags(str(layout)) == ["a", "c", "b"]
    ops.remove_tag(str(layout), "a")
    assert ops.list_tags(str(layout)) == ["c", "b"]
    ops.remove_tag(str(layout), "a")  # idempotent, like the Go umoci
    with pytest.raises(RefNotFoundError):
        ops.tag_image(str(layout), "nope", "x")


def test_gc_sweeps_only_unreachable_blobs(layout: Path) -> None:
    ops.new_image(str(layout), "a")
    ops.new_image(str(layout), "b")
    stray = put_raw(layout, b"stray")
    (layout / "blobs" / "sha256" / "not-a-digest").write_text("keep me")
    (layout / "blobs" / "other").mkdir()
    (layout / "README").write_text("keep")
    stale = layout / ".umoci-stale"
    stale.mkdir()
    (stale / "blob-x").write_text("x")
    ops.remove_tag(str(layout), "b")
    ops.gc(str(layout), grace=0)
    names = set(os.listdir(layout / "blobs" / "sha256"))
    assert stray.split(":")[1] not in names
    assert "not-a-digest" in names
    assert len(names) == 3  # a's manifest and config, and the unknown file
    assert (layout / "README").exists()
    assert (layout / "blobs" / "other").is_dir()
    assert not stale.exists()
    assert "a" in render_text(ops.stat(str(layout), "a"))


def test_gc_keeps_locked_temp_dirs(layout: Path) -> None:
    with open_layout(str(layout)) as store:
        writer = store.blob_writer()  # creates and locks our temp dir
        with open_layout(str(layout)) as other:
            gc_algorithm.collect(other)
        assert [p for p in os.listdir(layout) if p.startswith(".umoci-")]
        writer.abort()


def test_gc_refuses_to_sweep_when_a_manifest_is_missing(layout: Path) -> None:
    ops.new_image(str(layout), "a")
    stray = put_raw(layout, b"stray")
    set_index(
        layout,
        [
            *json.loads((layout / "index.json").read_text())["manifests"],
            {"mediaType": mediatypes.MANIFEST, "digest": "sha256:" + "1" * 64, "size": 3},
        ],
    )
    before = snapshot(layout)
    with pytest.raises(BlobNotFoundError):
        ops.gc(str(layout))
    assert snapshot(layout) == before
    assert (layout / "blobs" / "sha256" / stray.split(":")[1]).exists()


def test_nested_index_resolution_and_platform_choice(layout: Path) -> None:
    ops.new_image(str(layout), "a")
    with DirStore(str(layout)) as store:
        leaf = resolve(store, "a").descriptor
    from umoci.hostplatform import host_arch, host_os

    children = [
        {**leaf.to_json(), "annotations": {}, "platform": {"architecture": arch, "os": host_os()}}
        for arch in ("nonexistent", host_arch())
    ]
    inner = json.dumps({"schemaVersion": 2, "mediaType": mediatypes.INDEX, "manifests": children})
    inner_digest = put_raw(layout, inner.encode())
    set_index(
        layout,
        [
            {
                "mediaType": mediatypes.INDEX,
                "digest": inner_digest,
                "size": len(inner),
                "annotations": {"org.opencontainers.image.ref.name": "multi"},
            }
        ],
    )
    with DirStore(str(layout)) as store:
        path = resolve(store, "multi")
        assert len(path.walk) == 2
        assert path.descriptor.platform is not None
        assert path.descriptor.platform.architecture == host_arch()
    # config through a nested index rewrites the parent index too.
    ops.config(
        str(layout),
        "multi",
        new_tag="multi2",
        changes=ops.ConfigChanges(user="nobody"),
        history=ops.HistoryOptions(),
    )
    host = f"{host_os()}/{host_arch()}"
    out = json.loads(render_json(ops.stat(str(layout), "multi2", platform=host)))
    assert out["config"]["blob"]["config"]["User"] == "nobody"
    # Without --platform, stat of an index of two images lists the index.
    listing = json.loads(render_json(ops.stat(str(layout), "multi2")))
    assert [m["platform"]["architecture"] for m in listing["index"]["blob"]["manifests"]] == [
        "nonexistent",
        host_arch(),
    ]
    assert "multi" in ops.list_tags(str(layout))
    ops.gc(str(layout))
    assert json.loads(render_json(ops.stat(str(layout), "multi", platform=host)))["config"]


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_new_files_get_layout_owner_when_root(layout: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(layout):
        for name in [*dirnames, *filenames]:
            os.lchown(os.path.join(dirpath, name), 1234, 5678)
    os.chown(layout, 1234, 5678)
    ops.new_image(str(layout), "t")
    ops.config(
        str(layout),
        "t",
        new_tag="u",
        changes=ops.ConfigChanges(user="x"),
        history=ops.HistoryOptions(),
    )
    for dirpath, dirnames, filenames in os.walk(layout):
        for name in [*dirnames, *filenames]:
            st = os.lstat(os.path.join(dirpath, name))
            assert (st.st_uid, st.st_gid) == (1234, 5678), name


def test_no_ops_module_shadows_a_verb() -> None:
    # Importing a submodule binds its name on the package: a module named
    # like a verb would replace the verb function after its first use.
    import pkgutil

    import umoci.ops

    modules = {m.name for m in pkgutil.iter_modules(umoci.ops.__path__)}
    assert not modules & set(umoci.ops.__all__)
