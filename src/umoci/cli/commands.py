"""Every umoci command: its flags, its help text, and the ops verb it calls.

The names, aliases, one-line usages, categories and flags are the Go
umoci 0.6's (so scripts and ``--help`` readers see the same tool); the
longer help paragraphs are ours.  Actions import :mod:`umoci.ops` when they
run and look the verb up on the module then, which keeps ``--help`` fast and
lets tests replace a verb with ``monkeypatch.setattr(umoci.ops, ...)``.

To add a command: write ``_verb(ctx) -> int`` below, declare a
:class:`Command` with its flags (shared groups come from
:mod:`umoci.cli.options`), and list it in ``ROOT`` (or ``RAW``).
"""

from __future__ import annotations

from umoci.cli import options as opt
from umoci.cli.command import Command, Context, check_positionals
from umoci.cli.flags import HELP_FLAG, Flag, bool_flag, slice_flag, string_flag
from umoci.errors import UmociError, UsageError
from umoci.validate.checks import CHECKS

TYPE_CHECKING = False  # see umoci.cli.flags: avoids importing typing at start-up
if TYPE_CHECKING:
    from umoci.ops.options import Compression

IMAGE = "image"  # categories, as the Go umoci groups its commands
LAYOUT = "layout"

ROOT_FLAGS = (
    bool_flag("verbose", "alias for --log=info"),
    string_flag("log", "set the log level (debug, info, [warn], error, fatal)", default="warn"),
    string_flag(
        "cpu-profile", "write a CPU profile (pprof format) of the run to a file", hidden=True
    ),
    bool_flag("no-progress", "do not show a progress line on the terminal"),
    string_flag(
        "lock-timeout",
        "how long to wait for another umoci's lock on a layout",
        default="5m",
    ),
    HELP_FLAG,
    bool_flag("version,v", "print the version"),
    # skopeo's global flag, so "skopeo --insecure-policy copy ..." lines carry
    # over; umoci has no signature policy (see copy --help).
    bool_flag("insecure-policy", "accepted for skopeo command lines; does nothing", hidden=True),
)


# -- layout commands ---------------------------------------------------------


def _init(ctx: Context) -> int:
    from umoci import ops

    ops.init_layout(opt.layout_path(ctx))
    return 0


def _gc(ctx: Context) -> int:
    from umoci import ops
    from umoci.durations import parse_duration

    grace = parse_duration(ctx.get_string("grace") or "0", "--grace")
    ops.gc(opt.layout_path(ctx), grace=grace)
    return 0


def _list(ctx: Context) -> int:
    from umoci import goquote, ops

    layout = opt.layout_path(ctx)
    if ctx.get_bool("long"):
        lines = ops.list_entries(layout)
    else:  # tags as the Go umoci prints them, but never a control character
        lines = [goquote.quote_if_needed(tag) for tag in ops.list_tags(layout)]
    ctx.echo("".join(f"{line}\n" for line in lines))
    return 0


# -- image commands ------------------------------------------------------------


def _new(ctx: Context) -> int:
    from umoci import ops

    ref = opt.image_ref(ctx)
    ops.new_image(ref.layout, ref.tag)
    return 0


def _tag(ctx: Context) -> int:
    from umoci import ops

    ref = opt.image_ref(ctx)
    new_tag = opt.checked_tag("<new-tag>", ctx.args[0])
    ops.tag_image(ref.layout, ref.tag, new_tag, platform=opt.platform(ctx))
    return 0


def _remove(ctx: Context) -> int:
    from umoci import ops

    ref = opt.image_ref(ctx)
    ops.remove_tag(ref.layout, ref.tag)
    return 0


def _stat(ctx: Context) -> int:
    from umoci import ops

    ref = opt.image_ref(ctx)
    info = ops.stat(ref.layout, ref.tag, platform=opt.platform(ctx))
    if ctx.get_bool("json"):
        from umoci.cli.stat_json import stat_json

        ctx.echo(stat_json(info))
    else:
        from umoci.cli.stat_text import stat_text

        ctx.echo(stat_text(info))
    return 0


def _config(ctx: Context) -> int:
    from umoci import ops

    ref = opt.image_ref(ctx)

    def given(name: str) -> tuple[str, ...] | None:
        # entrypoint/cmd: "given at all" differs from "not given" (Go's IsSet).
        return ctx.get_strings(name) if ctx.is_set(name) else None

    changes = ops.ConfigChanges(
        clear=ctx.get_strings("clear"),
        user=ctx.get_string("config.user"),
        exposed_ports=ctx.get_strings("config.exposedports"),
        env=ctx.get_strings("config.env"),
        entrypoint=given("config.entrypoint"),
        cmd=given("config.cmd"),
        volumes=ctx.get_strings("config.volume"),
        labels=ctx.get_strings("config.label"),
        working_dir=ctx.get_string("config.workingdir"),
        stop_signal=ctx.get_string("config.stopsignal"),
        created=opt.time_flag(ctx, "created"),
        author=ctx.get_string("author"),
        architecture=ctx.get_string("platform.arch"),
        os=ctx.get_string("platform.os"),
        variant=ctx.get_string("platform.variant"),
        manifest_annotations=ctx.get_strings("manifest.annotation"),
    )
    ops.config(
        ref.layout,
        ref.tag,
        new_tag=opt.new_tag(ctx),
        changes=changes,
        history=opt.history_options(ctx),
        platform=opt.platform(ctx),
    )
    return 0


