"""Shell completion: the candidates, and the scripts driven in bash, zsh and fish on a pty.

Layout directories and tags are anybody's text, and what completion
inserts runs when the user presses Enter: hostile names must come back
exactly as themselves, and tags ``umoci tag`` would refuse not at all.
"""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import sys
import time
from pathlib import Path

import pytest

from multikit import REF_NAME, entry, set_index, untagged
from umoci.cli import main
from umoci.cli.commands import ROOT
from umoci.cli.completion import candidates, complete
from umoci.cli.shellwords import ShellLine
from umoci.errors import UsageError


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


def test_only_tags_umoci_tag_accepts_are_offered(layouts: Path) -> None:
    hostile = ["$(touch pwned)", "*", "`touch pwned`", "a b", "x;y", "e\x1b[31m", "-rf"]
    set_index(
        layouts / "oci",
        [untagged(entry(layouts / "oci", "latest"), annotations={REF_NAME: t}) for t in hostile]
        + [entry(layouts / "oci", "latest")],
    )
    assert candidates(ROOT, "umoci stat --image oci:") == ["oci:latest"]
    for shell in ("bash", "zsh", "fish"):
        assert complete(ROOT, shell, "umoci stat --image oci:") == [
            "latest" if shell == "bash" else "oci:latest"
        ]


def test_candidates_are_quoted_for_each_shell(layouts: Path) -> None:
    (layouts / "a $(touch x) [y] *").mkdir()
    (layouts / "e\x1b[31m\rred").mkdir()
    (layouts / "t\tab").mkdir()
    (layouts / "=x").mkdir()
    line = "umoci gc --layout "
    assert complete(ROOT, "bash", line + "a") == ["a\\ \\$\\(touch\\ x\\)\\ \\[y\\]\\ \\*/"]
    assert complete(ROOT, "zsh", line + "e") == ["e$'\\x1b'\\[31m$'\\x0d'red/"]
    # fish escapes what it inserts: it gets names as they are, but one a line.
    assert complete(ROOT, "fish", line + "a") == ["a $(touch x) [y] */"]
    assert complete(ROOT, "fish", line + "t") == []
    assert complete(ROOT, "zsh", line + "t") == ["t$'\\x09'ab/"]
    # bash keeps what comes before an unquoted ':' or '=' as typed, not an escaped one.
    assert complete(ROOT, "bash", "umoci stat --image=oci:l") == ["latest"]
    assert complete(ROOT, "bash", line + "\\=") == ["\\=x/"]
    with pytest.raises(UsageError, match="no completion for shell 'tcsh'"):
        complete(ROOT, "tcsh", line)


@pytest.mark.parametrize(
    ("line", "words", "open_quote", "bash_kept"),
    [
        ("umoci stat --image oci:s", ["umoci", "stat", "--image", "oci:s"], False, 4),
        ("umoci stat --image=oci:s", ["umoci", "stat", "--image=oci:s"], False, 12),
        ("umoci gc --layout \\=t", ["umoci", "gc", "--layout", "=t"], False, 0),
        ("umoci x a\\ b:c", ["umoci", "x", "a b:c"], False, 4),
        ('umoci x "a:b"c\\:', ["umoci", "x", "a:bc:"], False, 0),
        ("umoci x a:b ", ["umoci", "x", "a:b", ""], False, 0),
        ("umoci x c$'\\x1b\\xc3\\xa9\\x80\\n'd", ["umoci", "x", "c\x1bé\udc80\nd"], False, 0),
        ("umoci x 'my d", ["umoci", "x", "my d"], True, 0),
        ('umoci x "a\\"b', ["umoci", "x", 'a"b'], True, 0),
        ("umoci x \\", ["umoci", "x", ""], True, 0),
    ],
)
def test_the_line_is_read_as_the_shell_reads_it(
    line: str, words: list[str], open_quote: bool, bash_kept: int
) -> None:
    read = ShellLine(line)
    assert (read.words, read.open_quote, read.bash_kept) == (words, open_quote, bash_kept)


def test_nothing_is_offered_inside_an_open_quote(layouts: Path) -> None:
    # bash and zsh would insert a backslash-quoted word into the quote as it is.
    assert complete(ROOT, "bash", "umoci gc --layout 'o") == []
    assert complete(ROOT, "zsh", "umoci gc --layout 'o") == []
    # fish reads the quote itself.
    assert complete(ROOT, "fish", "umoci gc --layout 'o") == ["oci/", "other/"]


# -- the scripts, in the real shells --------------------------------------------

