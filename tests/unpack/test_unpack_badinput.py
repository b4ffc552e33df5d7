"""Bad images through ``umoci unpack``: one line on stderr, exit 1, no bundle, layout untouched.

Every case runs twice: with no bundle directory (it must not exist
afterwards) and with an empty one (it must be left, empty).  Faults in a
later layer run after earlier layers were applied, so clean-up is tested
on a half-extracted rootfs too (including a directory without permissions
for anyone).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from imagekit import (
    OCI_GZIP,
    OCI_TAR,
    OCI_ZSTD,
    Image,
    Layer,
    T,
    build_tar,
    sha256,
    unpack_fails,
    write_blob,
    write_image,
)

from conftest import snapshot


def good_layer() -> Layer:
    entries = [
        T.dir("locked", mode=0o000),
        T.reg("locked/file", b"x", mode=0o000),
        T.dir("d"),
        T.reg("d/file", b"data" * 1000),
    ]
    return Layer(build_tar(entries), OCI_GZIP)


def tar_of(*entries: object) -> bytes:
    return build_tar(entries)  # type: ignore[arg-type]


def retype(tar: bytes, flag: bytes) -> bytes:
    """Change the first header's typeflag, and fix its checksum."""
    header = bytearray(tar[:512])
    header[156:157] = flag
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header) + tar[512:]


GOOD_TAR = tar_of(T.reg("later", b"later" * 2000))
GOOD_GZ = gzip.compress(GOOD_TAR, mtime=0)

Fault = Callable[[Image], None]


def no_fault(image: Image) -> None:
    pass


def flip_last_layer_byte(image: Image) -> None:
    path = image.blob_path(image.layer_digests[-1])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def delete_last_layer(image: Image) -> None:
    image.blob_path(image.layer_digests[-1]).unlink()


def append_to_last_layer(image: Image) -> None:
    path = image.blob_path(image.layer_digests[-1])
    path.write_bytes(path.read_bytes() + b"\0")


