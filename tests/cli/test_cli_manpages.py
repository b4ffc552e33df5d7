"""``umoci help --man COMMAND`` renders every command's help as a man page ``man -l`` reads."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from umoci.cli import main
from umoci.cli.command import Command
from umoci.cli.commands import ROOT


def every_command(command: Command = ROOT, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [path]
    for sub in command.subcommands:
        if sub.name != "help" and not sub.hidden:
            out += every_command(sub, (*path, sub.name))
    return out


def command_at(path: tuple[str, ...]) -> Command:
    command = ROOT
    for name in path:
        found = command.find(name)
        assert found is not None
        command = found
    return command


@pytest.mark.parametrize("path", every_command(), ids=lambda p: " ".join(p) or "umoci")
def test_man_page_of_each_command(
    path: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["help", "--man", *path]) == 0
    page, err = capsys.readouterr()
    assert err == ""
    command = command_at(path)
    title = "-".join(["umoci", *path])
    assert page.startswith(f'.TH {title.upper()} 1 "" "umoci ')
    man = shutil.which("man")
    if man is None:
        pytest.skip("man is not installed")
    source = tmp_path / f"{title}.1"
    source.write_text(page)
    rendered = subprocess.run(
        [man, "-l", str(source)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "MANWIDTH": "200", "MAN_KEEP_FORMATTING": "0", "PAGER": "cat"},
    ).stdout
    # man marks bold and underline by overstriking (c\bc, _\bc) off a terminal.
    plain = " ".join(re.sub(".\x08", "", rendered).replace("\u2010", "-").split())
    assert f"{title} - {command.usage}" in plain
    for flag in command.flags:
        if not flag.hidden:
            assert f"--{flag.name}" in plain or f"-{flag.name}" in plain, flag.name
    # Same text as --help: the synopsis line of args_usage is there.
    synopsis = command.args_usage.partition("\n")[0].strip()
    if synopsis:
        assert " ".join(synopsis.split()) in plain
