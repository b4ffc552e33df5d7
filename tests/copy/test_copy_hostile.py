"""Hostile archives: one line on stderr, exit 1, nothing written, the destination as it was.

Each case starts from a good archive (written by ``umoci copy``) and makes
one thing wrong with it: names that leave the archive, links that point
out, a blob that is a link, a manifest.json naming files outside, sizes
that lie, duplicates, truncation, device entries.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from copykit import copy_fails, manifest, tree, two_layer_image, umoci_ok

Members = list[tuple[tarfile.TarInfo, bytes | None]]


def read_members(archive: Path) -> Members:
    with tarfile.open(archive) as opened:
        out: Members = []
        for member in opened.getmembers():
            f = opened.extractfile(member) if member.isfile() else None
            out.append((member, f.read() if f is not None else None))
    return out


def write_members(path: Path, members: Members) -> None:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as out:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            out.addfile(info, io.BytesIO(data) if data is not None else None)


def file_entry(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    return info, data


def special(name: str, kind: bytes, target: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def blob_name(members: Members, largest: bool = True) -> str:
    """The name of the largest (or smallest) blob entry."""
    blobs = [(info.size, info.name) for info, _ in members if info.name.startswith("blobs/sha256/")]
    blobs = [b for b in blobs if b[0] > 0]
    return (max if largest else min)(blobs)[1]


def layer_name(members: Members) -> str:
    return max((info.size, info.name) for info, _ in members if info.name.endswith(".tar"))[1]


def replace(members: Members, name: str, new: tuple[tarfile.TarInfo, bytes | None]) -> Members:
    return [new if info.name == name else (info, data) for info, data in members]


def with_manifest_json(members: Members, change: Callable[[dict[str, object]], None]) -> Members:
    out: Members = []
    for info, data in members:
        if info.name == "manifest.json":
            assert data is not None
            listed = json.loads(data)
            change(listed[0])
            data = json.dumps(listed).encode()
        out.append((info, data))
    return out


def with_index_json(members: Members, change: Callable[[dict[str, object]], None]) -> Members:
    out: Members = []
    for info, data in members:
        if info.name == "index.json":
            assert data is not None
            index = json.loads(data)
            change(index)
            data = json.dumps(index).encode()
        out.append((info, data))
    return out


def ten_gigabytes(path: Path, members: Members) -> None:
    """A header declaring 10 GiB, followed by a few bytes: the archive ends long before."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
        end = archive.offset  # before the end-of-archive blocks
    info = tarfile.TarInfo("huge")
    info.size = 10 << 30
    path.write_bytes(out.getvalue()[:end] + info.tobuf(tarfile.PAX_FORMAT) + b"x" * 4096)


def truncated(path: Path, members: Members) -> None:
    write_members(path, members)
    whole = path.read_bytes()
    cut = whole.index(b"\0" * 8, whole.index(blob_name(members).encode()) + 600)
    path.write_bytes(whole[:cut])


def set_descriptor_size(index: dict[str, object]) -> None:
    entries = index["manifests"]
    assert isinstance(entries, list)
    entries[0]["size"] = 10 << 30


