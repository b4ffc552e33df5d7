"""The command line, black-box through ``umoci.cli.main(argv)``.

Verbs are replaced by recorders (``monkeypatch.setattr(umoci.ops, ...)``) so
these tests pin down parsing, dispatch, help and error reporting, not the
verbs themselves.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import umoci
import umoci.ops
from umoci.cli import main
from umoci.cli.help import tabwrite
from umoci.errors import LayoutError, UmociError
from umoci.idmap import IdMap
from umoci.oci.timefmt import GoTime
from umoci.ops import image_stat as stat_models
from umoci.ops.image_stat import ImageStat
from umoci.ops.options import (
    Compression,
    ConfigChanges,
    HistoryOptions,
    InsertMode,
    MapOptions,
    RepackOptions,
)

Call = tuple[tuple[Any, ...], dict[str, Any]]
Recorder = Callable[..., list[Call]]


@pytest.fixture
def record(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """record("stat", result) replaces umoci.ops.stat; returns the list of its calls."""

    def install(name: str, result: object = None) -> list[Call]:
        assert hasattr(umoci.ops, name), name
        calls: list[Call] = []

        def fake(*args: Any, **kwargs: Any) -> object:
            calls.append((args, kwargs))
            return result

        monkeypatch.setattr(umoci.ops, name, fake)
        return calls

    return install


@pytest.fixture
def as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(os, "getegid", lambda: 0)


@pytest.fixture
def as_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(os, "getegid", lambda: 1001)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def words(text: str) -> list[str]:
    """A long command line written as one string (no quoting needed in these tests)."""
    return text.split()


def assert_one_error_line(err: str, *fragments: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("umoci: "), err
    assert err.endswith("\n")
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


# -- help ------------------------------------------------------------------------

ROOT_HELP = """\
NAME:
   umoci - umoci modifies Open Container images

USAGE:
   umoci [global options] command [command options] [arguments...]

VERSION:
   0.6.0

AUTHOR:
   <author>

COMMANDS:
   raw         advanced internal image tooling
   completion  prints a shell completion script (bash, zsh or fish)
   help, h     Shows a list of commands or help for one command

   image:
     config      modifies the image configuration of an OCI image
     unpack      unpacks a reference into an OCI runtime bundle
     repack      repacks an OCI runtime bundle into a reference
     new         creates a blank tagged OCI image
     tag         creates a new tag in an OCI image
     remove, rm  removes a tag from an OCI image
     stat        displays status information of an image manifest
     insert      insert content into an OCI image
     index       builds and edits multi-platform images (image indexes)
     copy        copies an image between layouts, archives, registries and the Docker engine

   layout:
     gc        garbage-collects an OCI image's blobs
     init      create a new OCI layout
     list, ls  lists the set of tags in an OCI layout
     validate  checks a layout, an image or a bundle against the OCI specifications

GLOBAL OPTIONS:
   --verbose             alias for --log=info
   --log value           set the log level (debug, info, [warn], error, fatal) (default: "warn")
   --no-progress         do not show a progress line on the terminal
   --lock-timeout value  how long to wait for another umoci's lock on a layout (default: "5m")
   --help, -h            show help
   --version, -v         print the version
