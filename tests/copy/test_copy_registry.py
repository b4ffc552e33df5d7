"""``docker://`` against a real registry (distribution 2.8), interop with skopeo both ways.

Each test runs on the three configurations of :mod:`registrykit`: plain
HTTP, TLS with a test CA and htpasswd Basic auth, and token auth with a
token issuer of the tests' own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from copykit import blob_path, copy_fails, entry, tool, tree, two_layer_image, umoci_ok
from copykit import run as run_tool
from registrykit import CONFIGS, PASSWORD, USER, Registry, private_cache

from multikit import three_platforms

__all__ = ["private_cache"]  # the autouse fixture, imported for the tests below


@pytest.fixture(scope="module", params=CONFIGS)
def registry(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registry]:
    running = Registry(request.param, tmp_path_factory.mktemp(f"registry-{request.param}"))
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return two_layer_image(tmp_path, tmp_path / "src", "v1")


def skopeo(*argv: str | Path) -> str:
    return run_tool(tool("skopeo"), "--insecure-policy", *argv)


def unpacked(tmp_path: Path, layout: Path, tag: str, name: str) -> dict[str, bytes | str]:
    bundle = tmp_path / name
    umoci_ok("unpack", "--rootless", "--image", f"{layout}:{tag}", bundle)
    return tree(bundle / "rootfs")


def test_we_pull_what_skopeo_pushed(registry: Registry, source: Path, tmp_path: Path) -> None:
    name = registry.name("interop/from-skopeo:v1")
    skopeo("copy", *registry.skopeo_flags("dest"), f"oci:{source}:v1", name)
    pulled = tmp_path / "pulled"
    digestfile = tmp_path / "digest"
    umoci_ok("copy", *registry.flags("src"), "--digestfile", digestfile, name, f"oci:{pulled}:v1")
    digest = entry(source, "v1")["digest"]
    assert entry(pulled, "v1")["digest"] == digest
    assert digestfile.read_text() == digest
    assert unpacked(tmp_path, pulled, "v1", "b1") == unpacked(tmp_path, source, "v1", "b2")


def test_skopeo_pulls_what_we_pushed(registry: Registry, source: Path, tmp_path: Path) -> None:
    name = registry.name("interop/from-umoci:v1")
    umoci_ok("copy", *registry.flags("dest"), f"oci:{source}:v1", name)
    digest = entry(source, "v1")["digest"]
    info = json.loads(skopeo("inspect", *registry.inspect_flags(), name))
    assert info["Digest"] == digest
    assert info["Env"] == ["A=1"]
    pulled = tmp_path / "by-skopeo"
    skopeo("copy", *registry.skopeo_flags("src"), name, f"oci:{pulled}:v1")
    assert entry(pulled, "v1")["digest"] == digest
    assert unpacked(tmp_path, pulled, "v1", "b1") == unpacked(tmp_path, source, "v1", "b2")


def test_three_platform_index_round_trips_byte_identical(
    registry: Registry, tmp_path: Path
) -> None:
    multi = three_platforms(tmp_path)
    name = registry.name("interop/multi:m")
    umoci_ok("copy", "--all", *registry.flags("dest"), f"oci:{multi}:multi", name)
    back = tmp_path / "back"
    umoci_ok("copy", "--all", *registry.flags("src"), name, f"oci:{back}:m")
    root = entry(back, "m")
    assert root == {
        **entry(multi, "multi"),
        "annotations": {"org.opencontainers.image.ref.name": "m"},
    }
    # Every blob pulled back is the source's, byte for byte: the index, three
    # manifests, three configs and three layers.
    pulled = sorted((back / "blobs" / "sha256").iterdir())
    assert len(pulled) == 10
    for blob in pulled:
        assert blob.read_bytes() == (multi / "blobs" / "sha256" / blob.name).read_bytes()
    # One platform of the same index, chosen as --override-arch chooses it.
    one = tmp_path / "one"
    umoci_ok("copy", "--override-arch", "s390x", *registry.flags("src"), name, f"oci:{one}:s")
    assert entry(one, "s")["digest"] == entry(multi, "s390x")["digest"]


def test_push_mounts_blobs_from_a_repository_of_the_same_registry(
    registry: Registry, source: Path
) -> None:
    base = registry.name("mount/base:v1")
    umoci_ok("copy", *registry.flags("dest"), f"oci:{source}:v1", base)
    before = len(registry.requests())
    app = registry.name("mount/app:v1")
    umoci_ok("copy", *registry.flags("src"), *registry.flags("dest"), base, app)
    requests = registry.requests()[before:]
    mounts = [(m, uri) for m, uri, status in requests if "mount=" in uri and status == 201]
    uploads = [(m, uri) for m, uri, _ in requests if m in ("PATCH", "PUT") and "/blobs/" in uri]
    # Two layers and the config: all mounted, none uploaded.
    assert len(mounts) == 3, requests
    assert uploads == []
    assert entry_digest(registry, app) == entry_digest(registry, base)


def entry_digest(registry: Registry, name: str) -> str:
    digest: str = json.loads(skopeo("inspect", *registry.inspect_flags(), name))["Digest"]
    return digest


def test_a_second_pull_skips_the_blobs_it_has(
    registry: Registry, source: Path, tmp_path: Path
) -> None:
    name = registry.name("skip/image:v1")
    umoci_ok("copy", *registry.flags("dest"), f"oci:{source}:v1", name)
    pulled = tmp_path / "pulled"
    umoci_ok("copy", *registry.flags("src"), name, f"oci:{pulled}:v1")
    before = len(registry.requests())
    umoci_ok("copy", *registry.flags("src"), name, f"oci:{pulled}:again")
    blob_gets = [r for r in registry.requests()[before:] if r[0] == "GET" and "/blobs/" in r[1]]
    # The config is read to choose and check the image; the layers are not fetched again.
    assert len(blob_gets) == 1
    assert entry(pulled, "again")["digest"] == entry(source, "v1")["digest"]


def test_dest_compress_format_applies_to_a_push(
    registry: Registry, source: Path, tmp_path: Path
) -> None:
    name = registry.name("compress/zstd:v1")
    umoci_ok(
        "copy", "--dest-compress-format", "zstd", *registry.flags("dest"), f"oci:{source}:v1", name
    )
    back = tmp_path / "back"
    umoci_ok("copy", *registry.flags("src"), name, f"oci:{back}:v1")
    manifest = json.loads(blob_path(back, entry(back, "v1")["digest"]).read_bytes())
    assert {layer["mediaType"] for layer in manifest["layers"]} == {
        "application/vnd.oci.image.layer.v1.tar+zstd"
    }
    assert unpacked(tmp_path, back, "v1", "b1") == unpacked(tmp_path, source, "v1", "b2")


@pytest.mark.parametrize("registry", ["tls", "token"], indirect=True)
def test_credentials_from_an_auth_file(
    registry: Registry, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--authfile / $REGISTRY_AUTH_FILE, containers' auth.json format (base64 USER:PASSWORD)."""
    import base64

    auth = tmp_path / "auth.json"
    encoded = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    auth.write_text(json.dumps({"auths": {registry.host: {"auth": encoded}}}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(auth))
    monkeypatch.setenv("HOME", str(tmp_path))  # no other credentials file of the host's
    name = registry.name("auth/file:v1")
    flags = registry.flags("dest", creds=False)
    umoci_ok("copy", *flags, f"oci:{source}:v1", name)
    assert entry_digest(registry, name) == entry(source, "v1")["digest"]


@pytest.mark.parametrize("registry", ["tls", "token"], indirect=True)
def test_without_credentials_a_push_fails_in_one_line(
    registry: Registry,
    source: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    line = copy_fails(
        capsys,
        *registry.flags("dest", creds=False),
        f"oci:{source}:v1",
        registry.name("denied/x:v1"),
    )
    assert "authentication failed" in line, line


def test_ls_does_not_import_the_http_client(tmp_path: Path) -> None:
    layout = tmp_path / "L"
    umoci_ok("init", "--layout", layout)
    code = (
        "import sys\n"
        "from umoci.cli import main\n"
        f"main(['ls', '--layout', {str(layout)!r}])\n"
        f"main(['stat', '--image', {str(layout)!r} + ':none'])\n"
        "print('urllib3' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_a_chunked_push_is_what_the_registry_stores(
    registry: Registry, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from umoci.transport.registry import destination

    monkeypatch.setattr(destination, "CHUNK_SIZE", 16 << 10)
    monkeypatch.setattr(destination, "MONOLITHIC_MAX", 0)
    before = len(registry.requests())
    name = registry.name("chunked/image:v1")
    umoci_ok("copy", *registry.flags("dest"), f"oci:{source}:v1", name)
    patches = [r for r in registry.requests()[before:] if r[0] == "PATCH"]
    assert len(patches) >= 4
    assert {status for _, _, status in patches} == {202}
    pulled = tmp_path / "by-skopeo"
    skopeo("copy", *registry.skopeo_flags("src"), name, f"oci:{pulled}:v1")
    assert entry(pulled, "v1")["digest"] == entry(source, "v1")["digest"]


def test_a_push_mounts_the_base_a_pull_brought_from_the_same_registry(
    registry: Registry, source: Path, tmp_path: Path
) -> None:
    """Pull a base into a layout, build on it, push elsewhere: the base layers are mounted."""
    base = registry.name("base/os:v1")
    umoci_ok("copy", *registry.flags("dest"), f"oci:{source}:v1", base)
    work = tmp_path / "work"
    umoci_ok("copy", *registry.flags("src"), base, f"oci:{work}:app")
    extra = tmp_path / "app-file"
    extra.write_text("the application\n")
    umoci_ok("insert", "--image", f"{work}:app", extra, "/app")
    before = len(registry.requests())
    umoci_ok("copy", *registry.flags("dest"), f"oci:{work}:app", registry.name("team/app:v1"))
    requests = registry.requests()[before:]
    mounted = [uri for method, uri, status in requests if "mount=" in uri and status == 201]
    base_layers = [layer["digest"] for layer in manifest_of(source, "v1")["layers"]]
    assert sorted(
        uri.split("mount=")[1].split("&")[0].replace("%3A", ":") for uri in mounted
    ) == sorted(base_layers)
    # The new layer and the new config were uploaded.
    uploads = [
        uri for method, uri, status in requests if method == "PUT" and "/blobs/uploads/" in uri
    ]
    assert len(uploads) == 2


def manifest_of(layout: Path, tag: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(blob_path(layout, entry(layout, tag)["digest"]).read_bytes())
    return value


def test_quiet_in_pipes_and_one_summary_line_with_verbose(
    registry: Registry, source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = registry.name("summary/image:v1")
    umoci_ok("copy", *registry.flags("dest"), f"oci:{source}:v1", name)
    capsys.readouterr()
    umoci_ok("copy", *registry.flags("src"), name, f"oci:{tmp_path / 'quiet'}:v1")
    assert capsys.readouterr() == ("", "")
    umoci_ok("--verbose", "copy", *registry.flags("src"), name, f"oci:{tmp_path / 'loud'}:v1")
    out, err = capsys.readouterr()
    assert out == ""
    summary = err.splitlines()[-1]
    assert summary.startswith(f"umoci: info: copied {name} to oci:")
    assert "(4 blobs written," in summary  # two layers, the config, the manifest
