"""One registry repository over HTTP: requests with auth, redirects, retries and timeouts.

The HTTP client is urllib3 (connection pools shared by threads, TLS
contexts of our own, streamed bodies, timeouts per socket operation); its
own retries and redirects are off, because both must know about
credentials:

* **Scheme.**  ``GET /v2/`` is tried over HTTPS; only when TLS verification
  is off (``--tls-verify=false``) is plain HTTP tried after it, as
  containers/image does.  The first answer's challenge is kept.
* **Auth.**  A 401 from the registry is answered once through
  :class:`~.auth.Authenticator` (a new token or Basic credentials); a
  second 401 for the same request ends it ("authentication failed").
* **Redirects** (blob storage) are followed for GET and HEAD, at most
  :data:`_MAX_REDIRECTS`, never from HTTPS to HTTP, and credentials go
  only to the registry's own scheme, host and port -- never to the host
  a redirect names.
* **Retries.**  Connection errors and 408/429/5xx answers are retried
  ``--retry-times`` times, ``--retry-delay`` apart or else 1 s doubling
  each time (at most 60 s; a 429's ``Retry-After`` is honoured up to
  that).  A body held in memory may be sent again; a streamed one (a
  blob's monolithic upload) is sent once.  TLS errors are not retried:
  they do not heal.
* **Timeouts.**  A connection that stays silent for ``--timeout`` seconds
  (connecting, or waiting for the next bytes) fails the request.

Messages name URLs without their query (a signed storage URL carries its
signature there) and pass server text through :class:`~.auth.Redactor`.
"""

from __future__ import annotations

import threading
import time
import urllib.parse

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import InsecureRequestWarning
from urllib3.exceptions import SSLError as Urllib3SSLError

from umoci import goquote
from umoci import log as umoci_log
from umoci.errors import TransportError, UmociError
from umoci.transport.documents import parse_json
from umoci.transport.registry.auth import Authenticator, Redactor
from umoci.transport.registry.tls import ssl_context

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from urllib3 import BaseHTTPResponse

    from umoci.transport.registry.options import RegistryOptions

log = umoci_log.get()

#: Docker Hub's API host; credentials are filed under "docker.io".
DOCKER_HUB_API = "registry-1.docker.io"
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
_MAX_BACKOFF = 60.0
_MAX_ERROR_BODY = 64 << 10
#: A body left unread is read to its end (keeping the connection) only up to this size.
_MAX_DRAIN = 64 << 10
_MAX_MESSAGE = 300
#: Connections kept per host: enough for the parallel blob transfers.
POOL_SIZE = 8


def api_host(registry: str) -> str:
    """The host that serves *registry*'s API (Docker Hub's differs from its name)."""
    return DOCKER_HUB_API if registry == "docker.io" else registry


