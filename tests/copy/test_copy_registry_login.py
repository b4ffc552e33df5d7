"""Logging in from the command line: ``--creds USER`` and skopeo's
``--src-username``/``--src-password`` and ``--dest-username``/``--dest-password``.

``--creds USER`` (``--src-creds``, ``--dest-creds``) without ``:PASSWORD``
is USER with an empty password, as skopeo has it: nothing is asked for,
even on a terminal (a script that works with skopeo must not stop at a
prompt).  The tests drive the real ``umoci`` on a pty and without a
terminal (a new session) against the TLS registry of :mod:`registrykit`
(htpasswd Basic auth, with a user whose password is empty).
"""

from __future__ import annotations

import base64
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from copykit import copy_fails, entry, two_layer_image, umoci_ok
from registrykit import EMPTY_PASSWORD_USER, PASSWORD, USER, Registry, private_cache, tls_registry

from umoci.cli import main

__all__ = ["private_cache", "tls_registry"]  # fixtures, imported for the tests below

UMOCI = Path(sys.executable).parent / "umoci"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return two_layer_image(tmp_path, tmp_path / "src", "v1")


def encoded(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def cert_flags(registry: Registry, *sides: str) -> list[str]:
    return [f"--{side}-cert-dir={registry.cert_dir}" for side in sides]


def on_a_pty(argv: list[str | Path], answers: dict[bytes, bytes]) -> tuple[int, list[bytes], bytes]:
    """Run ``umoci ARGV`` with a pty as its terminal, typing each answer when its prompt shows.

    Returns the exit status, the prompts in the order they came, and all it wrote.
    """
    assert UMOCI.exists(), "the umoci console script is installed beside python"
    pid, fd = pty.fork()
    if pid == 0:  # the child: a session of its own, the pty its controlling terminal
        try:
            os.execv(UMOCI, [str(UMOCI), *map(str, argv)])
        finally:
            os._exit(127)  # never back into pytest
    output = b""
    asked: list[bytes] = []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child has gone
                break
            if not chunk:
                break
            output += chunk
            for prompt, answer in answers.items():
                if output.endswith(prompt):
                    asked.append(prompt)
                    os.write(fd, answer + b"\n")
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), asked, output


def test_creds_without_a_password_log_in_with_an_empty_one(
    tls_registry: Registry, source: Path, tmp_path: Path
) -> None:
    """As skopeo: ``--creds USER`` is USER with an empty password, and nothing is asked.

    Run on a terminal, where a prompt would show (and wait): none does.
    """
    name = tls_registry.name("login/empty:v1")
    argv = [
        "copy",
        *cert_flags(tls_registry, "dest"),
        *("--dest-creds", EMPTY_PASSWORD_USER, f"oci:{source}:v1", name),
    ]
    status, asked, output = on_a_pty(argv, {b"Password": b"typed"})
    assert status == 0, output
    assert asked == []
    assert b"assword" not in output  # only the progress line was drawn
    pulled = tmp_path / "pulled"
    umoci_ok("copy", *tls_registry.flags("src"), name, f"oci:{pulled}:v1")
    assert entry(pulled, "v1")["digest"] == entry(source, "v1")["digest"]


def test_creds_of_a_user_with_a_password_fail_in_one_line_without_a_terminal(
    tls_registry: Registry, source: Path
) -> None:
    done = without_a_terminal(
        "copy",
        *cert_flags(tls_registry, "dest"),
        *("--dest-creds", USER, f"oci:{source}:v1", tls_registry.name("login/wrong:v1")),
    )
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("umoci: copy: ")
    assert "authentication failed" in lines[0]


