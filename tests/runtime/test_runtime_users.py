"""Config.User resolution against passwd/group, matching the Go resolver's answers.

The expected values in the table were produced by the Go umoci (Debian
0.4.7, same resolver as 0.6) with ``umoci raw runtime-config --rootfs``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import BinaryIO

import pytest

from umoci.errors import BlobInvalidError
from umoci.runtime.users import (
    MAX_FILE_BYTES,
    ExecUser,
    atoi,
    parse_group,
    parse_passwd,
    resolve_user,
)

PASSWD = (
    b"root:x:0:0:root:/root:/bin/sh\n"
    b"alice:x:1000:1000::/home/alice:/bin/sh\n"
    b"bob:x:1001:100\n"
    b"  carol:x:abc:12:x:/c\n"
    b"#dave:x:5:5::/d:\n"
    b":x:7:7::/anon:\n"
    b"x:y\n"
    b"neg:x:-3:-4::/neg:\n"
    b"big:x:99999999999999999999:5::/big:\n"
)
GROUP = (
    b"root:x:0:\n"
    b"alice:x:1000:\n"
    b"wheel:x:10:alice,root\n"
    b" # c:x:11:alice\n"
    b"\n"
    b"users:x:100:bob,alice\n"
    b"bad:x:zz:alice\n"
    b"short:x\n"
)


def _opener(data: bytes | None) -> Callable[[], BinaryIO | None]:
    return lambda: None if data is None else io.BytesIO(data)


def resolve(spec: str, passwd: bytes | None = PASSWD, group: bytes | None = GROUP) -> ExecUser:
    return resolve_user(spec, _opener(passwd), _opener(group))


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        # Empty user: the passwd entry with uid 0 still sets home and groups.
        ("", ExecUser(0, 0, (10,), "/root")),
        ("root", ExecUser(0, 0, (10,), "/root")),
        ("alice", ExecUser(1000, 1000, (10, 100, 0), "/home/alice")),
        ("1000", ExecUser(1000, 1000, (10, 100, 0), "/home/alice")),
        ("+1000", ExecUser(1000, 1000, (10, 100, 0), "/home/alice")),
        ("bob", ExecUser(1001, 100, (100,), "")),
        ("carol", ExecUser(0, 12, (), "/c")),  # leading space trimmed; bad uid reads as 0
        ("#dave", ExecUser(5, 5, (), "/d")),  # passwd has no comments
        ("7", ExecUser(7, 7, (), "/anon")),  # empty name: no group lookup
        ("4242", ExecUser(4242, 0, (), "")),
        ("4242:4343", ExecUser(4242, 4343, (), "")),
        ("alice:wheel", ExecUser(1000, 10, (), "/home/alice")),
        ("alice:users", ExecUser(1000, 100, (), "/home/alice")),
        ("1000:10", ExecUser(1000, 10, (), "/home/alice")),
        (":10", ExecUser(0, 10, (), "/root")),
        (":wheel", ExecUser(0, 10, (), "/root")),
        ("alice:", ExecUser(1000, 1000, (10, 100, 0), "/home/alice")),
        ("alice:wheel:x", ExecUser(1000, 10, (), "/home/alice")),
        ("-3", ExecUser(-3, -4, (), "/neg")),
        ("neg", ExecUser(-3, -4, (), "/neg")),
        ("big", ExecUser(2**63 - 1, 5, (), "/big")),
        ("007", ExecUser(7, 7, (), "/anon")),
        ("2147483647", ExecUser(2147483647, 0, (), "")),
    ],
)
def test_resolve(spec: str, expected: ExecUser) -> None:
    assert resolve(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nobody", "unable to find user nobody: no matching entries in passwd file"),
        ("short", "unable to find user short: no matching entries in passwd file"),
        (" alice", "unable to find user  alice: no matching entries in passwd file"),
        ("alice:nogroup", "unable to find group nogroup: no matching entries in group file"),
        (":nope", "unable to find group nope: no matching entries in group file"),
        ("-1", "uids and gids must be in range 0-2147483647"),
        ("2147483648", "uids and gids must be in range 0-2147483647"),
        ("1000:-5", "uids and gids must be in range 0-2147483647"),
        ("1000:2147483648", "uids and gids must be in range 0-2147483647"),
        # Atoi overflows, so it is a name, and no such user exists.
        (
            "99999999999999999999",
            "unable to find user 99999999999999999999: no matching entries in passwd file",
        ),
    ],
)
def test_resolve_errors(spec: str, message: str) -> None:
    with pytest.raises(BlobInvalidError) as info:
        resolve(spec)
    assert str(info.value) == message


def test_missing_files_allow_numeric_only() -> None:
    assert resolve("", None, None) == ExecUser()
    assert resolve("1000:1000", None, None) == ExecUser(1000, 1000)
    with pytest.raises(BlobInvalidError, match="unable to find user alice"):
        resolve("alice", None, None)
    with pytest.raises(BlobInvalidError, match="unable to find group wheel"):
        resolve("1000:wheel", None, None)
    # passwd without group: no supplementary groups, explicit group names fail.
    assert resolve("alice", PASSWD, None) == ExecUser(1000, 1000, (), "/home/alice")
    with pytest.raises(BlobInvalidError, match="unable to find group wheel"):
        resolve("alice:wheel", PASSWD, None)


def test_first_match_wins() -> None:
    passwd = b"a:x:1:1::/first:\na:x:2:2::/second:\n"
    group = b"g:x:5:\ng:x:6:\n"
    assert resolve("a:g", passwd, group) == ExecUser(1, 5, (), "/first")


def test_crlf_and_unicode_space_trimmed() -> None:
    passwd = "a:x:1:1::/h:\r\n\u00a0b:x:2:2::/hb:\u3000\n".encode()
    assert resolve("a", passwd, b"") == ExecUser(1, 1, (), "/h")
    assert resolve("b", passwd, b"").home == "/hb"


def test_invalid_utf8_is_not_trimmed_or_fatal() -> None:
    passwd = b"\xffa:x:1:1::/h\xfe:\n"
    with pytest.raises(BlobInvalidError):
        resolve("a", passwd, b"")
    assert resolve("1", passwd, b"").home == "/h\ufffd"


def test_passwd_line_too_long_is_go_scanner_error() -> None:
    ok = b"a:x:1:1::/" + b"h" * (65535 - 10) + b"\n"
    assert len(ok) == 65536
    assert resolve("a", ok, b"").uid == 1
    too_long = b"a:x:1:1::/" + b"h" * (65536 - 10) + b"\n"
    with pytest.raises(BlobInvalidError) as info:
        resolve("a", too_long, b"")
    assert str(info.value) == "unable to find user a: bufio.Scanner: token too long"
    # The error stands even after a match, and for the implicit user.
    with pytest.raises(BlobInvalidError, match="unable to find user 0: bufio"):
        resolve("", b"root:x:0:0::/:\n" + too_long, b"")


def test_group_lines_have_no_scanner_limit() -> None:
    members = b",".join(b"u%d" % i for i in range(20000)) + b",alice"
    group = b"big:x:77:" + members + b"\n"
    assert len(group) > 65536
    assert resolve("alice", PASSWD, group).sgids == (77,)


def test_file_size_is_capped() -> None:
    class Endless(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            buffer[:] = b"\n" * len(buffer)
            return len(buffer)

    with pytest.raises(BlobInvalidError, match=f"exceeds {MAX_FILE_BYTES} bytes"):
        resolve_user("x", lambda: io.BufferedReader(Endless()), _opener(b""))
    with pytest.raises(BlobInvalidError, match="unable to find groups for spec alice: read"):
        resolve_user("alice", _opener(PASSWD), lambda: io.BufferedReader(Endless()))


def test_endless_line_is_not_buffered() -> None:
    class EndlessLine(io.RawIOBase):
        total = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            buffer[:] = b"a" * len(buffer)
            EndlessLine.total += len(buffer)
            return len(buffer)

    with pytest.raises(BlobInvalidError, match="token too long"):
        resolve_user("x", lambda: io.BufferedReader(EndlessLine()), _opener(b""))
    assert EndlessLine.total < 1 << 20


def test_parsers_are_lenient() -> None:
    users = list(parse_passwd(io.BytesIO(b"a\n\n   \nb:x:1\nc:x:1:2:g:/h:/s:extra:more\n")))
    assert [(u.name, u.uid, u.gid, u.home) for u in users] == [
        (b"a", 0, 0, b""),
        (b"b", 0 + 1, 0, b""),
        (b"c", 1, 2, b"/h"),
    ]
    groups = list(parse_group(io.BytesIO(b"#x:x:1:a\ng\ng2:x:3:a,,b\ng3:x::\n")))
    assert [(g.name, g.gid, g.members) for g in groups] == [
        (b"g", 0, ()),
        (b"g2", 3, (b"a", b"", b"b")),
        (b"g3", 0, ()),
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (b"0", 0),
        (b"+5", 5),
        (b"-5", -5),
        (b"007", 7),
        (b"9223372036854775807", 2**63 - 1),
        (b"9223372036854775808", None),
        (b"", None),
        (b"+", None),
        (b" 1", None),
        (b"1_000", None),
        (b"0x10", None),
        ("١".encode(), None),
    ],
)
def test_atoi(text: bytes, value: int | None) -> None:
    assert atoi(text) == value