def url_for_message(url: str) -> str:
    """*url* without its query or fragment (signed URLs carry their signature there)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _origin(url: str) -> tuple[str, str, int]:
    parts = urllib.parse.urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    try:
        port = parts.port or default
    except ValueError:
        port = -1
    return parts.scheme, (parts.hostname or "").lower(), port


class Client:
    """Requests to one repository of a registry, as the module docstring says."""

    def __init__(
        self, registry: str, repository: str, options: RegistryOptions, *, what: str
    ) -> None:
        self.registry = registry
        self.repository = repository
        self.host = api_host(registry)
        self.what = what
        self.redact = Redactor()
        self._options = options
        context = ssl_context(self.host, verify=options.tls_verify, cert_dir=options.cert_dir)
        if not options.tls_verify:
            # The user asked for it; urllib3 would warn on every request.
            urllib3.disable_warnings(InsecureRequestWarning)
        self._pool = urllib3.PoolManager(
            num_pools=4,
            maxsize=POOL_SIZE,
            ssl_context=context,
            retries=False,
            timeout=urllib3.Timeout(connect=options.timeout, read=options.timeout),
            cert_reqs="CERT_REQUIRED" if options.tls_verify else "CERT_NONE",
            assert_hostname=None if options.tls_verify else False,
        )
        self._base: str | None = None
        self._ping_lock = threading.Lock()  # transfers in several threads ping once
        self.auth = Authenticator(
            registry=registry,
            repository=repository,
            options=options,
            redact=self.redact,
            exchange=self._exchange,
            what=what,
        )

    def close(self) -> None:
        self._pool.clear()

    # -- the registry's address ---------------------------------------------

    def base_url(self) -> str:
        """``https://HOST`` (or ``http://HOST`` when allowed and HTTPS failed), pinged once."""
        with self._ping_lock:
            if self._base is None:
                self._base = self._ping()
            return self._base

    def _ping(self) -> str:
        schemes = ("https",) if self._options.tls_verify else ("https", "http")
        failure = ""
        for scheme in schemes:
            url = f"{scheme}://{self.host}/v2/"
            try:
                response = self._exchange("GET", url, {}, None)
            except TransportError as err:
                failure = str(err)
                continue
            status = response.status
            challenges = response.headers.getlist("WWW-Authenticate")
            discard(response)
            if status == 401:
                self.auth.challenged(challenges, ())
            elif status != 200:
                raise TransportError(
                    f"{self.what}: {self.host} does not answer as a registry "
                    f"(GET /v2/: HTTP {status})"
                )
            log.debug("registry %s: speaking %s", self.host, scheme)
            return f"{scheme}://{self.host}"
        # A server speaking plain HTTP answers the TLS hello with garbage.
        speaks_http = "WRONG_VERSION_NUMBER" in failure or "record layer failure" in failure
        hint = (
            " (plain HTTP needs --tls-verify=false)"
            if speaks_http and self._options.tls_verify
            else ""
        )
        raise TransportError(f"{failure}{hint}")

    def url(self, path: str) -> str:
        """The URL of *path* (``/v2/...``), or *path* itself if it is a URL (a Location)."""
        if "://" in path:
            return path
        return urllib.parse.urljoin(self.base_url(), path)

    # -- requests ------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        scopes: tuple[str, ...],
        headers: dict[str, str] | None = None,
        body: bytes | Iterable[bytes] | None = None,
    ) -> BaseHTTPResponse:
        """Send a request to the registry, authenticated for *scopes*; the caller reads the answer.

        The answer may be any status except a retried or redirected one; a
        401 left after one round of authentication is an error here.  A
        *body* that is a stream (an iterable) is sent once: it is neither
        retried nor sent again after a 401 (the caller must have made sure
        of the credentials first).
        """
        url = self.url(path)
        registry_origin = _origin(self.base_url())
        reauthenticated = False
        redirects = 0
        while True:
            send = dict(headers or {})
            ours = _origin(url) == registry_origin
            if ours:
                authorization = self.auth.header(scopes)
                if authorization is not None:
                    send["Authorization"] = authorization
            response = self._exchange(method, url, send, body)
            if response.status == 401 and ours:
                challenges = response.headers.getlist("WWW-Authenticate")
                detail = self.error_text(response)
                if reauthenticated or not isinstance(body, bytes | None):
                    raise TransportError(
                        f"{self.what}: authentication failed: {self.registry} refused the "
                        f"request {self.auth.describe()} ({detail})"
                    )
                self.auth.challenged(challenges, scopes)
                reauthenticated = True
                continue
            if response.status in _REDIRECT_STATUSES and method in ("GET", "HEAD"):
                location = response.headers.get("Location")
                discard(response)
                url = self._redirect(url, location, redirects)
                redirects += 1
                continue
            return response

    def _redirect(self, url: str, location: str | None, redirects: int) -> str:
        if not location:
            raise TransportError(f"{self.what}: a redirect without a Location")
        if redirects >= _MAX_REDIRECTS:
            raise TransportError(f"{self.what}: more than {_MAX_REDIRECTS} redirects")
        target = urllib.parse.urljoin(url, location)
        scheme = urllib.parse.urlsplit(target).scheme
        if scheme not in ("http", "https"):
            raise TransportError(f"{self.what}: redirected to a {scheme!r} URL")
        if scheme == "http" and urllib.parse.urlsplit(url).scheme == "https":
            raise TransportError(
                f"{self.what}: refused a redirect from HTTPS to plain HTTP "
                f"({url_for_message(target)})"
            )
        log.debug("redirected to %s", url_for_message(target))
        return target

    def _exchange(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | Iterable[bytes] | None,
    ) -> BaseHTTPResponse:
        """One request, retried on connection errors and 408/429/5xx as the options allow.

        A streamed *body* (an iterable) cannot be sent twice: it is not retried.
        """
        retries = self._options.retry_times if isinstance(body, bytes | None) else 0
        attempt = 0
        where = f"{method} {url_for_message(url)}"
        while True:
            try:
                response = self._pool.request(
                    method,
                    url,
                    headers=headers,
                    body=body,
                    redirect=False,
                    retries=False,
                    preload_content=False,
                    decode_content=False,  # blobs are verified as the registry stores them
                )
            except Urllib3SSLError as err:
                raise TransportError(f"{self.what}: {where}: TLS: {reason(err)}") from None
            except (Urllib3Error, OSError) as err:
                if attempt >= retries:
                    raise TransportError(f"{self.what}: {where}: {reason(err)}") from None
                log.info("%s: %s (retrying)", where, reason(err))
                self._sleep(self._backoff(attempt))
                attempt += 1
                continue
            log.debug("%s: HTTP %d", where, response.status)
            if response.status in _RETRY_STATUSES and attempt < retries:
                wait = self._backoff(attempt, response.headers.get("Retry-After"))
                discard(response)
                log.info("%s: HTTP %d (retrying in %.1f s)", where, response.status, wait)
                self._sleep(wait)
                attempt += 1
                continue
            return response

    def _backoff(self, attempt: int, retry_after: str | None = None) -> float:
        if retry_after is not None and retry_after.strip().isdigit():
            return min(float(retry_after.strip()), _MAX_BACKOFF)
        if self._options.retry_delay:
            return self._options.retry_delay
        return min(2.0**attempt, _MAX_BACKOFF)

    @staticmethod
    def _sleep(seconds: float) -> None:
        time.sleep(seconds)

    # -- answers -------------------------------------------------------------

    def error_text(self, response: BaseHTTPResponse) -> str:
        """What a failed answer says (the registry's error codes, or its status), redacted."""
        try:
            data = response.read(_MAX_ERROR_BODY, decode_content=False)
        except (Urllib3Error, OSError):
            data = b""
        finally:
            discard(response)
        text = _registry_errors(data) or f"HTTP {response.status} {response.reason or ''}".strip()
        text = goquote.escape_unprintable(self.redact(text))
        return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "..."

    def fail(self, response: BaseHTTPResponse, what: str) -> TransportError:
        """The error for an unexpected answer to *what* (``manifest v1``, ``blob sha256:...``)."""
        return TransportError(f"{self.what}: {what}: {self.error_text(response)}")