_STUB = "printf '<%s>\\n'"  # the stand-in for umoci on Enter: one <argument> a line
_SETUP = {
    # Each loads our script (whose <Tab> runs the real umoci), then replaces
    # umoci by a function that prints its arguments, so Enter shows exactly
    # what the shell made of the completed line.
    "bash": (
        ["--norc", "--noprofile", "-i"],
        f"PS1='$ '; eval \"$(umoci completion bash)\"; "
        f'umoci() {{ {_STUB} "$@"; echo END""MARK; }}; echo READY""MARK',
    ),
    "zsh": (
        ["-f", "-i"],
        'autoload -Uz compinit; compinit -u -D; eval "$(umoci completion zsh)"; '
        f'umoci() {{ {_STUB} "$@"; echo END""MARK }}; echo READY""MARK',
    ),
    "fish": (
        ["--no-config", "-i"],
        "umoci completion fish | source; "
        f'function umoci; {_STUB} $argv; echo END""MARK; end; echo READY""MARK',
    ),
}
SHELLS = list(_SETUP)


def _read_until(fd: int, marker: bytes, timeout: float = 30) -> bytes:
    data = b""
    end = time.monotonic() + timeout
    while marker not in data and time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the shell is gone
                break
            if not chunk:
                break
            data += chunk
    return data


def type_into(shell: str, cwd: Path, typed: str) -> list[bytes]:
    """Type *typed* (with its Tabs) and Enter into an interactive *shell*: the arguments umoci got.

    The keys go in at once: the shells complete before they read the next
    key, as they do for a fast typist.
    """
    path = shutil.which(shell)
    assert path is not None, f"{shell} is not installed (scripts/test installs it)"
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "umoci").exists(), "the umoci console script is installed beside python"
    home = cwd / ".home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home),
        "XDG_DATA_HOME": str(home),
        "XDG_CACHE_HOME": str(home),
        "TERM": "dumb",
        "INPUTRC": "/dev/null",
        "LANG": "C.UTF-8",
    }
    flags, setup = _SETUP[shell]
    pid, fd = pty.fork()
    if pid == 0:  # the child: the shell, without the user's rc files
        os.chdir(cwd)
        os.execve(path, [path, *flags], env)
    try:
        os.write(fd, setup.encode() + b"\r")
        output = _read_until(fd, b"READYMARK")
        assert b"READYMARK" in output, output
        os.write(fd, typed.encode() + b"\r")
        output = _read_until(fd, b"ENDMARK")
        assert b"ENDMARK" in output, output
        os.write(fd, b"exit\r")
        _read_until(fd, b"\0", timeout=1)  # until the shell has gone
    finally:
        os.close(fd)
        os.waitpid(pid, 0)
    return re.findall(rb"<(.*?)>\r\n", output, re.DOTALL)


@pytest.mark.parametrize("shell", SHELLS)
def test_the_script_completes_commands_flags_and_tags(layouts: Path, shell: str) -> None:
    assert type_into(shell, layouts, "umoci unp\t") == [b"unpack"]
    assert type_into(shell, layouts, "umoci unpack --keep-d\t") == [b"unpack", b"--keep-dirlinks"]
    assert type_into(shell, layouts, "umoci stat --image oci:sta\t") == [
        b"stat",
        b"--image",
        b"oci:stable",
    ]
    if shell != "zsh":  # zsh's script adds no space after a candidate
        # A finished word gets its space: what comes next is a new argument.
        assert type_into(shell, layouts, "umoci unp\tX") == [b"unpack", b"X"]
        assert type_into(shell, layouts, "umoci stat --image oci:sta\tX") == [
            b"stat",
            b"--image",
            b"oci:stable",
            b"X",
        ]


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Layouts whose only tag would run or glob, and a layout in a directory named to do both."""
    monkeypatch.chdir(tmp_path)
    for layout, tag in (("run", "$(touch pwned)"), ("glob", "*")):
        main(["init", "--layout", layout])
        main(["new", "--image", f"{layout}:t"])
        set_index(
            tmp_path / layout,
            [untagged(entry(tmp_path / layout, "t"), annotations={REF_NAME: tag})],
        )
    (tmp_path / "glob:victim").touch()  # what "glob:*" would expand to
    main(["init", "--layout", "a $(touch pwned) [x] *"])
    (tmp_path / "c\x1bd").mkdir()
    return tmp_path


@pytest.mark.parametrize("shell", SHELLS)
def test_hostile_tags_are_not_offered(hostile: Path, shell: str) -> None:
    # Before, bash and zsh inserted the tag as it is: Enter ran it, or globbed it.
    assert type_into(shell, hostile, "umoci unpack --image run:\t") == [
        b"unpack",
        b"--image",
        b"run:",
    ]
    assert type_into(shell, hostile, "umoci unpack --image glob:\t") == [
        b"unpack",
        b"--image",
        b"glob:",
    ]
    assert not (hostile / "pwned").exists()


@pytest.mark.parametrize("shell", SHELLS)
def test_hostile_directory_names_complete_to_themselves(hostile: Path, shell: str) -> None:
    assert type_into(shell, hostile, "umoci stat --image a\t") == [
        b"stat",
        b"--image",
        b"a $(touch pwned) [x] *:",
    ]
    assert not (hostile / "pwned").exists()
    # A control character reaches the line escaped (bash and zsh get it
    # quoted, fish escapes it itself), and the argument whole.
    assert type_into(shell, hostile, "umoci gc --layout c\t") == [b"gc", b"--layout", b"c\x1bd/"]