def _unpack(ctx: Context) -> int:
    from umoci import ops

    ref = opt.image_ref(ctx)
    maps = opt.map_options(ctx)
    keep = ctx.get_bool("keep-dirlinks")
    platform = opt.platform(ctx)
    ops.unpack(ref.layout, ref.tag, ctx.args[0], maps=maps, keep_dirlinks=keep, platform=platform)
    return 0


def _repack(ctx: Context) -> int:
    from umoci import ops

    layout, tag = opt.image_path_and_optional_tag(ctx)
    options = ops.RepackOptions(
        history=opt.history_options(ctx),
        compress=opt.compress(ctx),
        mask_paths=ctx.get_strings("mask-path"),
        mask_volumes=not ctx.get_bool("no-mask-volumes"),
        refresh_bundle=ctx.get_bool("refresh-bundle"),
        full_hash=ctx.get_bool("full-hash"),
    )
    ops.repack(layout, tag, ctx.args[0], options=options)
    return 0


def _insert(ctx: Context) -> int:
    from umoci import ops

    whiteout = ctx.get_bool("whiteout")
    # The one command whose positional count depends on a flag.
    check_positionals(ctx.args, ("<target>",) if whiteout else ("<source>", "<target>"))
    if whiteout and ctx.get_bool("opaque"):
        raise UsageError("--whiteout takes only TARGET (and no --opaque)")
    source, target = (None, ctx.args[0]) if whiteout else (ctx.args[0], ctx.args[1])
    if whiteout:
        mode = ops.InsertMode.WHITEOUT
    else:
        mode = ops.InsertMode.OPAQUE if ctx.get_bool("opaque") else ops.InsertMode.MERGE
    ref = opt.image_ref(ctx)
    ops.insert(
        ref.layout,
        ref.tag,
        source,
        target,
        new_tag=opt.new_tag(ctx),
        mode=mode,
        history=opt.history_options(ctx),
        compress=opt.compress(ctx),
        maps=opt.map_options(ctx),
        platform=opt.platform(ctx),
    )
    return 0


def _copy(ctx: Context) -> int:
    from umoci import ops
    from umoci.cli.registry import registry_options

    if ctx.get_bool("quiet"):
        from umoci import progress

        progress.disable()
    src_registry, dest_registry = registry_options(ctx)
    options = ops.CopyOptions(
        all_platforms=ctx.get_bool("all"),
        platform=_copy_platform(ctx),
        additional_tags=ctx.get_strings("additional-tag"),
        compress=_dest_compress(ctx),
        src_shared_blob_dir=_path_flag(ctx, "src-shared-blob-dir"),
        dest_shared_blob_dir=_path_flag(ctx, "dest-shared-blob-dir"),
        tmpdir=_path_flag(ctx, "tmpdir"),
        src_registry=src_registry,
        dest_registry=dest_registry,
    )
    digestfile = _path_flag(ctx, "digestfile")
    digest = ops.copy(ctx.args[0], ctx.args[1], options=options)
    if digestfile is not None:
        _write_digestfile(digestfile, digest)
    return 0


def _dest_compress(ctx: Context) -> Compression | None:
    """--dest-compress-format: gzip, zstd or none (not given: the layers stay as they are)."""
    from umoci.ops.options import Compression

    text = ctx.get_string("dest-compress-format")
    if text is None:
        return None
    choices = [c.value for c in Compression if c is not Compression.AUTO]
    if text not in choices:
        raise UsageError(
            f"invalid --dest-compress-format {text!r}: want one of {', '.join(choices)}"
        )
    return Compression(text)


def _write_digestfile(path: str, digest: str) -> None:
    """--digestfile: the digest written, as skopeo writes it (no newline)."""
    try:
        with open(path, "w", encoding="ascii") as file:
            file.write(digest)
    except OSError as err:
        raise UsageError(f"--digestfile {path}: {err.strerror}") from None


def _copy_platform(ctx: Context) -> str | None:
    """--platform, or skopeo's --override-os/-arch/-variant (the host's for those not given)."""
    platform = opt.platform(ctx)
    os_name, arch, variant = (ctx.get_string(f"override-{k}") for k in ("os", "arch", "variant"))
    if os_name is None and arch is None and variant is None:
        return platform
    if platform is not None:
        raise UsageError("--platform and --override-os/--override-arch/--override-variant conflict")
    from umoci.hostplatform import host_arch, host_os

    platform = f"{os_name or host_os()}/{arch or host_arch()}"
    return f"{platform}/{variant}" if variant else platform


def _path_flag(ctx: Context, name: str) -> str | None:
    value = ctx.get_string(name)
    if value == "":
        raise UsageError(f"invalid --{name}: path is empty")
    return value


# -- index subcommands -----------------------------------------------------------


def _index_create(ctx: Context) -> int:
    from umoci import ops

    if not ctx.args:
        raise UsageError("index create needs at least one <child> (TAG or @DIGEST)")
    ref = opt.image_ref(ctx)
    ops.index_create(ref.layout, ref.tag, tuple(ctx.args))
    return 0


def _index_add(ctx: Context) -> int:
    from umoci import ops

    ref = opt.image_ref(ctx)
    ops.index_add(ref.layout, ref.tag, ctx.args[0], new_tag=opt.new_tag(ctx))
    return 0