"""


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["help"], ["h"], []])
def test_root_help_matches_the_go_umoci_layout(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    # Byte for byte what the Go umoci (urfave/cli v1) prints, but our version
    # and our author: a one-line name that is not the Go umoci's author.
    status, out, err = run(capsys, *argv)
    before, section, after = out.partition("\nAUTHOR:\n   ")
    author, newline, rest = after.partition("\n")
    assert (status, before + section + "<author>" + newline + rest, err) == (0, ROOT_HELP, "")
    assert author.strip()
    assert not any(name in author for name in ("Aleksa", "Sarai", "asarai", "cyphar"))


# (what the user types, the canonical name help shows, the one-line usage)
COMMANDS = [
    (["init"], "init", "create a new OCI layout"),
    (["new"], "new", "creates a blank tagged OCI image"),
    (["unpack"], "unpack", "unpacks a reference into an OCI runtime bundle"),
    (["repack"], "repack", "repacks an OCI runtime bundle into a reference"),
    (["config"], "config", "modifies the image configuration of an OCI image"),
    (["stat"], "stat", "displays status information of an image manifest"),
    (["tag"], "tag", "creates a new tag in an OCI image"),
    (["remove"], "remove", "removes a tag from an OCI image"),
    (["rm"], "remove", "removes a tag from an OCI image"),
    (["list"], "list", "lists the set of tags in an OCI layout"),
    (["ls"], "list", "lists the set of tags in an OCI layout"),
    (["gc"], "gc", "garbage-collects an OCI image's blobs"),
    (["insert"], "insert", "insert content into an OCI image"),
    (
        ["copy"],
        "copy",
        "copies an image between layouts, archives, registries and the Docker engine",
    ),
    (["raw"], "raw", "advanced internal image tooling"),
    (["raw", "unpack"], "raw unpack", "unpacks a reference into a rootfs"),
    (["raw", "add-layer"], "raw add-layer", "add a layer archive verbatim to an image"),
    (
        ["raw", "runtime-config"],
        "raw runtime-config",
        "generates an OCI runtime configuration for an image",
    ),
    (
        ["raw", "config"],
        "raw runtime-config",
        "generates an OCI runtime configuration for an image",
    ),
    (
        ["raw", "mtree-validate"],
        "raw mtree-validate",
        'validate an mtree manifest (akin to "go-mtree validate")',
    ),
]


@pytest.mark.parametrize(
    ("path", "name", "usage"), COMMANDS, ids=[" ".join(c[0]) for c in COMMANDS]
)
def test_command_help_names_the_command_on_the_second_line(
    capsys: pytest.CaptureFixture[str], path: list[str], name: str, usage: str
) -> None:
    *groups, leaf = path
    spellings = [
        [*path, "--help"],
        [*path, "-h"],
        [*groups, "help", leaf],
        [*groups, "h", leaf],
        ["help", *path],  # urfave only looks one level deep here; we follow the path
    ]
    outputs = set()
    for argv in spellings:
        status, out, err = run(capsys, *argv)
        assert (status, err) == (0, ""), argv
        outputs.add(out)
    assert len(outputs) == 1, "every way of asking gives the same help"
    lines = outputs.pop().split("\n")
    assert lines[:4] == ["NAME:", f"   umoci {name} - {usage}", "", "USAGE:"]
    assert lines[4].startswith(f"   umoci {name} ")
    assert lines[-2:] == ["   ", ""], "urfave ends OPTIONS with an indented blank line"


def test_command_help_lists_flags_in_go_order_with_aligned_usage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = run(capsys, "unpack", "--help")
    options = out.split("OPTIONS:\n")[1]
    assert options == (
        "   --keep-dirlinks   don't clobber underlying symlinks to directories\n"
        "   --uid-map value   specifies a uid mapping to use (container:host:size)\n"
        "   --gid-map value   specifies a gid mapping to use (container:host:size)\n"
        "   --rootless        enable rootless command support\n"
        "   --platform value  platform to use from a multi-platform image (os/arch[/variant])\n"
        "   --image value     OCI image URI of the form 'path[:tag]' or 'path@digest'\n"
        "   \n"
    )
    assert "\n\nCATEGORY:\n   image\n\n" in out
    assert out.startswith(
        "NAME:\n   umoci unpack - unpacks a reference into an OCI runtime bundle\n\n"
        "USAGE:\n   umoci unpack [command options] --image <image-path>[:<tag>] <bundle>\n"
    )


def test_config_help_shows_aliases_and_06_flags(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "config", "--help")
    for flag in (
        "--platform.os value, --os value",
        "--platform.arch value, --architecture value",
        "--platform.variant value",
        "--config.stopsignal value",
        "--no-history",
        "--history.created_by value",
        "--clear value",
        "--tag value",
    ):
        assert f"   {flag}  " in out


def test_raw_help_is_a_group_help_and_hides_mtree_validate(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run(capsys, "raw", "--help")
    assert status == 0
    assert out.startswith(
        "NAME:\n   umoci raw - advanced internal image tooling\n\n"
        "USAGE:\n   umoci raw command [command options] "
    )
    assert (
        "COMMANDS:\n\n   image:\n"
        "     add-layer               add a layer archive verbatim to an image\n"
        "     runtime-config, config  generates an OCI runtime configuration for an image\n"
        "     unpack                  unpacks a reference into a rootfs\n"
    ) in out
    assert "mtree-validate" not in out
    assert out.endswith("OPTIONS:\n   --help, -h  show help\n   \n")
    # Without a subcommand, raw shows the same help and succeeds (as urfave does).
    assert run(capsys, "raw") == (0, out, "")
    assert run(capsys, "raw", "help") == (0, out, "")
    assert run(capsys, "help", "raw") == (0, out, "")


def test_help_hides_hidden_flags_but_accepts_them(
    capsys: pytest.CaptureFixture[str], record: Recorder, tmp_path: Path
) -> None:
    assert "cpu-profile" not in run(capsys, "--help")[1]
    record("list_tags", ["a"])
    profile = tmp_path / "profile"
    assert run(capsys, "--cpu-profile", str(profile), "ls", "--layout", "x") == (0, "a\n", "")
    assert profile.stat().st_size > 0


def test_help_flag_on_help_and_unknown_topics(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "help", "--help")
    assert status == 0
    assert out.startswith("NAME:\n   umoci help - Shows a list of commands or help for one command")
    status, out, err = run(capsys, "help", "nope")
    assert (status, out) == (1, "")
    assert assert_one_error_line(err) == "umoci: help: no help topic for 'nope'"


def test_tabwrite_aligns_blocks_like_go_tabwriter() -> None:
    text = "a\tx\nlonger\ty\nbreak\n\tz\n\tw\nno tabs\ncell\t"
    assert tabwrite(text) == ("a       x\nlonger  y\nbreak\n  z\n  w\nno tabs\ncell  ")


# -- version -----------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--version", "-v"])
def test_version(capsys: pytest.CaptureFixture[str], flag: str) -> None:
    status, out, err = run(capsys, flag)
    assert (status, err) == (0, "")
    assert out == (
        f"umoci version {umoci.__version__}\n"
        f"image spec: {umoci.IMAGE_SPEC_VERSION}\n"
        f"runtime spec: {umoci.RUNTIME_SPEC_VERSION}\n"
        f"python: {sys.version.split()[0]}\n"
    )
    assert out.startswith("umoci version 0.6.0\n")


# -- usage errors -------------------------------------------------------------------

USAGE_ERRORS = [
    (["nope"], "umoci: no such command: nope"),
    (["raw", "nope"], "umoci: raw: no such command: nope"),
    (["--bogus"], "umoci: flag provided but not defined: --bogus"),
    (["ls", "--bogus"], "umoci: ls: flag provided but not defined: --bogus"),
    (["ls", "-x"], "umoci: ls: flag provided but not defined: -x"),
    (["ls", "---layout", "x"], "umoci: ls: bad flag syntax: ---layout"),
    (["ls"], "umoci: ls: missing mandatory argument: --layout"),
    (["init"], "umoci: init: missing mandatory argument: --layout"),
    (["gc"], "umoci: gc: missing mandatory argument: --layout"),
    (["stat"], "umoci: stat: missing mandatory argument: --image"),
    (["new"], "umoci: new: missing mandatory argument: --image"),
    (["rm", "x"], "umoci: rm: missing mandatory argument: --image"),
    (["raw", "config", "c.json"], "umoci: raw config: missing mandatory argument: --image"),
    (["raw", "mtree-validate", "-p", "x"], "missing mandatory argument: --manifest"),
    (["ls", "--layout"], "umoci: ls: flag needs an argument: --layout"),
    (["ls", "--layout", "x", "extra"], "expected none"),
    (["stat", "--image", "x", "extra"], "umoci: stat: invalid number of positional arguments"),
    (["config", "--image", "x", "extra"], "expected none"),
    (
        ["tag", "--image", "x"],
        "umoci: tag: invalid number of positional arguments: expected <new-tag>",
    ),
    (["tag", "--image", "x", "a", "b"], "expected <new-tag>"),
    (["unpack", "--image", "x"], "expected <bundle>"),
    (["unpack", "--image", "x", ""], "umoci: unpack: invalid <bundle>: cannot be empty"),
    (["repack", "--image", "x"], "expected <bundle>"),
    (["raw", "unpack", "--image", "x"], "umoci: raw unpack: invalid number"),
    (["raw", "add-layer", "--image", "x"], "expected <new-layer.tar>"),
    (["raw", "runtime-config", "--image", "x"], "expected <config.json>"),
    (["insert", "--image", "x", "a"], "expected <source> <target>"),
    (["insert", "--image", "x", "--whiteout", "a", "b"], "expected <target>"),
    (["stat", "--image", "x", "--json=maybe"], "invalid boolean value 'maybe' for --json"),
    (["stat", "--image", ""], "umoci: stat: invalid --image '': path is empty"),
    (["stat", "--image", "x:"], "umoci: stat: invalid --image: tag is empty"),
    (["stat", "--image", "x:a b"], "invalid --image: tag contains invalid characters"),
    (["repack", "--image", "x:", "b"], "umoci: repack: invalid --image: tag is empty"),
    (["repack", "--image", ":t", "b"], "path is empty"),
    (["ls", "--layout", ""], "umoci: ls: invalid --layout: path is empty"),
    (["ls", "--layout", "a:b"], "invalid --layout: path contains ':' character"),
    (["tag", "--image", "x", "a b"], "umoci: tag: invalid <new-tag>: tag contains invalid"),
    (["config", "--image", "x", "--tag", "a b"], "umoci: config: invalid --tag: tag contains"),
    (["config", "--image", "x", "--tag="], "invalid --tag: tag is empty"),
    (["unpack", "--image", "x", "--uid-map", "1:2:3:4", "b"], "unpack: --uid-map: invalid id"),
    (["unpack", "--image", "x", "--gid-map", "a:b", "b"], "unpack: --gid-map: invalid id"),
    (
        ["config", "--image", "x", "--no-history", "--history.comment", "c"],
        "--no-history and --history.comment may not be specified together",
    ),
    (["raw", "mtree-validate", "-f", "", "-p", "x"], "invalid --manifest: path is empty"),
    (["--log", "loud", "ls", "--layout", "x"], "umoci: invalid --log level 'loud'"),
    (["--log=warning", "ls", "--layout", "x"], "invalid --log level"),
    (["--verbose", "--log=info", "ls", "--layout", "x"], "mutually exclusive"),
    (["ls", "--layout", "x", "--log=debug"], "flag provided but not defined: --log"),
]


@pytest.mark.parametrize(
    ("argv", "message"), USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS]
)
def test_usage_errors_are_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], record: Recorder, argv: list[str], message: str
) -> None:
    for verb in ("list_tags", "stat", "config", "unpack", "repack", "tag_image", "new_image"):
        record(verb)  # nothing may be reached anyway
    status, out, err = run(capsys, *argv)
    assert (status, out) == (1, "")
    line = assert_one_error_line(err)
    assert message in line


# -- flag parsing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["config", "--image", "img:t", "--config.cmd", "-c", "--config.entrypoint", "-c"],
        ["config", "--image=img:t", "--config.cmd=-c", "--config.entrypoint=-c"],
        ["config", "-image", "img:t", "-config.cmd", "-c", "-config.entrypoint", "-c"],
    ],
)
def test_values_may_begin_with_a_dash(
    capsys: pytest.CaptureFixture[str], record: Recorder, argv: list[str]
) -> None:
    calls = record("config")
    assert run(capsys, *argv) == (0, "", "")
    ((args, kwargs),) = calls
    assert args == ("img", "t")
    assert kwargs["changes"].cmd == ("-c",)
    assert kwargs["changes"].entrypoint == ("-c",)


def test_flags_may_follow_positionals(capsys: pytest.CaptureFixture[str], record: Recorder) -> None:
    calls = record("tag_image")
    assert run(capsys, "tag", "NEW", "--image", "x") == (0, "", "")
    assert calls == [(("x", "latest", "NEW"), {"platform": None})]


def test_double_dash_ends_flags(capsys: pytest.CaptureFixture[str], record: Recorder) -> None:
    calls = record("tag_image")
    assert run(capsys, "tag", "--image", "x:a", "--", "b")[0] == 0
    assert calls[0][0] == ("x", "a", "b")
    status, _, err = run(capsys, "tag", "--image", "x", "--", "--image")
    assert status == 1
    assert "invalid <new-tag>" in assert_one_error_line(err)


def test_repeated_flags_keep_order_and_single_flags_keep_the_last(
    capsys: pytest.CaptureFixture[str], record: Recorder
) -> None:
    calls = record("config")
    argv = [
        "config",
        "--image", "x",
        "--config.env", "B=2",
        "--config.env=A=1",
        "--config.label", "z=1",
        "--config.user", "first",
        "--config.env", "C=3",
        "--config.user", "second",
        "--clear", "config.env",
        "--clear=config.labels",
    ]  # fmt: skip
    assert run(capsys, *argv)[0] == 0
    changes = calls[0][1]["changes"]
    assert changes.env == ("B=2", "A=1", "C=3")
    assert changes.labels == ("z=1",)
    assert changes.user == "second"
    assert changes.clear == ("config.env", "config.labels")


def test_bool_flags_take_go_boolean_values(
    capsys: pytest.CaptureFixture[str], record: Recorder, vector_stat: ImageStat
) -> None:
    record("stat", vector_stat)
    for value, expected in (("true", True), ("1", True), ("False", False), ("f", False)):
        status, out, _ = run(capsys, "stat", "--image", "x", f"--json={value}")
        assert status == 0
        assert out.startswith("{") == expected


# -- dispatch ---------------------------------------------------------------------------

ROOT_MAPS = MapOptions(rootless=False)


def _dispatch_table() -> list[tuple[list[str], str, Call]]:
    """(argv, verb, (args, kwargs) it must be called with)."""
    history = HistoryOptions()
    table: list[tuple[list[str], str, tuple[Any, ...], dict[str, Any]]] = [
        (["init", "--layout", "L"], "init_layout", ("L",), {}),
        (["gc", "--layout", "L/"], "gc", ("L",), {"grace": 0.0}),
        (["gc", "--grace", "1h30m", "--layout", "L"], "gc", ("L",), {"grace": 5400.0}),
        (["gc", "--grace=0", "--layout", "L"], "gc", ("L",), {"grace": 0.0}),
        (["new", "--image", "L:t"], "new_image", ("L", "t"), {}),
        (["rm", "--image", "L"], "remove_tag", ("L", "latest"), {}),
        (["remove", "--image", "L:a/b"], "remove_tag", ("L", "a/b"), {}),
        (["tag", "--image", "L:t", "n"], "tag_image", ("L", "t", "n"), {}),
        (
            ["unpack", "--image", "L:t", "B"],
            "unpack",
            ("L", "t", "B"),
            {"maps": ROOT_MAPS, "keep_dirlinks": False},
        ),
        (
            ["unpack", "--keep-dirlinks", "--image", "L", "B", "--uid-map", "0:100:10"],
            "unpack",
            ("L", "latest", "B"),
            {"maps": MapOptions(uid_maps=(IdMap(0, 100, 10),)), "keep_dirlinks": True},
        ),
        (
            ["raw", "unpack", "--image", "L", "R"],
            "raw_unpack",
            ("L", "latest", "R"),
            {"maps": ROOT_MAPS, "keep_dirlinks": False},
        ),
        (
            ["raw", "config", "--image", "L", "c.json"],
            "raw_runtime_config",
            ("L", "latest", "c.json"),
            {"rootfs": None, "maps": ROOT_MAPS},
        ),
        (
            ["raw", "runtime-config", "--rootfs", "R", "--image", "L:t", "c.json"],
            "raw_runtime_config",
            ("L", "t", "c.json"),
            {"rootfs": "R", "maps": ROOT_MAPS},
        ),
        (
            ["raw", "add-layer", "--image", "L", "layer.tar"],
            "raw_add_layer",
            ("L", "latest", "layer.tar"),
            {"new_tag": None, "history": history, "compress": Compression.AUTO},
        ),
        (
            words(
                "raw add-layer --image L:t --tag n --compress zstd --history.author A"
                " --history.comment C --history.created 2025-01-01T00:00:00Z"
                " --history.created_by B layer.tar"
            ),
            "raw_add_layer",
            ("L", "t", "layer.tar"),
            {
                "new_tag": "n",
                "history": HistoryOptions(
                    author="A",
                    comment="C",
                    created=GoTime.parse("2025-01-01T00:00:00Z"),
                    created_by="B",
                ),
                "compress": Compression.ZSTD,
            },
        ),
        (
            ["repack", "--image", "L", "B"],
            "repack",
            ("L", None, "B"),
            {"options": RepackOptions()},
        ),
        (
            words(
                "repack --image L:new --no-history --compress=none --mask-path /a"
                " --mask-path /b --no-mask-volumes --refresh-bundle --full-hash B"
            ),
            "repack",
            ("L", "new", "B"),
            {
                "options": RepackOptions(
                    history=HistoryOptions(enabled=False),
                    compress=Compression.NONE,
                    mask_paths=("/a", "/b"),
                    mask_volumes=False,
                    refresh_bundle=True,
                    full_hash=True,
                )
            },
        ),
        (
            ["insert", "--image", "L", "src", "/dst"],
            "insert",
            ("L", "latest", "src", "/dst"),
            {
                "new_tag": None,
                "mode": InsertMode.MERGE,
                "history": history,
                "compress": Compression.AUTO,
                "maps": ROOT_MAPS,
            },
        ),
        (
            ["insert", "--whiteout", "--image", "L:t", "--tag", "n", "/dst"],
            "insert",
            ("L", "t", None, "/dst"),
            {
                "new_tag": "n",
                "mode": InsertMode.WHITEOUT,
                "history": history,
                "compress": Compression.AUTO,
                "maps": ROOT_MAPS,
            },
        ),
        (
            ["insert", "--opaque", "--image", "L:t", "src", "/dst", "--compress", "gzip"],
            "insert",
            ("L", "t", "src", "/dst"),
            {
                "new_tag": None,
                "mode": InsertMode.OPAQUE,
                "history": history,
                "compress": Compression.GZIP,
                "maps": ROOT_MAPS,
            },
        ),
    ]
    # Every verb that reads an image takes --platform (None when not given).
    with_platform = {"config", "unpack", "raw_unpack", "raw_runtime_config"}
    with_platform |= {"insert", "raw_add_layer", "tag_image"}
    return [
        (argv, verb, (args, {**kwargs, "platform": None} if verb in with_platform else kwargs))
        for argv, verb, args, kwargs in table
    ]


@pytest.mark.usefixtures("as_root")
@pytest.mark.parametrize(("argv", "verb", "expected"), _dispatch_table(), ids=lambda v: str(v)[:40])
def test_each_command_calls_its_verb(
    capsys: pytest.CaptureFixture[str], record: Recorder, argv: list[str], verb: str, expected: Call
) -> None:
    calls = record(verb)
    assert run(capsys, *argv) == (0, "", "")
    assert calls == [expected]


@pytest.mark.parametrize(
    ("argv", "verb", "message"),
    [
        (
            ["config", "--image", "L", "--created", "yesterday"],
            "config",
            'umoci: config: parse --created: parsing time "yesterday": not an RFC 3339 time',
        ),
        (
            ["config", "--image", "L", "--history.created", "2025-01-02"],
            "config",
            'umoci: config: parse --history.created: parsing time "2025-01-02"',
        ),
        (
            ["repack", "--image", "L", "--history.created", "never", "B"],
            "repack",
            'umoci: repack: parse --history.created: parsing time "never"',
        ),
        (
            ["insert", "--image", "L", "--compress", "lz4", "s", "/t"],
            "insert",
            "umoci: insert: unknown --compress value 'lz4': want one of auto, none, gzip, zstd",
        ),
        (
            ["raw", "add-layer", "--image", "L", "--compress", "GZIP", "l.tar"],
            "raw_add_layer",
            "umoci: raw add-layer: unknown --compress value 'GZIP'",
        ),
    ],
)
def test_option_text_is_converted_before_the_verb_runs(
    capsys: pytest.CaptureFixture[str], record: Recorder, argv: list[str], verb: str, message: str
) -> None:
    """Times and --compress become typed values at the CLI boundary: bad text never reaches ops."""
    calls = record(verb)
    status, out, err = run(capsys, *argv)
    assert (status, out) == (1, "")
    assert_one_error_line(err, message)
    assert calls == []


@pytest.mark.usefixtures("as_root")
def test_insert_refuses_whiteout_with_opaque(
    capsys: pytest.CaptureFixture[str], record: Recorder
) -> None:
    calls = record("insert")
    status, out, err = run(capsys, "insert", "--whiteout", "--opaque", "--image", "L", "/dst")
    assert (status, out) == (1, "")
    assert_one_error_line(err, "umoci: insert: --whiteout takes only TARGET (and no --opaque)")
    assert calls == []


def test_config_passes_every_change(capsys: pytest.CaptureFixture[str], record: Recorder) -> None:
    calls = record("config")
    argv = [
        "config", "--image", "L:t", "--tag", "n",
        "--config.user", "u:g",
        "--config.exposedports", "80/tcp", "--config.exposedports", "53/udp",
        "--config.env", "A=1",
        "--config.entrypoint", "/bin/sh", "--config.entrypoint", "-c",
        "--config.cmd", "true",
        "--config.volume", "/v",
        "--config.label", "k=v",
        "--config.workingdir", "/w",
        "--config.stopsignal", "SIGKILL",
        "--created", "2025-09-05T13:05:10Z",
        "--author", "me",
        "--os", "linux",
        "--architecture", "arm64",
        "--platform.variant", "v8",
        "--manifest.annotation", "a=b",
        "--clear", "config.cmd",
        "--history.comment", "cfg",
    ]  # fmt: skip
    assert run(capsys, *argv) == (0, "", "")
    assert calls == [
        (
            ("L", "t"),
            {
                "new_tag": "n",
                "changes": ConfigChanges(
                    clear=("config.cmd",),
                    user="u:g",
                    exposed_ports=("80/tcp", "53/udp"),
                    env=("A=1",),
                    entrypoint=("/bin/sh", "-c"),
                    cmd=("true",),
                    volumes=("/v",),
                    labels=("k=v",),
                    working_dir="/w",
                    stop_signal="SIGKILL",
                    created=GoTime.parse("2025-09-05T13:05:10Z"),
                    author="me",
                    architecture="arm64",
                    os="linux",
                    variant="v8",
                    manifest_annotations=("a=b",),
                ),
                "history": HistoryOptions(comment="cfg"),
                "platform": None,
            },
        )
    ]
    # The canonical flag names reach the same fields as the aliases.
    assert run(capsys, "config", "--image", "L", "--platform.os=x", "--platform.arch=y")[0] == 0
    changes = calls[-1][1]["changes"]
    assert (changes.os, changes.architecture) == ("x", "y")


def test_config_without_changes_leaves_entrypoint_and_cmd_unset(
    capsys: pytest.CaptureFixture[str], record: Recorder
) -> None:
    calls = record("config")
    assert run(capsys, "config", "--image", "L", "--no-history")[0] == 0
    ((args, kwargs),) = calls
    assert args == ("L", "latest")
    assert kwargs == {
        "new_tag": None,
        "changes": ConfigChanges(),
        "history": HistoryOptions(enabled=False),
        "platform": None,
    }
    assert kwargs["changes"].entrypoint is None
    # Given but empty is not the same as not given.
    assert run(capsys, "config", "--image", "L", "--config.cmd=")[0] == 0
    assert calls[-1][1]["changes"].cmd == ("",)


def test_list_prints_one_tag_per_line(capsys: pytest.CaptureFixture[str], record: Recorder) -> None:
    calls = record("list_tags", ["latest", "a/b", "v1.0"])
    assert run(capsys, "list", "--layout", "L") == (0, "latest\na/b\nv1.0\n", "")
    assert calls == [(("L",), {})]
    record("list_tags", [])
    assert run(capsys, "ls", "--layout", "L") == (0, "", "")


class _Report:
    """What ``ops.validate_*`` returns, as far as the validate command reads it."""

    errors = 0

    def __init__(self, text: str) -> None:
        self._text = text

    def text(self) -> str:
        return self._text


@pytest.mark.parametrize(("returned", "printed"), [("a\nb", "a\nb\n"), ("a\nb\n", "a\nb\n")])
def test_a_verb_text_is_printed_ending_in_exactly_one_newline(
    capsys: pytest.CaptureFixture[str], record: Recorder, returned: str, printed: str
) -> None:
    record("validate_layout", _Report(returned))
    assert run(capsys, "validate", "--layout", "L") == (0, printed, "")


@pytest.fixture
def vector_stat(vectors: Path) -> ImageStat:
    """What ``ops.stat`` returns for the json-blobs vector v1."""
    info = stat_models.stat(str(vectors / "json-blobs" / "v1"), "latest")
    assert isinstance(info, ImageStat)
    return info


@pytest.mark.parametrize("json_flag", [False, True])
def test_stat_prints_the_vector_text_unchanged(
    capsys: pytest.CaptureFixture[str],
    record: Recorder,
    vectors: Path,
    vector_stat: ImageStat,
    json_flag: bool,
) -> None:
    """stat renders what ops.stat returns, as text or --json: the Go umoci's bytes."""
    calls = record("stat", vector_stat)
    expected = (
        vectors / "json-blobs" / ("v1.stat.json" if json_flag else "v1.stat.txt")
    ).read_text()
    argv = ["stat", "--json", "--image", "L"] if json_flag else ["stat", "--image", "L"]
    assert run(capsys, *argv) == (0, expected, "")
    assert calls == [(("L", "latest"), {"platform": None})]


