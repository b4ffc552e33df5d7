"""``umoci copy``'s ``docker://`` flags made into the :class:`RegistryOptions` of each side.

Each setting exists as ``--NAME`` for both registries and ``--src-NAME`` /
``--dest-NAME`` for one of them (skopeo's names; declared with the copy
command in :mod:`umoci.cli.commands`); the side's own flag wins.  Flags
are checked here, before anything is opened.
"""

from __future__ import annotations

from umoci.errors import UsageError

TYPE_CHECKING = False  # see umoci.cli.flags: avoids importing typing at start-up
if TYPE_CHECKING:
    from umoci.cli.command import Context
    from umoci.transport.registry.options import RegistryOptions


def registry_options(ctx: Context) -> tuple[RegistryOptions, RegistryOptions]:
    """The settings for the copy's source and destination.

    ``--creds USER`` (``--src-creds``, ``--dest-creds``) without ``:PASSWORD``
    logs in with an empty password, as skopeo does: nothing is asked for,
    so a script that works with skopeo never waits on a prompt.
    """
    return _side_options(ctx, "src"), _side_options(ctx, "dest")


def _sided_value(ctx: Context, side: str, name: str) -> tuple[str, str | None]:
    """The flag that sets *name* for *side* (``--SIDE-NAME``, else ``--NAME``) and its value."""
    for flag in (f"{side}-{name}", name):
        if ctx.is_set(flag):
            return flag, ctx.get_string(flag)
    return name, None


def _side_options(ctx: Context, side: str) -> RegistryOptions:
    """One side's docker:// settings: --SIDE-NAME flags, else --NAME, else the default."""
    from umoci.durations import parse_duration
    from umoci.transport.registry.options import RegistryOptions, Secret

    def value(name: str) -> tuple[str, str | None]:
        return _sided_value(ctx, side, name)

    def flag_bool(name: str, default: bool) -> bool:
        for flag in (f"{side}-{name}", name):
            if ctx.is_set(flag):
                return ctx.get_bool(flag)
        return default

    creds_flag, creds = value("creds")
    login = _username_and_password(ctx, side)
    if creds is not None and login is not None:
        raise UsageError(f"--{creds_flag} and --{side}-username conflict")
    if login is not None:
        creds_flag, creds = f"{side}-username", login
    token_flag, token = value("registry-token")
    no_creds = flag_bool("no-creds", default=False)
    if creds is not None and token is not None:
        raise UsageError(f"--{creds_flag} and --{token_flag} conflict")
    if no_creds and (creds is not None or token is not None):
        raise UsageError(f"--{side}-no-creds (or --no-creds) and credentials conflict")
    if creds is not None or token is not None:
        from umoci.transport.registry.credentials import check_token, parse_creds

        # Refused before anything is opened.  USER alone has an empty password.
        if creds is not None:
            if ":" not in creds:
                creds += ":"
            parse_creds(creds, f"--{creds_flag}")
        if token is not None:
            check_token(token, f"--{token_flag}")
    retries = ctx.get_string("retry-times")
    if retries is not None and not (retries.isascii() and retries.isdigit() and len(retries) < 4):
        raise UsageError(f"invalid --retry-times {retries!r}: want a number from 0 to 999")
    delay = ctx.get_string("retry-delay")
    timeout = ctx.get_string("timeout")
    timeout_seconds = parse_duration(timeout, "--timeout") if timeout is not None else 60.0
    if timeout_seconds <= 0:
        raise UsageError("invalid --timeout: must be more than 0s")
    cert_flag, cert_dir = value("cert-dir")
    if cert_dir == "":
        raise UsageError(f"invalid --{cert_flag}: path is empty")
    return RegistryOptions(
        creds=None if creds is None else Secret(creds),
        registry_token=None if token is None else Secret(token),
        authfile=value("authfile")[1] or None,
        no_creds=no_creds,
        tls_verify=flag_bool("tls-verify", default=True),
        cert_dir=cert_dir,
        retry_times=int(retries) if retries is not None else 0,
        retry_delay=parse_duration(delay, "--retry-delay") if delay is not None else None,
        timeout=timeout_seconds,
    )


def _username_and_password(ctx: Context, side: str) -> str | None:
    """``--SIDE-username`` with ``--SIDE-password`` as ``USER:PASSWORD`` (skopeo's flags).

    There is no ``--username`` for both sides: skopeo copy has none.
    """
    username = ctx.get_string(f"{side}-username") if ctx.is_set(f"{side}-username") else None
    password = ctx.get_string(f"{side}-password") if ctx.is_set(f"{side}-password") else None
    if username is None and password is None:
        return None
    if password is None:
        raise UsageError(f"--{side}-username needs --{side}-password")
    if username is None:
        raise UsageError(f"--{side}-password needs --{side}-username")
    if not username:
        raise UsageError(f"--{side}-username: the user name is empty")
    if ":" in username:  # Basic authentication could not tell where it ends
        raise UsageError(f"--{side}-username: a user name cannot hold ':'")
    return f"{username}:{password}"
