"""Helpers and fixtures for layer tests: tar layers built on the fly, a rootfs with a sentinel.

Not a conftest.py on purpose: other test packages do ``from conftest import
...``, which a second conftest module would shadow.  Test modules import
the fixtures they use from here (``from layerkit import env_fixture``).
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from umoci.layer.extract import ExtractOptions, LayerExtractor


@dataclass
class Entry:
    """One tar entry to build: a TarInfo plus its data (regular files only)."""

    info: tarfile.TarInfo
    data: bytes | None = None


def _info(name: str, kind: bytes, **attrs: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mtime = 1_600_000_000
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    for key, value in attrs.items():
        setattr(info, key, value)
    return info


class T:
    """Entry constructors (``T.reg("a", b"data", mode=0o600)`` ...)."""

    @staticmethod
    def reg(name: str, data: bytes = b"", **attrs: object) -> Entry:
        info = _info(name, tarfile.REGTYPE, **attrs)
        info.size = len(data)
        return Entry(info, data)

    @staticmethod
    def dir(name: str, **attrs: object) -> Entry:
        return Entry(_info(name, tarfile.DIRTYPE, **attrs))

    @staticmethod
    def sym(name: str, target: str, **attrs: object) -> Entry:
        return Entry(_info(name, tarfile.SYMTYPE, linkname=target, mode=0o777, **attrs))

    @staticmethod
    def hard(name: str, target: str, **attrs: object) -> Entry:
        return Entry(_info(name, tarfile.LNKTYPE, linkname=target, **attrs))

    @staticmethod
    def chr(name: str, major: int, minor: int, **attrs: object) -> Entry:
        return Entry(_info(name, tarfile.CHRTYPE, devmajor=major, devminor=minor, **attrs))

    @staticmethod
    def blk(name: str, major: int, minor: int, **attrs: object) -> Entry:
        return Entry(_info(name, tarfile.BLKTYPE, devmajor=major, devminor=minor, **attrs))

    @staticmethod
    def fifo(name: str, **attrs: object) -> Entry:
        return Entry(_info(name, tarfile.FIFOTYPE, **attrs))

    @staticmethod
    def wh(name: str) -> Entry:
        return T.reg(name)


def build_tar(entries: Iterable[Entry], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for e in entries:
            tf.addfile(e.info, io.BytesIO(e.data) if e.data is not None else None)
    return buf.getvalue()


@pytest.fixture(name="t")
def t_fixture() -> type[T]:
    return T


@pytest.fixture(name="build")
def build_fixture() -> Callable[..., bytes]:
    """``build(entries, fmt=...)``: the bytes of a tar archive."""
    return build_tar


@dataclass
class Env:
    """A rootfs with a sentinel tree next to it, and a way to apply layers."""

    base: Path
    rootfs: Path
    outside: Path

    def apply(
        self,
        entries: Iterable[Entry],
        options: ExtractOptions | None = None,
        fmt: int = tarfile.PAX_FORMAT,
    ) -> int:
        return LayerExtractor(self.rootfs, options).apply(io.BytesIO(build_tar(entries, fmt)))

    def apply_layers(
        self, layers: Iterable[Iterable[Entry]], options: ExtractOptions | None = None
    ) -> None:
        extractor = LayerExtractor(self.rootfs, options)
        for layer in layers:
            extractor.apply(io.BytesIO(build_tar(layer)))

    def snapshot_outside(self) -> dict[str, tuple[int, int, int, str]]:
        """Everything outside the rootfs: (mode, size, mtime, content hash or link)."""
        out: dict[str, tuple[int, int, int, str]] = {}
        for dirpath, dirnames, filenames in os.walk(self.base):
            if Path(dirpath) == self.base:
                dirnames[:] = [d for d in dirnames if d != "rootfs"]
            for name in [*dirnames, *filenames, "."]:
                p = Path(dirpath, name)
                st = p.lstat()
                if p.is_symlink():
                    detail = os.readlink(p)
                elif p.is_file():
                    detail = hashlib.sha256(p.read_bytes()).hexdigest()
                else:
                    detail = ""
                out[str(p.relative_to(self.base))] = (
                    st.st_mode,
                    st.st_size,
                    st.st_mtime_ns,
                    detail,
                )
        return out


@pytest.fixture(name="env")
def env_fixture(tmp_path: Path) -> Env:
    base = tmp_path / "base"
    rootfs = base / "rootfs"
    outside = base / "outside"
    rootfs.mkdir(parents=True)
    outside.mkdir()
    (outside / "file").write_bytes(b"host content")
    (outside / "sub").mkdir()
    (outside / "sub" / "deep").write_bytes(b"deep host content")
    (base / "file").write_bytes(b"host file next to rootfs")
    (base / "etc").mkdir()
    (base / "etc" / "passwd").write_bytes(b"host passwd")
    return Env(base, rootfs, outside)