def _index_remove(ctx: Context) -> int:
    from umoci import ops

    ref = opt.image_ref(ctx)
    platform = opt.platform(ctx)
    if platform is None:
        raise UsageError("index remove needs --platform OS/ARCH[/VARIANT]")
    ops.index_remove(ref.layout, ref.tag, platform, new_tag=opt.new_tag(ctx))
    return 0


# -- raw subcommands -------------------------------------------------------------


def _raw_unpack(ctx: Context) -> int:
    from umoci import ops

    ref = opt.image_ref(ctx)
    maps = opt.map_options(ctx)
    keep = ctx.get_bool("keep-dirlinks")
    platform = opt.platform(ctx)
    ops.raw_unpack(
        ref.layout, ref.tag, ctx.args[0], maps=maps, keep_dirlinks=keep, platform=platform
    )
    return 0


def _raw_add_layer(ctx: Context) -> int:
    from umoci import ops

    ref = opt.image_ref(ctx)
    ops.raw_add_layer(
        ref.layout,
        ref.tag,
        ctx.args[0],
        new_tag=opt.new_tag(ctx),
        history=opt.history_options(ctx),
        compress=opt.compress(ctx),
        platform=opt.platform(ctx),
    )
    return 0


def _raw_runtime_config(ctx: Context) -> int:
    from umoci import ops

    ref = opt.image_ref(ctx)
    rootfs = ctx.get_string("rootfs")
    maps = opt.map_options(ctx)
    ops.raw_runtime_config(
        ref.layout, ref.tag, ctx.args[0], rootfs=rootfs, maps=maps, platform=opt.platform(ctx)
    )
    return 0


def _keywords(ctx: Context, name: str) -> tuple[str, ...]:
    # go-mtree's -k/-K take "a,b c" lists; we also let the flag repeat.
    return tuple(kw for text in ctx.get_strings(name) for kw in text.replace(",", " ").split())


def _raw_mtree_validate(ctx: Context) -> int:
    from umoci import ops

    manifest = ctx.get_string("manifest") or ""
    root = ctx.get_string("path") or ""
    for flag, value in (("--manifest", manifest), ("--path", root)):
        if not value:
            raise UsageError(f"invalid {flag}: path is empty")
    differences = ops.mtree_validate(
        manifest,
        root,
        use_keywords=_keywords(ctx, "use-keywords"),
        add_keywords=_keywords(ctx, "add-keywords"),
        umoci_keywords=ctx.get_bool("umoci-keywords"),
        rootless=opt.is_rootless(ctx),
    )
    ctx.echo("".join(f"{line}\n" for line in differences))
    if differences:
        raise UmociError(f"validation failed: {len(differences)} differences found")
    return 0


def _validate(ctx: Context) -> int:
    from umoci import ops

    targets = [name for name in ("layout", "image", "bundle") if ctx.get_string(name) is not None]
    if len(targets) != 1:
        raise UsageError("validate needs exactly one of --layout, --image or --bundle")
    layers = not ctx.get_bool("no-layers")
    if targets == ["layout"]:
        report = ops.validate_layout(opt.layout_path(ctx), layers=layers)
    elif targets == ["image"]:
        ref = opt.image_ref(ctx)
        report = ops.validate_image(ref.layout, ref.tag, platform=opt.platform(ctx), layers=layers)
    else:
        bundle = ctx.get_string("bundle") or ""
        if not bundle:
            raise UsageError("invalid --bundle: path is empty")
        report = ops.validate_bundle(bundle)
    ctx.echo(report.json() if ctx.get_bool("json") else report.text())
    if report.errors:
        raise UmociError(
            f"validation failed: {report.errors} error{'s' * (report.errors != 1)} found"
        )
    return 0


def _completion(ctx: Context) -> int:
    from umoci.cli.completion import script

    ctx.echo(script(ctx.args[0]))
    return 0


def _complete(ctx: Context) -> int:
    from umoci.cli.completion import complete

    shell = ctx.get_string("shell") or "bash"
    line = ctx.args[0] if ctx.args else ""
    ctx.echo("".join(f"{c}\n" for c in complete(ROOT, shell, line)))
    return 0


# -- help ------------------------------------------------------------------------


def _help(ctx: Context) -> int:
    """``help [COMMAND...]``: help for the group this help belongs to, or one of its commands."""
    from umoci.cli.help import help_text

    chain = ctx.chain[:-1]  # drop "help" itself
    for topic in ctx.args:
        sub = chain[-1].find(topic)
        if sub is None:
            raise UsageError(f"no help topic for {topic!r}")
        chain = (*chain, sub)
    if ctx.get_bool("man"):
        from umoci.cli.manpage import man_page

        ctx.echo(man_page(chain))
        return 0
    ctx.echo(help_text(chain))
    return 0


def _help_command(*, hidden: bool) -> Command:
    return Command(
        "help",
        "Shows a list of commands or help for one command",
        aliases=("h",),
        args_usage="[command]",
        flags=(bool_flag("man", "print the help as a roff man page (for man -l)"),),
        positionals=None,
        action=_help,
        hidden=hidden,
    )


# -- the tree --------------------------------------------------------------------

_READS_HELP = """

"<image-path>@<digest>" names a manifest or index by digest instead of by tag
(sha256:<hex>, or at least 12 of its hex digits), tagged or not.  When the
image is a multi-platform index, --platform <os>/<arch>[/<variant>] picks one
of its images (default: this host's platform; arm64 means arm64/v8, arm means
arm/v7, and older variants are taken when no exact match exists); an index
holding a single image needs no --platform."""