# name -> (layers after the good one, image kwargs, post-write fault, expected message part)
CASES: dict[str, tuple[list[Layer], dict[str, object], Fault, str]] = {
    "truncated-gzip": (
        [Layer(GOOD_TAR, OCI_GZIP, blob=GOOD_GZ[: len(GOOD_GZ) // 2])],
        {},
        no_fault,
        "gzip",
    ),
    "truncated-gzip-trailer": (
        [Layer(GOOD_TAR, OCI_GZIP, blob=GOOD_GZ[:-4])],
        {},
        no_fault,
        "gzip",
    ),
    "truncated-zstd": (
        [Layer(GOOD_TAR, OCI_ZSTD, blob=Layer(GOOD_TAR, OCI_ZSTD).blob_bytes()[:-10])],
        {},
        no_fault,
        "zstd",
    ),
    "not-gzip": ([Layer(GOOD_TAR, OCI_GZIP, blob=GOOD_TAR)], {}, no_fault, "gzip"),
    "garbage-tar": ([Layer(b"\x01" * 2048, OCI_TAR)], {}, no_fault, "layer"),
    "truncated-tar": ([Layer(GOOD_TAR[:700], OCI_TAR)], {}, no_fault, "unexpected end"),
    "blob-digest-mismatch": ([Layer(GOOD_TAR, OCI_GZIP)], {}, flip_last_layer_byte, "digest"),
    "blob-digest-mismatch-plain": ([Layer(GOOD_TAR, OCI_TAR)], {}, flip_last_layer_byte, ""),
    "blob-longer-than-size": ([Layer(GOOD_TAR, OCI_GZIP)], {}, append_to_last_layer, "size"),
    # The first size bytes do not hash to the digest: judged before the size (as 0.6).
    "size-too-small": (
        [Layer(GOOD_TAR, OCI_GZIP, size=len(GOOD_GZ) - 1)],
        {},
        no_fault,
        "digest mismatch",
    ),
    "size-too-large": (
        [Layer(GOOD_TAR, OCI_GZIP, size=len(GOOD_GZ) + 1)],
        {},
        no_fault,
        "size",
    ),
    "missing-blob": ([Layer(GOOD_TAR, OCI_GZIP)], {}, delete_last_layer, ""),
    "diff-id-mismatch": (
        [Layer(GOOD_TAR, OCI_GZIP, diff_id=sha256(b"something else"))],
        {},
        no_fault,
        "diff_id",
    ),
    "diff-id-of-compressed-blob": (
        [Layer(GOOD_TAR, OCI_GZIP, diff_id=sha256(GOOD_GZ))],
        {},
        no_fault,
        "diff_id",
    ),
    "diff-id-malformed": ([Layer(GOOD_TAR, diff_id="sha256:abc")], {}, no_fault, ""),
    "unknown-media-type": (
        [Layer(GOOD_TAR, "application/vnd.oci.image.layer.v1.tar+bzip2")],
        {},
        no_fault,
        "media type",
    ),
    "octet-stream-layer": (
        [Layer(GOOD_TAR, "application/octet-stream")],
        {},
        no_fault,
        "media type",
    ),
    "config-as-layer": (
        [Layer(GOOD_TAR, "application/vnd.oci.image.config.v1+json")],
        {},
        no_fault,
        "media type",
    ),
    "too-few-diff-ids": ([Layer(GOOD_TAR)], {"diff_ids": []}, no_fault, "diff_ids"),
    "too-many-diff-ids": (
        [Layer(GOOD_TAR)],
        {"diff_ids": [sha256(b"a"), sha256(GOOD_TAR), sha256(b"c")]},
        no_fault,
        "diff_ids",
    ),
    "root-symlink": ([Layer(tar_of(T.sym(".", "/"), T.reg("x")))], {}, no_fault, "root"),
    "hardlink-outside": ([Layer(tar_of(T.hard("h", "../../etc/passwd")))], {}, no_fault, ""),
    "hardlink-missing": ([Layer(tar_of(T.hard("h", "no/such")))], {}, no_fault, ""),
    "bare-whiteout": ([Layer(tar_of(T.wh("d/.wh.")))], {}, no_fault, "whiteout"),
    "unknown-typeflag": (
        [Layer(retype(tar_of(T.reg("z")), b"Z"))],
        {},
        no_fault,
        "typeflag",
    ),
}


def build(tmp_path: Path, name: str) -> tuple[Image, str]:
    layers, kwargs, fault, expected = CASES[name]
    image = write_image(tmp_path / "image", [good_layer(), *layers], **kwargs)  # type: ignore[arg-type]
    fault(image)
    return image, expected


@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing-empty"])
@pytest.mark.parametrize("name", CASES)
def test_bad_image_is_refused_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, existing: bool
) -> None:
    image, expected = build(tmp_path, name)
    before = snapshot(image.layout)
    bundle = tmp_path / "bundle"
    if existing:
        bundle.mkdir()
    message = unpack_fails(capsys, image, bundle)
    assert expected.lower() in message.lower()
    assert "Traceback" not in message
    assert snapshot(image.layout) == before, "unpack must not change the layout"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["image", *(["bundle"] if existing else [])]
    )


def test_digest_and_diff_id_errors_name_the_layer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image, _ = build(tmp_path, "diff-id-mismatch")
    assert image.layer_digests[-1] in unpack_fails(capsys, image, tmp_path / "bundle")


def test_config_that_is_not_an_image_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = write_image(tmp_path / "image", [good_layer()])
    manifest_path = image.blob_path(image.manifest_digest)
    manifest = json.loads(manifest_path.read_bytes())
    manifest["config"]["mediaType"] = "application/vnd.oci.empty.v1+json"
    blob = json.dumps(manifest).encode()
    digest = write_blob(image.layout, blob)
    index = json.loads((image.layout / "index.json").read_bytes())
    index["manifests"][0].update(digest=digest, size=len(blob))
    (image.layout / "index.json").write_text(json.dumps(index))
    assert "config" in unpack_fails(capsys, image, tmp_path / "bundle")


def test_unknown_tag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = write_image(tmp_path / "image", [good_layer()])
    image.tag = "nosuchtag"
    assert "nosuchtag" in unpack_fails(capsys, image, tmp_path / "bundle")


def test_not_a_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "image").mkdir()
    image = Image(tmp_path / "image", "latest", "sha256:0", "sha256:0")
    unpack_fails(capsys, image, tmp_path / "bundle")