def test_mtree_validate(capsys: pytest.CaptureFixture[str], record: Recorder) -> None:
    calls = record("mtree_validate", [])
    argv = ["raw", "mtree-validate", "-f", "m.mtree", "--path=root", "-k", "size,type uid"]
    assert run(capsys, *argv, "-k", "gid", "-K", "sha256digest", "--umoci-keywords") == (0, "", "")
    assert calls == [
        (
            ("m.mtree", "root"),
            {
                "use_keywords": ("size", "type", "uid", "gid"),
                "add_keywords": ("sha256digest",),
                "umoci_keywords": True,
                "rootless": os.geteuid() != 0,
            },
        )
    ]
    record("mtree_validate", ["a: missing", "b: size differs"])
    status, out, err = run(capsys, "raw", "mtree-validate", "--file", "m", "-p", "r")
    assert (status, out) == (1, "a: missing\nb: size differs\n")
    assert assert_one_error_line(err) == (
        "umoci: raw mtree-validate: validation failed: 2 differences found"
    )


# -- rootless -------------------------------------------------------------------------


@pytest.mark.usefixtures("as_user")
def test_rootless_is_implied_without_root_with_default_maps(
    capsys: pytest.CaptureFixture[str], record: Recorder
) -> None:
    calls = record("unpack")
    assert run(capsys, "unpack", "--image", "L", "B")[0] == 0
    assert calls[-1][1]["maps"] == MapOptions(
        rootless=True, uid_maps=(IdMap(0, 1000, 1),), gid_maps=(IdMap(0, 1001, 1),)
    )
    # Each default applies on its own, as in the Go umoci.
    assert run(capsys, "unpack", "--image", "L", "B", "--uid-map", "0:5:2")[0] == 0
    assert calls[-1][1]["maps"] == MapOptions(
        rootless=True, uid_maps=(IdMap(0, 5, 2),), gid_maps=(IdMap(0, 1001, 1),)
    )


