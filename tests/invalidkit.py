"""Invalid command lines, one per check the Go umoci 0.6 makes, with 0.6's exit status.

Each row is ``(argv, status of umoci-0.6)``.  Tokens in argv name things in
a scratch directory made by :func:`make_scratch`: ``{L}`` a layout with tag
``t`` (one layer), ``{B}`` a bundle unpacked from it, ``{S}`` a source tree,
``{T}`` a layer tarball, ``{M}`` and ``{N}`` paths that do not exist.

tests/cli/test_cli_invalid_inputs.py checks that we refuse every row whose
0.6 status is not 0 (status 1, one line on stderr, nothing changed);
tests/oracle/test_oracle_invalid_inputs.py checks each recorded status
against the oracle itself.  Rows with status 0 are inputs 0.6 accepts and we
refuse on purpose (the comment says why); status 2 is a 0.6 crash.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

TIME = "2025-01-02T03:04:05Z"

INVALID_INPUTS: list[tuple[tuple[str, ...], int]] = [
    # global flags and commands
    (("--log=bogus", "ls", "--layout", "{L}"), 1),
    (("--no-such-flag", "ls", "--layout", "{L}"), 1),
    (("no-such-command",), 3),  # 0.6's CLI library exits 3 here; we keep 1 for every error
    (("raw", "no-such-command"), 3),
    # init
    (("init",), 1),
    (("init", "--layout", "{L}"), 1),
    (("init", "--layout", "{N}", "extra"), 1),
    # new
    (("new",), 1),
    (("new", "--image", "{L}:bad tag"), 1),
    (("new", "--image", "{L}:"), 1),
    (("new", "--image", "{M}:t"), 1),
    (("new", "--image", "{L}:n", "extra"), 1),
    # tag
    (("tag", "--image", "{L}:t"), 1),
    (("tag", "--image", "{L}:missing", "x"), 1),
    (("tag", "--image", "{L}:t", "bad tag"), 1),
    (("tag", "--image", "{L}:t", "a", "b"), 1),
    (("tag", "--image", "{M}:t", "x"), 1),
    # rm, ls, gc, stat
    (("rm",), 1),
    (("rm", "--image", "{L}:bad tag"), 1),
    (("rm", "--image", "{M}:t"), 1),
    (("ls",), 1),
    (("ls", "--layout", "{M}"), 1),
    (("ls", "--layout", "{L}", "extra"), 1),
    (("gc",), 1),
    (("gc", "--layout", "{M}"), 1),
    (("gc", "--layout", "{L}", "extra"), 1),
    (("stat",), 1),
    (("stat", "--image", "{L}:missing"), 1),
    (("stat", "--image", "{L}:t", "extra"), 1),
    # config
    (("config", "--image", "{L}:missing", "--config.user", "x"), 1),
    (("config", "--image", "{L}:t", "--created", "yesterday"), 1),
    (("config", "--image", "{L}:t", "--created", "2025-01-02"), 1),
    (("config", "--image", "{L}:t", "--history.created", "2020"), 1),
    (("config", "--image", "{L}:t", "--history.created", "2025-01-02 03:04:05Z"), 1),
    (("config", "--image", "{L}:t", "--clear", "nonsense"), 1),
    (("config", "--image", "{L}:t", "--clear", "rootfs.diffids"), 1),
    (("config", "--image", "{L}:t", "--manifest.annotation", "novalue"), 2),  # 0.6 panics
    (("config", "--image", "{L}:t", "--config.label", "novalue"), 1),
    (("config", "--image", "{L}:t", "--tag", "bad tag", "--config.user", "x"), 1),
    (("config", "--image", "{L}:t", "positional"), 1),
    # unpack
    (("unpack", "--image", "{L}:t"), 1),
    (("unpack", "--image", "{L}:t", "{B}"), 1),
    (("unpack", "--image", "{L}:missing", "{N}"), 1),
    (("unpack", "--image", "{L}:t", "{N}", "extra"), 1),
    (("unpack", "--image", "{L}:t", "--uid-map", "bogus", "{N}"), 1),
    # repack
    (("repack", "--image", "{L}:t"), 1),
    (("repack", "--image", "{L}:t", "{M}"), 1),
    (("repack", "--image", "{L}:t", "--history.created", "nope", "{B}"), 1),
    (("repack", "--image", "{L}:t", "--compress", "bogus", "{B}"), 1),
    (("repack", "--image", "{L}:bad tag", "{B}"), 1),
    # insert
    (("insert", "--image", "{L}:t"), 1),
    (("insert", "--image", "{L}:t", "{M}", "/x"), 1),
    (("insert", "--image", "{L}:t", "--history.created", "nope", "{S}", "/x"), 1),
    (("insert", "--image", "{L}:t", "--compress", "bogus", "{S}", "/x"), 1),
    (("insert", "--image", "{L}:t", "{S}", "/a/.wh.x"), 1),
    (("insert", "--image", "{L}:t", "{S}", "/a/.wh..wh..opq"), 1),
    (("insert", "--image", "{L}:t", "--whiteout", "/a/.wh.x"), 1),
    (("insert", "--image", "{L}:t", "--uid-map", "bogus", "{S}", "/x"), 1),
    # 0.6 writes a layer whose directory ".wh.a" unpacks as a deletion of "a".
    (("insert", "--image", "{L}:t", "{S}", "/.wh.a/b"), 0),
    # raw add-layer
    (("raw", "add-layer", "--image", "{L}:t"), 1),
    (("raw", "add-layer", "--image", "{L}:t", "{M}"), 1),
    (("raw", "add-layer", "--image", "{L}:t", "--history.created", "2020", "{T}"), 1),
    (("raw", "add-layer", "--image", "{L}:t", "--compress", "bogus", "{T}"), 1),
    # raw unpack, raw runtime-config
    (("raw", "unpack", "--image", "{L}:t"), 1),
    # 0.6 extracts over a non-empty directory, mixing old files into the
    # image's; we refuse, as unpack does for a bundle.
    (("raw", "unpack", "--image", "{L}:t", "{B}/rootfs"), 0),
    (("raw", "unpack", "--image", "{L}:t", "--uid-map", "x", "{N}"), 1),
    (("raw", "runtime-config", "--image", "{L}:t"), 1),
    (("raw", "runtime-config", "--image", "{L}:missing", "{N}"), 1),
    # raw mtree-validate
    (("raw", "mtree-validate", "-p", "{B}/rootfs"), 1),
    (("raw", "mtree-validate", "-f", "{M}", "-p", "{B}/rootfs"), 1),
    (("raw", "mtree-validate", "-f", "{B}/umoci.json", "-p", "{B}/rootfs", "-k", "bogus"), 1),
    (("raw", "mtree-validate", "-f", "{B}/umoci.json", "-p", "{B}/rootfs", "-K", "bogus2"), 1),
]


def tokens_for(root: Path) -> dict[str, str]:
    """The token values for a scratch directory at ``root``."""
    return {
        "{L}": str(root / "image"),
        "{B}": str(root / "bundle"),
        "{S}": str(root / "src"),
        "{T}": str(root / "layer.tar"),
        "{M}": str(root / "missing"),
        "{N}": str(root / "new"),
    }


OURS = [sys.executable, "-m", "umoci"]


def row_id(value: object) -> str:
    """A test id for a row: the command line as typed."""
    return " ".join(value) if isinstance(value, tuple) else str(value)


def make_scratch(root: Path, umoci: list[str]) -> None:
    """Build a scratch directory at ``root`` with the umoci command ``umoci``.

    Copy it for each row (rows may change it).
    """

    def run_umoci(argv: list[str]) -> None:
        subprocess.run([*umoci, *argv], check=True, capture_output=True, timeout=60)

    root.mkdir()
    source = root / "src"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "file").write_text("content\n")
    layout = root / "image"
    run_umoci(["init", "--layout", str(layout)])
    run_umoci(["new", "--image", f"{layout}:t"])
    run_umoci(["insert", "--image", f"{layout}:t", str(source), "/opt"])
    run_umoci(["unpack", "--image", f"{layout}:t", str(root / "bundle")])
    with tarfile.open(root / "layer.tar", "w") as tar:
        tar.add(source / "sub" / "file", arcname="file")


def expand(argv: tuple[str, ...], tokens: dict[str, str]) -> list[str]:
    out = []
    for arg in argv:
        for token, value in tokens.items():
            arg = arg.replace(token, value)
        out.append(arg)
    return out


def copy_scratch(template: Path, root: Path) -> dict[str, str]:
    """A fresh copy of the scratch directory; its token values."""
    shutil.copytree(template, root, symlinks=True)
    return tokens_for(root)


def ours(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*OURS, *argv],
        capture_output=True,
        text=True,
        errors="surrogateescape",
        timeout=60,
        check=False,
    )
