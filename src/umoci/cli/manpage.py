"""``umoci help --man COMMAND``: a command's help as a roff man page (``man -l`` shows it).

Made from the same :class:`~umoci.cli.command.Command` data as ``--help``
(the one-line usage, the synopsis and text of ``args_usage``, the flags), so
the two can never drift apart.  Sections: NAME, SYNOPSIS, DESCRIPTION,
OPTIONS, SEE ALSO; text is escaped for roff (backslashes, and lines that
would start with a control character).
"""

from __future__ import annotations

from umoci import __version__

TYPE_CHECKING = False  # see umoci.cli.flags: avoids importing typing at start-up
if TYPE_CHECKING:
    from collections.abc import Sequence

    from umoci.cli.command import Command


def _escape(text: str) -> str:
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(f"\\&{line}" if line[:1] in (".", "'") else line for line in text.split("\n"))


def _paragraphs(text: str) -> list[str]:
    out: list[str] = []
    for block in text.strip("\n").split("\n\n"):
        lines = block.split("\n")
        if all(line.startswith(("\t", "  ")) for line in lines if line):
            # An indented block (examples, tables): kept as it is, unfilled.
            body = "\n".join(line.lstrip("\t") for line in lines)
            out.append(f".PP\n.RS 4\n.nf\n{_escape(body)}\n.fi\n.RE")
        else:
            out.append(".PP\n" + _escape(" ".join(line.strip() for line in lines)))
    return out


def man_page(chain: Sequence[Command]) -> str:
    """The man page of the last command of *chain* (``umoci``, ``raw``, ``unpack``...)."""
    command = chain[-1]
    words = [c.name for c in chain[1:]]
    title = "-".join(["umoci", *words]).upper()
    name = " ".join(["umoci", *words])
    synopsis, _, description = command.args_usage.partition("\n")
    lines = [
        # No date: the page is the same on every build of the same version.
        f'.TH {title} 1 "" "umoci {__version__}" "umoci manual"',
        ".SH NAME",
        _escape(f"{'-'.join(['umoci', *words])} - {command.usage}"),
        ".SH SYNOPSIS",
        f".B {_escape(name)}",
        _escape(synopsis.strip() or "[options]"),
    ]
    if description.strip() or command.subcommands:
        lines.append(".SH DESCRIPTION")
        lines += _paragraphs(description) if description.strip() else []
        for sub in command.subcommands:
            if not sub.hidden:
                lines += [".TP", f".B {_escape(sub.name)}", _escape(sub.usage)]
    flags = [f for f in command.flags if not f.hidden]
    if flags:
        lines.append(".SH OPTIONS")
        for flag in flags:
            spelled = ", ".join(("-" if len(n) == 1 else "--") + n for n in flag.names)
            value = "" if flag.kind == "bool" else " \\fIvalue\\fR"
            usage = flag.usage + (f' (default: "{flag.default}")' if flag.default else "")
            lines += [".TP", f"\\fB{_escape(spelled)}\\fR{value}", _escape(usage)]
    lines += [".SH SEE ALSO", "\\fBumoci\\fR(1)", ""]
    return "\n".join(lines)
