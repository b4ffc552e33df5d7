"""Every layer ``umoci unpack`` refuses is a finding of ``umoci validate``.

:data:`REFUSED` has one row per condition under which unpack refuses a layer
whatever the layers below it: each rule of :mod:`umoci.layer.entryrules`,
the layer media type, and one row for each kind of stream error (tar,
codec, diff_id) the two share a reader for.  Each row builds its image in
tmp_path; unpack must fail with one line and leave nothing, and validate
(``--image`` and ``--layout``) must exit 1 with an error of the row's check
that names the entry.

:data:`DEPENDS_ON_LOWER` are refusals that depend on what is on disk by
then (a hardlink target that is missing or a directory): validate warns.
Then the documented behaviour for symlinks pointing out of the rootfs
(legal: at most a warning), and what validate refuses although unpack
confines it.
"""

from __future__ import annotations

import gzip
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from umoci import ops
from umoci.validate import layers as validate_layers
from unpack.imagekit import (
    OCI_CONFIG,
    OCI_GZIP,
    Entry,
    Layer,
    Result,
    T,
    build_tar,
    sha256,
    umoci,
    unpack_fails,
    unpack_ok,
    write_blob,
    write_image,
)


@dataclass
class Case:
    layer: Layer
    check: str  # the finding validate must report, as an error
    names: str  # what the finding must name: the entry (or the descriptor)
    unpack_says: str = ""  # part of unpack's one line


def tar_of(*entries: Entry, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    return build_tar(entries, fmt)


def entries(*entries: Entry, fmt: int = tarfile.PAX_FORMAT) -> Layer:
    return Layer(tar_of(*entries, fmt=fmt))


def with_pax(entry: Entry, **records: str) -> Entry:
    entry.info.pax_headers.update(records)
    return entry


def retype(tar: bytes, flag: bytes) -> bytes:
    """Change the first header's typeflag, and fix its checksum."""
    header = bytearray(tar[:512])
    header[156:157] = flag
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header) + tar[512:]


GOOD = tar_of(T.reg("file", b"content"))
LONG = "a" * 256

