"""Multi-platform layouts between skopeo and us: each reads what the other writes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from multikit import entry, read_json, three_platforms, umoci_ok

pytestmark = pytest.mark.goumoci


def skopeo(*argv: str) -> str:
    path = shutil.which("skopeo")
    assert path, "skopeo is not installed (.ci/run installs it with apt)"
    proc = subprocess.run([path, *argv], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"skopeo {argv}: {proc.stderr}"
    return proc.stdout


def platforms_of(layout: Path, tag: str) -> list[str]:
    index = read_json(layout, entry(layout, tag)["digest"])
    return [f"{m['platform']['os']}/{m['platform']['architecture']}" for m in index["manifests"]]


@pytest.mark.parametrize("how", [("--all",), ("--multi-arch", "all")], ids=["all", "multi-arch"])
def test_skopeo_copy_of_our_index_is_read_by_us(tmp_path: Path, how: tuple[str, ...]) -> None:
    ours = three_platforms(tmp_path)
    theirs = tmp_path / "theirs"
    skopeo("copy", *how, f"oci:{ours}:multi", f"oci:{theirs}:multi")
    assert platforms_of(theirs, "multi") == ["linux/amd64", "linux/arm64", "linux/s390x"]
    for arch in ("amd64", "arm64", "s390x"):
        out = tmp_path / f"out-{arch}"
        umoci_ok("raw", "unpack", "--image", f"{theirs}:multi", "--platform", f"linux/{arch}", out)
        assert (out / "arch").read_text() == f"{arch}\n"


def test_skopeo_accepts_our_index_after_a_repack_through_it(tmp_path: Path) -> None:
    layout = three_platforms(tmp_path)
    bundle = tmp_path / "bundle"
    umoci_ok("unpack", "--image", f"{layout}:multi", "--platform", "linux/arm64", bundle)
    (bundle / "rootfs" / "added").write_text("x")
    umoci_ok("repack", "--image", f"{layout}:multi", bundle)

    raw = json.loads(skopeo("inspect", "--raw", f"oci:{layout}:multi"))
    assert raw == read_json(layout, entry(layout, "multi")["digest"])
    copy = tmp_path / "copy"
    skopeo("copy", "--all", f"oci:{layout}:multi", f"oci:{copy}:multi")
    assert platforms_of(copy, "multi") == ["linux/amd64", "linux/arm64", "linux/s390x"]
    out = tmp_path / "check"
    umoci_ok("raw", "unpack", "--image", f"{copy}:multi", "--platform", "linux/arm64", out)
    assert (out / "added").read_text() == "x"
    # skopeo reads one platform of it as well.
    info = json.loads(skopeo("--override-arch", "s390x", "inspect", f"oci:{layout}:multi"))
    assert info["Architecture"] == "s390x"
