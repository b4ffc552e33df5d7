"""``umoci copy`` on the command line: the help callers grep, the progress line, skopeo's flags."""

from __future__ import annotations

from pathlib import Path

import pytest
from copykit import entry, two_layer_image, umoci_ok

from ptykit import under_pty
from umoci.cli import main


def test_help_names_the_transports_and_the_flags_callers_grep(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """KIWI checks ``skopeo copy --help`` for --additional-tag before using it."""
    assert main(["copy", "--help"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("NAME:\n   umoci copy - ")
    for word in (
        "--additional-tag",
        "--all",
        "--dest-compress-format",
        "--dest-shared-blob-dir",
        "--remove-signatures",
        "--insecure-policy",
        "oci-archive:<file>",
        "docker-archive:<file>",
        "docker-daemon:<name>",
        "DOCKER_HOST",
        "neither verifies nor writes signatures",
    ):
        assert word in text, word
    assert main(["--help"]) == 0
    assert "\n     copy " in capsys.readouterr().out


def test_skopeo_command_lines_carry_over(tmp_path: Path) -> None:
    """rockcraft: ``skopeo --insecure-policy copy oci:images/P:V oci-archive:P_V_ARCH.rock:V``."""
    source = two_layer_image(tmp_path, tmp_path / "images" / "app", "1.0")
    rock = tmp_path / "app_1.0_amd64.rock"
    umoci_ok(
        "--insecure-policy",
        "copy",
        "--remove-signatures",
        "--quiet",
        f"oci:{source}:1.0",
        f"oci-archive:{rock}:1.0",
    )
    back = tmp_path / "back"
    umoci_ok("copy", "-q", "--insecure-policy", f"oci-archive:{rock}:1.0", f"oci:{back}:1.0")
    assert entry(back, "1.0")["digest"] == entry(source, "1.0")["digest"]


def test_a_progress_line_on_a_terminal(tmp_path: Path) -> None:
    source = two_layer_image(tmp_path, tmp_path / "src", "v1")
    output = under_pty(["copy", f"oci:{source}:v1", f"oci-archive:{tmp_path / 'a.tar'}:v1"])
    assert b"\r\x1b[Kcopy: blob " in output
    assert output.endswith(b"\r\x1b[K"), "the line is cleared at the end"
    quiet = under_pty(["copy", "-q", f"oci:{source}:v1", f"oci-archive:{tmp_path / 'b.tar'}:v1"])
    assert quiet == b""
