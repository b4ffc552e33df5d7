"""Flag declarations and the argv parser, with the Go ``flag`` package's rules.

We parse by hand instead of through a CLI framework for two reasons, both
measured: the framework's import alone cost about 50 ms on every ``umoci``
run (more than the rest of start-up), and the Go umoci's command line has
rules a general framework fights (see ``parse``).  This module and the rest
of :mod:`umoci.cli` import only what the standard interpreter has already
loaded at start-up.

The rules, as Go's ``flag`` package and urfave/cli v1 apply them:

* ``-name`` and ``--name`` are the same flag; ``=value`` or the next argument
  gives a value.  The next argument is taken *whatever it looks like*, so
  ``--config.cmd -c`` sets ``config.cmd`` to ``-c``.
* A bool flag takes no separate argument, but ``--name=false`` works.
* Flags and positionals may be mixed (urfave reorders them); ``--`` ends the
  flags.  Commands that own subcommands stop at the first positional.
* A string flag given twice keeps the last value; a slice flag keeps every
  value in order.
"""

from __future__ import annotations

from umoci.errors import UsageError

# Not ``typing.TYPE_CHECKING``: importing typing costs start-up time, and mypy
# treats any constant of this name the same way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Literal

    FlagKind = Literal["bool", "string", "slice"]

# Go's strconv.ParseBool, which --flag=VALUE goes through for bool flags.
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


class Flag:
    """One command-line flag: its names (the first is the canonical one), kind and help."""

    __slots__ = ("default", "hidden", "kind", "names", "usage")

    def __init__(
        self,
        names: str,
        kind: FlagKind,
        usage: str = "",
        *,
        default: str = "",
        hidden: bool = False,
    ) -> None:
        # "platform.os,os" mirrors how urfave spells aliases, so the tables in
        # commands.py read like the Go flag lists they reproduce.
        self.names: tuple[str, ...] = tuple(n.strip() for n in names.split(","))
        self.kind: FlagKind = kind
        self.usage = usage
        self.default = default  # shown in help only; values default to "not set"
        self.hidden = hidden

    @property
    def name(self) -> str:
        return self.names[0]

    @property
    def takes_value(self) -> bool:
        return self.kind != "bool"


def bool_flag(names: str, usage: str = "", *, hidden: bool = False) -> Flag:
    return Flag(names, "bool", usage, hidden=hidden)


def string_flag(names: str, usage: str = "", *, default: str = "", hidden: bool = False) -> Flag:
    return Flag(names, "string", usage, default=default, hidden=hidden)


def slice_flag(names: str, usage: str = "") -> Flag:
    return Flag(names, "slice", usage)


HELP_FLAG = bool_flag("help,h", "show help")


class ParsedArgs:
    """What ``parse`` found: flag values keyed by canonical name, and positionals."""

    __slots__ = ("_values", "args")

    def __init__(self) -> None:
        self._values: dict[str, bool | str | list[str]] = {}
        self.args: list[str] = []

    def is_set(self, name: str) -> bool:
        return name in self._values

    def get_bool(self, name: str) -> bool:
        value = self._values.get(name, False)
        assert isinstance(value, bool), name
        return value

    def get_string(self, name: str) -> str | None:
        value = self._values.get(name)
        assert value is None or isinstance(value, str), name
        return value

    def get_strings(self, name: str) -> tuple[str, ...]:
        value = self._values.get(name, [])
        assert isinstance(value, list), name
        return tuple(value)

    def _store(self, flag: Flag, value: bool | str) -> None:
        if flag.kind == "slice":
            assert isinstance(value, str)
            existing = self._values.setdefault(flag.name, [])
            assert isinstance(existing, list)
            existing.append(value)
        else:
            self._values[flag.name] = value


def _parse_go_bool(spelled: str, text: str) -> bool:
    if text in _GO_TRUE:
        return True
    if text in _GO_FALSE:
        return False
    raise UsageError(f"invalid boolean value {text!r} for {spelled}")


def parse(flags: Iterable[Flag], argv: Sequence[str], *, interspersed: bool) -> ParsedArgs:
    """Split argv into flag values and positionals; raise UsageError on a bad flag.

    With ``interspersed=False`` parsing stops at the first positional, which
    (with everything after it) is left for a subcommand to parse.
    """
    by_name = {name: flag for flag in flags for name in flag.names}
    result = ParsedArgs()
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            result.args.extend(argv[i:])
            break
        if len(arg) < 2 or arg[0] != "-":
            result.args.append(arg)
            if not interspersed:
                result.args.extend(argv[i:])
                break
            continue
        dashes = "--" if arg.startswith("--") else "-"
        body = arg[len(dashes) :]
        if not body or body[0] in "-=":
            raise UsageError(f"bad flag syntax: {arg}")
        name, has_value, value = body.partition("=")
        spelled = dashes + name
        flag = by_name.get(name)
        if flag is None:
            raise UsageError(f"flag provided but not defined: {spelled}")
        if not flag.takes_value:
            result._store(flag, _parse_go_bool(spelled, value) if has_value else True)
            continue
        if not has_value:
            if i >= len(argv):
                raise UsageError(f"flag needs an argument: {spelled}")
            value = argv[i]
            i += 1
        result._store(flag, value)
    return result