def _registry_errors(data: bytes) -> str:
    """The distribution spec's ``{"errors": [{"code", "message"}]}``, as "CODE: message; ..."."""
    try:
        document = parse_json(data, "error reply")
    except UmociError:
        return ""
    errors = document.get("errors") if isinstance(document, dict) else None
    if not isinstance(errors, list):
        return ""
    parts = []
    for error in errors[:5]:
        if isinstance(error, dict):
            code, message = error.get("code"), error.get("message")
            parts.append(": ".join(str(x) for x in (code, message) if isinstance(x, str) and x))
    return "; ".join(part for part in parts if part)


def reason(err: BaseException) -> str:
    """A urllib3 error in a few words (its repr nests the pool and the URL)."""
    inner = getattr(err, "reason", None)
    if isinstance(inner, BaseException) and inner is not err:
        return reason(inner)
    if isinstance(err, urllib3.exceptions.ReadTimeoutError | TimeoutError):
        return "timed out (no data within the --timeout)"
    if isinstance(err, urllib3.exceptions.ConnectTimeoutError):
        return "timed out connecting"
    if isinstance(err, urllib3.exceptions.NewConnectionError):
        text = str(err)
        return text.split(": ", 1)[1] if ": " in text else text
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    text = str(err) or type(err).__name__
    return text.replace("\n", " ")


def discard(response: BaseHTTPResponse) -> None:
    """Done with *response*: a short rest of its body is read so that the connection can
    be reused, anything longer (or of unknown length) closes it instead."""
    remaining = getattr(response, "length_remaining", None)
    try:
        if remaining is not None and remaining <= _MAX_DRAIN:
            response.drain_conn()
        else:
            response.close()
    except (Urllib3Error, OSError):
        response.close()
    response.release_conn()
