"""Registry credentials and TLS: where credentials come from, the token flows, certificates.

The lookup order is tested on the module itself (no network); the flows
against the real registry of :mod:`registrykit` -- identity tokens
refreshed at the token issuer, ``--registry-token``, credential helpers,
``--no-creds``, ``certs.d`` directories, client certificates and
``--tls-verify=false`` -- with ``--log=debug`` output searched for every
secret.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from copykit import copy_fails, entry, two_layer_image
from registrykit import PASSWORD, REFRESH_TOKEN, USER, Registry, private_cache, tls_registry

from umoci.cli import main
from umoci.errors import TransportError, UsageError
from umoci.transport.registry import tls
from umoci.transport.registry.client import Client
from umoci.transport.registry.credentials import find_credentials, parse_creds
from umoci.transport.registry.options import RegistryOptions, Secret

HOST = "registry.example:5000"
REPO = "team/app/web"

__all__ = ["private_cache", "tls_registry"]  # fixtures, imported for the tests below


def encoded(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def write_auth(path: Path, auths: dict[str, object], **extra: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"auths": auths, **extra}))
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home of the test's own: none of the machine's credential files are read."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for variable in ("REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "DOCKER_CONFIG"):
        monkeypatch.delenv(variable, raising=False)
    return home


def found(options: RegistryOptions | None = None) -> tuple[str, str, str] | None:
    credentials = find_credentials(HOST, REPO, options or RegistryOptions())
    if credentials is None:
        return None
    return credentials.username, credentials.password.reveal(), credentials.origin


# -- where credentials come from ---------------------------------------------------


def test_no_files_means_anonymous(home: Path) -> None:
    assert found() is None


def test_files_in_order(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docker = write_auth(home / ".docker" / "config.json", {HOST: {"auth": encoded("d", "1")}})
    assert found() == ("d", "1", f"{docker} ({HOST})")
    config = write_auth(
        home / ".config" / "containers" / "auth.json", {HOST: {"auth": encoded("c", "2")}}
    )
    assert found()[:2] == ("c", "2")  # type: ignore[index]
    runtime = tmp_path / "run"
    write_auth(runtime / "containers" / "auth.json", {HOST: {"auth": encoded("r", "3")}})
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert found()[:2] == ("r", "3")  # type: ignore[index]
    env_file = write_auth(tmp_path / "env.json", {HOST: {"auth": encoded("e", "4")}})
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(env_file))
    assert found()[:2] == ("e", "4")  # type: ignore[index]
    flag_file = write_auth(tmp_path / "flag.json", {HOST: {"auth": encoded("f", "5")}})
    assert found(RegistryOptions(authfile=str(flag_file)))[:2] == ("f", "5")  # type: ignore[index]
    creds = RegistryOptions(authfile=str(flag_file), creds=Secret("u:p:with:colons"))
    assert found(creds) == ("u", "p:with:colons", "the credentials given on the command line")
    assert found(RegistryOptions(authfile=str(flag_file), no_creds=True)) is None
    assert config.exists()


def test_an_entry_without_the_host_falls_through(home: Path, tmp_path: Path) -> None:
    first = write_auth(tmp_path / "first.json", {"other.example": {"auth": encoded("o", "x")}})
    write_auth(home / ".docker" / "config.json", {HOST: {"auth": encoded("d", "1")}})
    assert found(RegistryOptions(authfile=str(first)))[:2] == ("d", "1")  # type: ignore[index]


def test_the_most_specific_key_wins(home: Path) -> None:
    write_auth(
        home / ".docker" / "config.json",
        {
            HOST: {"auth": encoded("host", "1")},
            f"{HOST}/team": {"auth": encoded("team", "2")},
            f"{HOST}/team/app": {"auth": encoded("app", "3")},
            f"{HOST}/team/other": {"auth": encoded("other", "4")},
        },
    )
    assert found()[:2] == ("app", "3")  # type: ignore[index]


def test_docker_logins_url_keys(home: Path) -> None:
    write_auth(
        home / ".docker" / "config.json",
        {
            "https://index.docker.io/v1/": {"auth": encoded("hub", "1")},
            f"https://{HOST}": {"auth": encoded("url", "2")},
        },
    )
    assert found()[:2] == ("url", "2")  # type: ignore[index]
    hub = find_credentials("docker.io", "library/alpine", RegistryOptions())
    assert hub is not None
    assert (hub.username, hub.password.reveal()) == ("hub", "1")


def test_an_identity_token(home: Path) -> None:
    write_auth(
        home / ".docker" / "config.json",
        {HOST: {"auth": encoded("someone", ""), "identitytoken": "tok-123"}},
    )
    credentials = find_credentials(HOST, REPO, RegistryOptions())
    assert credentials is not None
    assert credentials.identity_token
    assert credentials.password.reveal() == "tok-123"


def helper(bin_dir: Path, name: str, reply: str, status: int = 0) -> None:
    """A ``docker-credential-NAME`` that records the server asked and prints *reply*."""
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / f"docker-credential-{name}"
    script.write_text(
        "#!/bin/sh\n"
        f'[ "$1" = get ] || exit 2\n'
        f"cat > {bin_dir}/asked-{name}\n"
        f"printf '%s' '{reply}'\n"
        f"exit {status}\n"
    )
    script.chmod(0o755)


def test_credential_helpers(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    helper(bin_dir, "per-host", json.dumps({"Username": "h", "Secret": "from-helper"}))
    helper(bin_dir, "store", "credentials not found in native keychain", status=1)
    write_auth(
        home / ".docker" / "config.json",
        {HOST: {"auth": encoded("file", "x")}},
        credHelpers={HOST: "per-host"},
        credsStore="store",
    )
    assert found()[:2] == ("h", "from-helper")  # type: ignore[index]
    assert (bin_dir / "asked-per-host").read_text() == HOST
    # credsStore (for every host) comes after credHelpers; when it has
    # nothing for the host, the file's own entry counts.
    write_auth(
        home / ".docker" / "config.json", {HOST: {"auth": encoded("file", "x")}}, credsStore="store"
    )
    assert found()[:2] == ("file", "x")  # type: ignore[index]
    helper(bin_dir, "store", json.dumps({"Username": "<token>", "Secret": "idt"}))
    credentials = find_credentials(HOST, REPO, RegistryOptions())
    assert credentials is not None
    assert credentials.identity_token
    assert credentials.password.reveal() == "idt"


def test_a_failing_helper_says_so_without_its_output(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    helper(bin_dir, "broken", "echoing secret-value", status=3)
    write_auth(home / ".docker" / "config.json", {}, credHelpers={HOST: "broken"})
    with pytest.raises(TransportError, match="docker-credential-broken failed") as caught:
        found()
    assert "secret-value" not in str(caught.value)
    write_auth(home / ".docker" / "config.json", {}, credHelpers={HOST: "absent"})
    with pytest.raises(TransportError, match="docker-credential-absent is not installed"):
        found()


def test_a_bad_auth_entry_is_named_but_not_shown(home: Path) -> None:
    write_auth(home / ".docker" / "config.json", {HOST: {"auth": "bm8tY29sb24tc2VjcmV0"}})
    with pytest.raises(TransportError, match='"auth" is not base64 of USER:PASSWORD') as caught:
        found()
    assert "bm8tY29sb24tc2VjcmV0" not in str(caught.value)
    assert "no-colon-secret" not in str(caught.value)


def test_credentials_that_could_not_be_sent_are_refused() -> None:
    """Argv bytes that were not UTF-8 (lone surrogates), or a token that would break a header."""
    with pytest.raises(UsageError, match="the credentials given on the command line: not valid"):
        find_credentials(HOST, REPO, RegistryOptions(creds=Secret("user:pass\udcff")))
    with pytest.raises(UsageError, match="the registry token given: a token is printable ASCII"):
        Client(HOST, REPO, RegistryOptions(registry_token=Secret("tok\r\nX-Injected: 1")), what="x")


def test_creds_syntax() -> None:
    with pytest.raises(UsageError, match="want USER:PASSWORD"):
        parse_creds("user-only", "--creds")
    with pytest.raises(UsageError, match="the user name is empty"):
        parse_creds(":pw", "--creds")


def test_secrets_never_print() -> None:
    options = RegistryOptions(creds=Secret(f"{USER}:{PASSWORD}"), registry_token=Secret("tok"))
    assert PASSWORD not in repr(options)
    assert "tok" not in str(options.registry_token)


# -- against the real registry -----------------------------------------------------


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    running = Registry("token", tmp_path_factory.mktemp("registry-token"))
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return two_layer_image(tmp_path, tmp_path / "src", "v1")


def copy_shows_no_secret(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> None:
    """``umoci --log=debug copy ARGV`` succeeds, and no secret is in anything it printed."""
    capsys.readouterr()
    status = main(["--log=debug", "copy", *map(str, argv)])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "umoci: debug:" in err
    for secret in (PASSWORD, REFRESH_TOKEN, encoded(USER, PASSWORD)):
        assert secret not in out + err


def test_an_identity_token_is_refreshed_at_the_token_issuer(
    token_registry: Registry, source: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_auth(
        home / ".docker" / "config.json",
        {token_registry.host: {"auth": encoded(USER, ""), "identitytoken": REFRESH_TOKEN}},
    )
    issuer = token_registry.issuer
    assert issuer is not None
    before = len(issuer.requests)
    name = token_registry.name("auth/identity:v1")
    copy_shows_no_secret(
        capsys, *token_registry.flags("dest", creds=False), f"oci:{source}:v1", name
    )
    ours = issuer.requests[before:]
    assert ours
    assert {method for method, *_ in ours} == {"POST"}
    scopes = {scope for _, _, form, _ in ours for scope in form.get("scope", [])}
    assert "repository:auth/identity:pull,push" in scopes
    pulled = source.parent / "pulled"
    copy_shows_no_secret(
        capsys, *token_registry.flags("src", creds=False), name, f"oci:{pulled}:v1"
    )
    assert entry(pulled, "v1")["digest"] == entry(source, "v1")["digest"]


def test_a_registry_token_is_sent_as_it_is(
    token_registry: Registry, source: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issuer = token_registry.issuer
    assert issuer is not None
    access = [{"type": "repository", "name": "auth/token", "actions": ["pull", "push"]}]
    token = issuer.sign(USER, access)
    before = len(issuer.requests)
    name = token_registry.name("auth/token:v1")
    copy_shows_no_secret(
        capsys,
        *token_registry.flags("dest", creds=False),
        f"--dest-registry-token={token}",
        f"oci:{source}:v1",
        name,
    )
    assert issuer.requests[before:] == []  # nothing was asked of the token issuer
    # A token for another repository is refused: one line, and the token is not in it.
    line = copy_fails(
        capsys,
        *token_registry.flags("dest", creds=False),
        f"--dest-registry-token={token}",
        f"oci:{source}:v1",
        token_registry.name("auth/elsewhere:v1"),
    )
    assert "authentication failed" in line
    assert "with the --registry-token given" in line
    assert token not in line


def test_anonymous_pull_from_the_token_registry(
    token_registry: Registry, source: Path, home: Path
) -> None:
    name = token_registry.name("auth/public:v1")
    assert main(["copy", *token_registry.flags("dest"), f"oci:{source}:v1", name]) == 0
    pulled = source.parent / "anonymous"
    # No credentials anywhere: the issuer grants pull to anyone.
    assert main(["copy", *token_registry.flags("src", creds=False), name, f"oci:{pulled}:v1"]) == 0
    assert entry(pulled, "v1")["digest"] == entry(source, "v1")["digest"]


def test_a_credential_helper_logs_in_to_the_tls_registry(
    tls_registry: Registry,
    source: Path,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bin_dir = home.parent / "bin"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    helper(bin_dir, "umocitest", json.dumps({"Username": USER, "Secret": PASSWORD}))
    write_auth(home / ".docker" / "config.json", {}, credHelpers={tls_registry.host: "umocitest"})
    name = tls_registry.name("auth/helper:v1")
    copy_shows_no_secret(capsys, *tls_registry.flags("dest", creds=False), f"oci:{source}:v1", name)
    assert (bin_dir / "asked-umocitest").read_text() == tls_registry.host


def test_no_creds_reads_no_file(
    tls_registry: Registry, source: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_auth(
        home / ".docker" / "config.json", {tls_registry.host: {"auth": encoded(USER, PASSWORD)}}
    )
    name = tls_registry.name("auth/nocreds:v1")
    assert main(["copy", *tls_registry.flags("dest", creds=False), f"oci:{source}:v1", name]) == 0
    line = copy_fails(
        capsys,
        *tls_registry.flags("dest", creds=False),
        "--dest-no-creds",
        f"oci:{source}:v1",
        name,
    )
    assert "refused the request anonymously" in line


def test_a_certs_d_directory_is_used_by_host_and_port(
    tls_registry: Registry, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tls_registry.cert_dir is not None
    certs_d = tmp_path / "certs.d"
    (certs_d / tls_registry.host).mkdir(parents=True)
    for name in ("ca.crt", "client.cert", "client.key"):
        (certs_d / tls_registry.host / name).write_bytes(
            (tls_registry.cert_dir / name).read_bytes()
        )
    monkeypatch.setattr(tls, "SYSTEM_CERTS_D", ("/nonexistent/certs.d", str(certs_d)))
    name = tls_registry.name("tls/certs-d:v1")
    assert main(["copy", f"--dest-creds={USER}:{PASSWORD}", f"oci:{source}:v1", name]) == 0


def test_tls_verify_false_accepts_an_unknown_ca(
    tls_registry: Registry, source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert tls_registry.cert_dir is not None
    client_only = tmp_path / "client-only"
    client_only.mkdir()
    for name in ("client.cert", "client.key"):
        (client_only / name).write_bytes((tls_registry.cert_dir / name).read_bytes())
    name = tls_registry.name("tls/insecure:v1")
    creds = f"--dest-creds={USER}:{PASSWORD}"
    line = copy_fails(capsys, creds, f"--dest-cert-dir={client_only}", f"oci:{source}:v1", name)
    assert "certificate verify failed" in line
    argv = [creds, f"--dest-cert-dir={client_only}", "--dest-tls-verify=false"]
    assert main(["copy", *argv, f"oci:{source}:v1", name]) == 0


def test_the_tls_registry_wants_a_client_certificate(
    tls_registry: Registry, source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert tls_registry.cert_dir is not None
    ca_only = tmp_path / "ca-only"
    ca_only.mkdir()
    (ca_only / "ca.crt").write_bytes((tls_registry.cert_dir / "ca.crt").read_bytes())
    line = copy_fails(
        capsys,
        f"--dest-creds={USER}:{PASSWORD}",
        f"--dest-cert-dir={ca_only}",
        f"oci:{source}:v1",
        tls_registry.name("tls/no-client-cert:v1"),
    )
    assert tls_registry.host in line
    assert "bad certificate" in line  # the registry's alert: no client certificate was offered
    assert "plain HTTP" not in line  # a TLS server: no hint about HTTP


def test_a_client_certificate_without_its_key_is_one_line(
    tls_registry: Registry, source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert tls_registry.cert_dir is not None
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    (lonely / "client.cert").write_bytes((tls_registry.cert_dir / "client.cert").read_bytes())
    line = copy_fails(
        capsys, f"--dest-cert-dir={lonely}", f"oci:{source}:v1", tls_registry.name("tls/x:v1")
    )
    assert "client certificate without its key" in line


def test_the_python_api_takes_registry_options(
    tls_registry: Registry, source: Path, home: Path
) -> None:
    from umoci import api
    from umoci.errors import InvalidArgumentError

    assert tls_registry.cert_dir is not None
    options = api.RegistryOptions(
        creds=api.Secret(f"{USER}:{PASSWORD}"), cert_dir=str(tls_registry.cert_dir)
    )
    name = tls_registry.name("api/app:v1")
    digest = api.copy(f"oci:{source}:v1", name, dest_registry=options)
    assert digest == entry(source, "v1")["digest"]
    pulled = home.parent / "api-pulled"
    assert api.copy(name, f"oci:{pulled}:v1", src_registry=options) == digest
    # A password as a plain str is refused before anything happens (it would show in reprs).
    plain = api.RegistryOptions(creds=f"{USER}:{PASSWORD}")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="creds"):
        api.copy(f"oci:{source}:v1", name, dest_registry=plain)


def test_challenges_are_parsed_as_rfc_7235_writes_them() -> None:
    from umoci.transport.registry.auth import Challenge, parse_challenges

    header = (
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:a/b:pull,push", Basic realm="say \\"hi\\""'
    )
    assert parse_challenges([header, "Negotiate"]) == [
        Challenge(
            "bearer",
            (
                ("realm", "https://auth.example/token"),
                ("service", "registry.example"),
                ("scope", "repository:a/b:pull,push"),
            ),
        ),
        Challenge("basic", (("realm", 'say "hi"'),)),
        Challenge("negotiate", ()),
    ]


def test_the_redactor_blanks_every_secret_it_was_given() -> None:
    from umoci.transport.registry.auth import Redactor

    redact = Redactor()
    redact.add(PASSWORD)
    redact.add("abc")  # too short to blank safely: ordinary words would go
    assert redact(f"echo {PASSWORD}! abc") == "echo <redacted>! abc"


@pytest.mark.parametrize(
    ("flags", "why"),
    [
        (["--creds", ""], "--creds: the user name is empty"),
        (["--dest-creds", "u:\udcff"], "--dest-creds: not valid UTF-8"),
        (["--dest-creds", "\udcff"], "--dest-creds: not valid UTF-8"),  # before asking
        (["--registry-token", "t\r\nX-Injected: 1"], "--registry-token: a token is printable"),
        (["--src-registry-token", ""], "--src-registry-token: the token is empty"),
        (["--dest-creds", ":pw-Zq8vX3kT9mL2rN7s"], "--dest-creds: the user name is empty"),
        (["--creds", "u:p", "--registry-token", "t"], "--creds and --registry-token conflict"),
        (["--src-no-creds", "--src-creds", "u:p"], "--src-no-creds (or --no-creds) and"),
        (["--retry-times", "many"], "invalid --retry-times 'many'"),
        (["--retry-delay", "soon"], "invalid --retry-delay 'soon'"),
        (["--timeout", "0s"], "invalid --timeout: must be more than 0s"),
        (["--cert-dir="], "invalid --cert-dir: path is empty"),
    ],
)
def test_registry_flags_are_checked_before_anything_happens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], why: str
) -> None:
    line = copy_fails(capsys, *flags, f"oci:{tmp_path / 'none'}:v1", "docker://localhost:1/x:v1")
    assert why in line
    assert PASSWORD not in line
    assert not (tmp_path / "none").exists()
