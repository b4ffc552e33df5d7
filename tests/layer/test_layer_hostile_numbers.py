"""Tar headers with numbers no file can have: one-line LayerErrors naming the entry, never a hang.

Headers are written byte by byte here (Python's tarfile will not write
most of these), with a correct checksum so that only the field is wrong.
"""

from __future__ import annotations

import io
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from layerkit import env_fixture  # noqa: F401 (fixture)

from umoci.errors import LayerError
from umoci.layer.extract import ExtractOptions, LayerExtractor
from umoci.layer.tarstream import TarReader

BLOCK = 512


def base256(value: int, width: int) -> bytes:
    """GNU base-256: two's complement, top bit of the first byte set."""
    raw = (value % (1 << (width * 8))).to_bytes(width, "big")
    return bytes([raw[0] | 0x80]) + raw[1:]


def octal(value: int, width: int) -> bytes:
    return f"{value:0{width - 1}o}".encode() + b"\0"


def header(
    name: bytes = b"f",
    *,
    typeflag: bytes = b"0",
    size: bytes | None = None,
    uid: bytes | None = None,
    gid: bytes | None = None,
    mtime: bytes | None = None,
    devmajor: bytes | None = None,
    devminor: bytes | None = None,
) -> bytes:
    block = bytearray(BLOCK)
    block[0 : len(name)] = name
    fields = (
        (100, 8, octal(0o644, 8)),
        (108, 8, uid or octal(0, 8)),
        (116, 8, gid or octal(0, 8)),
        (124, 12, size or octal(0, 12)),
        (136, 12, mtime or octal(0, 12)),
        (329, 8, devmajor or octal(0, 8)),
        (337, 8, devminor or octal(0, 8)),
    )
    for offset, width, raw in fields:
        assert len(raw) == width
        block[offset : offset + width] = raw
    block[156:157] = typeflag
    block[257:265] = b"ustar\x0000"
    block[148:156] = b" " * 8
    block[148:156] = f"{sum(block):06o}\0 ".encode()
    return bytes(block)


def pax(records: dict[bytes, bytes]) -> bytes:
    body = b""
    for key, value in records.items():
        record = b" " + key + b"=" + value + b"\n"
        length = len(record) + 1
        while len(str(length).encode()) + len(record) != length:
            length += 1
        body += str(length).encode() + record
    padded = body + bytes(-len(body) % BLOCK)
    return header(b"PaxHeaders/f", typeflag=b"x", size=octal(len(body), 12)) + padded


END = bytes(2 * BLOCK)


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging the suite) if the block runs longer than *seconds*."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s: the reader hangs")

    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def read_all(data: bytes) -> None:
    reader = TarReader(io.BytesIO(data))
    while reader.next() is not None:
        pass


@pytest.mark.parametrize(
    "size",
    [
        base256(-512, 12),
        base256(-1, 12),
        b"-0000001000\0",
        b"+0000001000\0",
        b"0o000001000\0",
        b"0000_001000\0",
        b"00000010009\0",
    ],
    ids=["base256-minus-512", "base256-minus-1", "minus", "plus", "0o", "underscore", "digit-9"],
)
def test_bad_sizes_are_corrupt_headers_not_hangs(size: bytes) -> None:
    with deadline(5), pytest.raises(LayerError, match="corrupt header"):
        read_all(header(size=size) + END)


@pytest.mark.parametrize("field", ["uid", "gid", "mtime", "checksum-like"])
def test_octal_fields_are_digits_only(field: str) -> None:
    raw = {"uid": b"-000001\0", "gid": b"0o00001\0", "mtime": b"+0000000001\0"}.get(field)
    data = header(**{field: raw}) if raw is not None else bytearray(header())
    if raw is None:  # a checksum field with a sign is corrupt too
        data = bytearray(data)
        data[148:156] = b"-" + data[149:156]
    with pytest.raises(LayerError, match="corrupt header"):
        read_all(bytes(data) + END)


def entry_cases() -> list[tuple[str, bytes, str]]:
    chr_flag = b"3"
    return [
        ("uid-2^32", header(uid=base256(1 << 32, 8)), "uid/gid 4294967296/0 out of range"),
        ("uid-minus-1", header(uid=base256(-1, 8)), "uid/gid -1/0 out of range"),
        ("gid-negative", header(gid=base256(-7, 8)), "uid/gid 0/-7 out of range"),
        ("uid-all-ones", header(uid=base256((1 << 32) - 1, 8)), "uid/gid 4294967295/0"),
        ("pax-uid", pax({b"uid": b"4294967296"}) + header(), "uid/gid 4294967296/0 out of range"),
        ("pax-gid", pax({b"gid": b"99999999999999999999"}) + header(), "out of range"),
        ("mtime-huge", header(mtime=base256(1 << 70, 12)), "s out of range"),
        ("mtime-very-negative", header(mtime=base256(-(1 << 62), 12)), "s out of range"),
        ("pax-mtime", pax({b"mtime": b"99999999999999999999.5"}) + header(), "s out of range"),
        (
            "devmajor-2^31",
            header(b"dev", typeflag=chr_flag, devmajor=base256(1 << 31, 8)),
            "device 2147483648:0 out of range",
        ),
        (
            "devminor-negative",
            header(b"dev", typeflag=chr_flag, devminor=base256(-1, 8)),
            "device 0:-1 out of range",
        ),
    ]


CASES = entry_cases()


@pytest.mark.parametrize("rootless", [False, True], ids=["root", "rootless"])
@pytest.mark.parametrize(("data", "why"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_impossible_numbers_are_layer_errors_naming_the_entry(
    env: object, data: bytes, why: str, rootless: bool
) -> None:
    extractor = LayerExtractor(env.rootfs, ExtractOptions(rootless=rootless))  # type: ignore[attr-defined]
    with pytest.raises(LayerError) as caught:
        extractor.apply(io.BytesIO(data + END))
    message = str(caught.value)
    assert message.startswith("unpack entry "), message
    assert why in message
    assert "\n" not in message


def test_negative_mtimes_before_1970_are_fine(env: object) -> None:
    data = header(mtime=base256(-86400, 12)) + END
    extractor = LayerExtractor(env.rootfs, ExtractOptions(rootless=True))  # type: ignore[attr-defined]
    assert extractor.apply(io.BytesIO(data)) == 1
    assert (env.rootfs / "f").stat().st_mtime == -86400  # type: ignore[attr-defined]
