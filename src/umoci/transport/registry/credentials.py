"""Where the credentials for a registry come from, in the order users expect.

1. ``--creds USER[:PASSWORD]`` (``--src-creds`` / ``--dest-creds``);
2. ``--registry-token TOKEN``, a bearer token sent as it is (the caller's
   business, not looked up here);
3. the credential files, first to name the registry wins:
   ``--authfile FILE`` (else ``$REGISTRY_AUTH_FILE``),
   ``$XDG_RUNTIME_DIR/containers/auth.json``,
   ``$XDG_CONFIG_HOME/containers/auth.json`` (``~/.config/...``),
   ``$DOCKER_CONFIG/config.json`` (``~/.docker/config.json``);
4. nothing: anonymous access.

``--no-creds`` skips all of them.  In a file (containers-auth.json(5),
Docker's ``config.json``) an entry is looked up from the most specific key
to the host (``host/ns/repo``, ``host/ns``, ``host``); ``credHelpers``
names a ``docker-credential-NAME`` program for a host, ``credsStore`` one
for every host of that file, and ``auths`` holds ``auth`` (base64
``USER:PASSWORD``) or an ``identitytoken`` (an OAuth2 refresh token).
Keys written as URLs (``https://index.docker.io/v1/``) count by their host.

Nothing here puts a secret into a message: errors name the file and the
key, never the value.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import subprocess

from umoci.errors import TransportError, UmociError, UsageError
from umoci.structs import dataclass
from umoci.transport.documents import parse_json
from umoci.transport.registry.options import RegistryOptions, Secret

#: Docker Hub's key in credential files, as ``docker login`` writes it.
DOCKER_HUB_KEY = "https://index.docker.io/v1/"
_MAX_FILE = 1 << 20
_HELPER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_HELPER_TIMEOUT = 60.0


@dataclass(frozen=True)
class Credentials:
    """A user name with its password, or an identity (refresh) token in *password*.

    *origin* says where they were found, for messages (never the value).
    """

    username: str
    password: Secret
    origin: str
    identity_token: bool = False


def parse_creds(text: str, origin: str) -> Credentials:
    """``USER:PASSWORD`` (the password may hold colons, the user may not); *origin* names it."""
    username, colon, password = text.partition(":")
    if not username:
        raise UsageError(f"{origin}: the user name is empty")
    if not colon:
        # The command line asks for a missing password before it gets here.
        raise UsageError(f"{origin}: want USER:PASSWORD")
    if not _is_utf8(text):  # bytes of argv that were not UTF-8: Basic auth sends UTF-8
        raise UsageError(f"{origin}: not valid UTF-8")
    return Credentials(username, Secret(password), origin)


def check_token(token: str, origin: str) -> None:
    """Refuse a bearer token that cannot go into a header as it is (*origin* names it)."""
    if not token:
        raise UsageError(f"{origin}: the token is empty")
    if not (token.isascii() and token.isprintable()):
        raise UsageError(f"{origin}: a token is printable ASCII")


def _is_utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def find_credentials(
    registry: str, repository: str, options: RegistryOptions
) -> Credentials | None:
    """The credentials for *registry*/*repository*, or None for anonymous access."""
    if options.no_creds:
        return None
    if options.creds is not None:
        return parse_creds(options.creds.reveal(), "the credentials given on the command line")
    for path in credential_files(options.authfile):
        found = _from_file(path, registry, repository)
        if found is not None:
            return found
    return None


def credential_files(authfile: str | None) -> list[str]:
    """The files read, in order (those that do not exist are skipped when read)."""
    files = []
    explicit = authfile or os.environ.get("REGISTRY_AUTH_FILE")
    if explicit:
        files.append(explicit)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        files.append(os.path.join(runtime, "containers", "auth.json"))
    home = os.path.expanduser("~")
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    files.append(os.path.join(config, "containers", "auth.json"))
    docker = os.environ.get("DOCKER_CONFIG") or os.path.join(home, ".docker")
    files.append(os.path.join(docker, "config.json"))
    return files


def _from_file(path: str, registry: str, repository: str) -> Credentials | None:
    document = _read_json(path)
    if document is None:
        return None
    helpers = document.get("credHelpers")
    if isinstance(helpers, dict):
        helper = _entry(helpers, registry)
        if isinstance(helper, str):
            return run_helper(helper, registry, path)
    store = document.get("credsStore")
    if isinstance(store, str) and store:
        found = run_helper(store, registry, path)
        if found is not None:
            return found
    auths = document.get("auths")
    if not isinstance(auths, dict):
        return None
    for key in _keys(registry, repository):
        entry = _entry(auths, key)
        if isinstance(entry, dict):
            found = _from_entry(entry, f"{path} ({key})")
            if found is not None:
                return found
    return None


def _keys(registry: str, repository: str) -> list[str]:
    """``host/a/b/c``, ``host/a/b``, ``host/a``, ``host``: most specific first."""
    parts = repository.split("/")
    return [f"{registry}/{'/'.join(parts[:n])}" for n in range(len(parts), 0, -1)] + [registry]


def _entry(table: dict[str, object], key: str) -> object:
    """*table*'s value for *key*, also when the file wrote it as a URL (``https://host/v1/``)."""
    if key in table:
        return table[key]
    for written, value in table.items():
        if _normalise_key(written) == key:
            return value
    return None


def _normalise_key(key: str) -> str:
    """A key as written by ``docker login`` (a URL) reduced to what we look up."""
    if key == DOCKER_HUB_KEY:
        return "docker.io"
    for scheme in ("https://", "http://"):
        if key.startswith(scheme):
            host = key[len(scheme) :].split("/", 1)[0]
            return "docker.io" if host in ("index.docker.io", "registry-1.docker.io") else host
    return key


def _from_entry(entry: dict[str, object], origin: str) -> Credentials | None:
    token = entry.get("identitytoken")
    auth = entry.get("auth")
    username, password = "", ""
    if isinstance(auth, str) and auth:
        try:
            decoded = base64.b64decode(auth, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise TransportError(f'{origin}: "auth" is not base64 of USER:PASSWORD') from None
        username, colon, password = decoded.partition(":")
        if not colon:
            raise TransportError(f'{origin}: "auth" is not base64 of USER:PASSWORD')
    if isinstance(token, str) and token:
        return Credentials(username, Secret(token), origin, identity_token=True)
    if username:
        return Credentials(username, Secret(password), origin)
    return None


def _read_json(path: str) -> dict[str, object] | None:
    try:
        with open(path, "rb") as file:
            data = file.read(_MAX_FILE + 1)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise TransportError(f"credentials file {path}: {err.strerror}") from None
    if len(data) > _MAX_FILE:
        raise TransportError(f"credentials file {path}: larger than {_MAX_FILE} bytes")
    if not data.strip():
        return None
    try:
        document = parse_json(data, f"credentials file {path}")
    except UmociError:
        raise TransportError(f"credentials file {path}: not valid JSON") from None
    if not isinstance(document, dict):
        raise TransportError(f"credentials file {path}: not a JSON object")
    return document


def run_helper(name: str, registry: str, origin: str) -> Credentials | None:
    """Ask ``docker-credential-NAME get`` for *registry*'s credentials (None: it has none)."""
    if _HELPER_NAME.fullmatch(name) is None:
        raise TransportError(f"{origin}: invalid credential helper name {name!r}")
    program = f"docker-credential-{name}"
    server = DOCKER_HUB_KEY if registry == "docker.io" else registry
    try:
        done = subprocess.run(
            [program, "get"],
            input=server.encode(),
            capture_output=True,
            timeout=_HELPER_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise TransportError(f"{origin}: credential helper {program} is not installed") from None
    except (OSError, subprocess.TimeoutExpired) as err:
        raise TransportError(f"{origin}: credential helper {program}: {err}") from None
    if done.returncode != 0:
        if b"credentials not found" in done.stdout + done.stderr:
            return None
        # Its message is not shown: a helper may echo what it was given.
        raise TransportError(
            f"{origin}: credential helper {program} failed (exit status {done.returncode})"
        )
    try:
        reply = parse_json(done.stdout, program)
        username, secret = reply["Username"], reply["Secret"]  # type: ignore[index]
    except (UmociError, KeyError, TypeError):
        raise TransportError(f"{origin}: credential helper {program}: unreadable reply") from None
    if not isinstance(username, str) or not isinstance(secret, str):
        raise TransportError(f"{origin}: credential helper {program}: unreadable reply")
    where = f"{origin} ({program})"
    if username == "<token>":  # Docker's convention for an identity token
        return Credentials("", Secret(secret), where, identity_token=True)
    return Credentials(username, Secret(secret), where)
