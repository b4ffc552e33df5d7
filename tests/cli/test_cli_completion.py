"""Shell completion: the candidates, and the bash script driven under a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import select
import shutil
import sys
import time
from pathlib import Path

import pytest

from umoci.cli import main
from umoci.cli.commands import ROOT
from umoci.cli.completion import candidates, complete


@pytest.fixture
def layouts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    main(["init", "--layout", "oci"])
    main(["new", "--image", "oci:latest"])
    main(["tag", "--image", "oci:latest", "stable"])
    (tmp_path / "other").mkdir()
    return tmp_path


def test_commands_subcommands_and_flags() -> None:
    assert candidates(ROOT, "umoci unp") == ["unpack"]
    assert candidates(ROOT, "umoci raw ") == ["add-layer", "runtime-config", "config", "unpack"]
    assert candidates(ROOT, "umoci index c") == ["create"]
    assert candidates(ROOT, "umoci unpack --ke") == ["--keep-dirlinks"]
    assert "--platform" in candidates(ROOT, "umoci stat --")
    assert "__complete" not in candidates(ROOT, "umoci ")
    assert candidates(ROOT, "umoci stat --platform linux/arm") == ["linux/arm64", "linux/arm/v7"]


@pytest.mark.usefixtures("layouts")
def test_layouts_and_tags() -> None:
    assert candidates(ROOT, "umoci stat --image ") == ["oci:", "other/"]
    assert candidates(ROOT, "umoci stat --image oci:") == ["oci:latest", "oci:stable"]
    assert candidates(ROOT, "umoci stat --image=oci:s") == ["--image=oci:stable"]
    assert candidates(ROOT, "umoci gc --layout o") == ["oci/", "other/"]
    # bash breaks words at ':' and '=': it gets the part after them.
    assert complete(ROOT, "bash", "umoci stat --image oci:s") == ["stable"]
    assert complete(ROOT, "zsh", "umoci stat --image oci:s") == ["oci:stable"]


def test_scripts_and_unknown_shell(capsys: pytest.CaptureFixture[str]) -> None:
    for shell in ("bash", "zsh", "fish"):
        assert main(["completion", shell]) == 0
        out, _ = capsys.readouterr()
        assert "__complete --shell " + shell in out
    assert main(["completion", "tcsh"]) == 1
    assert "no completion for shell 'tcsh'" in capsys.readouterr().err


def _bash_completes(typed: str, env: dict[str, str], cwd: Path) -> str:
    """Type *typed* + TAB into an interactive bash with our script; what the line became."""
    bash = shutil.which("bash")
    assert bash
    pid, fd = pty.fork()
    if pid == 0:  # the child: an interactive bash without the user's rc files
        os.chdir(cwd)
        os.execve(bash, [bash, "--norc", "--noprofile", "-i"], env)
    output = b""

    def read_for(seconds: float) -> bytes:
        data = b""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    data += os.read(fd, 4096)
                except OSError:
                    break
        return data

    try:
        os.write(fd, b'PS1="$ "; eval "$(umoci completion bash)"; echo READY\n')
        output += read_for(3)
        os.write(fd, typed.encode() + b"\t")
        output = read_for(5)
        os.write(fd, b"\x03exit\n")  # ^C the half-typed line, then leave
        read_for(1)
    finally:
        os.close(fd)
        os.waitpid(pid, 0)
    text = output.decode(errors="replace").replace("\r", "")
    return text.rsplit("\n", 1)[-1]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_script_under_a_pty(layouts: Path) -> None:
    umoci = shutil.which("umoci", path=str(Path(sys.executable).parent))
    if umoci is None:
        pytest.skip("the umoci console script is not installed beside this python")
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(layouts),
        "TERM": "dumb",
        "INPUTRC": "/dev/null",
    }
    # Echo shows the line as completed: the command, a flag, a tag.
    assert _bash_completes("umoci unp", env, layouts).endswith("umoci unpack ")
    assert _bash_completes("umoci unpack --keep-d", env, layouts).endswith(
        "umoci unpack --keep-dirlinks "
    )
    assert _bash_completes("umoci stat --image oci:sta", env, layouts).endswith(
        "umoci stat --image oci:stable "
    )
