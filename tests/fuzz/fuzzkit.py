"""Shared pieces of the fuzz targets: budgets, the "parses or refuses" rule, seed inputs.

The default budget is a short run (the default test tier, seconds per
target); ``UMOCI_FUZZ_EXAMPLES=N`` raises the examples per target for the
long run (``scripts/fuzz``).  Every example has a deadline, so a hang or a
quadratic blow-up fails the target instead of stalling it.
"""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, settings

from umoci.errors import UmociError

EXAMPLES = int(os.environ.get("UMOCI_FUZZ_EXAMPLES", "150"))

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,  # no state outside the repository between runs
    derandomize=EXAMPLES <= 150,  # the default tier is the same run every time
)


def parses_or_refuses(parse: Callable[..., Any], *args: Any) -> None:
    """Run *parse*; an UmociError is a refusal (fine), any other exception a bug."""
    with contextlib.suppress(UmociError):
        parse(*args)


def _tar(entries: list[tuple[tarfile.TarInfo, bytes]], fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def _info(name: str, kind: bytes, **attrs: Any) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in attrs.items():
        setattr(info, key, value)
    return info


def seed_tars() -> list[bytes]:
    """Small valid archives of every kind the reader knows, to mutate."""
    long = "d/" + "n" * 150
    entries = [
        (_info("d", tarfile.DIRTYPE, mode=0o755), b""),
        (_info("d/f", tarfile.REGTYPE, size=5, uid=1000, mtime=1_600_000_000), b"hello"),
        (_info("d/l", tarfile.SYMTYPE, linkname="f"), b""),
        (_info("d/h", tarfile.LNKTYPE, linkname="d/f"), b""),
        (_info("d/.wh.gone", tarfile.REGTYPE, size=0), b""),
        (_info("d/.wh..wh..opq", tarfile.REGTYPE, size=0), b""),
        (_info("c", tarfile.CHRTYPE, devmajor=1, devminor=3), b""),
        (_info("p", tarfile.FIFOTYPE), b""),
        (_info(long, tarfile.REGTYPE, size=3), b"abc"),
    ]
    pax_entry = _info("x", tarfile.REGTYPE, size=2)
    pax_entry.pax_headers = {"SCHILY.xattr.user.a": "v", "mtime": "1.5", "uid": "70000"}
    return [
        _tar(entries, tarfile.PAX_FORMAT),
        _tar(entries, tarfile.GNU_FORMAT),
        _tar([*entries[:4]], tarfile.USTAR_FORMAT),
        _tar([(pax_entry, b"hi")], tarfile.PAX_FORMAT),
    ]


def fix_checksums(data: bytearray) -> bytearray:
    """Recompute the checksum of every block that looks like a ustar header.

    Mutations would otherwise almost always die at the checksum; fixing it
    lets them reach the field parsers behind it.
    """
    for start in range(0, len(data) - 511, 512):
        block = data[start : start + 512]
        if block[257:262] != b"ustar":
            continue
        block[148:156] = b" " * 8
        data[start + 148 : start + 156] = f"{sum(block):06o}\0 ".encode()
    return data