REFUSED: dict[str, Case] = {
    # hardlink targets leaving the rootfs (unpack: nothing there to link to)
    "hardlink-dotdot": Case(
        entries(T.reg("x"), T.hard("h", "../../etc/passwd")), "layer-path", "'h'", "hardlink"
    ),
    "hardlink-absolute-dotdot": Case(
        entries(T.hard("h", "/../../etc/passwd")), "layer-path", "'h'", "hardlink"
    ),
    "hardlink-normalising-dotdot": Case(
        entries(T.dir("a"), T.hard("h", "a/../../etc/passwd")), "layer-path", "'h'", "hardlink"
    ),
    "hardlink-to-root": Case(entries(T.hard("h", "/")), "layer-entry", "'h'", "root"),
    "hardlink-to-dot": Case(entries(T.hard("h", "./")), "layer-entry", "'h'", "root"),
    "hardlink-long-target": Case(
        entries(T.hard("h", LONG)), "layer-entry", "'h'", "longer than 255"
    ),
    # whiteouts of nothing, of . and of ..
    "whiteout-of-dot": Case(entries(T.wh("d/.wh..")), "layer-whiteout", "'d/.wh..'", "'.'"),
    "whiteout-of-dotdot": Case(entries(T.wh("d/.wh...")), "layer-whiteout", "'d/.wh...'", "'..'"),
    "whiteout-of-dot-at-root": Case(entries(T.wh(".wh..")), "layer-whiteout", "'.wh..'", "'.'"),
    "whiteout-of-nothing": Case(entries(T.wh("d/.wh.")), "layer-whiteout", "'d/.wh.'", "empty"),
    "whiteout-long-directory": Case(
        entries(T.wh(f"{LONG}/.wh.x")), "layer-entry", "/.wh.x'", "longer than 255"
    ),
    # the root stays a directory
    "root-symlink": Case(entries(T.sym(".", "/"), T.reg("x")), "layer-entry", "'.'", "root"),
    "root-file": Case(entries(T.reg("./", b"x")), "layer-entry", "'./'", "root"),
    "root-fifo-by-dotdot": Case(entries(T.fifo("a/..")), "layer-entry", "'a/..'", "root"),
    # names, links and numbers no file can have
    "nul-in-name": Case(
        entries(with_pax(T.reg("a"), path="a\0b")), "layer-entry", "'a\\x00b'", "NUL"
    ),
    "nul-in-link-target": Case(
        entries(with_pax(T.sym("s", "x"), linkpath="x\0y")), "layer-entry", "'s'", "NUL"
    ),
    "long-name": Case(entries(T.reg(f"d/{LONG}")), "layer-entry", LONG, "longer than 255"),
    "long-directory": Case(entries(T.reg(f"{LONG}/f")), "layer-entry", LONG, "longer than 255"),
    "symlink-empty-target": Case(entries(T.sym("s", "")), "layer-entry", "'s'", "empty target"),
    "symlink-long-target": Case(
        entries(T.sym("s", "t" * 4096)), "layer-entry", "'s'", "longer than 4095"
    ),
    "uid-out-of-range": Case(
        entries(T.reg("f", uid=1 << 32)), "layer-entry", "'f'", "uid/gid 4294967296/0"
    ),
    "gid-out-of-range": Case(
        entries(with_pax(T.reg("f"), gid="99999999999999999999")), "layer-entry", "'f'", "uid/gid"
    ),
    "device-out-of-range": Case(
        entries(T.chr("dev", 1 << 31, 0), fmt=tarfile.GNU_FORMAT),
        "layer-entry",
        "'dev'",
        "device 2147483648:0",
    ),
    "time-out-of-range": Case(
        entries(T.reg("f", pax={"mtime": "99999999999999999999"})),
        "layer-entry",
        "'f'",
        "out of range",
    ),
    # xattrs Linux refuses before it looks at the file
    "xattr-empty-name": Case(
        entries(T.reg("f", xattrs={"": b"x"})), "layer-entry", "'f'", "invalid xattr name"
    ),
    "xattr-long-name": Case(
        entries(T.reg("f", xattrs={"user." + "n" * 251: b"x"})),
        "layer-entry",
        "'f'",
        "longer than 255",
    ),
    "xattr-large-value": Case(
        entries(T.dir("d", xattrs={"user.big": b"v" * 65537})), "layer-entry", "'d/'", "65537"
    ),
    # the layer descriptor's media type
    "config-media-type": Case(Layer(GOOD, OCI_CONFIG), "layer-media-type", "layers[0]", OCI_CONFIG),
    "bzip2-media-type": Case(
        Layer(GOOD, "application/vnd.oci.image.layer.v1.tar+bzip2"),
        "layer-media-type",
        "layers[0]",
        "media type",
    ),
    "octet-stream-media-type": Case(
        Layer(GOOD, "application/octet-stream"), "layer-media-type", "layers[0]", "media type"
    ),
    # the stream, read by the same tar reader and codecs
    "unknown-typeflag": Case(Layer(retype(tar_of(T.reg("z")), b"Z")), "layer-tar", "z", "typeflag"),
    "truncated-tar": Case(Layer(GOOD[:515]), "layer-tar", "layers[0]", "unexpected end"),
    "not-gzip": Case(Layer(GOOD, OCI_GZIP, blob=GOOD), "layer-codec", "layers[0]", "gzip"),
    "truncated-gzip": Case(
        Layer(GOOD, OCI_GZIP, blob=gzip.compress(GOOD, mtime=0)[:-4]),
        "layer-codec",
        "layers[0]",
        "gzip",
    ),
    "diff-id-mismatch": Case(
        Layer(GOOD, diff_id=sha256(b"other")), "layer-diff-id", "layers[0]", "diff_id"
    ),
}