# name -> (make the hostile archive from the good one's members, what the error says)
OCI_CASES: dict[str, tuple[Callable[[Path, Members], None], str]] = {
    "dotdot-entry": (
        lambda p, m: write_members(p, [*m, file_entry("../evil", b"x")]),
        "'../evil' leaves the archive",
    ),
    "nested-dotdot-entry": (
        lambda p, m: write_members(p, [file_entry("blobs/../../evil", b"x"), *m]),
        "leaves the archive",
    ),
    "absolute-entry": (
        lambda p, m: write_members(p, [*m, file_entry("/tmp/umoci-evil", b"x")]),
        "'/tmp/umoci-evil' is an absolute path",
    ),
    "symlink-out": (
        lambda p, m: write_members(p, [*m, special("blobs/evil", tarfile.SYMTYPE, "../../etc")]),
        "symlink 'blobs/evil' points outside the archive",
    ),
    "absolute-symlink": (
        lambda p, m: write_members(p, [*m, special("evil", tarfile.SYMTYPE, "/etc/passwd")]),
        "points to an absolute path",
    ),
    "hardlink-out": (
        lambda p, m: write_members(p, [*m, special("evil", tarfile.LNKTYPE, "../../etc/passwd")]),
        "hardlink 'evil' target '../../etc/passwd' leaves the archive",
    ),
    "hardlink-to-nothing": (
        lambda p, m: write_members(p, [special("evil", tarfile.LNKTYPE, "index.json"), *m]),
        "not an earlier file in the archive",
    ),
    "blob-is-a-symlink": (
        lambda p, m: write_members(
            p,
            [
                file_entry("elsewhere", dict((i.name, d) for i, d in m)[blob_name(m)] or b""),
                *replace(
                    m, blob_name(m), special(blob_name(m), tarfile.SYMTYPE, "../../elsewhere")
                ),
            ],
        ),
        "is a symlink, not a file",
    ),
    "ten-gigabyte-entry": (ten_gigabytes, "declares 10737418240 bytes"),
    "ten-gigabyte-descriptor": (
        lambda p, m: write_members(p, with_index_json(m, set_descriptor_size)),
        "too large to read whole",
    ),
    "duplicate-entry": (
        lambda p, m: write_members(p, [*m, file_entry("index.json", b'{"manifests":[]}')]),
        "'index.json' appears more than once",
    ),
    "truncated": (truncated, "truncated"),
    "device": (
        lambda p, m: write_members(p, [*m, special("dev", tarfile.CHRTYPE)]),
        "'dev' is a character device",
    ),
    "fifo": (
        lambda p, m: write_members(p, [special("fifo", tarfile.FIFOTYPE), *m]),
        "'fifo' is a fifo",
    ),
    # A PAX name may be a megabyte: each one kept would make memory grow with the entry count.
    "megabyte-names": (
        lambda p, m: write_members(
            p, [*m, *(special(f"{i}{'d' * 1_000_000}", tarfile.DIRTYPE) for i in range(3))]
        ),
        "is longer than 4096 bytes",
    ),
    "megabyte-symlink-target": (
        lambda p, m: write_members(p, [*m, special("l", tarfile.SYMTYPE, "t/" * 500_000)]),
        f"symlink 'l' target {'t/' * 32!r}... is longer than 4096 bytes",
    ),
}

DOCKER_CASES: dict[str, tuple[Callable[[Path, Members], None], str]] = {
    "layer-outside": (
        lambda p, m: write_members(
            p,
            with_manifest_json(m, lambda e: e.update(Layers=["../../../etc/passwd", "a.tar"])),
        ),
        "'../../../etc/passwd' leaves the archive",
    ),
    "absolute-layer": (
        lambda p, m: write_members(
            p, with_manifest_json(m, lambda e: e.update(Layers=["/etc/passwd", "/etc/group"]))
        ),
        "'/etc/passwd' is an absolute path",
    ),
    "config-outside": (
        lambda p, m: write_members(
            p, with_manifest_json(m, lambda e: e.update(Config="../x.json"))
        ),
        "leaves the archive",
    ),
    "missing-layer": (
        lambda p, m: write_members(
            p, with_manifest_json(m, lambda e: e.update(Layers=["nothere.tar", "nor.tar"]))
        ),
        "layer 'nothere.tar' is missing from the archive",
    ),
    "layer-symlink-out": (
        lambda p, m: write_members(
            p,
            [
                special("l", tarfile.SYMTYPE, "x/../../outside"),
                *with_manifest_json(m, lambda e: e.update(Layers=["l", "l"])),
            ],
        ),
        "symlink 'l' points outside the archive",
    ),
    "symlink-loop": (
        lambda p, m: write_members(
            p,
            [
                special("a", tarfile.SYMTYPE, "b"),
                special("b", tarfile.SYMTYPE, "a"),
                *with_manifest_json(m, lambda e: e.update(Layers=["a", "a"])),
            ],
        ),
        "too many levels of symlinks",
    ),
    "layer-not-its-diff-id": (
        lambda p, m: write_members(
            p,
            replace(m, layer_name(m), file_entry(layer_name(m), b"\0" * 1024)),
        ),
        "digest mismatch",
    ),
    "wrong-layer-count": (
        lambda p, m: write_members(p, with_manifest_json(m, lambda e: e.update(Layers=[]))),
        "0 layers but 2 diff_ids",
    ),
    "not-json": (
        lambda p, m: write_members(
            p, replace(m, "manifest.json", file_entry("manifest.json", b"[{"))
        ),
        "manifest.json: invalid JSON",
    ),
    "ten-gigabyte-entry": (ten_gigabytes, "declares 10737418240 bytes"),
    "duplicate-entry": (
        lambda p, m: write_members(p, [*m, file_entry("manifest.json", b"[]")]),
        "appears more than once",
    ),
    # Resolved one component at a time, such a name once took minutes.
    "megabyte-config-name": (
        lambda p, m: write_members(
            p, with_manifest_json(m, lambda e: e.update(Config="a/" * 80_000 + "c.json"))
        ),
        f"config {'a/' * 32!r}... is longer than 4096 bytes",
    ),
    # Each link adds 2000 components: 40000 once resolved, short as every name is.
    "symlinks-that-grow-a-name": (
        lambda p, m: write_members(
            p,
            [
                *(special(f"l{i}", tarfile.SYMTYPE, f"l{i + 1}/" + "y/" * 2000) for i in range(20)),
                *with_manifest_json(m, lambda e: e.update(Config="l0/c.json")),
            ],
        ),
        "config 'l0/c.json' leads to a path longer than 4096 bytes",
    ),
}


