"""``umoci validate`` on a corpus of broken layouts: each defect, and nothing else, reported."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from corpus import DEFECTS, Layout, clean_layout

from umoci import ops
from umoci.cli import main
from umoci.validate import CHECKS


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clean_layout(tmp_path_factory.mktemp("clean"))


def found(layout: Path) -> list[tuple[str, str, str]]:
    report = ops.validate_layout(str(layout))
    return [(f.level, f.check, f.where) for f in report.findings]


def matches(expected: list[tuple[str, str, str]], actual: list[tuple[str, str, str]]) -> bool:
    if len(expected) != len(actual):
        return False
    remaining = list(actual)
    for level, check, where in expected:
        for i, (a_level, a_check, a_where) in enumerate(remaining):
            if (a_level, a_check) == (level, check) and where in ("*", a_where):
                del remaining[i]
                break
        else:
            return False
    return True


def test_the_clean_layout_has_no_findings(clean: Path) -> None:
    assert found(clean) == []


@pytest.mark.parametrize(("name", "defect", "expected"), DEFECTS, ids=[d[0] for d in DEFECTS])
def test_each_defect_is_found_and_nothing_else(
    clean: Path, tmp_path: Path, name: str, defect: object, expected: list[tuple[str, str, str]]
) -> None:
    layout = tmp_path / "layout"
    shutil.copytree(clean, layout)
    defect(Layout(layout))  # type: ignore[operator]
    actual = found(layout)
    assert matches(expected, actual), f"{name}: expected {expected}, found {actual}"


def test_the_corpus_covers_every_layout_check() -> None:
    covered = {check for _, _, expected in DEFECTS for _, check, _ in expected}
    bundle_checks = {c for c in CHECKS if c.startswith("bundle-")}
    assert set(CHECKS) - bundle_checks - covered == set()
    assert len(DEFECTS) >= 30


def test_cli_output_exit_status_and_json(
    clean: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--layout", str(clean)]) == 0
    out, err = capsys.readouterr()
    assert out.endswith("0 errors, 0 warnings (8 blobs checked)\n")
    assert err == ""
    layout = tmp_path / "layout"
    shutil.copytree(clean, layout)
    lay = Layout(layout)
    lay.set_entry(0, {"size": lay.entry(0)["size"] + 1})
    (layout / ".umoci-x").mkdir()
    assert main(["validate", "--layout", str(layout)]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].startswith("error blob-size index.json → manifests[0] (tag a): blob sha256:")
    assert lines[1] == (
        "warning temp-file .umoci-x: left by a umoci that did not finish (umoci gc removes it)"
    )
    assert lines[2] == "1 error, 1 warning (8 blobs checked)"
    assert err == "umoci: validate: validation failed: 1 error found\n"
    assert main(["validate", "--json", "--layout", str(layout)]) == 1
    out, _ = capsys.readouterr()
    findings = json.loads(out)
    assert [(f["level"], f["check"]) for f in findings] == [
        ("error", "blob-size"),
        ("warning", "temp-file"),
    ]
    assert set(findings[0]) == {"level", "check", "where", "message"}
