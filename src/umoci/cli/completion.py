"""Shell completion: ``umoci completion bash|zsh|fish`` prints a script that asks us back.

The scripts are thin: on <Tab> they run ``umoci __complete --shell SHELL
LINE`` with the command line up to the cursor, and offer what it prints,
one candidate per line.  So commands, subcommands and flags come from the
same command tree as ``--help``, and values are completed from the disk:
after ``--image`` (and ``--layout``) directories, with ``LAYOUT:`` offered
for OCI layouts and ``LAYOUT:TAG`` for their tags once a ``:`` is typed.

bash splits words at ``:`` and ``=`` (``COMP_WORDBREAKS``), so for bash the
candidates are cut to the part after the last such character (unquoted) of
the word being completed; zsh and fish take whole words.

A candidate is inserted into the user's command line and run when they
press Enter, and directory names (and the tags in a layout) are anybody's
text.  So only tags ``umoci tag`` would accept are offered, and every
candidate goes out quoted for its shell: bash and zsh insert what they are
given as it is, so they get it backslash-quoted
(:func:`umoci.cli.shellwords.quote_sh`); fish escapes what it inserts (and
shows) itself, so it gets names as they are, but only names that fit on
one line of our output (:func:`_fish_word`).
"""

from __future__ import annotations

import os

from umoci.cli.shellwords import ShellLine, quote_sh

TYPE_CHECKING = False  # see umoci.cli.flags: avoids importing typing at start-up
if TYPE_CHECKING:
    from umoci.cli.command import Command

_BASH = r"""# bash completion for umoci: eval "$(umoci completion bash)"
_umoci_complete() {
    local line="${COMP_LINE:0:$COMP_POINT}"
    # One candidate a line, taken as it is: no word splitting, no globbing.
    mapfile -t COMPREPLY < <(command umoci __complete --shell bash "$line" 2>/dev/null)
    # Values that go on (a directory, a layout waiting for its tag) get no space.
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *[/:] ]]; then
        compopt -o nospace 2>/dev/null
    fi
}
complete -F _umoci_complete umoci
"""

_ZSH = r"""#compdef umoci
# zsh completion for umoci: eval "$(umoci completion zsh)"
_umoci_complete() {
    local -a candidates
    candidates=("${(@f)$(command umoci __complete --shell zsh "${BUFFER[1,CURSOR]}" 2>/dev/null)}")
    # -Q: each candidate comes quoted for the command line already.
    compadd -Q -S '' -- "${candidates[@]}"
}
compdef _umoci_complete umoci
"""

_FISH = r"""# fish completion for umoci: umoci completion fish | source
complete -c umoci -f -a '(command umoci __complete --shell fish (commandline -cp))'
"""

SCRIPTS = {"bash": _BASH, "zsh": _ZSH, "fish": _FISH}


def _known(shell: str) -> str:
    if shell not in SCRIPTS:
        from umoci.errors import UsageError

        raise UsageError(f"no completion for shell {shell!r}: want bash, zsh or fish")
    return shell


def script(shell: str) -> str:
    return SCRIPTS[_known(shell)]


def _paths(prefix: str, *, layouts: bool) -> list[str]:
    directory, _, start = prefix.rpartition("/")
    base = directory or "."
    try:
        names = sorted(os.listdir(base if directory or prefix.startswith("/") else "."))
    except OSError:
        return []
    if prefix.startswith("/") and not directory:
        base = "/"
    out = []
    for name in names:
        if not name.startswith(start) or (name.startswith(".") and not start.startswith(".")):
            continue
        path = f"{directory}/{name}" if directory else name
        full = os.path.join(base, name)
        if not os.path.isdir(full):
            continue
        is_layout = os.path.isfile(os.path.join(full, "oci-layout"))
        out.append(f"{path}:" if layouts and is_layout else f"{path}/")
    return out


def _tags(value: str) -> list[str]:
    from umoci.errors import UmociError
    from umoci.oci.refs import is_valid_tag
    from umoci.ops.taglist import list_tags

    layout, _, start = value.partition(":")
    try:
        tags = list_tags(layout)
    except UmociError:
        return []
    # A name umoci tag would refuse is nobody's tag; and it could be
    # "$(rm -rf ~)" as easily as "*".
    return [f"{layout}:{tag}" for tag in tags if tag.startswith(start) and is_valid_tag(tag)]


def _value_candidates(flag: str, value: str) -> list[str]:
    if flag == "image":
        return _tags(value) if ":" in value else _paths(value, layouts=True)
    if flag in ("layout", "bundle", "rootfs"):
        return _paths(value, layouts=False)
    if flag == "platform":
        choices = ("linux/amd64", "linux/arm64", "linux/arm/v7", "linux/s390x", "linux/ppc64le")
        return [p for p in choices if p.startswith(value)]
    return []


def candidates(root: Command, line: str) -> list[str]:
    """What may come next on *line* (the command line up to the cursor), whole words."""
    words = ShellLine(line).words[1:]  # drop "umoci"
    current = words.pop() if words else ""
    command = root
    expecting: str | None = None  # a flag whose value comes next
    for word in words:
        if expecting is not None:
            expecting = None
            continue
        if word.startswith("-"):
            name = word.lstrip("-").partition("=")[0]
            flag = next((f for f in command.flags if name in f.names), None)
            if flag is not None and flag.kind != "bool" and "=" not in word:
                expecting = flag.name
            continue
        sub = command.find(word)
        if sub is not None:
            command = sub
    if expecting is not None:
        return _value_candidates(expecting, current)
    if current.startswith("-"):
        name, eq, value = current.lstrip("-").partition("=")
        if eq:
            flag = next((f for f in command.flags if name in f.names), None)
            found = _value_candidates(flag.name, value) if flag is not None else []
            return [current[: current.index("=") + 1] + c for c in found]
        out = []
        for flag in command.flags:
            if not flag.hidden:
                out += [f"--{n}" for n in flag.names if len(n) > 1 and f"--{n}".startswith(current)]
        return out
    return [
        name
        for sub in command.subcommands
        if not sub.hidden
        for name in sub.names
        if name.startswith(current) and name != "h"
    ]


def _fish_word(text: str) -> str | None:
    """*text* for fish, which escapes what it inserts and shows; None when it cannot be sent.

    fish reads one candidate a line, and a tab ends the candidate (a
    description follows it): a name with a newline or a tab cannot be sent
    whole, so it is not offered.
    """
    return None if "\n" in text or "\t" in text else text


def complete(root: Command, shell: str, line: str) -> list[str]:
    """:func:`candidates`, shaped and quoted for *shell* (bash: cut at its word breaks)."""
    _known(shell)
    found = candidates(root, line)
    if shell == "fish":
        return [word for c in found if (word := _fish_word(c)) is not None]
    read = ShellLine(line)
    if read.open_quote:  # a quoted word inside the user's open quote would be wrong
        return []
    if shell == "bash":  # bash replaces only the part after a break: the rest stays as typed
        found = [c[read.bash_kept :] for c in found]
    return [quote_sh(c) for c in found]