_WRITES_HELP = (
    _READS_HELP
    + """

Writing through an index replaces only the chosen platform's entry in it
(every other entry is kept as it was); writing through a digest needs --tag."""
)

_UNPACK_FLAGS = (bool_flag("keep-dirlinks", "don't clobber underlying symlinks to directories"),)

CONFIG = Command(
    "config",
    "modifies the image configuration of an OCI image",
    category=IMAGE,
    args_usage="""--image <image-path>[:<tag>] [--tag <new-tag>]

Changes the configuration (and manifest annotations) of the image tagged
"<tag>" (default "latest") in the layout at "<image-path>", and points
"<new-tag>" at the result -- or "<tag>" itself if --tag is not given.

Repeatable flags add one entry each time they are given; --config.entrypoint
and --config.cmd replace the whole list with the values given.  --clear empties
config.labels, config.exposedports, config.env, config.entrypoint, config.cmd,
config.volume or manifest.annotations before any additions."""
    + _WRITES_HELP,
    flags=(
        string_flag("config.user", "user (and group) the container runs as"),
        slice_flag("config.exposedports", "add an exposed port (port/proto)"),
        slice_flag("config.env", "add an environment variable (NAME=value)"),
        slice_flag("config.entrypoint", "entrypoint argument (repeat for each)"),
        slice_flag("config.cmd", "command argument (repeat for each)"),
        slice_flag("config.volume", "add a volume path"),
        slice_flag("config.label", "add a label (key=value)"),
        string_flag("config.workingdir", "working directory"),
        string_flag("config.stopsignal", "signal that stops the container"),
        string_flag("created", "image creation time (RFC 3339)"),
        string_flag("author", "image author"),
        string_flag("platform.os,os", "image operating system"),
        string_flag("platform.arch,architecture", "image CPU architecture"),
        string_flag("platform.variant", "image CPU variant"),
        slice_flag("manifest.annotation", "add a manifest annotation (key=value)"),
        slice_flag("clear", "empty a list or set before changes (see above)"),
        opt.TAG,
        *opt.HISTORY,
        opt.PLATFORM,
        opt.IMAGE,
    ),
    required=("image",),
    action=_config,
)

UNPACK = Command(
    "unpack",
    "unpacks a reference into an OCI runtime bundle",
    category=IMAGE,
    args_usage="""--image <image-path>[:<tag>] <bundle>

Extracts the image tagged "<tag>" (default "latest") in the layout at
"<image-path>" into a new runtime bundle at "<bundle>": rootfs/, config.json,
and the metadata umoci-repack(1) needs to compute the next layer.

Without root privileges --rootless is implied."""
    + _READS_HELP,
    flags=(*_UNPACK_FLAGS, *opt.REMAP, opt.PLATFORM, opt.IMAGE),
    required=("image",),
    positionals=("<bundle>",),
    action=_unpack,
)

REPACK = Command(
    "repack",
    "repacks an OCI runtime bundle into a reference",
    category=IMAGE,
    args_usage="""--image <image-path>[:<new-tag>] <bundle>

Turns the changes made to "<bundle>"'s rootfs since umoci-unpack(1) into a new
layer on top of the image the bundle came from, and tags the result "<new-tag>"
(default: the tag the bundle was unpacked from).  "<image-path>" must be the
layout the bundle was unpacked from; the id mappings used then are reused.

A bundle unpacked from one platform of a multi-platform index is repacked into
that index: the new index differs from the old one only in that platform's
entry.  The tag written must be a tag, not a digest.""",
    flags=(
        slice_flag(
            "mask-path",
            "set of path prefixes in which deltas will be ignored when generating new layers",
        ),
        bool_flag(
            "no-mask-volumes",
            "do not add the Config.Volumes of the image to the set of masked paths",
        ),
        bool_flag("refresh-bundle", "update the bundle metadata to reflect the packed rootfs"),
        bool_flag("full-hash", "re-hash every file instead of trusting unchanged stat data"),
        *opt.HISTORY,
        opt.COMPRESS,
        opt.IMAGE,
    ),
    required=("image",),
    positionals=("<bundle>",),
    action=_repack,
)

NEW = Command(
    "new",
    "creates a blank tagged OCI image",
    category=IMAGE,
    args_usage="""--image <image-path>:<new-tag>

Creates an image with no layers and a default configuration for this host's
platform, tagged "<new-tag>" in the layout at "<image-path>".""",
    flags=(opt.IMAGE,),
    required=("image",),
    action=_new,
)

TAG = Command(
    "tag",
    "creates a new tag in an OCI image",
    category=IMAGE,
    args_usage="""--image <image-path>[:<tag>] <new-tag>

Points "<new-tag>" at the image "<tag>" (default "latest") points to, replacing
any existing "<new-tag>"."""
    + _READS_HELP,
    flags=(opt.PLATFORM, opt.IMAGE),
    required=("image",),
    positionals=("<new-tag>",),
    action=_tag,
)

REMOVE = Command(
    "remove",
    "removes a tag from an OCI image",
    aliases=("rm",),
    category=IMAGE,
    args_usage="""--image <image-path>[:<tag>]

Removes the tag "<tag>" (default "latest"); the blobs stay until umoci-gc(1).""",
    flags=(opt.IMAGE,),
    required=("image",),
    action=_remove,
)

