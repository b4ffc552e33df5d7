"""Registry authentication: the ``WWW-Authenticate`` challenge and the token flow.

A registry that wants credentials answers 401 with a challenge.  ``Basic``
asks for the user and password on every request.  ``Bearer`` names a token
service (``realm``, ``service``): the client asks it for a token for the
scopes the request needs (``repository:NAME:pull`` or ``...:pull,push``, and
``repository:OTHER:pull`` for a mount's source), sending the user and
password as Basic credentials -- or, holding an identity token (an OAuth2
refresh token), posting it as ``grant_type=refresh_token`` -- or nothing for
anonymous access, and sends the token back as ``Authorization: Bearer``.
Tokens are kept per set of scopes until they expire.  ``--registry-token``
skips all of it: that token goes with every request.

Every secret that passes through here (passwords, identity and bearer
tokens, the Basic header) is registered with :class:`Redactor`, which the
client applies to all text a server sends back before it reaches a message.
"""

from __future__ import annotations

import base64
import re
import threading
import time
import urllib.parse

from umoci.errors import TransportError, UmociError
from umoci.structs import dataclass
from umoci.transport.registry.credentials import Credentials, check_token, find_credentials
from umoci.transport.registry.options import RegistryOptions, Secret

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from urllib3 import BaseHTTPResponse

#: Seconds a token lives when the server does not say (the token spec's default).
_DEFAULT_EXPIRY = 60
#: Tokens are renewed this many seconds before they expire.
_EXPIRY_SLACK = 10
_MAX_TOKEN_REPLY = 1 << 20
_CHALLENGE = re.compile(r"\s*([A-Za-z][A-Za-z0-9._~+/-]*)\s*")
_PARAM = re.compile(r"\s*([A-Za-z0-9._~+/-]+)\s*=\s*(\"(?:[^\"\\]|\\.)*\"|[^,\s]*)\s*,?")


@dataclass(frozen=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge: its scheme (lower case) and parameters."""

    scheme: str
    params: tuple[tuple[str, str], ...]

    def param(self, name: str) -> str:
        return dict(self.params).get(name, "")


def parse_challenges(headers: Iterable[str]) -> list[Challenge]:
    """Every challenge of the ``WWW-Authenticate`` header values *headers*."""
    challenges: list[Challenge] = []
    for header in headers:
        position = 0
        while position < len(header):
            scheme = _CHALLENGE.match(header, position)
            if scheme is None:
                break
            position = scheme.end()
            params: list[tuple[str, str]] = []
            while (param := _PARAM.match(header, position)) is not None and param.end() > position:
                value = param.group(2)
                if value.startswith('"'):
                    value = re.sub(r"\\(.)", r"\1", value[1:-1])
                params.append((param.group(1).lower(), value))
                position = param.end()
            challenges.append(Challenge(scheme.group(1).lower(), tuple(params)))
            position = max(position, scheme.end())
            if header[position : position + 1] == ",":
                position += 1
    return challenges


def repository_scope(repository: str, actions: str) -> str:
    return f"repository:{repository}:{actions}"


class Redactor:
    """Replaces every registered secret in a text by ``<redacted>``."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, secret: str) -> None:
        if len(secret) >= 4:  # shorter ones would blank ordinary words
            self._secrets.add(secret)

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "<redacted>")
        return text


