"""``docker-daemon:NAME[:TAG]``: images of the Docker engine, through its API on a unix socket.

The socket is ``$DOCKER_HOST`` (``unix:///path``; default
``/var/run/docker.sock``).  podman's Docker-compatible service
(``podman system service``) answers the same two calls:

* writing: ``POST /images/load`` with the image as a ``docker save``
  archive (:mod:`.dockerarchive`) streamed as the request body (chunked,
  never held whole); the engine loads it only if the upload completes,
  so a failed copy is dropped by closing the connection early;
* reading: ``GET /images/NAME/get`` returns such an archive, spooled to
  an unnamed temporary file and read like any other.

Only :mod:`http.client` is used, over an ``AF_UNIX`` socket.
"""

from __future__ import annotations

import http.client
import os
import socket
from urllib.parse import quote

from umoci.errors import RefNotFoundError, TransportError, UmociError
from umoci.transport.dockerarchive import DockerArchiveDestination, DockerArchiveSource, docker_tags
from umoci.transport.documents import parse_json
from umoci.transport.tarindex import TarIndex, spool_stream
from umoci.transport.tarout import Output

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from umoci.transport.names import DockerDaemonName
    from umoci.transport.spool import SpoolDir

DEFAULT_HOST = "unix:///var/run/docker.sock"
#: Seconds without progress on the socket before giving up (a load can take a while).
TIMEOUT = 600.0
_MAX_REPLY = 1 << 20


def socket_path(host: str | None = None) -> str:
    """The unix socket path of *host* (default ``$DOCKER_HOST``, then Docker's own)."""
    if host is None:
        host = os.environ.get("DOCKER_HOST") or DEFAULT_HOST
    scheme, sep, path = host.partition("://")
    if not sep or scheme != "unix" or not path:
        raise TransportError(
            f"docker-daemon: DOCKER_HOST {host!r}: only unix:///PATH sockets are supported"
        )
    return path


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over a unix socket; the Host header says ``localhost``."""

    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=TIMEOUT)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self._path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class DockerClient:
    """The two Engine API calls ``umoci copy`` makes."""

    def __init__(self, host: str | None = None) -> None:
        self.path = socket_path(host)

    def _connect(self, what: str) -> _UnixConnection:
        connection = _UnixConnection(self.path)
        try:
            connection.connect()
        except OSError as err:
            raise TransportError(
                f"{what}: cannot connect to the Docker engine at {self.path}: "
                f"{err.strerror or err} (set DOCKER_HOST=unix:///PATH)"
            ) from None
        return connection

    def load(self, what: str) -> LoadUpload:
        """Start ``POST /images/load``: write the archive to the result, then finish it."""
        connection = self._connect(what)
        try:
            connection.putrequest("POST", "/images/load?quiet=1")
            connection.putheader("Content-Type", "application/x-tar")
            connection.putheader("Transfer-Encoding", "chunked")
            connection.endheaders()
        except OSError as err:
            connection.close()
            raise TransportError(f"{what}: send to the Docker engine: {err}") from None
        return LoadUpload(connection, what)

    def save(self, image: str, tmpdir: SpoolDir, what: str) -> TarIndex:
        """``GET /images/IMAGE/get`` as an opened archive (spooled to *tmpdir*)."""
        connection = self._connect(what)
        try:
            try:
                connection.request("GET", f"/images/{quote(image, safe='/:@')}/get")
                response = connection.getresponse()
            except (OSError, http.client.HTTPException) as err:
                raise TransportError(f"{what}: the Docker engine: {err}") from None
            if response.status == 404:
                raise RefNotFoundError(f"{what}: no such image in the Docker engine")
            if response.status != 200:
                raise TransportError(f"{what}: the Docker engine: {_reply_error(response)}")
            fd, size = spool_stream(_Response(response, what), tmpdir, what)
        finally:
            connection.close()
        return TarIndex(fd, size, what)


class _Response:
    """A response body as a ``read(n)`` stream, with socket errors as TransportError."""

    def __init__(self, response: http.client.HTTPResponse, what: str) -> None:
        self._response = response
        self._what = what

    def read(self, size: int = -1, /) -> bytes:
        try:
            return self._response.read(size if size >= 0 else 1 << 20)
        except (OSError, http.client.HTTPException) as err:
            raise TransportError(f"{self._what}: read from the Docker engine: {err}") from None


def _reply_error(response: http.client.HTTPResponse) -> str:
    """The engine's message for a failed call (``{"message": ...}``), or the HTTP status."""
    value = _json_or_none(response.read(_MAX_REPLY))
    if isinstance(value, dict) and isinstance(value.get("message"), str):
        return str(value["message"])
    return f"HTTP {response.status} {response.reason}"


def _json_or_none(data: bytes) -> object:
    """The engine's JSON reply, or None if it is not JSON (a proxy's HTML page ...)."""
    try:
        return parse_json(data, "reply")
    except UmociError:
        return None


class LoadUpload(Output):
    """The body of ``POST /images/load``: chunks as written; :meth:`commit` ends and checks it."""

    def __init__(self, connection: _UnixConnection, what: str) -> None:
        self._connection: _UnixConnection | None = connection
        self._what = what
        self.sink = self

    def write(self, data: bytes, /) -> int:
        if not data:
            return 0
        assert self._connection is not None
        try:
            self._connection.send(b"%x\r\n" % len(data))
            self._connection.send(data)
            self._connection.send(b"\r\n")
        except OSError as err:
            # The engine stopped reading: its reply says why, when there is one.
            raise TransportError(f"{self._what}: {self._reply_after(err)}") from None
        return len(data)

    def _reply_after(self, err: OSError) -> str:
        assert self._connection is not None
        try:
            return f"the Docker engine: {_reply_error(self._connection.getresponse())}"
        except (OSError, http.client.HTTPException):
            return f"send to the Docker engine: {err.strerror or err}"

    def commit(self) -> None:
        assert self._connection is not None
        try:
            self._connection.send(b"0\r\n\r\n")
            response = self._connection.getresponse()
            if response.status != 200:
                raise TransportError(f"{self._what}: the Docker engine: {_reply_error(response)}")
            body = response.read(_MAX_REPLY)
        except (OSError, http.client.HTTPException) as err:
            raise TransportError(f"{self._what}: the Docker engine: {err}") from None
        # The reply is a stream of JSON messages; a failed load says "error" in one.
        for line in body.splitlines():
            message = _json_or_none(line)
            if isinstance(message, dict) and message.get("error"):
                raise TransportError(f"{self._what}: the Docker engine: {message['error']}")
        self.close()

    def abort(self) -> None:
        # Closing before the last chunk: the engine never sees a complete
        # upload, so it loads nothing.
        self.close()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def open_daemon_source(name: DockerDaemonName, *, tmpdir: SpoolDir) -> DockerArchiveSource:
    image = str(name.reference) if name.reference is not None else name.image_id
    assert image is not None
    archive = DockerClient().save(image, tmpdir, str(name))
    # By ID the archive holds that one image; by name, choose it by its tag.
    return DockerArchiveSource(archive, reference=name.reference)


def open_daemon_destination(
    name: DockerDaemonName, *, additional_tags: tuple[str, ...], tmpdir: SpoolDir
) -> DockerArchiveDestination:
    if name.reference is None:
        raise TransportError(f"{name}: a destination is named NAME[:TAG], not by image ID")
    tags = docker_tags(name.reference, additional_tags)
    upload = DockerClient().load(str(name))
    try:
        return DockerArchiveDestination(str(name), upload, tags=tags, tmpdir=tmpdir)
    except BaseException:
        upload.close()
        raise