STAT = Command(
    "stat",
    "displays status information of an image manifest",
    category=IMAGE,
    args_usage="""--image <image-path>[:<tag>]

Describes the manifest, configuration and history of the image tagged "<tag>"
(default "latest").  The text format is for people and may change; --json is
meant for programs."""
    + _READS_HELP,
    flags=(
        bool_flag("json", "output the stat information as a JSON encoded blob"),
        opt.PLATFORM,
        opt.IMAGE,
    ),
    required=("image",),
    action=_stat,
)

INSERT = Command(
    "insert",
    "insert content into an OCI image",
    category=IMAGE,
    args_usage="""--image <image-path>[:<tag>] [--opaque] <source> <target>
                                  --image <image-path>[:<tag>] [--whiteout] <target>

Adds a layer holding "<source>" (a file or a directory tree) at the path
"<target>" to the image tagged "<tag>" (default "latest").  With --whiteout the
layer deletes "<target>" instead; with --opaque, "<target>" replaces the
directory of the lower layers instead of merging with it.

A new layer cannot remove a secret from the layers below it.

Examples:
	umoci insert --image oci:foo mybinary /usr/bin/mybinary
	umoci insert --image oci:foo --opaque myetcdir /etc
	umoci insert --image oci:foo --whiteout /some/old/dir"""
    + _WRITES_HELP,
    flags=(
        bool_flag("whiteout", "insert a 'removal entry' for the given path"),
        bool_flag("opaque", "mask any previous entries in the target directory"),
        opt.TAG,
        *opt.HISTORY,
        *opt.REMAP,
        opt.COMPRESS,
        opt.PLATFORM,
        opt.IMAGE,
    ),
    required=("image",),
    positionals=None,
    action=_insert,
)

GC = Command(
    "gc",
    "garbage-collects an OCI image's blobs",
    category=LAYOUT,
    args_usage="""--layout <image-path>

Removes every blob of the layout at "<image-path>" that nothing in index.json
reaches (tagged or not), and the temporary files of umoci runs that died.

By default every unreachable blob goes, as with the Go umoci: umoci's own
writers hold a lock that gc waits for (see --lock-timeout), so a blob they have
stored but not yet referenced is never swept.  A layout shared with writers
that take no umoci lock (skopeo, the Go umoci) can keep their fresh blobs with
--grace: an unreachable blob younger than that is kept.""",
    flags=(
        string_flag(
            "grace", "keep unreachable blobs younger than this (e.g. 10m; default 0)", default="0"
        ),
        opt.LAYOUT,
    ),
    required=("layout",),
    action=_gc,
)

INIT = Command(
    "init",
    "create a new OCI layout",
    category=LAYOUT,
    args_usage="""--layout <image-path>

Creates an empty OCI image layout at "<image-path>", which must not exist.""",
    flags=(opt.LAYOUT,),
    required=("layout",),
    action=_init,
)

LIST = Command(
    "list",
    "lists the set of tags in an OCI layout",
    aliases=("ls",),
    category=LAYOUT,
    args_usage="""--layout <image-path>

Prints the name of every tag in the layout at "<image-path>", one per line.

With --long, prints one line per entry of index.json instead, tagged or not,
as four tab-separated fields: the tag ("<none>" for an untagged entry), the
media type, the digest, and the platforms (os/arch[/variant], comma-separated:
the image's own, or for an index those of the images below it; "-" if none is
known, "?" if a blob cannot be read).  Use the digest as --image
<image-path>@<digest> to reach an untagged image.""",
    flags=(
        bool_flag("long,l", "one line per index.json entry: tag, media type, digest, platforms"),
        opt.LAYOUT,
    ),
    required=("layout",),
    action=_list,
)

RAW_UNPACK = Command(
    "unpack",
    "unpacks a reference into a rootfs",
    category=IMAGE,
    args_usage="""--image <image-path>[:<tag>] <rootfs>

Extracts the layers of the image tagged "<tag>" (default "latest") into a new
directory "<rootfs>", without the rest of a runtime bundle."""
    + _READS_HELP,
    flags=(*_UNPACK_FLAGS, *opt.REMAP, opt.PLATFORM, opt.IMAGE),
    required=("image",),
    positionals=("<rootfs>",),
    action=_raw_unpack,
)

RAW_ADD_LAYER = Command(
    "add-layer",
    "add a layer archive verbatim to an image",
    category=IMAGE,
    args_usage="""--image <image-path>[:<tag>] <new-layer.tar>

Appends the uncompressed tar archive "<new-layer.tar>" as it is (whiteouts
included) as a new layer of the image tagged "<tag>" (default "latest")."""
    + _WRITES_HELP,
    flags=(opt.TAG, *opt.HISTORY, opt.COMPRESS, opt.PLATFORM, opt.IMAGE),
    required=("image",),
    positionals=("<new-layer.tar>",),
    action=_raw_add_layer,
)

RAW_RUNTIME_CONFIG = Command(
    "runtime-config",
    "generates an OCI runtime configuration for an image",
    aliases=("config",),
    category=IMAGE,
    args_usage="""--image <image-path>[:<tag>] [--rootfs <rootfs>] <config.json>

Writes the runtime configuration umoci-unpack(1) would generate for the image
tagged "<tag>" (default "latest") to "<config.json>".  Some values (the user's
ids, for one) need the image's files: --rootfs names an unpacked rootfs to read
them from; without it they keep their defaults."""
    + _READS_HELP,
    flags=(
        string_flag("rootfs", "path to secondary source of truth (root filesystem)"),
        *opt.REMAP,
        opt.PLATFORM,
        opt.IMAGE,
    ),
    required=("image",),
    positionals=("<config.json>",),
    action=_raw_runtime_config,
)

RAW_MTREE_VALIDATE = Command(
    "mtree-validate",
    'validate an mtree manifest (akin to "go-mtree validate")',
    category="devtools",
    hidden=True,  # for umoci's own tests, as in the Go umoci
    args_usage="""--manifest <manifest.mtree> --path <directory>

Compares "<directory>" with the mtree(8) manifest "<manifest.mtree>" and prints
one line per difference (exit status 1 if there are any).""",
    flags=(
        string_flag("manifest,f,file", "mtree manifest to validate"),
        string_flag("path,p", "root path the mtree manifest is relative to"),
        bool_flag("rootless", "enable rootless command support"),
        slice_flag(
            "add-keywords,K",
            "add the specified keywords to the set used for validation"
            " (delimited by comma or space)",
        ),
        slice_flag(
            "use-keywords,k",
            "use only the specified keywords for validation (delimited by comma or space)",
        ),
        bool_flag("umoci-keywords", "use the default set of keywords used by umoci"),
    ),
    required=("manifest", "path"),
    action=_raw_mtree_validate,
)

_CHILD_HELP = """A <child> is a tag or @<digest> of an image (or index) in the same layout,
optionally followed by =<os>/<arch>[/<variant>] to give its platform; without
it the platform is the one its descriptor or its config names."""

INDEX_CREATE = Command(
    "create",
    "creates a multi-platform index of images in the layout",
    category=IMAGE,
    args_usage=f"""--image <image-path>:<tag> <child>...

Writes a new image index listing each <child> in the order given, and points
"<tag>" at it (replacing any existing "<tag>").  Two children for the same
platform are refused.

{_CHILD_HELP}

Example:
	umoci index create --image oci:multi amd64 arm64=linux/arm64/v8""",
    flags=(opt.IMAGE,),
    required=("image",),
    positionals=None,
    action=_index_create,
)

INDEX_ADD = Command(
    "add",
    "adds an image to a multi-platform index, replacing its platform's entry",
    category=IMAGE,
    args_usage=f"""--image <image-path>[:<tag>] [--tag <new-tag>] <child>

Writes a copy of the index "<tag>" (default "latest"; or @<digest>, which
needs --tag) in which <child> replaces the entry of the same platform, or is
added last if there is none, and points "<new-tag>" (default "<tag>") at it.
Every other entry is kept exactly; attestations of a replaced image go with it.

{_CHILD_HELP}""",
    flags=(opt.TAG, opt.IMAGE),
    required=("image",),
    positionals=("<child>",),
    action=_index_add,
)

INDEX_REMOVE = Command(
    "remove",
    "removes one platform from a multi-platform index",
    aliases=("rm",),
    category=IMAGE,
    args_usage="""--image <image-path>[:<tag>] --platform <os>/<arch>[/<variant>] [--tag <new-tag>]

Writes a copy of the index "<tag>" (default "latest"; or @<digest>, which
needs --tag) without its entries for the platform given (matched exactly,
after normalisation: arm64 is arm64/v8, x86_64 is amd64), and without the
attestations of those images, and points "<new-tag>" (default "<tag>") at it.
The last platform of an index cannot be removed: use umoci-rm(1).""",
    flags=(
        string_flag("platform", "the platform whose entries to remove (os/arch[/variant])"),
        opt.TAG,
        opt.IMAGE,
    ),
    required=("image",),
    action=_index_remove,
)

INDEX = Command(
    "index",
    "builds and edits multi-platform images (image indexes)",
    category=IMAGE,
    args_usage="""<command> [<args>...]

Multi-platform images are image indexes listing one image per platform.  The
other commands read them (choosing a platform with --platform, by default this
host's) and write through them (a new index with just that platform's image
replaced); these commands make and change the list itself.""",
    subcommands=(INDEX_CREATE, INDEX_ADD, INDEX_REMOVE, _help_command(hidden=True)),
)

VALIDATE = Command(
    "validate",
    "checks a layout, an image or a bundle against the OCI specifications",
    category=LAYOUT,
    args_usage="""--layout <image-path> | --image <image-path>[:<tag>] | --bundle <bundle>

Reads (and never changes) the layout at "<image-path>" -- everything reachable
from index.json, tagged or not -- or one image in it, or a runtime bundle made
by umoci-unpack(1), and prints one line per problem found:

	<error|warning> <check> <where>: <what>

where <where> is the path of descriptors from index.json (for example
"index.json → manifests[2] (tag v1) → layers[0]"), then a summary line.  With
--json the findings are printed as a JSON list of objects with the keys
"level", "check", "where" and "message".  The exit status is 1 if there is an
error and 0 otherwise (warnings alone do not fail).

The checks: the oci-layout file; index.json, indexes, manifests and configs
against the image-spec schemas and rules (media types agreeing with their
descriptors, digests, sizes, embedded data, annotation keys, tags); every blob
present with its size and digest; one diff_id and one non-empty history entry
per layer; index platforms agreeing with the configs; an image's layers of a
media type umoci-unpack(1) reads; and, unless --no-layers, every layer
decompressed, hashed against its diff_id and read as a tar with no entry that
umoci-unpack(1) refuses whatever the layers below (the same rules), no name or
hardlink target climbing above the root with "..", and well-formed whiteouts.
What may fail depending on the layers below is a warning: a hardlink whose
target is not a file earlier in the same layer.  Symlinks may point anywhere
(they resolve inside the root filesystem): one whose target climbs above the
root with ".." is a warning, an absolute one is fine.  Unreferenced blobs and
stale temporary files are warnings.  For a bundle: config.json against the
runtime-spec, umoci.json and the mtree present and parseable, and the rootfs
compared with the mtree.

Check ids:
"""
    + "\n".join(f"\t{name:<18} {what}" for name, what in CHECKS.items()),
    flags=(
        opt.LAYOUT,
        opt.IMAGE,
        string_flag("bundle", "path to a runtime bundle (made by umoci unpack)"),
        opt.PLATFORM,
        bool_flag("json", "print the findings as a JSON list"),
        bool_flag("no-layers", "do not read the layers (blob sizes and digests are still checked)"),
    ),
    action=_validate,
)