class Authenticator:
    """The ``Authorization`` header for a set of scopes, learnt from the registry's challenge."""

    def __init__(
        self,
        *,
        registry: str,
        repository: str,
        options: RegistryOptions,
        redact: Redactor,
        # Sends one request (method, URL, headers, body) with retries, no auth.
        exchange: Callable[[str, str, dict[str, str], bytes | None], BaseHTTPResponse],
        what: str,
    ) -> None:
        self._registry = registry
        self._repository = repository
        self._options = options
        self._redact = redact
        self._exchange = exchange
        self._what = what
        self._challenge: Challenge | None = None
        self._credentials: Credentials | None = None
        self._looked_up = False
        self._refresh_token: Secret | None = None
        self._tokens: dict[tuple[str, ...], tuple[Secret, float]] = {}
        self._lock = threading.Lock()
        if options.registry_token is not None:
            check_token(options.registry_token.reveal(), "the registry token given")
            redact.add(options.registry_token.reveal())

    def header(self, scopes: tuple[str, ...]) -> str | None:
        """The ``Authorization`` value for a request needing *scopes* (None: send none)."""
        if self._options.registry_token is not None:
            return f"Bearer {self._options.registry_token.reveal()}"
        with self._lock:
            challenge = self._challenge
            if challenge is None:
                return None
            if challenge.scheme == "basic":
                credentials = self._find_credentials()
                if credentials is None or credentials.identity_token:
                    return None
                pair = f"{credentials.username}:{credentials.password.reveal()}"
                value = base64.b64encode(pair.encode()).decode()
                self._redact.add(value)
                return f"Basic {value}"
            key = tuple(sorted(scopes))
            cached = self._tokens.get(key)
            if cached is None or cached[1] <= time.monotonic():
                cached = self._tokens[key] = self._fetch_token(challenge, key)
            return f"Bearer {cached[0].reveal()}"

    def challenged(self, headers: list[str], scopes: tuple[str, ...]) -> None:
        """A 401 answered a request: learn the challenge and forget the tokens it refused."""
        challenges = parse_challenges(headers)
        chosen = next((c for c in challenges if c.scheme == "bearer"), None) or next(
            (c for c in challenges if c.scheme == "basic"), None
        )
        if chosen is None and self._options.registry_token is None:
            schemes = ", ".join(sorted({c.scheme for c in challenges})) or "none"
            raise TransportError(
                f"{self._what}: {self._registry} asks for authentication this client does not "
                f"speak (schemes: {schemes})"
            )
        with self._lock:
            self._challenge = chosen
            self._tokens.pop(tuple(sorted(scopes)), None)

    def describe(self) -> str:
        """Who we tried to be, for an "authentication failed" message (no secret in it)."""
        if self._options.registry_token is not None:
            return "with the --registry-token given"
        credentials = self._find_credentials()
        if credentials is None:
            return "anonymously (no credentials found)"
        return f"with the credentials from {credentials.origin}"

    def _find_credentials(self) -> Credentials | None:
        if not self._looked_up:
            self._credentials = find_credentials(self._registry, self._repository, self._options)
            self._looked_up = True
            if self._credentials is not None:
                self._redact.add(self._credentials.password.reveal())
        return self._credentials

    def _fetch_token(self, challenge: Challenge, scopes: tuple[str, ...]) -> tuple[Secret, float]:
        realm = challenge.param("realm")
        parsed = urllib.parse.urlsplit(realm)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise TransportError(f"{self._what}: the registry's token realm is not a URL")
        where = f"token service {parsed.scheme}://{parsed.netloc}{parsed.path}"
        params = [("service", challenge.param("service"))] if challenge.param("service") else []
        params += [("scope", scope) for scope in scopes]
        credentials = self._find_credentials()
        refresh = self._refresh_token
        if refresh is None and credentials is not None and credentials.identity_token:
            refresh = credentials.password
        headers: dict[str, str] = {}
        if refresh is not None:
            form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.reveal()),
                ("client_id", "umoci"),
                *params,
            ]
            body: bytes | None = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            response = self._exchange("POST", realm, headers, body)
        else:
            if credentials is not None:
                params.append(("account", credentials.username))
                pair = f"{credentials.username}:{credentials.password.reveal()}"
                value = base64.b64encode(pair.encode()).decode()
                self._redact.add(value)
                headers["Authorization"] = f"Basic {value}"
            query = urllib.parse.urlencode(params)
            url = f"{realm}{'&' if parsed.query else '?'}{query}" if query else realm
            response = self._exchange("GET", url, headers, None)
        try:
            status = response.status
            data = response.read(_MAX_TOKEN_REPLY + 1)
        finally:
            if getattr(response, "length_remaining", None) != 0:
                response.close()  # not read to its end: the connection cannot be reused
            response.release_conn()
        if status in (401, 403):
            raise TransportError(
                f"{self._what}: authentication failed: the {where} refused a token "
                f"{self.describe()} (HTTP {status})"
            )
        if status != 200:
            raise TransportError(f"{self._what}: {where}: HTTP {status}")
        return self._parse_token(data, where)

    def _parse_token(self, data: bytes, where: str) -> tuple[Secret, float]:
        from umoci.transport.documents import parse_json

        try:
            reply = parse_json(data, where) if len(data) <= _MAX_TOKEN_REPLY else None
        except UmociError:
            reply = None
        if not isinstance(reply, dict):
            raise TransportError(f"{self._what}: {where}: the reply is not a JSON object")
        token = reply.get("token") or reply.get("access_token")
        if not isinstance(token, str) or not token:
            raise TransportError(f"{self._what}: {where}: the reply holds no token")
        self._redact.add(token)
        refresh = reply.get("refresh_token")
        if isinstance(refresh, str) and refresh:
            self._redact.add(refresh)
            self._refresh_token = Secret(refresh)
        expires = reply.get("expires_in")
        lifetime = expires if isinstance(expires, int) and expires > 0 else _DEFAULT_EXPIRY
        return Secret(token), time.monotonic() + max(lifetime - _EXPIRY_SLACK, 1)
