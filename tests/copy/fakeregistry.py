"""A small registry on loopback that serves one image and misbehaves as a test tells it.

:class:`FakeRegistry` answers the distribution API's read side (``/v2/``,
manifests and blobs by tag or digest, ``Range`` on blobs) for an image of
a layout, behind Basic authentication with :data:`registrykit.USER` and
:data:`registrykit.PASSWORD`.  A test sets :attr:`FakeRegistry.misbehave`,
a function that sees each request first and may answer it itself (return
True).  Every request is recorded with its headers.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from registrykit import PASSWORD, USER


class Request:
    """What the fake saw: method, path, headers."""

    def __init__(self, method: str, path: str, headers: dict[str, str]) -> None:
        self.method = method
        self.path = path
        self.headers = headers


Handler = BaseHTTPRequestHandler
Misbehaviour = Callable[["FakeRegistry", Handler, str], bool]


class FakeRegistry:
    """Serve the image *tag* of *layout* as ``REPO:TAG`` of any repository."""

    def __init__(self, layout: Path, tag: str) -> None:
        self.blobs: dict[str, bytes] = {}
        for blob in (layout / "blobs" / "sha256").iterdir():
            self.blobs[f"sha256:{blob.name}"] = blob.read_bytes()
        index = json.loads((layout / "index.json").read_bytes())
        (root,) = [
            d
            for d in index["manifests"]
            if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag
        ]
        self.tag = tag
        self.root = root
        self.manifest = json.loads(self.blobs[root["digest"]])
        self.requests: list[Request] = []
        self.misbehave: Misbehaviour | None = None
        self.stop = threading.Event()  # ends stalls when the test is done
        fake = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_HEAD(self) -> None:
                fake._handle(self, "HEAD")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def name(self, repository: str = "fake/image") -> str:
        return f"docker://{self.host}/{repository}:{self.tag}"

    @property
    def layer(self) -> str:
        """The digest of the image's last (largest) layer."""
        digest: str = self.manifest["layers"][-1]["digest"]
        return digest

    def close(self) -> None:
        self.stop.set()
        self._server.shutdown()
        self._server.server_close()

    # -- answering -----------------------------------------------------------

    def _handle(self, handler: Handler, method: str) -> None:
        self.requests.append(Request(method, handler.path, dict(handler.headers)))
        if self.misbehave is not None and self.misbehave(self, handler, method):
            return
        if not self.authorized(handler):
            self.send(handler, 401, b"{}", {"WWW-Authenticate": 'Basic realm="fake"'})
            return
        path = handler.path
        if path == "/v2/":
            self.send(handler, 200, b"{}")
            return
        match = re.fullmatch(r"/v2/(.+)/(manifests|blobs)/([^/]+)", path)
        if match is None:
            self.send(handler, 404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"no"}]}')
            return
        kind, reference = match.group(2), match.group(3)
        digest = self.root["digest"] if reference == self.tag else reference
        data = self.blobs.get(digest)
        if data is None:
            self.send(handler, 404, b'{"errors":[{"code":"BLOB_UNKNOWN","message":"no"}]}')
            return
        if kind == "manifests":
            self.send(
                handler, 200, data, {"Content-Type": self.root["mediaType"]}, head=method == "HEAD"
            )
            return
        self.send_blob(handler, data, head=method == "HEAD")

    @staticmethod
    def authorized(handler: Handler) -> bool:
        expected = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        return handler.headers.get("Authorization") == f"Basic {expected}"

    @staticmethod
    def send(
        handler: Handler,
        status: int,
        data: bytes,
        headers: dict[str, str] | None = None,
        *,
        head: bool = False,
        length: int | None = None,
    ) -> None:
        handler.send_response(status)
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data) if length is None else length))
        handler.end_headers()
        if not head:
            handler.wfile.write(data)
            handler.wfile.flush()

    def send_blob(self, handler: Handler, data: bytes, *, head: bool = False) -> None:
        """The blob, or the part a ``Range: bytes=N-`` asks for (206)."""
        wanted = re.fullmatch(r"bytes=(\d+)-", handler.headers.get("Range", ""))
        if wanted is None:
            self.send(handler, 200, data, {"Accept-Ranges": "bytes"}, head=head)
            return
        start = int(wanted.group(1))
        content_range = f"bytes {start}-{len(data) - 1}/{len(data)}"
        self.send(handler, 206, data[start:], {"Content-Range": content_range}, head=head)

    @staticmethod
    def is_blob(handler: Handler, digest: str) -> bool:
        return FakeRegistry.is_blob_path(handler.path, digest)

    @staticmethod
    def is_blob_path(path: str, digest: str) -> bool:
        return path.endswith(f"/blobs/{digest}")
