"""``umoci raw mtree-validate``: silence and exit 0 for a match, a line per difference otherwise."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from repackkit import Unpacked, ok, same_mtimes, umoci

Capsys = pytest.CaptureFixture[str]


def validate(capsys: Capsys, spec: Path, root: Path, *flags: str) -> tuple[int, list[str], str]:
    status, out, err = umoci(capsys, "raw", "mtree-validate", *flags, "-f", spec, "-p", root)
    return status, out.splitlines(), err


def bundle_spec(img: Unpacked) -> Path:
    (spec,) = img.bundle.glob("sha256_*.mtree")
    return spec


def test_fresh_bundle_validates(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    status, out, err = validate(capsys, bundle_spec(img), img.rootfs)
    assert (status, out, err) == (0, [], "")
    # The long flag names say the same.
    assert (
        ok(capsys, "raw", "mtree-validate", "--manifest", bundle_spec(img), "--path", img.rootfs)
        == ""
    )


def modify(root: Path) -> None:
    with same_mtimes(root, "etc"):
        (root / "etc/hostname").write_bytes(b"other\n")
        (root / "etc/motd").unlink()
        (root / "etc/new").write_bytes(b"n")
        os.chmod(root / "etc/group", 0o600)
        (root / "srv/file").write_bytes(b"a file\n!")


def test_each_difference_is_one_line(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    modify(img.rootfs)
    status, out, err = validate(capsys, bundle_spec(img), img.rootfs)
    assert status == 1
    # A path with several differing keywords is still one line (naming one of them).
    assert sorted(line.partition(":")[0] for line in out) == [
        '"etc/group"',
        '"etc/hostname"',
        '"etc/motd"',
        '"etc/new"',
        '"srv/file"',
    ]
    assert err == "umoci: raw mtree-validate: validation failed: 5 differences found\n"
    status, out, err = validate(capsys, bundle_spec(img), img.rootfs, "-k", "size,mode")
    assert status == 1
    assert sorted(out) == [
        '"etc/group": keyword "mode": expected 0644; got 0600',
        '"etc/hostname": keyword "size": expected 5; got 6',
        '"etc/motd": missing path',
        '"etc/new": unexpected path',
        '"srv/file": keyword "size": expected 7; got 8',
    ]


def test_xattr_and_tar_time_differences(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    os.utime(img.rootfs / "etc/hostname", (1, 1))
    os.setxattr(img.rootfs / "etc/motd", "user.x", b"1")
    status, out, _ = validate(capsys, bundle_spec(img), img.rootfs)
    assert status == 1
    assert sorted(line.partition(":")[0] for line in out) == ['"etc/hostname"', '"etc/motd"']
    assert validate(capsys, bundle_spec(img), img.rootfs, "-k", "tar_time")[1] == [
        '"etc/hostname": keyword "tar_time": expected 1600000000.000000000; got 1.000000000'
    ]
    assert [
        line.partition(":")[0]
        for line in validate(capsys, bundle_spec(img), img.rootfs, "-k", "xattr")[1]
    ] == ['"etc/motd"']


@pytest.mark.root
def test_keyword_selection(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    spec = bundle_spec(img)
    root = img.rootfs
    os.chmod(root / "etc/group", 0o600)
    os.chown(root / "etc/motd", 5, 5)
    # Same size, different content: only sha256digest sees it.
    (root / "etc/hostname").write_bytes(b"BASE\n")
    os.utime(root / "etc/hostname", (1_600_000_000, 1_600_000_000))

    def paths(*flags: str) -> list[str]:
        status, out, _ = validate(capsys, spec, root, *flags)
        assert status == (1 if out else 0)
        return sorted(line.partition(":")[0].strip('"') for line in out)

    assert paths() == ["etc/group", "etc/hostname", "etc/motd"]
    assert paths("--umoci-keywords") == ["etc/group", "etc/hostname", "etc/motd"]
    assert paths("-k", "mode") == ["etc/group"]
    assert paths("--use-keywords", "uid") == ["etc/motd"]
    assert paths("-k", "size") == []
    assert paths("-k", "size", "-K", "sha256digest") == ["etc/hostname"]
    assert paths("-k", "mode uid") == ["etc/group", "etc/motd"]
    assert paths("-k", "mode", "--add-keywords", "gid,sha256") == [
        "etc/group",
        "etc/hostname",
        "etc/motd",
    ]
    # -k wins over --umoci-keywords, as in the Go umoci.
    assert paths("--umoci-keywords", "-k", "mode") == ["etc/group"]


def test_type_is_always_compared(capsys: Capsys, tmp_path: Path) -> None:
    img = Unpacked.make(capsys, tmp_path)
    with same_mtimes(img.rootfs, "srv"):
        (img.rootfs / "srv/link").unlink()
        (img.rootfs / "srv/link").write_bytes(b"file")
    for keywords in ("mode", "uid", "sha256digest", "size"):
        status, out, _ = validate(capsys, bundle_spec(img), img.rootfs, "-k", keywords)
        assert status == 1
        assert out == ['"srv/link": keyword "type": expected link; got file']


def write_spec(root: Path) -> Path:
    """A hand-written spec with ``time`` (go-mtree's default) where umoci has ``tar_time``."""
    st_root, st_f = root.stat(), (root / "f").stat()
    digest = hashlib.sha256((root / "f").read_bytes()).hexdigest()
    spec = root.parent / "spec.mtree"
    spec.write_text(
        "#mtree v1.0\n"
        f". size={st_root.st_size} type=dir mode=0755 uid={st_root.st_uid} gid={st_root.st_gid}"
        f" nlink={st_root.st_nlink} time=1600000000.000000000\n"
        f"f size=2 type=file mode=0644 uid={st_f.st_uid} gid={st_f.st_gid} nlink=1"
        f" sha256digest={digest} time=1600000000.000000000\n"
        "..\n"
    )
    return spec


def test_umoci_keywords_replace_the_manifest_keywords(capsys: Capsys, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    os.chmod(root, 0o755)
    (root / "f").write_bytes(b"ab")
    os.chmod(root / "f", 0o644)
    for path in (root / "f", root):
        os.utime(path, (1_600_000_000, 1_600_000_000))
    spec = write_spec(root)
    assert validate(capsys, spec, root)[:2] == (0, [])
    # Half a second later: "time" (in the manifest) sees it; umoci's "tar_time"
    # (whole seconds, compared with the manifest's "time") does not.
    os.utime(root / "f", ns=(1_600_000_000_500_000_000,) * 2)
    status, out, _ = validate(capsys, spec, root)
    assert (status, out) == (
        1,
        ['"f": keyword "time": expected 1600000000.000000000; got 1600000000.500000000'],
    )
    assert validate(capsys, spec, root, "--umoci-keywords")[:2] == (0, [])
    os.utime(root / "f", (1_600_000_001, 1_600_000_001))
    status, out, _ = validate(capsys, spec, root, "--umoci-keywords")
    assert (status, [line.partition(":")[0] for line in out]) == (1, ['"f"'])


def test_missing_manifest_is_an_error(capsys: Capsys, tmp_path: Path) -> None:
    status, out, err = validate(capsys, tmp_path / "nope.mtree", tmp_path)
    assert status == 1
    assert out == []
    assert len(err.splitlines()) == 1
    assert err.startswith("umoci: raw mtree-validate: ")
