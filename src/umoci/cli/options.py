"""Flags several commands share, and their conversion into the values ops takes.

Each group is declared once here and listed in the commands that accept it
(the Go umoci's uxImage/uxHistory/uxRemap/... wrappers), in the order urfave
appends them, so ``--help`` lists them in the Go order.  The converters
import the modules they need when called: ``umoci --help`` should not pay
for ``re`` or the option classes.
"""

from __future__ import annotations

import os

from umoci.cli.flags import bool_flag, slice_flag, string_flag
from umoci.errors import UsageError

TYPE_CHECKING = False  # see umoci.cli.flags: avoids importing typing at start-up
if TYPE_CHECKING:
    from umoci.cli.command import Context
    from umoci.idmap import IdMap
    from umoci.oci.refs import ImageRef
    from umoci.oci.timefmt import GoTime
    from umoci.ops.options import Compression, HistoryOptions, MapOptions

IMAGE = string_flag("image", "OCI image URI of the form 'path[:tag]' or 'path@digest'")
PLATFORM = string_flag(
    "platform",
    "platform to use from a multi-platform image (os/arch[/variant])",
)
LAYOUT = string_flag("layout", "path to an OCI image layout")
TAG = string_flag("tag", "new tag name (if empty, overwrite --image tag)")
COMPRESS = string_flag(
    "compress",
    "compression algorithm for newly created layer blobs (auto, gzip, zstd, none)",
    default="auto",
)
HISTORY = (
    bool_flag("no-history", "do not create a history entry"),
    string_flag("history.author", "author value for the history entry"),
    string_flag("history.comment", "comment for the history entry"),
    string_flag("history.created", "created value for the history entry"),
    string_flag("history.created_by", "created_by value for the history entry"),
)
REMAP = (
    slice_flag("uid-map", "specifies a uid mapping to use (container:host:size)"),
    slice_flag("gid-map", "specifies a gid mapping to use (container:host:size)"),
    bool_flag("rootless", "enable rootless command support"),
)


def image_ref(ctx: Context) -> ImageRef:
    """``--image PATH[:TAG]`` (required by every command that declares it)."""
    from umoci.errors import InvalidRefError
    from umoci.oci.refs import parse_image_ref

    text = ctx.get_string("image")
    assert text is not None, "--image is a required flag"
    try:
        return parse_image_ref(text)
    except InvalidRefError as err:
        raise UsageError(f"invalid --image: {err}") from None


def image_path_and_optional_tag(ctx: Context) -> tuple[str, str | None]:
    """``--image PATH[:TAG]`` where a missing tag stays None (repack's default is the bundle's)."""
    from umoci.errors import InvalidRefError
    from umoci.oci.refs import split_image_ref

    text = ctx.get_string("image")
    assert text is not None, "--image is a required flag"
    try:
        return split_image_ref(text)
    except InvalidRefError as err:
        raise UsageError(f"invalid --image: {err}") from None


def platform(ctx: Context) -> str | None:
    """``--platform OS/ARCH[/VARIANT]`` as typed (the verb parses it; None: the host's)."""
    return ctx.get_string("platform")


def layout_path(ctx: Context) -> str:
    """``--layout PATH``: like --image's path, it may not contain the tag separator."""
    text = ctx.get_string("layout")
    assert text is not None, "--layout is a required flag"
    if text == "":
        raise UsageError("invalid --layout: path is empty")
    if ":" in text:
        raise UsageError(f"invalid --layout: path contains ':' character: {text!r}")
    return os.path.normpath(text)


def checked_tag(what: str, tag: str) -> str:
    """A tag from the command line, refused with the flag or argument it came from."""
    from umoci.errors import InvalidRefError
    from umoci.oci.refs import check_tag

    try:
        return check_tag(tag)
    except InvalidRefError as err:
        raise UsageError(f"invalid {what}: {err}") from None


def new_tag(ctx: Context) -> str | None:
    """``--tag NEW``: where a mutating command stores its result (None: over --image's tag)."""
    tag = ctx.get_string("tag")
    return None if tag is None else checked_tag("--tag", tag)


def compress(ctx: Context) -> Compression:
    """``--compress`` (default ``auto``)."""
    from umoci.ops.options import Compression

    text = ctx.get_string("compress") or "auto"
    try:
        return Compression(text)
    except ValueError:
        choices = ", ".join(c.value for c in Compression)
        raise UsageError(f"unknown --compress value {text!r}: want one of {choices}") from None


def time_flag(ctx: Context, name: str) -> GoTime | None:
    """An RFC 3339 time flag (None when not given), refused naming the flag."""
    from umoci.oci.timefmt import parse_time

    text = ctx.get_string(name)
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError as err:
        raise UsageError(f"parse --{name}: {err}") from None


def history_options(ctx: Context) -> HistoryOptions:
    """The HISTORY flags; --no-history with any --history.* is a contradiction."""
    from umoci.ops.options import HistoryOptions

    if ctx.get_bool("no-history"):
        for flag in HISTORY[1:]:
            if ctx.is_set(flag.name):
                raise UsageError(f"--no-history and --{flag.name} may not be specified together")
        return HistoryOptions(enabled=False)
    return HistoryOptions(
        enabled=True,
        author=ctx.get_string("history.author"),
        comment=ctx.get_string("history.comment"),
        created=time_flag(ctx, "history.created"),
        created_by=ctx.get_string("history.created_by"),
    )


def is_rootless(ctx: Context) -> bool:
    """--rootless, which an unprivileged user gets whether they asked or not.

    Without root, the privileged code paths (chown, mknod, trusted xattrs)
    can only fail, so the Go umoci's "maybe --rootless will help?" hint
    becomes the default here.
    """
    return ctx.get_bool("rootless") or os.geteuid() != 0


def map_options(ctx: Context) -> MapOptions:
    """The REMAP flags.  Rootless without explicit maps maps container root to us."""
    from umoci.ops.options import MapOptions

    rootless = is_rootless(ctx)
    uid_texts = ctx.get_strings("uid-map")
    gid_texts = ctx.get_strings("gid-map")
    # As in the Go umoci, each default applies on its own: --uid-map alone
    # still gets the 0:egid:1 gid map.
    if rootless and not uid_texts:
        uid_texts = (f"0:{os.geteuid()}:1",)
    if rootless and not gid_texts:
        gid_texts = (f"0:{os.getegid()}:1",)
    return MapOptions(
        rootless=rootless,
        uid_maps=_id_maps("--uid-map", uid_texts),
        gid_maps=_id_maps("--gid-map", gid_texts),
    )


def _id_maps(flag: str, texts: tuple[str, ...]) -> tuple[IdMap, ...]:
    from umoci.idmap import parse_id_map

    try:
        return tuple(parse_id_map(text) for text in texts)
    except UsageError as err:
        raise UsageError(f"{flag}: {err}") from None
