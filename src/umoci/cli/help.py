"""Help text in the shape urfave/cli v1 gives the Go umoci.

Scripts and people compare ``umoci --help`` output between implementations,
so the section names, indentation, the order of commands (by category, then
as registered) and of flags (as declared) follow what urfave prints.  urfave
runs its templates through Go's ``text/tabwriter`` (padding 2, spaces), which
:func:`tabwrite` reproduces, trailing spaces included.
"""

from __future__ import annotations

from umoci.cli.flags import HELP_FLAG, Flag

TYPE_CHECKING = False  # see umoci.cli.flags: avoids importing typing at start-up
if TYPE_CHECKING:
    from collections.abc import Sequence

    from umoci.cli.command import Command

APP_NAME = "umoci"
# urfave's AUTHOR section, kept where the Go umoci has it; the name is this project's.
APP_AUTHOR = "The umoci (Python) authors"


def tabwrite(text: str, *, padding: int = 2, minwidth: int = 1) -> str:
    """Align tab-separated cells the way Go's text/tabwriter does.

    A column block is a run of consecutive lines that all have a cell in that
    column; each block is as wide as its widest cell plus padding.  The text
    after a line's last tab is not a cell and is never padded.
    """
    lines = [line.split("\t") for line in text.split("\n")]
    out: list[str] = []
    widths: list[int] = []

    def write_lines(first: int, last: int) -> None:
        for cells in lines[first:last]:
            parts = []
            for j, cell in enumerate(cells):
                if j < len(cells) - 1 and j < len(widths):
                    cell = cell.ljust(widths[j])
                parts.append(cell)
            out.append("".join(parts))

    def format_block(first: int, last: int) -> None:
        column = len(widths)
        this = first
        while this < last:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(first, this)
            first = this
            width = minwidth
            while this < last and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            format_block(first, this)
            widths.pop()
            first = this
        write_lines(first, last)

    format_block(0, len(lines))
    return "\n".join(out)


def flag_line(flag: Flag) -> str:
    """``--name value, --alias value<TAB>usage (default: "x")`` as urfave v1 spells a flag."""
    placeholder = " value" if flag.takes_value else ""
    names = ", ".join(("-" if len(n) == 1 else "--") + n + placeholder for n in flag.names)
    usage = flag.usage
    if flag.default:
        usage += f' (default: "{flag.default}")'
    return f"{names}\t{usage.strip()}"


def _visible_flags(flags: Sequence[Flag]) -> list[Flag]:
    return [flag for flag in flags if not flag.hidden]


def _commands_section(group: Command) -> str:
    # Categories sort by name, so uncategorised commands come first, without
    # a heading; inside a category commands keep their registration order.
    by_category: dict[str, list[Command]] = {}
    for sub in group.subcommands:
        if not sub.hidden:
            by_category.setdefault(sub.category, []).append(sub)
    text = "COMMANDS:"
    for category in sorted(by_category):
        if category:
            text += f"\n\n   {category}:"
            indent = "     "
        else:
            indent = "   "
        for sub in by_category[category]:
            text += f"\n{indent}{', '.join(sub.names)}\t{sub.usage}"
    return text


def _options_section(title: str, flags: Sequence[Flag]) -> str:
    # urfave ends each flag with "\n   ", hence the indented empty last line.
    return f"\n\n{title}:\n   " + "".join(flag_line(f) + "\n   " for f in flags)


def help_text(chain: Sequence[Command]) -> str:
    """The help for the last command of *chain* (the root alone: the application's help)."""
    from umoci import __version__

    command = chain[-1]
    if len(chain) == 1:
        return app_help(command, command.flags, __version__)
    # A group is an app of its own in urfave, which lists --help among its
    # options; a plain command accepts --help without listing it.
    flags = (*command.flags, HELP_FLAG) if command.subcommands else command.flags
    return command_help(chain, flags)


def app_help(root: Command, root_flags: Sequence[Flag], version: str) -> str:
    flags = _visible_flags(root_flags)
    text = (
        f"NAME:\n   {APP_NAME} - {root.usage}\n\n"
        f"USAGE:\n   {APP_NAME} [global options] command [command options] [arguments...]\n\n"
        f"VERSION:\n   {version}\n\n"
        f"AUTHOR:\n   {APP_AUTHOR}\n\n" + _commands_section(root)
    )
    # The app template joins its flags instead of ending each with "\n   ".
    text += "\n\nGLOBAL OPTIONS:\n   " + "\n   ".join(flag_line(f) for f in flags) + "\n"
    return tabwrite(text)


def command_help(chain: Sequence[Command], flags: Sequence[Flag]) -> str:
    """Help for chain[-1]; ``flags`` are the ones it accepts (a group's include --help)."""
    command = chain[-1]
    help_name = " ".join([APP_NAME, *(c.name for c in chain[1:])])
    visible = _visible_flags(flags)
    args_usage = command.args_usage or "[arguments...]"
    options = " [command options]" if visible else ""
    text = f"NAME:\n   {help_name} - {command.usage}\n\nUSAGE:\n   "
    if command.subcommands:
        text += f"{help_name} command{options} {args_usage}\n\n{_commands_section(command)}"
    else:
        text += f"{help_name}{options} {args_usage}"
        if command.category:
            text += f"\n\nCATEGORY:\n   {command.category}"
    if visible:
        text += _options_section("OPTIONS", visible)
    return tabwrite(text + "\n")
