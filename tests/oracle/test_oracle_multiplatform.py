"""After a repack through a multi-platform index, the Go umoci 0.6 still reads each child.

0.6 cannot open an index of several images ("tag is ambiguous"); tagging
each child by digest with our ``umoci tag --image L@DIGEST`` gives it a
name it can unpack.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from oraclekit import run_ok, run_tool

from multikit import entry, read_json, three_platforms, umoci_ok

pytestmark = pytest.mark.oracle


def test_oracle_unpacks_each_child_after_our_repack(oracle_umoci: Path, tmp_path: Path) -> None:
    layout = three_platforms(tmp_path)
    bundle = tmp_path / "bundle"
    umoci_ok("unpack", "--image", f"{layout}:multi", "--platform", "linux/arm64", bundle)
    (bundle / "rootfs" / "added").write_text("x")
    umoci_ok("repack", "--image", f"{layout}:multi", bundle)

    refused = run_tool(oracle_umoci, "stat", "--image", f"{layout}:multi")
    assert refused.returncode != 0, "0.6 does not read an index of several images"

    index = read_json(layout, entry(layout, "multi")["digest"])
    for child in index["manifests"]:
        arch = child["platform"]["architecture"]
        umoci_ok("tag", "--image", f"{layout}@{child['digest']}", f"child-{arch}")
        out = tmp_path / f"oracle-{arch}"
        run_ok(oracle_umoci, "unpack", "--image", f"{layout}:child-{arch}", out)
        assert (out / "rootfs" / "arch").read_text() == f"{arch}\n"
        assert (out / "rootfs" / "added").exists() == (arch == "arm64")
        run_ok(oracle_umoci, "stat", "--image", f"{layout}:child-{arch}")
