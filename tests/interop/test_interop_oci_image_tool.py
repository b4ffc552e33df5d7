"""``umoci validate`` side by side with ``oci-image-tool validate`` on the broken-layout corpus.

Every defect oci-image-tool refuses, we report too; the defects it lets
through (or hangs on) are listed below, asserted, and summed up in the
README's validate section.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "validate"))
from corpus import DEFECTS, Layout, clean_layout

from umoci import ops

pytestmark = pytest.mark.goumoci

#: What oci-image-tool 1.0.0~rc2 (Debian) accepts although it is broken.
MISSED_BY_OCI_IMAGE_TOOL = {
    "manifest-media-type-disagrees",
    "manifest-with-manifests-field",
    "manifest-media-type-capitalised",
    "manifest-with-Manifests-field",
    "embedded-data",
    "annotation-empty-key",
    "ref-name",
    "diff-ids-count",
    "history-layers",
    "created",
    "config-schema",
    "config-diff-id-grammar",
    "platform",
    "layer-codec",
    "layer-diff-id",
    "layer-tar",
    "layer-entry",
    "layer-path",
    "layer-whiteout-content",
    "layer-whiteout-nothing",
}
#: Where it never finishes (a FIFO as a blob).
HANGS_OCI_IMAGE_TOOL = {"blob-type-fifo"}
#: Not errors (warnings for us, accepted by both).
WARNINGS_ONLY = {
    "annotation-key-style",
    "config-key-given-twice",
    "layer-hardlink",
    "layer-symlink",
    "unreferenced-blob",
    "temp-file",
}


def oci_image_tool(layout: Path) -> str:
    tool = shutil.which("oci-image-tool")
    assert tool, "oci-image-tool is not installed (.ci/run installs it with apt)"
    try:
        result = subprocess.run(
            [tool, "validate", "--type", "image", str(layout)],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "hang"
    return "accepts" if result.returncode == 0 else "refuses"


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clean_layout(tmp_path_factory.mktemp("clean"))


def test_both_accept_the_clean_layout(clean: Path) -> None:
    assert oci_image_tool(clean) == "accepts"
    assert ops.validate_layout(str(clean)).findings == []


@pytest.mark.parametrize(("name", "defect", "expected"), DEFECTS, ids=[d[0] for d in DEFECTS])
def test_side_by_side(
    clean: Path, tmp_path: Path, name: str, defect: object, expected: object
) -> None:
    layout = tmp_path / "layout"
    shutil.copytree(clean, layout)
    defect(Layout(layout))  # type: ignore[operator]
    ours = ops.validate_layout(str(layout))
    theirs = oci_image_tool(layout)
    if name in WARNINGS_ONLY:
        assert (theirs, ours.errors, ours.warnings > 0) == ("accepts", 0, True)
    elif name in HANGS_OCI_IMAGE_TOOL:
        assert (theirs, ours.errors) == ("hang", 1)
    elif name in MISSED_BY_OCI_IMAGE_TOOL:
        assert (theirs, ours.errors > 0) == ("accepts", True)
    else:  # it refuses: so do we
        assert (theirs, ours.errors > 0) == ("refuses", True)
