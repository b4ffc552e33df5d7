"""Pushing to a registry, seen from the registry's side (:mod:`fakeregistry`): what is
uploaded how, in which order, and what a failed push leaves behind (no tag moves)."""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from copykit import copy_fails, entry, tree, two_layer_image, umoci_ok
from fakeregistry import FakeRegistry, Handler
from registrykit import PASSWORD, USER, private_cache

from multikit import three_platforms
from umoci.transport.registry import destination

FLAGS = ["--dest-tls-verify=false", f"--dest-creds={USER}:{PASSWORD}"]

__all__ = ["private_cache"]  # the autouse fixture, imported for the tests below


@pytest.fixture
def image(tmp_path: Path) -> Path:
    return two_layer_image(tmp_path, tmp_path / "src", "v1")


@pytest.fixture
def fake() -> Iterator[FakeRegistry]:
    server = FakeRegistry(None, "v1")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every blob in 16 KiB chunks read 4 KiB at a time: the 64 KiB layer in five PATCHes."""
    monkeypatch.setattr(destination, "MONOLITHIC_MAX", 0)
    monkeypatch.setattr(destination, "CHUNK_SIZE", 16 << 10)
    monkeypatch.setattr(destination, "READ_SIZE", 4 << 10)


def blobs_of(layout: Path, tag: str) -> dict[str, bytes]:
    root = entry(layout, tag)["digest"]
    manifest = json.loads(read(layout, root))
    digests = [manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])]
    return {digest: read(layout, digest) for digest in digests}


def read(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.partition(":")[2]).read_bytes()


def test_blobs_go_up_in_one_put_each_and_the_tag_last(fake: FakeRegistry, image: Path) -> None:
    umoci_ok("copy", *FLAGS, f"oci:{image}:v1", fake.name("push/app"))
    for digest, data in blobs_of(image, "v1").items():
        assert fake.pushed[digest] == data
    writes = fake.writes()
    assert not any(method == "PATCH" for method, _ in writes)
    assert writes[-1] == ("PUT", "/v2/push/app/manifests/v1")
    root = entry(image, "v1")
    assert fake.pushed_manifests["v1"] == (root["mediaType"], read(image, root["digest"]))


def test_large_blobs_go_up_in_ranged_chunks(
    fake: FakeRegistry, image: Path, small_chunks: None
) -> None:
    umoci_ok("copy", *FLAGS, f"oci:{image}:v1", fake.name("push/app"))
    for digest, data in blobs_of(image, "v1").items():
        assert fake.pushed[digest] == data
    ranges = [r.headers.get("Content-Range") for r in fake.requests if r.method == "PATCH"]
    assert len(ranges) >= 4
    assert all(ranges)
    assert "0-16383" in ranges
    assert "16384-32767" in ranges


def test_a_registry_refusing_ranges_gets_plain_chunks(
    fake: FakeRegistry, image: Path, small_chunks: None
) -> None:
    fake.refuse_ranges = True
    umoci_ok("copy", *FLAGS, f"oci:{image}:v1", fake.name("push/app"))
    for digest, data in blobs_of(image, "v1").items():
        assert fake.pushed[digest] == data
    patches = [r for r in fake.requests if r.method == "PATCH"]
    assert "Content-Range" in patches[0].headers  # tried, refused (416) ...
    assert "Content-Range" not in patches[-1].headers  # ... and streamed after that


def test_blobs_the_registry_has_are_not_uploaded(fake: FakeRegistry, image: Path) -> None:
    fake.pushed.update(blobs_of(image, "v1"))
    umoci_ok("copy", *FLAGS, f"oci:{image}:v1", fake.name("push/app"))
    assert [method for method, _ in fake.writes()] == ["PUT"]  # the manifest, by its tag
    heads = [r for r in fake.requests if r.method == "HEAD"]
    assert len(heads) == 3


def test_an_index_goes_up_children_first_and_its_tag_last(
    fake: FakeRegistry, tmp_path: Path
) -> None:
    multi = three_platforms(tmp_path)
    umoci_ok("copy", "--all", *FLAGS, f"oci:{multi}:multi", fake.name("push/multi"))
    manifest_puts = [path for method, path in fake.writes() if "/manifests/" in path]
    children = [entry(multi, name)["digest"] for name in ("amd64", "arm64", "s390x")]
    assert sorted(manifest_puts[:3]) == sorted(f"/v2/push/multi/manifests/{d}" for d in children)
    assert manifest_puts[3:] == ["/v2/push/multi/manifests/v1"]
    last_blob = max(i for i, (_, path) in enumerate(fake.writes()) if "/blobs/" in path)
    first_manifest = min(i for i, (_, path) in enumerate(fake.writes()) if "/manifests/" in path)
    assert last_blob < first_manifest


def test_additional_tags_and_a_digest_name(fake: FakeRegistry, image: Path) -> None:
    name = fake.name("push/app")
    umoci_ok("copy", *FLAGS, "--additional-tag", "stable", f"oci:{image}:v1", name)
    assert set(fake.pushed_manifests) == {"v1", "stable"}
    digest = entry(image, "v1")["digest"]
    umoci_ok("copy", *FLAGS, f"oci:{image}:v1", name.replace(":v1", f"@{digest}"))
    assert digest in fake.pushed_manifests


def test_a_digest_name_that_does_not_match_is_refused(
    fake: FakeRegistry, image: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = "sha256:" + hashlib.sha256(b"other").hexdigest()
    line = copy_fails(
        capsys, *FLAGS, f"oci:{image}:v1", fake.name("push/app").replace(":v1", f"@{other}")
    )
    assert "not the digest named" in line
    assert fake.pushed_manifests == {}


def test_a_failed_upload_moves_no_tag(
    fake: FakeRegistry, image: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layer = json.loads(read(image, entry(image, "v1")["digest"]))["layers"][-1]["digest"]

    def fail_closing_put(fake: FakeRegistry, handler: Handler, method: str) -> bool:
        if method != "PUT" or layer not in urllib.parse.unquote(handler.path):
            return False
        fake.send(handler, 500, b'{"errors":[{"code":"UNKNOWN","message":"disk full"}]}')
        return True

    fake.misbehave = fail_closing_put
    line = copy_fails(capsys, *FLAGS, f"oci:{image}:v1", fake.name("push/app"))
    assert f"finish the upload of blob {layer}: UNKNOWN: disk full" in line
    assert fake.pushed_manifests == {}
    assert any(method == "DELETE" for method, _ in fake.writes())  # the session was cancelled


def corrupt_last_layer(image: Path) -> str:
    layer: str = json.loads(read(image, entry(image, "v1")["digest"]))["layers"][-1]["digest"]
    path = image / "blobs" / "sha256" / layer.partition(":")[2]
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    return layer


def test_a_corrupt_source_blob_is_cut_short(
    fake: FakeRegistry,
    image: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(destination, "READ_SIZE", 4 << 10)
    layer = corrupt_last_layer(image)
    line = copy_fails(capsys, *FLAGS, f"oci:{image}:v1", fake.name("push/app"))
    assert "digest mismatch" in line
    # The streamed PUT began and never ended: the registry has no such blob.
    puts = [r for r in fake.requests if r.method == "PUT" and layer in urllib.parse.unquote(r.path)]
    assert len(puts) == 1
    size = len(read(image, layer))
    assert puts[0].headers["Content-Length"] == str(size)  # the whole blob was announced ...
    assert layer not in fake.pushed  # ... and never delivered
    assert fake.pushed_manifests == {}


def test_a_corrupt_source_blob_is_never_finished(
    fake: FakeRegistry, image: Path, capsys: pytest.CaptureFixture[str], small_chunks: None
) -> None:
    layer = corrupt_last_layer(image)
    line = copy_fails(capsys, *FLAGS, f"oci:{image}:v1", fake.name("push/app"))
    assert "digest mismatch" in line
    assert layer not in fake.pushed
    # Chunks had gone up already; the closing PUT never came, the session was deleted.
    assert any(method == "PATCH" for method, _ in fake.writes())
    assert not any(method == "PUT" and layer in path for method, path in fake.writes())
    assert any(method == "DELETE" for method, _ in fake.writes())
    assert fake.pushed_manifests == {}
    assert fake.uploads == {}


def test_a_mount_the_registry_declines_falls_back_to_an_upload(
    fake: FakeRegistry, image: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from umoci.transport.registry import locations

    blobs = blobs_of(image, "v1")
    for digest in blobs:
        locations.record(fake.host, "elsewhere/one", [digest])
        locations.record(fake.host, "elsewhere/two", [digest])

    def refuse_mounts(fake: FakeRegistry, handler: Handler, method: str) -> bool:
        if "from=elsewhere%2Fone" in handler.path:
            # Not allowed to read there: an auth failure, which must not end the push.
            fake.send(handler, 401, b"{}", {"WWW-Authenticate": 'Basic realm="fake"'})
            return True
        return False  # elsewhere/two: the fake ignores "mount" and opens a session (202)

    fake.misbehave = refuse_mounts
    umoci_ok("copy", *FLAGS, f"oci:{image}:v1", fake.name("push/app"))
    for digest, data in blobs.items():
        assert fake.pushed[digest] == data
    mounts = [r.path for r in fake.requests if "mount=" in r.path]
    assert len(mounts) >= 2 * len(blobs)
    assert fake.uploads == {}  # no session left open


def test_an_unusable_location_record_does_not_fail_a_push(
    fake: FakeRegistry, image: Path, private_cache: Path
) -> None:
    private_cache.write_text("not a directory")
    umoci_ok("copy", *FLAGS, f"oci:{image}:v1", fake.name("push/app"))
    assert "v1" in fake.pushed_manifests


# -- a registry that will not take chunks ------------------------------------------


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    """The --tmpdir of the copy: empty again once it is over, whatever happened."""
    directory = tmp_path / "spool"
    directory.mkdir()
    return directory


def pulled_back(fake: FakeRegistry, tmp_path: Path) -> tuple[Path, str]:
    """What the fake holds under the tag v1, pulled by digest into a new layout."""
    _, body = fake.pushed_manifests["v1"]
    root = "sha256:" + hashlib.sha256(body).hexdigest()
    back = tmp_path / "back"
    flags = ["--src-tls-verify=false", f"--src-creds={USER}:{PASSWORD}"]
    umoci_ok("copy", *flags, f"docker://{fake.host}/push/app@{root}", f"oci:{back}:v1")
    return back, root


def unpacked_tree(tmp_path: Path, layout: Path, name: str) -> dict[str, bytes | str]:
    bundle = tmp_path / name
    umoci_ok("unpack", "--rootless", "--image", f"{layout}:v1", bundle)
    return tree(bundle / "rootfs")


@pytest.mark.parametrize(
    "recompress",
    [[], ["--dest-compress-format", "zstd"]],
    ids=["large-blobs", "recompressed"],
)
@pytest.mark.parametrize("status", [400, 405, 416, 501])
def test_a_registry_refusing_chunks_gets_one_spooled_put(
    *,
    fake: FakeRegistry,
    image: Path,
    tmp_path: Path,
    spool: Path,
    small_chunks: None,
    recompress: list[str],
    status: int,
) -> None:
    fake.refuse_chunks = status
    umoci_ok(
        "copy", *FLAGS, *recompress, "--tmpdir", spool, f"oci:{image}:v1", fake.name("push/app")
    )
    # Every blob the fake took was checked against its digest when the PUT closed it.
    _, body = fake.pushed_manifests["v1"]
    manifest = json.loads(body)
    for layer in manifest["layers"]:
        assert hashlib.sha256(fake.pushed[layer["digest"]]).hexdigest() in layer["digest"]
    back, _ = pulled_back(fake, tmp_path)
    assert unpacked_tree(tmp_path, back, "b1") == unpacked_tree(tmp_path, image, "b2")
    # The blob larger than a chunk: a refused ranged PATCH and a refused plain one, its
    # session deleted, a new one opened and the whole blob PUT in it.  (The smaller blobs
    # fit in one chunk: they went up in one PUT anyway.)
    (large,) = [layer for layer in manifest["layers"] if layer["size"] > 16 << 10]
    patches = [r.path for r in fake.requests if r.method == "PATCH"]
    assert len(patches) == 2
    assert [method for method, _ in fake.writes()].count("DELETE") == 1
    puts = [r.path for r in fake.requests if r.method == "PUT" and "/blobs/uploads/" in r.path]
    (put,) = [path for path in puts if large["digest"] in urllib.parse.unquote(path)]
    assert put.partition("?")[0] != patches[0].partition("?")[0]  # in a new session
    assert fake.uploads == {}
    assert list(spool.iterdir()) == []


def test_a_protocol_break_on_the_first_chunk_falls_back_too(
    fake: FakeRegistry, image: Path, tmp_path: Path, spool: Path, small_chunks: None
) -> None:
    """202 for a chunk, but the registry says it holds something else."""

    def lose_chunks(fake: FakeRegistry, handler: Handler, method: str) -> bool:
        if method != "PATCH":
            return False
        fake.send(handler, 202, b"", {"Location": handler.path, "Range": "0-0"})
        return True

    fake.misbehave = lose_chunks
    umoci_ok("copy", *FLAGS, "--tmpdir", spool, f"oci:{image}:v1", fake.name("push/app"))
    back, _ = pulled_back(fake, tmp_path)
    assert unpacked_tree(tmp_path, back, "b1") == unpacked_tree(tmp_path, image, "b2")
    assert list(spool.iterdir()) == []


def test_a_registry_refusing_chunks_and_the_put_is_one_line(
    fake: FakeRegistry,
    image: Path,
    spool: Path,
    small_chunks: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake.refuse_chunks = 405

    def refuse_large_blob_puts(fake: FakeRegistry, handler: Handler, method: str) -> bool:
        """Those over a chunk: the spooled one (the small blobs never tried chunks)."""
        if method != "PUT" or "/blobs/uploads/" not in handler.path:
            return False
        if int(handler.headers.get("Content-Length", "0")) <= 16 << 10:
            return False
        fake.send(handler, 400, b'{"errors":[{"code":"SIZE_INVALID","message":"too big"}]}')
        return True

    fake.misbehave = refuse_large_blob_puts
    line = copy_fails(
        capsys, *FLAGS, "--dest-compress-format", "zstd", "--tmpdir", spool,
        f"oci:{image}:v1", fake.name("push/app"),
    )  # fmt: skip
    assert "finish the upload of blob sha256:" in line
    assert line.endswith(
        "in one PUT: SIZE_INVALID: too big (after chunks were refused: UNSUPPORTED: "
        "no chunked uploads)"
    ), line
    assert PASSWORD not in line
    assert fake.pushed_manifests == {}
    assert fake.uploads == {}
    assert list(spool.iterdir()) == []


def test_chunks_refused_after_the_first_are_one_line(
    fake: FakeRegistry, image: Path, small_chunks: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bytes the registry took cannot be sent again: no fallback once chunks went up."""

    def refuse_later_chunks(fake: FakeRegistry, handler: Handler, method: str) -> bool:
        if method != "PATCH" or handler.headers.get("Content-Range", "").startswith("0-"):
            return False
        fake.send(handler, 405, b'{"errors":[{"code":"UNSUPPORTED","message":"enough"}]}')
        return True

    fake.misbehave = refuse_later_chunks
    line = copy_fails(capsys, *FLAGS, f"oci:{image}:v1", fake.name("push/app"))
    assert line.endswith("upload a chunk: UNSUPPORTED: enough"), line
    assert fake.pushed_manifests == {}
    assert fake.uploads == {}


