"""A small registry on loopback that serves one image and misbehaves as a test tells it.

:class:`FakeRegistry` answers the distribution API's read side (``/v2/``,
manifests and blobs by tag or digest, ``Range`` on blobs) for an image of
a layout, behind Basic authentication with :data:`registrykit.USER` and
:data:`registrykit.PASSWORD`; and its write side (upload sessions with
ranged or plain ``PATCH``, the closing ``PUT`` checked against its digest,
``DELETE``, manifests by tag or digest) into :attr:`FakeRegistry.pushed`.
A test sets :attr:`FakeRegistry.misbehave`, a function that sees each
request first and may answer it itself (return True), or
:attr:`FakeRegistry.refuse_ranges` (ranged ``PATCH`` answered 416) or
:attr:`FakeRegistry.refuse_chunks` (every ``PATCH`` answered with that
status).  Every request is recorded with its headers.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
import urllib.parse
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


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hung up mid-request (as ours does when a source blob
        # turns out bad) is what some tests want: nothing to report.
        import sys

        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class FakeRegistry:
    """Serve the image *tag* of *layout* as ``REPO:TAG`` of any repository."""

    def __init__(self, layout: Path | None, tag: str) -> None:
        """Serve *layout*'s image *tag* (no image at all for None: a registry to push to)."""
        self.blobs: dict[str, bytes] = {}
        self.tag = tag
        self.root: dict[str, str] = {"digest": "", "mediaType": ""}
        self.manifest: dict[str, list[dict[str, str]]] = {"layers": []}
        if layout is not None:
            for blob in (layout / "blobs" / "sha256").iterdir():
                self.blobs[f"sha256:{blob.name}"] = blob.read_bytes()
            index = json.loads((layout / "index.json").read_bytes())
            (self.root,) = [
                d
                for d in index["manifests"]
                if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag
            ]
            self.manifest = json.loads(self.blobs[self.root["digest"]])
        #: What was pushed: blobs by digest, manifests by the reference they were put as.
        self.pushed: dict[str, bytes] = {}
        self.pushed_manifests: dict[str, tuple[str, bytes]] = {}
        self.uploads: dict[str, bytearray] = {}
        self._session_ids = itertools.count()
        self.refuse_ranges = False
        self.refuse_chunks = 0  # an HTTP status, or 0: chunks are taken
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

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_PATCH(self) -> None:
                fake._handle(self, "PATCH")

            def do_PUT(self) -> None:
                fake._handle(self, "PUT")

            def do_DELETE(self) -> None:
                fake._handle(self, "DELETE")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), RequestHandler)
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
        length = int(handler.headers.get("Content-Length", "0"))
        body = handler.rfile.read(length) if method in ("POST", "PATCH", "PUT") else b""
        if self.misbehave is not None and self.misbehave(self, handler, method):
            return
        if not self.authorized(handler):
            self.send(handler, 401, b"{}", {"WWW-Authenticate": 'Basic realm="fake"'})
            return
        if method in ("POST", "PATCH", "PUT", "DELETE"):
            self._write(handler, method, body)
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
        data = self.blobs.get(digest, self.pushed.get(digest))
        if data is None:
            self.send(handler, 404, b'{"errors":[{"code":"BLOB_UNKNOWN","message":"no"}]}')
            return
        if kind == "manifests":
            self.send(
                handler, 200, data, {"Content-Type": self.root["mediaType"]}, head=method == "HEAD"
            )
            return
        self.send_blob(handler, data, head=method == "HEAD")

    def _write(self, handler: Handler, method: str, body: bytes) -> None:
        path, _, query = handler.path.partition("?")
        params = dict(part.partition("=")[::2] for part in query.split("&") if part)
        uploads = re.fullmatch(r"/v2/(.+)/blobs/uploads/([^/]*)", path)
        manifest = re.fullmatch(r"/v2/(.+)/manifests/([^/]+)", path)
        if method == "POST" and uploads is not None and not uploads.group(2):
            session = f"{next(self._session_ids)}"
            self.uploads[session] = bytearray()
            location = f"/v2/{uploads.group(1)}/blobs/uploads/{session}"
            self.send(handler, 202, b"", {"Location": location, "Range": "0-0"})
        elif uploads is not None and uploads.group(2) in self.uploads:
            session = uploads.group(2)
            data = self.uploads[session]
            if method == "DELETE":
                del self.uploads[session]
                self.send(handler, 204, b"")
                return
            if method == "PATCH" and self.refuse_chunks:
                error = b'{"errors":[{"code":"UNSUPPORTED","message":"no chunked uploads"}]}'
                self.send(handler, self.refuse_chunks, error)
                return
            content_range = handler.headers.get("Content-Range")
            ranged = method == "PATCH" and content_range is not None
            if ranged and (self.refuse_ranges or not content_range.startswith(f"{len(data)}-")):
                self.send(handler, 416, b'{"errors":[{"code":"RANGE_INVALID"}]}')
                return
            data += body
            if method == "PATCH":
                headers = {"Location": path, "Range": f"0-{len(data) - 1}"}
                self.send(handler, 202, b"", headers)
                return
            digest = urllib.parse.unquote(params.get("digest", ""))
            if digest != "sha256:" + hashlib.sha256(data).hexdigest():
                self.send(handler, 400, b'{"errors":[{"code":"DIGEST_INVALID","message":"no"}]}')
                return
            del self.uploads[session]
            self.pushed[digest] = bytes(data)
            self.send(handler, 201, b"", {"Location": f"/v2/blobs/{digest}"})
        elif method == "PUT" and manifest is not None:
            media_type = handler.headers.get("Content-Type", "")
            self.pushed_manifests[manifest.group(2)] = (media_type, body)
            self.pushed["sha256:" + hashlib.sha256(body).hexdigest()] = body
            self.send(handler, 201, b"")
        else:
            self.send(handler, 404, b'{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN","message":"no"}]}')

    def writes(self) -> list[tuple[str, str]]:
        """(method, path without query) of every write request, in order."""
        return [
            (r.method, r.path.partition("?")[0])
            for r in self.requests
            if r.method in ("POST", "PATCH", "PUT", "DELETE")
        ]

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
        if not head and handler.command != "HEAD":
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
