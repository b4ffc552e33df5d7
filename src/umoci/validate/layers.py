"""Checking one layer's content as it streams: codec, diff_id, tar, and every entry.

Each entry is held to three kinds of rule:

* What ``umoci unpack`` refuses whatever the layers below left on disk:
  every refusal of :func:`umoci.layer.entryrules.refusals`, the very rules
  the extractor applies, is an error (``layer-whiteout`` for the rules on
  whiteout names, ``layer-entry`` for the others).
* What no well-formed layer has although unpack gets by: a name or a
  hardlink target that climbs above the root with ``..`` (unpack confines
  it, see :func:`~umoci.layer.entryrules.clean_path`) is a ``layer-path``
  error; a whiteout that is not an empty regular file (the image-spec's
  definition), or that names nothing a file can be called (``.wh..wh.x``:
  the spec reserves the prefix; a name over 255 bytes), a
  ``layer-whiteout`` error.
* What may make unpack fail depending on the layers below, as warnings: a
  hardlink whose target is not a non-directory written earlier in the
  same layer (unpack links whatever is at that path by then, and fails if
  it is missing or a directory; the image-spec says extraction "may
  fail") is ``layer-hardlink``.

Symlinks may point anywhere: a container resolves them inside its root
filesystem, an absolute target from its root, and so does umoci unpack.
Only a target that climbs above the root with ``..`` (``a/l -> ../../x``,
``/../x``) is a ``layer-symlink`` warning: inside the image it means the
same as without the extra ``..`` (``/..`` is ``/``), but a tool that
follows it on the host leaves the rootfs.  Absolute targets get no finding.

Per layer and check at most :data:`MAX_PER_CHECK` entries are reported
(then a count of the rest), and at most :data:`MAX_NAMES` names are kept
for the hardlink warnings, so memory stays bounded whatever the layer.
"""

from __future__ import annotations

import hashlib
import os
import posixpath

from umoci.compress import open_decompressor
from umoci.errors import UmociError
from umoci.layer import whiteout
from umoci.layer.entryrules import NAME_MAX, clean_path, climbs_out, refusals
from umoci.layer.tarstream import EntryKind, TarHeader, TarReader
from umoci.validate.findings import ERROR, WARNING, Report

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_CHUNK = 1 << 20
#: Findings of one check reported per layer before the rest are only counted.
MAX_PER_CHECK = 20
#: Entry names remembered per layer for the hardlink warnings (~100 bytes each).
MAX_NAMES = 1 << 19


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


class _EntryChecks:
    """The per-entry rules of one layer, with what they remember across entries."""

    def __init__(self, report: Report, where: str) -> None:
        self._report = report
        self._where = where
        self._counts: dict[tuple[str, str], int] = {}
        # hash(clean name) -> is a directory: what this layer wrote, for hardlinks.
        self._written: dict[int, bool] | None = {}

    def _add(self, level: str, check: str, message: str) -> None:
        key = (level, check)
        count = self._counts[key] = self._counts.get(key, 0) + 1
        if count <= MAX_PER_CHECK:
            self._report.add(level, check, self._where, message)

    def finish(self) -> None:
        """Report how many findings of each check were only counted."""
        for (level, check), count in self._counts.items():
            if count > MAX_PER_CHECK:
                more = count - MAX_PER_CHECK
                self._report.add(level, check, self._where, f"and {more} more entries like that")

    def entry(self, hdr: TarHeader) -> None:
        name = clean_path(hdr.name)
        base = name.rpartition("/")[2]
        is_whiteout = whiteout.is_whiteout(base)
        for refusal in refusals(hdr, name):
            check = "layer-whiteout" if refusal.whiteout else "layer-entry"
            self._add(ERROR, check, f"entry {hdr.name!r}: {refusal.reason}")
        if climbs_out(hdr.name):
            self._add(ERROR, "layer-path", f"entry {hdr.name!r} escapes the root filesystem")
        if is_whiteout:
            self._whiteout(hdr, base)
        elif hdr.kind is EntryKind.HARDLINK:
            self._hardlink(hdr)
        elif hdr.kind is EntryKind.SYMLINK:
            self._symlink(hdr, name)
        if name and not is_whiteout:
            self._remember(name, hdr)

    def _whiteout(self, hdr: TarHeader, base: str) -> None:
        if hdr.kind is not EntryKind.REG or hdr.size:
            self._add(
                ERROR, "layer-whiteout", f"whiteout {hdr.name!r} is not an empty regular file"
            )
        target = base[len(whiteout.PREFIX) :]
        # No file is called ".wh.*" (the image-spec reserves the prefix) or
        # has a name longer than the kernel allows.
        reserved = target.startswith(whiteout.PREFIX) and base != whiteout.OPAQUE
        if reserved or len(os.fsencode(target)) > NAME_MAX:
            self._add(ERROR, "layer-whiteout", f"whiteout {hdr.name!r} names nothing")

    def _hardlink(self, hdr: TarHeader) -> None:
        link = hdr.linkname
        if climbs_out(link):
            self._add(
                ERROR,
                "layer-path",
                f"hardlink {hdr.name!r} -> {link!r}: target escapes the root filesystem",
            )
            return
        target = clean_path(link)
        if not target or self._written is None:
            return  # the root: refused above; or too many names to tell
        is_dir = self._written.get(hash(target))
        if is_dir is None:
            self._add(
                WARNING,
                "layer-hardlink",
                f"hardlink {hdr.name!r} -> {link!r}: target is not in this layer "
                "(unpack needs it from the layers below)",
            )
        elif is_dir:
            self._add(
                WARNING,
                "layer-hardlink",
                f"hardlink {hdr.name!r} -> {link!r}: target is a directory in this layer",
            )

    def _symlink(self, hdr: TarHeader, name: str) -> None:
        if climbs_out(posixpath.join(name.rpartition("/")[0], hdr.linkname)):
            self._add(
                WARNING,
                "layer-symlink",
                f"symlink {hdr.name!r} -> {hdr.linkname!r} climbs above the root "
                "(it resolves inside the image, /.. being /, but not on the host)",
            )

    def _remember(self, name: str, hdr: TarHeader) -> None:
        written = self._written
        if written is None:
            return
        if len(written) >= MAX_NAMES:
            self._written = None  # stop judging hardlinks rather than guess
            return
        written[hash(name)] = hdr.kind is EntryKind.DIR


def check_layer_stream(
    report: Report, raw: Any, media_type: str, diff_id: str | None, where: str
) -> None:
    """Check one layer blob read from *raw*; *media_type* has a codec (the caller checked)."""
    stream = _Decompressed(open_decompressor(media_type, raw))
    checks = _EntryChecks(report, where)
    try:
        reader = TarReader(stream)
        while (hdr := reader.next()) is not None:
            checks.entry(hdr)
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
    finally:
        checks.finish()
    if diff_id is not None and f"sha256:{stream.hash.hexdigest()}" != diff_id:
        report.error(
            "layer-diff-id",
            where,
            f"uncompressed content hashes to sha256:{stream.hash.hexdigest()}, "
            f"config says {diff_id}",
        )