# -- what overlaps -------------------------------------------------------------------


def test_the_config_goes_up_while_the_layers_do(fake: FakeRegistry, image: Path) -> None:
    """Each layer's upload is answered only once the config's has arrived: done one after
    the other, they would wait for it in vain.  The registry is asked GET /v2/ once."""
    config = json.loads(read(image, entry(image, "v1")["digest"]))["config"]["digest"]
    config_arrived = threading.Event()
    layers_waited: list[bool] = []

    def answer_layers_after_the_config(fake: FakeRegistry, handler: Handler, method: str) -> bool:
        path, _, query = handler.path.partition("?")
        if method != "PUT" or "/blobs/uploads/" not in path:
            return False
        if urllib.parse.parse_qs(query)["digest"] == [config]:
            config_arrived.set()
        else:
            layers_waited.append(config_arrived.wait(timeout=5))
        return False  # then answered as usual

    fake.misbehave = answer_layers_after_the_config
    umoci_ok("copy", *FLAGS, f"oci:{image}:v1", fake.name("push/app"))
    assert layers_waited == [True, True]
    assert fake.pushed[config] == read(image, config)
    assert [r.path for r in fake.requests].count("/v2/") == 1


# -- the blob location record --------------------------------------------------------


def test_the_location_record_keeps_the_newest_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    from umoci.transport.registry import locations

    monkeypatch.setattr(locations, "MAX_ROWS", 5)
    digests = [f"sha256:{n:064x}" for n in range(8)]
    locations.record("registry:5000", "app", digests[:4])
    locations.record("registry:5000", "app", digests[4:])
    locations.record("registry:5000", "app", digests[1:2])  # seen again: newest now
    kept = [d for d in digests if locations.candidates("registry:5000", d, besides="other")]
    assert kept == [digests[1], *digests[4:]]


def test_recording_a_blob_costs_the_same_in_a_full_record(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keeping the newest rows must not sort the table on every copy (60 ms at 100,000 rows)."""
    import sqlite3

    from umoci.transport.registry import locations

    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0  # go on

    def connect() -> sqlite3.Connection:
        connection = opened()
        connection.set_progress_handler(count, 1000)  # once per 1000 VM instructions
        return connection

    opened = locations._connect
    locations.record("registry:5000", "app", [f"sha256:{n:064x}" for n in range(20_000)])
    monkeypatch.setattr(locations, "_connect", connect)
    locations.record("registry:5000", "app", ["sha256:" + "e" * 64])
    assert steps < 10, f"{steps * 1000} instructions to record one blob"