def _sided(name: str, usage: str, *, boolean: bool = False) -> tuple[Flag, ...]:
    """--NAME for both registries, and --src-NAME / --dest-NAME for one of them."""
    make = bool_flag if boolean else string_flag
    return (
        make(name, f"{usage} (docker:// source and destination)"),
        make(f"src-{name}", f"{usage} (docker:// source)"),
        make(f"dest-{name}", f"{usage} (docker:// destination)"),
    )


_REGISTRY_FLAGS = (
    *_sided("creds", "log in as USER[:PASSWORD] (PASSWORD asked for if left out)"),
    # skopeo copy has these for one side only (no --username, no --password).
    string_flag(
        "src-username", "log in to the docker:// source as this user (with --src-password)"
    ),
    string_flag("src-password", "the password of --src-username"),
    string_flag(
        "dest-username", "log in to the docker:// destination as this user (with --dest-password)"
    ),
    string_flag("dest-password", "the password of --dest-username"),
    *_sided("registry-token", "a bearer token to send"),
    *_sided("authfile", "credentials file read first (default: $REGISTRY_AUTH_FILE)"),
    *_sided("no-creds", "access the registry anonymously", boolean=True),
    *_sided(
        "tls-verify",
        "require HTTPS with a verified certificate (=false: accept any, allow HTTP)",
        boolean=True,
    ),
    *_sided("cert-dir", "directory of *.crt CA files and *.cert/*.key client pairs"),
    string_flag("retry-times", "retry a registry request that failed this many times", default="0"),
    string_flag("retry-delay", "wait this long between retries (default: 1s, doubling)"),
    string_flag(
        "timeout", "give a registry transfer up after this long without data", default="60s"
    ),
)

