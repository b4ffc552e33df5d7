"""The progress line: drawn on a terminal (a pty here), never in pipes, --no-progress or debug."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ptykit import under_pty
from umoci.cli import main
from umoci.progress import ProgressLine


def test_the_line_shows_bytes_entries_rate_and_eta() -> None:
    out = io.StringIO()
    line = ProgressLine("unpack", out, term="xterm")
    line.start("2 layers", total=2_000_000)
    line.add(500_000)
    line.add(entries=10)  # within the redraw interval: counted, not drawn
    text = out.getvalue()
    assert text.startswith("\r\x1b[Kunpack: 2 layers, 500.0 kB / 2.0 MB (25%), ")
    assert "/s, ETA " in text
    line.done()
    assert out.getvalue().endswith("\r\x1b[K")
    unknown = io.StringIO()
    line = ProgressLine("repack", unknown, term="xterm")
    line.start("new layer")
    line.add(1234, entries=3)
    assert unknown.getvalue().startswith("\r\x1b[Krepack: new layer, 1.2 kB, 3 entries, ")
    assert "ETA" not in unknown.getvalue()


@pytest.fixture
def image(tmp_path: Path) -> Path:
    layout = tmp_path / "L"
    assert main(["init", "--layout", str(layout)]) == 0
    assert main(["new", "--image", f"{layout}:a"]) == 0
    (tmp_path / "data").write_bytes(os.urandom(1 << 20))
    assert main(["insert", "--image", f"{layout}:a", str(tmp_path / "data"), "/data"]) == 0
    return layout


def test_unpack_on_a_terminal_draws_and_clears_the_line(image: Path, tmp_path: Path) -> None:
    output = under_pty(["unpack", "--image", f"{image}:a", str(tmp_path / "b")])
    assert b"\r\x1b[Kunpack: 1 layers, " in output
    assert output.endswith(b"\r\x1b[K"), "the line is cleared at the end"


@pytest.mark.parametrize("flags", [["--no-progress"], ["--log=debug"]])
def test_no_line_when_turned_off(image: Path, tmp_path: Path, flags: list[str]) -> None:
    output = under_pty([*flags, "unpack", "--image", f"{image}:a", str(tmp_path / "b")])
    assert b"\x1b[K" not in output


def test_no_line_in_a_pipe(image: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "umoci", "unpack", "--image", f"{image}:a", str(tmp_path / "b")],
        capture_output=True,
        check=True,
    )
    assert result.stderr == b""


@pytest.mark.parametrize("term", ["dumb", ""])
def test_a_dumb_terminal_gets_blanks_not_escapes(term: str) -> None:
    out = io.StringIO()
    line = ProgressLine("unpack", out, term=term)
    line.start("2 layers", total=2_000_000)
    line.add(500_000)
    drawn = out.getvalue()
    assert drawn.startswith("\runpack: 2 layers, 500.0 kB / 2.0 MB (25%), ")
    line.done()
    assert "\x1b" not in out.getvalue()
    # Cleared with as many blanks as the line had, the cursor back in column 0.
    assert out.getvalue() == f"{drawn}\r{' ' * (len(drawn) - 1)}\r"


def test_no_term_at_all_is_a_dumb_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TERM", raising=False)
    out = io.StringIO()
    line = ProgressLine("gc", out)
    line.start("blobs")
    line.add(10)
    assert out.getvalue().startswith("\rgc: blobs, 10 B, ")


def _screen_lines(output: bytes) -> list[bytes]:
    """What each rewrite of a line put on the screen: the output cut at CR and LF."""
    return re.split(rb"[\r\n]", output)


@pytest.mark.parametrize("term", ["dumb", "xterm"])
def test_the_line_is_cut_to_the_terminal_width(image: Path, tmp_path: Path, term: str) -> None:
    output = under_pty(
        ["unpack", "--image", f"{image}:a", str(tmp_path / "b")], term=term, columns=30
    )
    assert b"unpack: 1 layers, " in output, "the line was drawn"
    if term == "dumb":
        assert b"\x1b" not in output
    shown = [line.replace(b"\x1b[K", b"") for line in _screen_lines(output)]
    assert max(map(len, shown)) < 30, shown
