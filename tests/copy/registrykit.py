"""A real registry for the ``docker://`` tests: Debian's ``docker-registry`` (distribution 2.8).

:class:`Registry` starts it on 127.0.0.1 with a free port in one of three
configurations, everything made for the test under one directory:

``plain``
    plain HTTP, no authentication (clients say ``--tls-verify=false``);
``tls``
    HTTPS with a certificate signed by a CA made here, client certificates
    required (signed by the same CA), and htpasswd Basic authentication;
    clients get the CA and their pair through ``--cert-dir``;
``token``
    plain HTTP with token authentication: :class:`TokenIssuer`, run here
    on loopback, hands out JWTs signed with a key made here (RS256, the
    certificate in the ``x5c`` header and in the registry's
    ``rootcertbundle``) -- pull for anyone, push for the test user.

The registry logs every request (``Registry.requests``), which is how the
tests count uploads and mounts.  Keys and certificates come from the
``openssl`` command; the htpasswd file from the ``bcrypt`` package.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

USER = "tester"
#: Long and unusual, so that finding it in any output is certain to be a leak.
PASSWORD = "pw-Zq8vX3kT9mL2rN7s"
#: A user of the TLS registry whose password is empty (what ``--creds USER`` sends, as skopeo).
EMPTY_PASSWORD_USER = "no-password"
#: The token issuer's refresh token (what ``docker login`` keeps as an identity token).
REFRESH_TOKEN = "rt-Hk4wP9sQ2vB7xN3m"
CONFIGS = ("plain", "tls", "token")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def openssl(*argv: str | Path) -> None:
    exe = shutil.which("openssl")
    if exe is None:
        pytest.skip("openssl is not installed")
    subprocess.run([exe, *map(str, argv)], check=True, capture_output=True, timeout=120)


def make_ca_and_server_cert(directory: Path) -> tuple[Path, Path, Path]:
    """(ca.crt, server.crt, server.key): a CA and a certificate for 127.0.0.1 it signed.

    The CA also signs a client certificate, ``client.cert`` / ``client.key``
    beside them (containers-certs.d(5) names).
    """
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_crt,
        "-days", "2", "-subj", "/CN=umoci test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    key, csr, crt = directory / "server.key", directory / "server.csr", directory / "server.crt"
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
        "-subj", "/CN=127.0.0.1",
    )  # fmt: skip
    extensions = directory / "server.ext"
    extensions.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "basicConstraints=CA:FALSE\n"
        "extendedKeyUsage=serverAuth\n"
    )
    openssl(
        "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
        "-out", crt, "-days", "2", "-extfile", extensions,
    )  # fmt: skip
    client_key, client_csr = directory / "client.key", directory / "client.csr"
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", client_key, "-out", client_csr,
        "-subj", "/CN=umoci test client",
    )  # fmt: skip
    client_ext = directory / "client.ext"
    client_ext.write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    openssl(
        "x509", "-req", "-in", client_csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
        "-out", directory / "client.cert", "-days", "2", "-extfile", client_ext,
    )  # fmt: skip
    return ca_crt, crt, key


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenIssuer:
    """A token service on loopback: JWTs for the registry's ``auth: token`` configuration.

    Anonymous callers get pull access; :data:`USER` with :data:`PASSWORD`
    (Basic), or a POST with the refresh token :data:`REFRESH_TOKEN`
    (``grant_type=refresh_token``, as an identity token is used), gets pull
    and push; wrong credentials get 401.  Every request is recorded
    (method, path, query or form, headers) in :attr:`requests`.
    """

    service = "umoci-test-registry"
    issuer = "umoci-test-issuer"

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.key, self.cert = directory / "token.key", directory / "token.crt"
        openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key,
            "-out", self.cert, "-days", "2", "-subj", "/CN=umoci test token issuer",
        )  # fmt: skip
        pem = self.cert.read_text()
        body = pem.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
        self._x5c = "".join(body.split())
        self.requests: list[tuple[str, str, dict[str, list[str]], dict[str, str]]] = []
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(parsed.query)
                issuer.requests.append(("GET", parsed.path, query, dict(self.headers)))
                self.reply(*issuer.answer(query, self.headers.get("Authorization")))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                issuer.requests.append(("POST", self.path, form, dict(self.headers)))
                if form.get("grant_type") != ["refresh_token"] or form.get("refresh_token") != [
                    REFRESH_TOKEN
                ]:
                    self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad token"}]})
                    return
                self.reply(*issuer.answer(form, None, subject=USER))

            def reply(self, status: int, reply: dict[str, object]) -> None:
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.realm = f"http://127.0.0.1:{self.port}/token"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def answer(
        self, query: dict[str, list[str]], authorization: str | None, subject: str = ""
    ) -> tuple[int, dict[str, object]]:
        if authorization is not None:
            expected = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if authorization != f"Basic {expected}":
                return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]}
            subject = USER
        access = []
        for scope in query.get("scope", []):
            kind, name, actions = scope.split(":")
            wanted = actions.split(",")
            allowed = wanted if subject else [a for a in wanted if a == "pull"]
            access.append({"type": kind, "name": name, "actions": allowed})
        return 200, {"token": self.sign(subject, access), "expires_in": 300}

    def sign(self, subject: str, access: list[dict[str, object]]) -> str:
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "x5c": [self._x5c]}
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + 300,
            "nbf": now - 60,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = (
            f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        )
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key)],
            input=signing_input.encode(),
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
        return f"{signing_input}.{_b64url(signature)}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Registry:
    """A running ``docker-registry`` in one of :data:`CONFIGS`."""

    def __init__(self, config: str, root: Path) -> None:
        exe = shutil.which("docker-registry")
        if exe is None:
            pytest.skip("docker-registry is not installed (scripts/test installs it with apt)")
        self.config = config
        self.root = root
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.cert_dir: Path | None = None
        self.issuer: TokenIssuer | None = None
        lines = [
            "version: 0.1",
            "log:",
            "  level: info",
            "  formatter: text",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {root / 'data'}",
            "  delete:",
            "    enabled: true",
            "http:",
            f"  addr: {self.host}",
        ]
        if config == "tls":
            ca, crt, key = make_ca_and_server_cert(root / "certs")
            lines += [
                "  tls:",
                f"    certificate: {crt}",
                f"    key: {key}",
                "    clientcas:",
                f"      - {ca}",
            ]
            self.cert_dir = root / "client-certs"
            self.cert_dir.mkdir()
            for made in ("ca.crt", "client.cert", "client.key"):
                shutil.copy(ca.parent / made, self.cert_dir / made)
            import bcrypt

            def hashed(password: str) -> str:
                salt = bcrypt.gensalt(rounds=4, prefix=b"2a")
                return bcrypt.hashpw(password.encode(), salt).decode()

            htpasswd = root / "htpasswd"
            htpasswd.write_text(f"{USER}:{hashed(PASSWORD)}\n{EMPTY_PASSWORD_USER}:{hashed('')}\n")
            lines += ["auth:", "  htpasswd:", "    realm: umoci-test", f"    path: {htpasswd}"]
        elif config == "token":
            self.issuer = TokenIssuer(root / "token")
            lines += [
                "auth:",
                "  token:",
                f"    realm: {self.issuer.realm}",
                f"    service: {self.issuer.service}",
                f"    issuer: {self.issuer.issuer}",
                f"    rootcertbundle: {self.issuer.cert}",
            ]
        (root / "config.yml").write_text("\n".join(lines) + "\n")
        self.log_path = root / "registry.log"
        self._log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            [exe, "serve", str(root / "config.yml")],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    pytest.fail(f"docker-registry did not start: {self.log_path.read_text()}")
                time.sleep(0.05)

    def name(self, repository: str) -> str:
        return f"docker://{self.host}/{repository}"

    @property
    def needs_creds(self) -> bool:
        return self.config != "plain"

    def flags(self, side: str, *, creds: bool = True) -> list[str]:
        """``umoci copy`` flags to reach it as *side* (``src`` or ``dest``)."""
        flags = []
        if self.config == "tls":
            flags.append(f"--{side}-cert-dir={self.cert_dir}")
        else:
            flags.append(f"--{side}-tls-verify=false")
        if creds and self.needs_creds:
            flags.append(f"--{side}-creds={USER}:{PASSWORD}")
        return flags

    def skopeo_flags(self, side: str) -> list[str]:
        """The same for skopeo copy (its flags have the same names)."""
        return self.flags(side)

    def inspect_flags(self) -> list[str]:
        """For skopeo inspect (no --src- prefix)."""
        return [flag.replace("--src-", "--") for flag in self.flags("src")]

    def requests(self) -> list[tuple[str, str, int]]:
        """(method, URI, status) of each request the registry logged, in order."""
        found = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if "response completed" not in line and "http.response.status" not in line:
                continue
            fields = dict(_logfmt(line))
            method = fields.get("http.request.method")
            uri = fields.get("http.request.uri")
            status = fields.get("http.response.status")
            if method and uri and status and status.isdigit():
                found.append((method, uri, int(status)))
        return found

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()
        if self.issuer is not None:
            self.issuer.close()


def _logfmt(line: str) -> Iterator[tuple[str, str]]:
    """The key=value pairs of a logrus text line (values quoted when they hold spaces)."""
    position = 0
    while position < len(line):
        equals = line.find("=", position)
        if equals < 0:
            return
        key = line[position:equals].strip()
        if line[equals + 1 : equals + 2] == '"':
            end = equals + 2
            while end < len(line) and line[end] != '"':
                end += 2 if line[end] == "\\" else 1
            value = line[equals + 2 : end]
            position = end + 2
        else:
            end = line.find(" ", equals)
            end = len(line) if end < 0 else end
            value = line[equals + 1 : end]
            position = end + 1
        yield key, value


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """The TLS + Basic auth registry, one per test module that imports this fixture."""
    running = Registry("tls", tmp_path_factory.mktemp("registry-tls"))
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """umoci's blob location record (under ``$XDG_CACHE_HOME``) kept to the test.

    Autouse in each module that imports it (the registry tests).
    """
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache
