"""The stored vectors are what the Go umoci 0.6 writes today, and so is our output.

If the oracle were ever rebuilt with different behaviour, these tests say so
before the byte-for-byte tests elsewhere start judging us against stale data.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from oraclekit import run_ok, run_tool

from conftest import VECTORS
from vectorkit import VECTOR_EPOCH, VECTOR_LAYOUTS, assert_same_layout, replay_vector_steps

pytestmark = pytest.mark.oracle


def without_date(mtree: bytes) -> bytes:
    """An mtree without its ``#          date:`` header line (the time it was written)."""
    return b"".join(
        line for line in mtree.splitlines(keepends=True) if not line.startswith(b"#          date:")
    )


def test_oracle_reproduces_the_json_blob_vectors(tmp_path: Path, oracle_umoci: Path) -> None:
    env = {"SOURCE_DATE_EPOCH": VECTOR_EPOCH}

    def go_umoci(argv: list[str]) -> None:
        run_ok(oracle_umoci, *argv, env=env)

    replay_vector_steps(tmp_path, go_umoci)
    for v in VECTOR_LAYOUTS:
        layout = tmp_path / v
        assert_same_layout(layout, VECTORS / "json-blobs" / v)
        text = run_ok(oracle_umoci, "stat", "--image", f"{layout}:latest")
        assert text == (VECTORS / "json-blobs" / f"{v}.stat.txt").read_text()
        js = run_ok(oracle_umoci, "stat", "--json", "--image", f"{layout}:latest")
        assert js == (VECTORS / "json-blobs" / f"{v}.stat.json").read_text()


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="the vector was unpacked as root (device nodes)")
def test_oracle_unpacks_the_bundle_vector_as_stored(tmp_path: Path, oracle_umoci: Path) -> None:
    """umoci.json, config.json and the mtree of the stored bundle, written again by 0.6."""
    bundle = tmp_path / "bundle"
    image = f"{VECTORS / 'bundle' / 'image'}:latest"
    result = run_tool(oracle_umoci, "unpack", "--image", image, "bundle", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (stored_mtree,) = (VECTORS / "bundle").glob("sha256_*.mtree")
    assert without_date((bundle / stored_mtree.name).read_bytes()) == without_date(
        stored_mtree.read_bytes()
    )
    for name in ("umoci.json", "config.json"):
        assert (bundle / name).read_bytes() == (VECTORS / "bundle" / name).read_bytes()
