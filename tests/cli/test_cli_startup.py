"""``umoci ls`` loads only what it needs: new verbs and the API must not weigh on start-up."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from umoci.cli import main

# What "umoci ls" may import of ours (the CLI, the layout checks, the tag list,
# and the one JSON decoder with the models it decodes oci-layout and index.json
# into: ls reads them as every other verb does).
ALLOWED = {
    "umoci",
    "umoci.cas",
    "umoci.cas.layoutcheck",
    "umoci.cli",
    "umoci.cli.app",
    "umoci.cli.command",
    "umoci.cli.commands",
    "umoci.cli.flags",
    "umoci.cli.help",
    "umoci.cli.options",
    "umoci.errors",
    "umoci.goquote",
    "umoci.log",
    "umoci.oci",
    "umoci.oci.decode",
    "umoci.oci.digest",
    "umoci.oci.mediatypes",
    "umoci.oci.models",
    "umoci.ops",
    "umoci.ops.taglist",
    "umoci.structs",
    "umoci.validate",
    "umoci.validate.checks",
}


def test_ls_imports_only_its_own_modules(tmp_path: Path) -> None:
    layout = tmp_path / "L"
    assert main(["init", "--layout", str(layout)]) == 0
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "umoci", "ls", "--layout", str(layout)],
        capture_output=True,
        text=True,
        check=True,
    )
    ours = set(re.findall(r"\|\s+(umoci(?:\.[\w.]+)?)\s*$", result.stderr, re.MULTILINE))
    assert "umoci.cli.app" in ours, "the import log was read"
    assert ours <= ALLOWED, f"umoci ls now imports {sorted(ours - ALLOWED)}"


def test_ls_loads_neither_json_nor_re(tmp_path: Path) -> None:
    """``json`` imports ``re`` (``re`` imports ``enum``): ~6 ms ls saves through umoci.jsontext."""
    layout = tmp_path / "L"
    assert main(["init", "--layout", str(layout)]) == 0
    code = (
        "import sys\n"
        "from umoci.cli import main\n"
        f"status = main(['ls', '--layout', {str(layout)!r}])\n"
        "print(status, sorted(m for m in ('json', 're', 'enum', 'hashlib', 'typing') "
        "if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "0 []"


def test_the_installed_command_is_not_an_entry_point_wrapper() -> None:
    """pip's generated wrappers import ``re`` before anything else; bin/umoci does not."""
    script = Path(__file__).resolve().parents[2] / "bin" / "umoci"
    lines = script.read_text().splitlines()
    assert lines[0] == "#!python"
    imports = [line for line in lines if line.startswith(("import ", "from "))]
    assert imports == ["from umoci.cli import run"]


def test_repack_of_a_small_change_loads_neither_re_typing_nor_threads(tmp_path: Path) -> None:
    """A repack of a few files: ~5 ms of imports it has no use for (re, typing, gzip)."""
    layout, bundle = tmp_path / "L", tmp_path / "b"
    assert main(["init", "--layout", str(layout)]) == 0
    assert main(["new", "--image", f"{layout}:t"]) == 0
    assert main(["unpack", "--image", f"{layout}:t", str(bundle)]) == 0
    (bundle / "rootfs" / "added").write_bytes(b"a small change\n")
    code = (
        "import sys\n"
        "from umoci.cli import main\n"
        f"status = main(['repack', '--image', {f'{layout}:t2'!r}, {str(bundle)!r}])\n"
        "print(status, sorted(m for m in ('re', 'typing', 'gzip', 'isal.igzip_threaded') "
        "if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "0 []"