def validate(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    res = umoci(capsys, "validate", *argv)
    assert "Traceback" not in res.err
    return res


def finding_lines(res: Result, level: str, check: str) -> list[str]:
    return [line for line in res.out.splitlines() if line.startswith(f"{level} {check} ")]


@pytest.mark.parametrize("name", REFUSED)
def test_what_unpack_refuses_validate_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    case = REFUSED[name]
    image = write_image(tmp_path / "image", [case.layer])
    message = unpack_fails(capsys, image, tmp_path / "bundle")
    assert case.unpack_says in message
    for target in (["--image", image.ref], ["--layout", str(image.layout)]):
        res = validate(capsys, *target)
        assert res.status == 1, res.out
        assert res.err.startswith("umoci: validate: validation failed: "), res.err
        assert res.err.count("\n") == 1, res.err
        lines = finding_lines(res, "error", case.check)
        assert any(case.names in line for line in lines), res.out


def test_layer_media_type_is_checked_without_reading_layers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = write_image(tmp_path / "image", [Layer(GOOD, OCI_CONFIG)])
    res = validate(capsys, "--no-layers", "--image", image.ref)
    assert res.status == 1
    assert finding_lines(res, "error", "layer-media-type")


def test_an_artifact_may_have_any_layer_media_type(tmp_path: Path) -> None:
    image = write_image(tmp_path / "image", [Layer(b"{}", "application/vnd.example.data+json")])
    # The same manifest with an artifact's config: not an image, unpack would not read it.
    manifest = json.loads(image.blob_path(image.manifest_digest).read_bytes())
    manifest["config"]["mediaType"] = "application/vnd.oci.empty.v1+json"
    blob = json.dumps(manifest).encode()
    image.blob_path(image.manifest_digest).unlink()
    index = json.loads((image.layout / "index.json").read_bytes())
    index["manifests"][0].update(digest=write_blob(image.layout, blob), size=len(blob))
    (image.layout / "index.json").write_text(json.dumps(index))
    assert ops.validate_layout(str(image.layout)).findings == []


# -- refusals that depend on the layers below: warnings ---------------------------------------

DEPENDS_ON_LOWER: dict[str, tuple[list[Entry], str]] = {
    "hardlink-target-missing": ([T.hard("h", "no/such")], "not in this layer"),
    "hardlink-absolute-target-missing": ([T.hard("h", "/etc/passwd")], "not in this layer"),
    "hardlink-to-a-directory": ([T.dir("d"), T.hard("h", "d")], "is a directory"),
}


@pytest.mark.parametrize("name", DEPENDS_ON_LOWER)
def test_what_unpack_refuses_depending_on_lower_layers_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    layer, says = DEPENDS_ON_LOWER[name]
    image = write_image(tmp_path / "image", [Layer(tar_of(*layer))])
    assert "hardlink" in unpack_fails(capsys, image, tmp_path / "bundle")
    res = validate(capsys, "--image", image.ref)
    assert res.status == 0, res.out
    [line] = finding_lines(res, "warning", "layer-hardlink")
    assert "hardlink 'h'" in line
    assert says in line


def test_hardlinks_to_earlier_entries_have_no_finding_and_to_lower_layers_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lower = Layer(tar_of(T.reg("etc/passwd", b"root"), T.hard("etc/same", "etc/passwd")))
    upper = Layer(tar_of(T.hard("etc/lower", "/etc/passwd")))
    image = write_image(tmp_path / "image", [lower, upper])
    rootfs = unpack_ok(capsys, image, tmp_path / "bundle")
    assert (rootfs / "etc" / "lower").stat().st_nlink == 3
    res = validate(capsys, "--image", image.ref)
    assert res.status == 0
    [line] = finding_lines(res, "warning", "layer-hardlink")
    assert "layers[1]" in line
    assert "'etc/lower'" in line
    assert res.out.endswith("0 errors, 1 warning (4 blobs checked)\n")


def test_hardlink_warnings_stop_when_a_layer_has_too_many_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layer = tar_of(*(T.reg(f"f{i}") for i in range(4)), T.hard("h", "no/such"))
    image = write_image(tmp_path / "image", [Layer(layer)])
    assert [f.check for f in ops.validate_layout(str(image.layout)).findings] == ["layer-hardlink"]
    monkeypatch.setattr(validate_layers, "MAX_NAMES", 3)
    assert ops.validate_layout(str(image.layout)).findings == []


def test_findings_of_one_check_are_capped_per_layer(tmp_path: Path) -> None:
    layer = tar_of(*(T.sym(f"s{i}", "") for i in range(validate_layers.MAX_PER_CHECK + 7)))
    image = write_image(tmp_path / "image", [Layer(layer)])
    findings = ops.validate_layout(str(image.layout)).findings
    assert [f.check for f in findings] == ["layer-entry"] * (validate_layers.MAX_PER_CHECK + 1)
    assert findings[-1].message == "and 7 more entries like that"


# -- symlinks out of the rootfs: legal, a warning at most ---------------------------------


def test_symlinks_out_of_the_rootfs_are_legal_and_dotdot_ones_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layer = tar_of(
        T.sym("abs", "/etc/passwd"),
        T.sym("a/inside", "../x"),
        T.sym("a/b/climbs", "../../../etc/passwd"),
        T.sym("rooted-climb", "/../../etc"),
    )
    image = write_image(tmp_path / "image", [Layer(layer)])
    rootfs = unpack_ok(capsys, image, tmp_path / "bundle")
    assert (rootfs / "a" / "b" / "climbs").is_symlink()
    res = validate(capsys, "--image", image.ref)
    assert res.status == 0, res.out
    lines = finding_lines(res, "warning", "layer-symlink")
    assert len(lines) == 2, res.out
    assert "'a/b/climbs' -> '../../../etc/passwd'" in lines[0]
    assert "'rooted-climb' -> '/../../etc'" in lines[1]
    assert res.out.endswith("0 errors, 2 warnings (3 blobs checked)\n")


# -- what validate refuses although unpack gets by ------------------------------------------

STRICTER: dict[str, tuple[list[Entry], str, str]] = {
    # unpack confines both to the rootfs (the hardlink links the layer's own file)
    "climbing-hardlink": (
        [T.reg("etc/passwd", b"own"), T.hard("h", "../../etc/passwd")],
        "layer-path",
        "hardlink 'h' -> '../../etc/passwd'",
    ),
    "climbing-name": ([T.reg("a/../../escape", b"x")], "layer-path", "'a/../../escape'"),
    # unpack removes what they name, which no file can be called
    "whiteout-of-a-whiteout": ([T.wh("d/.wh..wh.x")], "layer-whiteout", "names nothing"),
    "whiteout-of-a-long-name": ([T.wh(f"d/.wh.{LONG}")], "layer-whiteout", "names nothing"),
    # unpack only looks at the name
    "whiteout-with-content": ([T.reg("d/.wh.x", b"data")], "layer-whiteout", "not an empty"),
}


@pytest.mark.parametrize("name", STRICTER)
def test_validate_refuses_what_unpack_confines_or_ignores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    layer, check, says = STRICTER[name]
    image = write_image(tmp_path / "image", [Layer(tar_of(*layer))])
    unpack_ok(capsys, image, tmp_path / "bundle")
    res = validate(capsys, "--image", image.ref)
    assert res.status == 1
    [line] = finding_lines(res, "error", check)
    assert says in line


def test_a_climbing_hardlink_links_the_layers_own_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layer, _, _ = STRICTER["climbing-hardlink"]
    image = write_image(tmp_path / "image", [Layer(tar_of(*layer))])
    rootfs = unpack_ok(capsys, image, tmp_path / "bundle")
    assert (rootfs / "h").read_bytes() == b"own"