@pytest.mark.usefixtures("as_root")
def test_rootless_as_root_maps_root_to_root(
    capsys: pytest.CaptureFixture[str], record: Recorder
) -> None:
    calls = record("insert")
    argv = ["insert", "--rootless", "--image", "L", "s", "t"]
    assert run(capsys, *argv, "--gid-map", "0:1:1", "--gid-map", "1:2:3")[0] == 0
    assert calls[-1][1]["maps"] == MapOptions(
        rootless=True, uid_maps=(IdMap(0, 0, 1),), gid_maps=(IdMap(0, 1, 1), IdMap(1, 2, 3))
    )


# -- errors from verbs ------------------------------------------------------------------


def test_an_error_from_a_verb_surfaces_as_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*args: object, **kwargs: object) -> None:
        raise UmociError("bundle B: something went wrong")

    monkeypatch.setattr(umoci.ops, "repack", failing)
    status, out, err = run(capsys, "repack", "--image", "L", "B")
    assert (status, out) == (1, "")
    assert assert_one_error_line(err) == "umoci: repack: bundle B: something went wrong"


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (LayoutError("open layout L: no such directory"), "open layout L: no such directory"),
        (UmociError("first\nsecond"), "first second"),
        (
            FileNotFoundError(2, "No such file or directory", "L/index.json"),
            "L/index.json: No such file or directory",
        ),
        (PermissionError(13, "Permission denied"), "Permission denied"),
        (KeyError("oops"), "internal error: KeyError: 'oops' (--log=debug shows where)"),
    ],
)
def test_verb_errors_become_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    error: BaseException,
    line: str,
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(umoci.ops, "gc", fail)
    status, out, err = run(capsys, "gc", "--layout", "L")
    assert (status, out) == (1, "")
    assert assert_one_error_line(err) == f"umoci: gc: {line}"
    assert "Traceback" not in err