def without_a_terminal(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    """``umoci ARGV`` in a session of its own: it has no controlling terminal."""
    return subprocess.run(
        [UMOCI, *map(str, argv)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        start_new_session=True,
        timeout=60,
        check=False,
    )


def test_no_password_is_asked_for_a_side_that_is_not_a_registry(
    source: Path, tmp_path: Path
) -> None:
    done = without_a_terminal(
        "copy", "--creds", USER, f"oci:{source}:v1", f"oci:{tmp_path / 'dest'}:v1"
    )
    assert done.returncode == 0, done.stderr
    assert entry(tmp_path / "dest", "v1")["digest"] == entry(source, "v1")["digest"]


# -- --src-username / --src-password, --dest-username / --dest-password (skopeo's) ---------


def test_username_and_password_flags_log_in_and_never_print(
    tls_registry: Registry, source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = tls_registry.name("login/flags:v1")
    login = ("--dest-username", USER, "--dest-password", PASSWORD)
    assert main(["--log=debug", "copy", *cert_flags(tls_registry, "dest"), *login,
                 f"oci:{source}:v1", name]) == 0  # fmt: skip
    pulled = tmp_path / "pulled"
    login = ("--src-username", USER, "--src-password", PASSWORD)
    assert main(["--log=debug", "copy", *cert_flags(tls_registry, "src"), *login,
                 name, f"oci:{pulled}:v1"]) == 0  # fmt: skip
    assert entry(pulled, "v1")["digest"] == entry(source, "v1")["digest"]
    out, err = capsys.readouterr()
    assert "umoci: debug:" in err
    assert PASSWORD not in out + err
    assert encoded(USER, PASSWORD) not in out + err


def test_a_wrong_password_flag_is_one_line_without_it(
    tls_registry: Registry, source: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = "wrong-Kq2mV8xZ"
    line = copy_fails(
        capsys,
        *cert_flags(tls_registry, "dest"),
        *("--dest-username", USER, "--dest-password", wrong),
        f"oci:{source}:v1",
        tls_registry.name("login/wrong-flag:v1"),
    )
    assert "authentication failed" in line
    assert wrong not in line
    assert encoded(USER, wrong) not in line


@pytest.mark.parametrize(
    ("flags", "why"),
    [
        (["--dest-username", USER], "--dest-username needs --dest-password"),
        (["--src-password", PASSWORD], "--src-password needs --src-username"),
        (
            ["--dest-creds", f"{USER}:{PASSWORD}", "--dest-username", USER, "--dest-password", "p"],
            "--dest-creds and --dest-username conflict",
        ),
        (
            ["--creds", USER, "--src-username", USER, "--src-password", PASSWORD],
            "--creds and --src-username conflict",
        ),
        (
            ["--dest-username", USER, "--dest-password", PASSWORD, "--registry-token", "t"],
            "--dest-username and --registry-token conflict",
        ),
        (
            ["--no-creds", "--dest-username", USER, "--dest-password", PASSWORD],
            "--dest-no-creds (or --no-creds) and credentials conflict",
        ),
        (
            ["--dest-username", "", "--dest-password", PASSWORD],
            "--dest-username: the user name is empty",
        ),
        (
            ["--dest-username", f"a:{USER}", "--dest-password", PASSWORD],
            "--dest-username: a user name cannot hold ':'",
        ),
    ],
)
def test_username_and_password_flags_are_checked_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], why: str
) -> None:
    dest = tmp_path / "dest"
    # Both sides are registries, so a shared --creds USER would be asked for: it must not be.
    line = copy_fails(capsys, *flags, "docker://127.0.0.1:1/x:v1", "docker://127.0.0.1:1/y:v1")
    assert line == f"umoci: copy: {why}"
    assert PASSWORD not in line
    line = copy_fails(capsys, *flags, "docker://127.0.0.1:1/x:v1", f"oci:{dest}:v1")
    assert line == f"umoci: copy: {why}"
    assert not dest.exists()


def test_skopeo_copy_has_no_username_flag_for_both_sides(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for flag in ("--username", "--password"):
        line = copy_fails(capsys, flag, "x", f"oci:{source}:v1", f"oci:{tmp_path / 'dest'}:v1")
        assert "flag provided but not defined" in line
    assert PASSWORD not in line
