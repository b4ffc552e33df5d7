"""A registry that misbehaves (:mod:`fakeregistry`): every failure is one line, exit 1,
the destination layout untouched, and no credential in any output, even at ``--log=debug``."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from copykit import entry, two_layer_image
from fakeregistry import FakeRegistry, Handler
from registrykit import PASSWORD, USER, private_cache

from multikit import snapshot
from umoci.cli import main

SECRETS = (PASSWORD, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())

__all__ = ["private_cache"]  # the autouse fixture, imported for the tests below


@pytest.fixture
def image(tmp_path: Path) -> Path:
    return two_layer_image(tmp_path, tmp_path / "src", "v1")


@pytest.fixture
def fake(image: Path) -> Iterator[FakeRegistry]:
    server = FakeRegistry(image, "v1")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def dest(tmp_path: Path, image: Path) -> Path:
    """A layout that already holds an image (tag "old"), which a failed pull must leave alone."""
    layout = tmp_path / "dest"
    assert main(["init", "--layout", str(layout)]) == 0
    assert main(["new", "--image", f"{layout}:old"]) == 0
    return layout


def flags(*extra: str) -> list[str]:
    return ["--src-tls-verify=false", f"--src-creds={USER}:{PASSWORD}", *extra]


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    capsys.readouterr()
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out + err


def fails_cleanly(
    capsys: pytest.CaptureFixture[str], fake: FakeRegistry, dest: Path, *extra: str
) -> str:
    """Pull from *fake* into *dest*: one line, exit 1, *dest* as it was, no secret shown.

    Run twice: as users run it (the one line, returned), and at
    ``--log=debug`` (everything logged is searched for the credentials).
    """
    before = snapshot(dest)
    argv = ["copy", *flags(*extra), fake.name(), f"oci:{dest}:new"]
    status, output = run(capsys, argv)
    assert status == 1, output
    lines = output.splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("umoci: copy: "), lines[0]
    assert snapshot(dest) == before
    status, debug_output = run(capsys, ["--log=debug", *argv])
    assert status == 1
    assert "umoci: debug:" in debug_output  # the debug log was on
    for secret in SECRETS:
        assert secret not in output + debug_output
    assert snapshot(dest) == before
    return lines[0]


def succeeds(
    capsys: pytest.CaptureFixture[str], fake: FakeRegistry, dest: Path, *extra: str
) -> None:
    status, output = run(
        capsys, ["--log=debug", "copy", *flags(*extra), fake.name(), f"oci:{dest}:new"]
    )
    assert status == 0, output
    for secret in SECRETS:
        assert secret not in output
    assert entry(dest, "new")["digest"] == fake.root["digest"]


def test_the_fake_serves_a_good_image(
    capsys: pytest.CaptureFixture[str], fake: FakeRegistry, dest: Path
) -> None:
    succeeds(capsys, fake, dest)


def test_wrong_digest(capsys: pytest.CaptureFixture[str], fake: FakeRegistry, dest: Path) -> None:
    def flip(fake: FakeRegistry, handler: Handler, method: str) -> bool:
        if not fake.is_blob(handler, fake.layer):
            return False
        data = bytearray(fake.blobs[fake.layer])
        data[len(data) // 2] ^= 0xFF
        fake.send(handler, 200, bytes(data))
        return True

    fake.misbehave = flip
    line = fails_cleanly(capsys, fake, dest)
    assert f"blob {fake.layer}" in line
    assert "digest mismatch" in line


@pytest.mark.parametrize("change", [+100, -100])
def test_wrong_size(
    capsys: pytest.CaptureFixture[str], fake: FakeRegistry, dest: Path, change: int
) -> None:
    def resize(fake: FakeRegistry, handler: Handler, method: str) -> bool:
        if not fake.is_blob(handler, fake.layer):
            return False
        data = fake.blobs[fake.layer]
        data = data + b"\0" * change if change > 0 else data[:change]
        fake.send(handler, 200, data)  # Content-Length matches what is sent: not to be trusted
        return True

    fake.misbehave = resize
    line = fails_cleanly(capsys, fake, dest)
    assert f"blob {fake.layer}" in line
    assert ("size mismatch" if change > 0 else "digest mismatch") in line


def test_a_manifest_of_1_gib_is_refused_unread(
    capsys: pytest.CaptureFixture[str], fake: FakeRegistry, dest: Path
) -> None:
    sent: list[int] = []

    def huge(fake: FakeRegistry, handler: Handler, method: str) -> bool:
        if "/manifests/" not in handler.path:
            return False
        handler.send_response(200)
        handler.send_header("Content-Type", fake.root["mediaType"])
        handler.send_header("Content-Length", str(1 << 30))
        handler.end_headers()
        try:
            for _ in range(1 << 10):  # as long as the client reads: 1 MiB at a time
                handler.wfile.write(b" " * (1 << 20))
                sent.append(1)
        except OSError:
            pass
        return True

    fake.misbehave = huge
    line = fails_cleanly(capsys, fake, dest)
    assert "1073741824 bytes is more than the 4 MiB a manifest may have" in line
    assert len(sent) < 64  # the client stopped reading long before the end


def test_a_manifest_without_length_is_cut_at_4_mib(
    capsys: pytest.CaptureFixture[str], fake: FakeRegistry, dest: Path
) -> None:
    def endless(fake: FakeRegistry, handler: Handler, method: str) -> bool:
        if "/manifests/" not in handler.path:
            return False
        handler.send_response(200)
        handler.send_header("Content-Type", fake.root["mediaType"])
        handler.send_header("Connection", "close")  # the body ends when the connection does
        handler.end_headers()
        try:
            for _ in range(64):
                handler.wfile.write(b" " * (1 << 20))
        except OSError:
            pass
        handler.close_connection = True
        return True

    fake.misbehave = endless
    line = fails_cleanly(capsys, fake, dest)
    assert "more than the 4 MiB a manifest may have" in line


def test_a_redirect_to_another_host_gets_no_credentials(
    capsys: pytest.CaptureFixture[str], fake: FakeRegistry, dest: Path, image: Path
) -> None:
    storage = FakeRegistry(image, "v1")  # another origin: only its blobs are used
    storage.misbehave = lambda fake, handler, method: (
        fake.send_blob(handler, fake.blobs[fake.layer]) or True
    )
    try:

        def redirect(fake: FakeRegistry, handler: Handler, method: str) -> bool:
            if not (fake.is_blob(handler, fake.layer) and fake.authorized(handler)):
                return False
            location = f"http://{storage.host}/storage/{fake.layer}?X-Signature=s3cr3t"
            fake.send(handler, 307, b"", {"Location": location})
            return True

        fake.misbehave = redirect
        succeeds(capsys, fake, dest)
    finally:
        storage.close()
    assert storage.requests, "the redirect was followed"
    for request in storage.requests:
        assert "Authorization" not in request.headers
    layer_requests = [r for r in fake.requests if fake.is_blob_path(r.path, fake.layer)]
    assert any("Authorization" in r.headers for r in layer_requests)


def test_a_401_loop_ends_in_one_line(
    capsys: pytest.CaptureFixture[str], fake: FakeRegistry, dest: Path
) -> None:
    def refuse(fake: FakeRegistry, handler: Handler, method: str) -> bool:
        if "/manifests/" not in handler.path:
            return False
        fake.send(
            handler,
            401,
            b'{"errors":[{"code":"UNAUTHORIZED","message":"no"}]}',
            {"WWW-Authenticate": 'Basic realm="fake"'},
        )
        return True

    fake.misbehave = refuse
    line = fails_cleanly(capsys, fake, dest)
    assert "authentication failed" in line
    assert "the credentials given on the command line" in line  # never their value


def test_429_then_success_is_retried(
    capsys: pytest.CaptureFixture[str], fake: FakeRegistry, dest: Path
) -> None:
    answered: list[int] = []

    def busy_once(fake: FakeRegistry, handler: Handler, method: str) -> bool:
        if "/manifests/" not in handler.path or answered:
            return False
        answered.append(429)
        fake.send(
            handler,
            429,
            b'{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}',
            {"Retry-After": "0"},
        )
        return True

    fake.misbehave = busy_once
    succeeds(capsys, fake, dest, "--retry-times=2", "--retry-delay=10ms")
    assert answered == [429]


def test_429_without_retries_is_one_line(
    capsys: pytest.CaptureFixture[str], fake: FakeRegistry, dest: Path
) -> None:
    def busy(fake: FakeRegistry, handler: Handler, method: str) -> bool:
        if "/manifests/" not in handler.path:
            return False
        fake.send(handler, 429, b'{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}')
        return True

    fake.misbehave = busy
    line = fails_cleanly(capsys, fake, dest, "--retry-times=1", "--retry-delay=10ms")
    assert "TOOMANYREQUESTS: slow down" in line


def test_a_stalled_transfer_times_out(
    capsys: pytest.CaptureFixture[str], fake: FakeRegistry, dest: Path
) -> None:
    def stall(fake: FakeRegistry, handler: Handler, method: str) -> bool:
        if not fake.is_blob(handler, fake.layer):
            return False
        data = fake.blobs[fake.layer]
        fake.send(handler, 200, data[: len(data) // 2], length=len(data))
        fake.stop.wait(30)
        return True

    fake.misbehave = stall
    line = fails_cleanly(capsys, fake, dest, "--timeout=300ms")
    assert f"blob {fake.layer}" in line
    assert "timed out" in line


def cut_after(fake: FakeRegistry, handler: Handler, data: bytes, count: int) -> None:
    """Send headers for *data* (from where a ``Range`` asks), *count* bytes, then hang up."""
    wanted = handler.headers.get("Range")
    start = int(wanted[len("bytes=") : -1]) if wanted else 0
    if wanted:
        headers = {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}
        fake.send(handler, 206, data[start : start + count], headers, length=len(data) - start)
    else:
        fake.send(handler, 200, data[:count], length=len(data))
    handler.close_connection = True
    handler.connection.shutdown(2)


def test_a_cut_transfer_is_resumed_with_range(
    capsys: pytest.CaptureFixture[str], fake: FakeRegistry, dest: Path
) -> None:
    cuts: list[int] = []

    def cut_once(fake: FakeRegistry, handler: Handler, method: str) -> bool:
        if not fake.is_blob(handler, fake.layer) or cuts or not fake.authorized(handler):
            return False
        cuts.append(1)
        cut_after(fake, handler, fake.blobs[fake.layer], 1000)
        return True

    fake.misbehave = cut_once
    succeeds(capsys, fake, dest)
    ranges = [
        r.headers.get("Range") for r in fake.requests if fake.is_blob_path(r.path, fake.layer)
    ]
    assert ranges[-1] == "bytes=1000-"


def test_a_transfer_cut_again_and_again_is_one_error(
    capsys: pytest.CaptureFixture[str], fake: FakeRegistry, dest: Path
) -> None:
    def always_cut(fake: FakeRegistry, handler: Handler, method: str) -> bool:
        if not fake.is_blob(handler, fake.layer) or not fake.authorized(handler):
            return False
        wanted = handler.headers.get("Range", "bytes=0-")
        start = int(wanted[len("bytes=") : -1])
        # Never a byte past 1000: a resume makes no progress.
        cut_after(fake, handler, fake.blobs[fake.layer], max(0, 1000 - start))
        return True

    fake.misbehave = always_cut
    line = fails_cleanly(capsys, fake, dest)
    assert f"blob {fake.layer}: the transfer failed after 1000 bytes" in line


def test_a_missing_tag_is_one_line(
    capsys: pytest.CaptureFixture[str], fake: FakeRegistry, dest: Path
) -> None:
    before = snapshot(dest)
    status, output = run(
        capsys, ["copy", *flags(), fake.name().replace(":v1", ":nope"), f"oci:{dest}:x"]
    )
    assert status == 1
    assert output.splitlines() == [output.strip()]
    assert "manifest nope: not found" in output
    assert snapshot(dest) == before


def test_plain_http_needs_tls_verify_false(
    capsys: pytest.CaptureFixture[str], fake: FakeRegistry, dest: Path
) -> None:
    before = snapshot(dest)
    argv = ["copy", f"--src-creds={USER}:{PASSWORD}", fake.name(), f"oci:{dest}:x"]
    status, output = run(capsys, argv)
    assert status == 1
    assert output.splitlines() == [output.strip()]
    assert "plain HTTP needs --tls-verify=false" in output
    assert fake.requests == []  # nothing but a TLS hello reached it
    assert snapshot(dest) == before


def test_a_connection_reset_is_retried(
    capsys: pytest.CaptureFixture[str], fake: FakeRegistry, dest: Path
) -> None:
    resets: list[str] = []

    def hang_up_once(fake: FakeRegistry, handler: Handler, method: str) -> bool:
        if "/manifests/" not in handler.path or resets:
            return False
        resets.append(handler.path)
        handler.close_connection = True
        handler.connection.shutdown(2)  # no answer at all
        return True

    fake.misbehave = hang_up_once
    succeeds(capsys, fake, dest, "--retry-times=1", "--retry-delay=10ms")
    assert len(resets) == 1

    # A registry that hangs up every time: one line, after the retries.
    def hang_up(fake: FakeRegistry, handler: Handler, method: str) -> bool:
        resets.clear()
        return hang_up_once(fake, handler, method)

    fake.misbehave = hang_up
    line = fails_cleanly(capsys, fake, dest, "--retry-times=2", "--retry-delay=10ms")
    assert "GET http://" in line
    assert "manifests/v1" in line


def test_a_progress_line_on_a_terminal(fake: FakeRegistry, dest: Path) -> None:
    from ptykit import under_pty

    output = under_pty(["copy", *flags(), fake.name(), f"oci:{dest}:new"])
    assert b"\r\x1b[Kcopy: 2 layers" in output  # the layers in parallel: one line for them
    assert output.endswith(b"\r\x1b[K"), "the line is cleared at the end"
    for secret in SECRETS:
        assert secret.encode() not in output
    assert entry(dest, "new")["digest"] == fake.root["digest"]