@pytest.fixture(scope="module")
def good_archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Members]:
    work = tmp_path_factory.mktemp("good")
    layout = two_layer_image(work, work / "layout", "v1")
    umoci_ok("copy", f"oci:{layout}:v1", f"oci-archive:{work / 'oci.tar'}:v1")
    umoci_ok("copy", f"oci:{layout}:v1", f"docker-archive:{work / 'docker.tar'}:app:v1")
    return {
        "oci-archive": read_members(work / "oci.tar"),
        "docker-archive": read_members(work / "docker.tar"),
    }


def check_refused(
    transport: str,
    *,
    make: Callable[[Path, Members], None],
    why: str,
    members: Members,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dest = two_layer_image(tmp_path, tmp_path / "dest", "v1")
    archive = tmp_path / "hostile.tar"
    make(archive, members)
    before = tree(tmp_path)
    line = copy_fails(capsys, f"{transport}:{archive}", f"oci:{dest}:v1")
    assert why in line
    line = copy_fails(capsys, f"{transport}:{archive}", f"oci:{tmp_path / 'new'}:v1")
    assert why in line
    assert tree(tmp_path) == before  # the destinations, the archive and all around them
    assert not Path("/tmp/umoci-evil").exists()


def test_the_good_archives_are_good(good_archives: dict[str, Members], tmp_path: Path) -> None:
    """The starting point of every case below copies fine."""
    for transport, members in good_archives.items():
        archive = tmp_path / f"{transport}.tar"
        write_members(archive, members)
        dest = tmp_path / transport
        umoci_ok("copy", f"{transport}:{archive}", f"oci:{dest}:v1")
        assert len(manifest(dest, "v1")["layers"]) == 2


@pytest.mark.parametrize("case", OCI_CASES)
def test_hostile_oci_archives(
    case: str,
    good_archives: dict[str, Members],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    make, why = OCI_CASES[case]
    members = good_archives["oci-archive"]
    check_refused(
        "oci-archive", make=make, why=why, members=members, tmp_path=tmp_path, capsys=capsys
    )


@pytest.mark.parametrize("case", DOCKER_CASES)
def test_hostile_docker_archives(
    case: str,
    good_archives: dict[str, Members],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    make, why = DOCKER_CASES[case]
    members = good_archives["docker-archive"]
    check_refused(
        "docker-archive", make=make, why=why, members=members, tmp_path=tmp_path, capsys=capsys
    )


def test_a_tar_bomb_of_entries_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from umoci.transport import tarindex

    archive = tmp_path / "many.tar"
    with archive.open("wb") as f:
        for i in range(tarindex.MAX_ENTRIES + 1):
            info = tarfile.TarInfo(f"d{i}/")
            info.type = tarfile.DIRTYPE
            f.write(info.tobuf(tarfile.USTAR_FORMAT))
        f.write(bytes(1024))
    line = copy_fails(capsys, f"oci-archive:{archive}", f"oci:{tmp_path / 'd'}:x")
    assert f"more than {tarindex.MAX_ENTRIES} entries" in line
