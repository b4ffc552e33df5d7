"""Checking one layer's content as it streams: codec, diff_id, tar, paths, whiteouts."""

from __future__ import annotations

import hashlib

from umoci.compress import codec_for_media_type, open_decompressor
from umoci.errors import UmociError
from umoci.layer.tarstream import EntryKind, TarReader
from umoci.layer.whiteout import OPAQUE, PREFIX
from umoci.validate.findings import Report

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_CHUNK = 1 << 20


class _CodecFailed(Exception):
    """The decompressor refused the stream (as opposed to the tar reader)."""


class _Decompressed:
    """The uncompressed stream, hashed for the diff_id; codec errors marked as such."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.hash = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        try:
            data: bytes = self._stream.read(n if n >= 0 else _CHUNK)
        except UmociError as err:
            raise _CodecFailed(str(err)) from None
        except Exception as err:  # zlib/zstd/isal errors are not ours to name
            raise _CodecFailed(f"{type(err).__name__}: {err}") from None
        self.hash.update(data)
        return data


def _escapes(name: str) -> bool:
    """Does *name* climb above the root (``..`` beyond the top)?"""
    depth = 0
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        else:
            depth += 1
    return False


def check_layer_stream(
    report: Report, raw: Any, media_type: str, diff_id: str | None, where: str
) -> None:
    try:
        codec_for_media_type(media_type)
    except UmociError:
        report.error("layer-codec", where, f"no codec for layer media type {media_type!r}")
        return
    stream = _Decompressed(open_decompressor(media_type, raw))
    try:
        reader = TarReader(stream)
        while (hdr := reader.next()) is not None:
            name = hdr.name
            if _escapes(name):
                report.error("layer-path", where, f"entry {name!r} escapes the root filesystem")
            base = name.rstrip("/").rpartition("/")[2]
            if base.startswith(PREFIX):
                if hdr.kind is not EntryKind.REG or hdr.size:
                    report.error(
                        "layer-whiteout", where, f"whiteout {name!r} is not an empty regular file"
                    )
                elif base == PREFIX or (base.startswith(PREFIX + PREFIX) and base != OPAQUE):
                    report.error("layer-whiteout", where, f"whiteout {name!r} names nothing")
            for _ in reader.chunks():
                pass
        while stream.read(_CHUNK):
            pass
    except _CodecFailed as err:
        report.error("layer-codec", where, f"{media_type}: {err}")
        return
    except UmociError as err:
        report.error("layer-tar", where, str(err))
        return
    if diff_id is not None and f"sha256:{stream.hash.hexdigest()}" != diff_id:
        report.error(
            "layer-diff-id",
            where,
            f"uncompressed content hashes to sha256:{stream.hash.hexdigest()}, "
            f"config says {diff_id}",
        )
