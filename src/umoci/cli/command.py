"""The command tree: what a command declares, and what its action is handed.

A :class:`Command` is plain data (names, help text, flags, an action or
subcommands); :mod:`umoci.cli.app` walks the tree and :mod:`umoci.cli.help`
renders it.  Actions receive a :class:`Context` and return the exit status.
"""

from __future__ import annotations

import sys

from umoci.cli.flags import Flag, ParsedArgs
from umoci.errors import UsageError

TYPE_CHECKING = False  # see umoci.cli.flags: avoids importing typing at start-up
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    Action = Callable[["Context"], int]


class Command:
    """One command (or a group of subcommands, such as ``raw``)."""

    __slots__ = (
        "action",
        "aliases",
        "args_usage",
        "category",
        "flags",
        "hidden",
        "name",
        "positionals",
        "required",
        "subcommands",
        "usage",
    )

    def __init__(
        self,
        name: str,
        usage: str,
        *,
        aliases: Sequence[str] = (),
        args_usage: str = "",
        category: str = "",
        flags: Sequence[Flag] = (),
        required: Sequence[str] = (),
        positionals: Sequence[str] | None = (),
        action: Action | None = None,
        subcommands: Sequence[Command] = (),
        hidden: bool = False,
    ) -> None:
        assert (action is None) != (not subcommands), f"{name}: action xor subcommands"
        self.name = name
        self.usage = usage  # the one-line summary listed under COMMANDS
        self.aliases = tuple(aliases)
        self.args_usage = args_usage  # urfave's ArgsUsage: synopsis, then free text
        self.category = category
        self.flags = tuple(flags)
        self.required = tuple(required)  # canonical flag names that must be given
        # Placeholders for an exact positional count ("<bundle>",); None lets
        # the action check for itself (insert takes one or two).
        self.positionals = None if positionals is None else tuple(positionals)
        self.action = action
        self.subcommands = tuple(subcommands)
        self.hidden = hidden

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def find(self, name: str) -> Command | None:
        for sub in self.subcommands:
            if name in sub.names:
                return sub
        return None


class Context:
    """What an action sees: the parsed flags and positionals, and where it sits in the tree."""

    __slots__ = ("chain", "parsed", "verb")

    def __init__(self, chain: tuple[Command, ...], verb: str, parsed: ParsedArgs) -> None:
        self.chain = chain  # root first, this command last
        self.verb = verb  # as the user typed it ("raw config"), for messages
        self.parsed = parsed

    @property
    def args(self) -> list[str]:
        return self.parsed.args

    def is_set(self, name: str) -> bool:
        return self.parsed.is_set(name)

    def get_bool(self, name: str) -> bool:
        return self.parsed.get_bool(name)

    def get_string(self, name: str) -> str | None:
        return self.parsed.get_string(name)

    def get_strings(self, name: str) -> tuple[str, ...]:
        return self.parsed.get_strings(name)

    def echo(self, text: str) -> None:
        """Write text to stdout ending in exactly one newline (nothing for empty text)."""
        if text:
            write_stdout(text if text.endswith("\n") else text + "\n")


def check_positionals(args: Sequence[str], placeholders: Sequence[str]) -> None:
    """Exactly one non-empty argument per placeholder, or a UsageError naming them."""
    if len(args) != len(placeholders):
        expected = " ".join(placeholders) or "none"
        raise UsageError(f"invalid number of positional arguments: expected {expected}")
    for placeholder, arg in zip(placeholders, args, strict=True):
        if arg == "":
            raise UsageError(f"invalid {placeholder}: cannot be empty")


class OutputClosedError(Exception):
    """stdout went away (``umoci ls | head -1``); the boundary exits quietly."""


def write_stdout(text: str) -> None:
    if sys.stdout is None:  # started with fd 1 closed: like a reader that went away
        raise OutputClosedError
    try:
        try:
            sys.stdout.write(text)
        except UnicodeEncodeError:
            # Raw bytes carried by surrogateescape (stat's hex dumps): write
            # them as they are, after whatever the text stream holds.
            sys.stdout.flush()
            sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
    except BrokenPipeError:
        raise OutputClosedError from None
