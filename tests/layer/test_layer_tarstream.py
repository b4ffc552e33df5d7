"""The streaming tar parser against Python's tarfile and GNU tar output."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile

import pytest

from umoci.errors import LayerError
from umoci.layer.tarstream import EntryKind, TarReader


def parse(data: bytes, chunk_size: int = 1 << 20):
    reader = TarReader(io.BytesIO(data), chunk_size=chunk_size)
    out = []
    while (hdr := reader.next()) is not None:
        out.append((hdr, b"".join(bytes(c) for c in reader.chunks())))
    return out, reader.drain()


def sample(fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        long = "dir/" + "n" * 120 if fmt != tarfile.USTAR_FORMAT else "p" * 90 + "/" + "n" * 90
        for name, kind, extra in [
            (long, tarfile.REGTYPE, {"size": 3, "uid": 1000, "gid": 100, "mode": 0o4755}),
            ("d", tarfile.DIRTYPE, {"mode": 0o1777}),
            ("l", tarfile.SYMTYPE, {"linkname": "target"}),
            ("h", tarfile.LNKTYPE, {"linkname": long if fmt != tarfile.USTAR_FORMAT else "l"}),
            ("c", tarfile.CHRTYPE, {"devmajor": 4, "devminor": 64}),
            ("b", tarfile.BLKTYPE, {"devmajor": 8, "devminor": 1}),
            ("f", tarfile.FIFOTYPE, {}),
            ("empty", tarfile.REGTYPE, {}),
        ]:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.mtime = 1234567890
            info.uname, info.gname = "user", "group"
            for k, v in extra.items():
                setattr(info, k, v)
            tf.addfile(info, io.BytesIO(b"abc") if info.size else None)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
@pytest.mark.parametrize("chunk_size", [1, 7, 512, 1 << 20])
def test_matches_tarfile(fmt, chunk_size):
    data = sample(fmt)
    ours, _ = parse(data, chunk_size)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tf:
        theirs = list(tf)
    assert len(ours) == len(theirs)
    kinds = {
        tarfile.REGTYPE: EntryKind.REG,
        tarfile.DIRTYPE: EntryKind.DIR,
        tarfile.SYMTYPE: EntryKind.SYMLINK,
        tarfile.LNKTYPE: EntryKind.HARDLINK,
        tarfile.CHRTYPE: EntryKind.CHAR,
        tarfile.BLKTYPE: EntryKind.BLOCK,
        tarfile.FIFOTYPE: EntryKind.FIFO,
    }
    for (hdr, body), ti in zip(ours, theirs, strict=True):
        assert hdr.name.rstrip("/") == ti.name  # we keep names as archived
        assert hdr.kind is kinds[ti.type]
        assert hdr.mode == ti.mode
        assert (hdr.uid, hdr.gid, hdr.uname, hdr.gname) == (ti.uid, ti.gid, ti.uname, ti.gname)
        assert hdr.mtime_ns == ti.mtime * 10**9
        assert hdr.linkname == ti.linkname
        assert (hdr.devmajor, hdr.devminor) == (ti.devmajor, ti.devminor)
        assert body == (b"abc" if ti.size else b"")


def test_pax_extensions():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("x")
        info.size = 2
        info.uid = 2**40
        info.pax_headers = {
            "mtime": "1577934245.123456789",
            "atime": "-1.5",
            "SCHILY.xattr.user.a": "text",
            "SCHILY.xattr.security.capability": b"\x01\x00\x00\x02\xff".decode(
                "utf-8", "surrogateescape"
            ),
            "path": "ünï/" + "x" * 300,
        }
        tf.addfile(info, io.BytesIO(b"hi"))
    ((hdr, body),) = parse(buf.getvalue())[0]
    assert hdr.name == "ünï/" + "x" * 300
    assert hdr.uid == 2**40
    assert hdr.mtime_ns == 1577934245_123456789
    assert hdr.atime_ns == -1_500_000_000
    assert hdr.xattrs == {"user.a": b"text", "security.capability": b"\x01\x00\x00\x02\xff"}
    assert body == b"hi"


def test_global_pax_header_applies_to_later_entries():
    buf = io.BytesIO()
    with tarfile.open(
        fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, pax_headers={"mtime": "5.25"}
    ) as tf:
        for name in ("a", "b"):
            tf.addfile(tarfile.TarInfo(name), io.BytesIO())
    entries, _ = parse(buf.getvalue())
    assert [h.mtime_ns for h, _ in entries] == [5_250_000_000, 5_250_000_000]


def test_v7_directory_and_base256():
    # A V7 header: typeflag NUL and a trailing slash mean a directory.
    block = bytearray(512)
    block[0:4] = b"old/"
    block[100:108] = b"0000755\0"
    # GNU base-256 uid (marker bit set).
    block[108:116] = bytes([0x80, 0, 0, 0, 0, 0x01, 0x00, 0x00])
    block[116:124] = b"0000000\0"
    block[124:136] = b"00000000000\0"
    block[136:148] = b"00000000001\0"
    block[148:156] = b" " * 8
    block[156] = 0
    block[148:156] = f"{sum(block):06o}\0 ".encode()
    ((hdr, _),) = parse(bytes(block) + bytes(1024))[0]
    assert hdr.kind is EntryKind.DIR
    assert hdr.uid == 65536
    assert hdr.mtime_ns == 10**9


def test_trailing_data_is_drained():
    data = sample(tarfile.PAX_FORMAT)
    _, trailing = parse(data + b"junk")
    assert trailing >= 1024 + 4


@pytest.mark.parametrize("cut", [100, 700, 1030])
def test_truncation_raises(cut):
    data = sample(tarfile.PAX_FORMAT)
    with pytest.raises(LayerError):
        parse(data[:cut])


def test_huge_extension_header_refused():
    block = bytearray(512)
    block[0:5] = b"@Long"
    block[100:108] = b"0000644\0"
    block[124:136] = b"%011o\0" % (64 << 20)
    block[156:157] = b"L"
    block[148:156] = b" " * 8
    block[148:156] = f"{sum(block):06o}\0 ".encode()
    with pytest.raises(LayerError, match="too large"):
        parse(bytes(block))


def test_corrupt_pax_record():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("x")
        info.pax_headers = {"comment": "hello"}
        tf.addfile(info)
    data = bytearray(buf.getvalue())
    i = data.index(b" comment=")
    data[i - 2 : i] = b"99"  # record length now runs past the header
    # Keep the header checksum valid: only the payload changed.
    with pytest.raises(LayerError, match="PAX"):
        parse(bytes(data))


def test_sparse_refused():
    block = bytearray(512)
    block[0:6] = b"sparse"
    block[100:108] = b"0000644\0"
    block[124:136] = b"00000000000\0"
    block[156:157] = b"S"
    block[257:265] = b"ustar  \0"
    block[148:156] = b" " * 8
    block[148:156] = f"{sum(block):06o}\0 ".encode()
    with pytest.raises(LayerError, match="sparse"):
        parse(bytes(block) + bytes(1024))


@pytest.mark.skipif(not shutil.which("tar"), reason="needs GNU tar")
def test_gnu_tar_archive(tmp_path):
    src = tmp_path / "src"
    (src / ("long" * 40)).mkdir(parents=True)
    (src / ("long" * 40) / "file").write_bytes(b"content")
    os.symlink("x" * 150, src / "link")
    os.link(src / ("long" * 40) / "file", src / "hard")
    for fmt in ("gnu", "posix", "ustar", "oldgnu"):
        if fmt == "ustar":
            continue  # ustar cannot hold these names
        out = subprocess.run(
            ["tar", f"--format={fmt}", "-C", str(src), "-cf", "-", "."],
            check=True,
            capture_output=True,
        ).stdout
        entries, _ = parse(out)
        names = {h.name: (h, body) for h, body in entries}
        assert names[f"./{'long' * 40}/file"][1] == b"content"
        assert names["./link"][0].linkname == "x" * 150
        hard = [h for h, _ in entries if h.kind is EntryKind.HARDLINK]
        assert len(hard) == 1


def test_missing_padding_and_trailer_after_last_file_is_end_of_archive() -> None:
    # The Go umoci 0.4.7's insert stops right after the last file's data.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("f")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    raw = buf.getvalue()
    truncated = raw[: 512 + 3]  # header + data, no padding, no trailer
    reader = TarReader(io.BytesIO(truncated))
    hdr = reader.next()
    assert hdr is not None
    assert b"".join(bytes(c) for c in reader.chunks()) == b"abc"
    assert reader.next() is None
    # A padding cut short after complete data ends the archive too (the Go
    # umoci 0.6 unpacks such a layer: checked against it by hand).
    reader = TarReader(io.BytesIO(raw[: 512 + 3 + 100]))
    assert reader.next() is not None
    assert b"".join(bytes(c) for c in reader.chunks()) == b"abc"
    assert reader.next() is None
    # Data cut short is still an error.
    reader = TarReader(io.BytesIO(raw[: 512 + 2]))
    reader.next()
    with pytest.raises(LayerError, match="unexpected end of stream in file data"):
        for _ in reader.chunks():
            pass


def test_positions_and_seeking_over_data() -> None:
    """``position`` is where each file's data starts; a seekable reader skips data unread."""
    files = [("big", os.urandom(1 << 20)), ("n" * 150, b"long name: a PAX header"), ("e", b"")]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, body in files:
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tf.addfile(info, io.BytesIO(body))
    data = buf.getvalue()

    class Counting(io.BytesIO):
        taken = 0

        def read(self, size: int | None = -1, /) -> bytes:
            out = super().read(size)
            self.taken += len(out)
            return out

    for seekable in (False, True):
        stream = Counting(data)
        reader = TarReader(stream, seekable=seekable, chunk_size=4096)
        found = []
        while (hdr := reader.next()) is not None:
            found.append((hdr.name, data[reader.position : reader.position + hdr.size]))
        assert found == files
        assert (stream.taken < 64 << 10) is seekable  # the megabyte was skipped, not read