def test_debug_log_level_shows_the_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def bug(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(umoci.ops, "gc", bug)
    status, out, err = run(capsys, "--log=debug", "gc", "--layout", "L")
    assert (status, out) == (1, "")
    assert err.startswith("Traceback (most recent call last):")
    assert err.splitlines()[-1] == "umoci: gc: internal error: ZeroDivisionError: division by zero"


def test_keyboard_interrupt_exits_130_quietly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(umoci.ops, "gc", interrupted)
    assert run(capsys, "gc", "--layout", "L") == (130, "", "")


def test_broken_pipe_on_output_is_quiet(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, record: Recorder
) -> None:
    class ClosedPipe:
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

        def fileno(self) -> int:
            raise OSError("not a real file")

    record("list_tags", ["a", "b"])
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    status = main(["ls", "--layout", "L"])
    assert status == 141
    assert capsys.readouterr().err == ""


# -- logging ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "level"),
    [
        ([], logging.WARNING),
        (["--log", "debug"], logging.DEBUG),
        (["--log=info"], logging.INFO),
        (["--verbose"], logging.INFO),
        (["--log=warn"], logging.WARNING),
        (["--log=error"], logging.ERROR),
        (["--log=fatal"], logging.CRITICAL),
    ],
)
def test_log_level_configures_the_umoci_logger(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    level: int,
) -> None:
    def chatty(layout: str) -> list[str]:
        logging.getLogger("umoci.ops.test").info("reading %s", layout)
        return []

    monkeypatch.setattr(umoci.ops, "list_tags", chatty)
    status, out, err = run(capsys, *argv, "ls", "--layout", "L")
    assert (status, out) == (0, "")
    assert logging.getLogger("umoci").level == level
    assert err == ("umoci: info: reading L\n" if level <= logging.INFO else "")


# -- as a program -----------------------------------------------------------------------


def _python_m_umoci(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "umoci", *argv],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


def test_python_m_umoci_version() -> None:
    proc = _python_m_umoci("--version")
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.startswith("umoci version 0.6.0\n")


def test_python_m_umoci_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    proc = _python_m_umoci("ls", "--layout", str(tmp_path / "missing"))
    assert (proc.returncode, proc.stdout) == (1, "")
    assert_one_error_line(proc.stderr, "umoci: ls: ")


def test_cli_import_stays_light() -> None:
    # Heavy modules belong to the verbs that need them, not to start-up.
    code = (
        "import sys, umoci.cli; "
        "bad = {'click', 'isal', 'zstandard', 'tarfile', 'hashlib', 'logging', 'typing', "
        "'dataclasses', 'umoci.ops'} & set(sys.modules); print(sorted(bad))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout == "[]\n"


def test_main_reads_sys_argv_and_keeps_a_stray_exit_status(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["umoci", "-v"])
    assert main() == 0
    assert capsys.readouterr().out.startswith("umoci version ")

    def exits(*args: object, **kwargs: object) -> None:
        sys.exit(3)

    monkeypatch.setattr(umoci.ops, "gc", exits)
    assert run(capsys, "gc", "--layout", "L") == (3, "", "")


def test_console_entry_point_exits_cleanly(tmp_path: Path) -> None:
    """``run()`` flushes and leaves with the verb's status (also with stdout closed)."""
    layout = tmp_path / "image"
    code = "from umoci.cli import run; run()"
    ok = subprocess.run(
        [sys.executable, "-c", code, "init", "--layout", str(layout)],
        capture_output=True,
        check=False,
    )
    assert (ok.returncode, ok.stderr) == (0, b"")
    listed = subprocess.run(
        [sys.executable, "-c", code, "ls", "--layout", str(layout)],
        capture_output=True,
        check=False,
    )
    assert (listed.returncode, listed.stdout, listed.stderr) == (0, b"", b"")
    failed = subprocess.run(
        [sys.executable, "-c", code, "ls", "--layout", str(tmp_path / "missing")],
        capture_output=True,
        check=False,
    )
    assert failed.returncode == 1
    assert failed.stderr.decode().startswith("umoci: ls: ")
    closed = subprocess.run(
        [sys.executable, "-c", code, "new", "--image", f"{layout}:t"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: os.close(1),
        check=False,
    )
    assert (closed.returncode, closed.stderr) == (0, b"")