COPY = Command(
    "copy",
    "copies an image between layouts, archives, registries and the Docker engine",
    category=IMAGE,
    args_usage="""<source-image> <destination-image>

Copies the image "<source-image>" names to "<destination-image>", checking the
digest and size of every blob as it streams.  Image names use skopeo's syntax
(containers-transports(5)), so "skopeo copy" command lines work unchanged:

	oci:<path>[:<ref>]                      an OCI image layout directory
	oci-archive:<file>[:<ref>]              a tar archive of an OCI layout
	docker-archive:<file>[:<name>[:<tag>]]  the format of "docker save"
	docker-daemon:<name>[:<tag>]            an image of the Docker engine
	docker://[<host>[:<port>]/]<repo>[:<tag>|@<digest>]   a registry

<path> and <file> end at the first ":".  A <ref> is a tag; as a source it may
also be @<digest> (a manifest or index anywhere below index.json, or at least
12 hex digits of its digest) or @<n> (the n-th entry of index.json, from 0),
and it may be left out when there is a single image.  For Docker's formats
<name> defaults to docker.io/library/ and <tag> to "latest";
docker-archive:<file>:@<n> reads the n-th image of an archive.  A <file> of
"-" is standard input or output; archives read may be compressed (gzip, xz,
zstd or bzip2, told by their content).  docker-daemon: talks to the socket in
$DOCKER_HOST (unix:///<path>; default unix:///var/run/docker.sock), which may
also be podman's ("podman system service").

docker:// speaks the OCI distribution API (and Docker's registry API).  A
name without <host> is Docker Hub's ("alpine" is docker.io/library/alpine),
and a missing <tag> is "latest".  Every manifest (at most 4 MiB) and blob is
checked against its digest and size as it arrives; a download cut short is
resumed where it stopped; blobs the registry already has are not uploaded,
and those of another repository of the same registry are mounted from it.
Manifests are pushed after all their blobs, and the tag last.

Credentials are, in this order: --creds (or --src-creds, --dest-creds)
USER:PASSWORD (given only USER, the password is empty, as skopeo has it),
or --src-username with --src-password (--dest-username with
--dest-password); --registry-token TOKEN, sent as a bearer token; the first
credentials file that names the registry: --authfile (else
$REGISTRY_AUTH_FILE), $XDG_RUNTIME_DIR/containers/auth.json,
$XDG_CONFIG_HOME/containers/auth.json, ~/.docker/config.json
($DOCKER_CONFIG), whose "credHelpers" and "credsStore" run
docker-credential-<name>; else none.  --no-creds uses none.  Credentials
are never printed, not even by --log=debug.

Registries are reached over HTTPS, trusting the system's CAs and the *.crt
files (with *.cert/*.key client pairs) of --cert-dir, else of
~/.config/containers/certs.d/<host>:<port>/, /etc/containers/certs.d/... and
/etc/docker/certs.d/...  --tls-verify=false accepts any certificate and
falls back to plain HTTP.  A request answered with 429 or 5xx, or whose
connection failed, is retried --retry-times times (--retry-delay apart, else
after 1s, 2s, 4s...); a transfer silent for --timeout (60s) fails.  Each flag
also exists as --src-<flag> and --dest-<flag>, for one side only.

A multi-platform index is narrowed to one image, for --platform (default: this
host's platform) as the other commands choose; --all copies the index and
every image in it.  Docker's formats hold one image.

Blobs the destination already has are not copied again.  Layers are copied
byte for byte, except that Docker's formats get plain tar layers (checked
against the config's diff_ids as they are decompressed), that layers read from
Docker's formats are gzip-compressed for OCI destinations (as skopeo does), and
that --dest-compress-format recompresses every layer into another format (the
diff_ids stay the same).  Manifests and indexes are rewritten only when a layer
below them changed, so a copy keeps digests wherever it can.

A copy into a layout creates it if it is missing, writes the blobs, and then
points the tag (and each --additional-tag) at the image in index.json,
replacing what it named before: no untagged manifest is left behind.  A copy
into an archive writes a temporary file beside <file> and renames it over
<file> once it is complete.  A copy that fails leaves the destination as it
was (a layout it created is removed again).

umoci neither verifies nor writes signatures: --remove-signatures and
--insecure-policy are accepted so that skopeo command lines carry over, and
change nothing.

Examples:
	umoci copy docker-archive:base.tar oci:image:base
	umoci copy oci:image:v1 oci-archive:app.rock:v1
	umoci copy --additional-tag example/app:latest oci:image:v1 \\
		docker-archive:app.tar:example/app:v1
	umoci copy oci-archive:app.rock docker-daemon:example/app:v1
	umoci copy --override-arch arm64 --retry-times 5 docker://ubuntu:24.04 oci:image:base
	umoci copy --all --dest-creds "$USER:$TOKEN" oci:image:v1 \\
		docker://registry.example.com/team/app:v1
	umoci copy --dest-tls-verify=false --digestfile app.digest oci-archive:app.rock \\
		docker://localhost:5000/app:v1""",
    flags=(
        bool_flag("all,a", "copy a multi-platform index whole: every image, and the index"),
        opt.PLATFORM,
        string_flag("override-os", "choose the image for this OS (skopeo's name for --platform)"),
        string_flag("override-arch", "choose the image for this architecture"),
        string_flag("override-variant", "choose the image for this CPU variant"),
        slice_flag(
            "additional-tag",
            "another name for the image: NAME:TAG for docker-archive and docker-daemon,"
            " a tag for oci, oci-archive and docker:// (repeatable)",
        ),
        string_flag(
            "dest-compress-format",
            "recompress the layers: gzip, zstd or none (default: keep them as they are)",
        ),
        string_flag("src-shared-blob-dir", "directory the oci: source's blobs are in"),
        string_flag("dest-shared-blob-dir", "directory to put the oci: destination's blobs in"),
        bool_flag(
            "remove-signatures", "accepted for skopeo command lines: signatures are never copied"
        ),
        bool_flag(
            "insecure-policy", "accepted for skopeo command lines: no signature policy applies"
        ),
        string_flag("tmpdir", "directory for spooled streams (default: $TMPDIR, else /var/tmp)"),
        bool_flag("quiet,q", "do not show the progress line"),
        string_flag("digestfile", "write the digest of the image written to this file"),
        *_REGISTRY_FLAGS,
    ),
    positionals=("<source-image>", "<destination-image>"),
    action=_copy,
)

COMPLETION = Command(
    "completion",
    "prints a shell completion script (bash, zsh or fish)",
    args_usage="""<shell>

Prints the script that makes <Tab> complete umoci's commands, flags, layout
directories and the tags after "--image <image-path>:".  Load it with

	eval "$(umoci completion bash)"       (in ~/.bashrc)
	eval "$(umoci completion zsh)"        (in ~/.zshrc, after compinit)
	umoci completion fish | source        (in ~/.config/fish/config.fish)

The script asks umoci itself for the candidates, so it never goes stale.""",
    positionals=("<shell>",),
    action=_completion,
)

COMPLETE = Command(
    "__complete",
    "prints the completions of a command line (used by the completion scripts)",
    hidden=True,
    flags=(string_flag("shell", "the shell asking (bash, zsh, fish)", default="bash"),),
    positionals=None,
    action=_complete,
)

RAW = Command(
    "raw",
    "advanced internal image tooling",
    args_usage="""<command> [<args>...]

Lower-level pieces of the other commands, for users who know the OCI
specifications well; umoci-unpack(1) and friends suit most uses.""",
    subcommands=(
        RAW_ADD_LAYER,
        RAW_RUNTIME_CONFIG,
        RAW_UNPACK,
        RAW_MTREE_VALIDATE,
        _help_command(hidden=True),
    ),
)

# Registration order is the Go umoci's: it decides the order within each
# category of the help listing.
ROOT = Command(
    "umoci",
    "umoci modifies Open Container images",
    flags=ROOT_FLAGS,
    subcommands=(
        CONFIG,
        UNPACK,
        REPACK,
        GC,
        INIT,
        NEW,
        TAG,
        REMOVE,
        LIST,
        STAT,
        RAW,
        INSERT,
        INDEX,
        VALIDATE,
        COPY,
        COMPLETION,
        COMPLETE,
        _help_command(hidden=False),
    ),
)
