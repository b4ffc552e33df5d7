"""Fuzz targets: completion candidates, read back by the shells themselves.

Whatever a directory or a tag is called, a candidate is one line with no
control character, and bash and zsh read the word it completes back as
exactly that name: no expansion, no globbing, no command run.  Only tags
``umoci tag`` would accept are offered at all.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from fuzzkit import FUZZ
from hypothesis import example, given
from hypothesis import strategies as st

from multikit import REF_NAME
from umoci.cli import main
from umoci.cli.commands import ROOT
from umoci.cli.completion import complete
from umoci.cli.shellwords import ShellLine, quote_sh
from umoci.oci.refs import is_valid_tag

# What the shells act on, control characters, and bytes that are not UTF-8
# (a file name carries them as surrogateescape), among any other character.
_SHELL_SPECIAL = list(" \t\n\r\x1b\x07\x7f$`'\"\\|&;()<>!{}*?[]^~#=%,:@+-./")
_NOT_UTF8 = [chr(code) for code in range(0xDC80, 0xDD00)]
characters = st.one_of(
    st.sampled_from(_SHELL_SPECIAL),
    st.sampled_from(_NOT_UTF8),
    # No name (nor argument) holds a NUL, or a surrogate but those of bytes.
    st.characters(exclude_characters="\0", exclude_categories=["Cs"]),
)
names = st.text(characters, max_size=24)


def read_back(shell: str, words: list[str], cwd: Path) -> list[bytes]:
    """The arguments *shell* makes of *words* written on a command line, run in *cwd*.

    (In a directory of the test's own: a word that did run or glob would do
    it there, and the comparison would fail.)
    """
    if not words:
        return []
    path = shutil.which(shell)
    assert path is not None, f"{shell} is not installed (scripts/test installs it)"
    flags = ["-f"] if shell == "zsh" else ["--norc", "--noprofile"]
    result = subprocess.run(
        [path, *flags, "-c", "printf '%s\\0' " + " ".join(words)],
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        cwd=cwd,
        timeout=20,
        check=True,
    )
    assert result.stderr == b""
    return result.stdout.split(b"\0")[:-1]


@FUZZ
@given(st.lists(names, min_size=1, max_size=6))
@example(["$(touch pwned)", "*", "=ls", "~root", "a\nb", "\udc80", "", "!!", "#c"])
def test_quoted_words_read_back_as_themselves(tmp_path_factory: Any, texts: list[str]) -> None:
    cwd = tmp_path_factory.mktemp("quote")
    (cwd / "file").touch()  # something for a stray '*' to match
    words = [quote_sh(text) for text in texts]
    assert all(word.isprintable() for word in words), words
    # Completion reads them back the same way, for the next <Tab>.
    assert ShellLine("umoci " + " ".join(words)).words[1:] == [
        os.fsdecode(os.fsencode(text)) for text in texts
    ]
    for shell in ("bash", "zsh"):
        assert read_back(shell, words, cwd) == [os.fsencode(text) for text in texts], shell
    assert [p.name for p in cwd.iterdir()] == ["file"], "no command ran"


@st.composite
def layout_names(draw: st.DrawFn) -> str:
    # A layout's directory: any file name but one with ':' (--image splits
    # there) or one bash breaks words at ('='), "." or "..".
    name: str = draw(st.text(characters.filter(lambda c: c not in "/:="), min_size=1, max_size=16))
    # As the file system gives it back: bytes that escaped one by one may
    # make a valid UTF-8 character together.
    name = os.fsdecode(os.fsencode(name))
    return name if name not in (".", "..") else name + "x"


tags = st.one_of(
    st.text(characters, min_size=1, max_size=16),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:@+-]{0,12}", fullmatch=True),
)


def _layout(base: Path, name: str, tag_names: list[str]) -> Path:
    layout = base / name
    assert main(["init", "--layout", os.fsdecode(layout)]) == 0
    digest = "sha256:" + "0" * 64
    manifests: list[dict[str, Any]] = [
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest,
            "size": 2,
            "annotations": {REF_NAME: tag},
        }
        for tag in tag_names
    ]
    index = {"schemaVersion": 2, "manifests": manifests}
    (layout / "index.json").write_bytes(json.dumps(index).encode())
    return layout


@FUZZ
@given(layout_names(), st.lists(tags, min_size=1, max_size=5))
@example("a $(touch x) *", ["$(touch pwned)", "*", "ok", "v1:2@x"])
def test_offered_tags_are_valid_and_complete_to_themselves(
    tmp_path_factory: Any, name: str, tag_names: list[str]
) -> None:
    base = tmp_path_factory.mktemp("complete")
    layout = os.fsdecode(_layout(base, name, tag_names))
    typed = quote_sh(layout) + ":"
    line = f"umoci stat --image {typed}"
    valid = list(dict.fromkeys(t for t in tag_names if is_valid_tag(t)))
    expected = [os.fsencode(f"{layout}:{tag}") for tag in valid]

    # fish escapes what it inserts: it gets the names themselves, those
    # that fit on one line of the output (a tab would start a description).
    whole = [f"{layout}:{tag}" for tag in valid]
    assert complete(ROOT, "fish", line) == [c for c in whole if "\n" not in c and "\t" not in c]
    # bash completes after the ':' typed last; zsh replaces the whole word.
    bash = complete(ROOT, "bash", line)
    zsh = complete(ROOT, "zsh", line)
    assert all(word.isprintable() for word in bash + zsh)
    assert read_back("bash", [typed + word for word in bash], base) == expected
    assert read_back("zsh", zsh, base) == expected
