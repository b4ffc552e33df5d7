"""Differential tests: the same image unpacked by us and by the Go umoci (Debian's 0.4.7).

The rootfs trees must be identical: type, mode, owner, size, content,
xattrs, link targets, device numbers, hardlink groups and mtimes to the
nanosecond (:func:`imagekit.tree`), and so must the mtree bodies.

Known, legitimate differences between 0.4.7 and 0.6 (which we follow):

* 0.4.7 cannot read ``+zstd`` layers ("blob is not correct mediatype"), nor
  Docker media types: our zstd unpack is compared with its unpack of the
  same tar as gzip.
* config.json: ``ociVersion`` (1.0.0 vs 1.3.0); 0.6 adds a cgroup namespace;
  0.4.7 writes empty ``org.opencontainers.image.{author,exposedPorts,
  stopSignal}`` annotations that 0.6 omits; 0.4.7 always sets ``HOME`` from
  /etc/passwd, 0.6 keeps a ``HOME`` the image config sets.
* config.json mounts: 0.4.7 lists the volumes' tmpfs mounts in Go map order
  (random), 0.6 sorts them.
* umoci.json: 0.4.7 adds ``"whiteout_mode":0``.
* mtimes of directories nobody gave a time: directories created implicitly
  (missing parents, dangling link targets) get "now", and a directory whose
  lower content an opaque whiteout removed *after* the layer re-created it
  keeps its header mtime with us, while 0.4.7 leaves it at "now".  Those
  paths' mtimes are not compared.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from imagekit import (
    OCI_GZIP,
    OCI_TAR,
    OCI_ZSTD,
    Image,
    Layer,
    T,
    build_tar,
    comparable_config,
    diff_trees,
    go_umoci,
    load_json,
    mtree_body,
    same_trees,
    tree,
    umoci,
    write_image,
)

from conftest import VECTORS

pytestmark = [pytest.mark.goumoci, pytest.mark.root]

NS = 1_000_000_000
CAP = bytes.fromhex("0100000220") + bytes(15)


@dataclass
class Case:
    layers: list[list[Any]]
    media_type: str = OCI_GZIP
    fmt: int = tarfile.PAX_FORMAT
    config: dict[str, Any] = field(default_factory=dict)
    implicit: frozenset[str] = frozenset()  # paths whose mtime is "now"


def kinds() -> list[Any]:
    long_dir = "long/" + "d" * 150
    return [
        T.dir(".", mode=0o755, mtime_ns=1_000 * NS + 1),
        T.dir("d", mode=0o750, uid=12, gid=34, mtime_ns=1_500_000_000_123_456_789),
        T.reg(
            "d/file",
            b"hello\n",
            mode=0o640,
            uid=1000,
            gid=1001,
            xattrs={"user.comment": b"hello world", "trusted.bin": bytes(range(256))},
            mtime_ns=1_600_000_000_999_999_999,
        ),
        T.hard("d/hard", "d/file"),
        T.hard("d/hard2", "d/hard"),
        T.sym("d/rel", "file", mtime_ns=1_400_000_000_000_000_001, uid=5, gid=6),
        T.sym("d/abs", "/d/file"),
        T.sym("d/dangling", "../no/such"),
        T.chr("d/null", 1, 3, mode=0o666),
        T.chr("d/tty", 5, 0, mode=0o620, gid=5),
        T.blk("d/loop", 7, 0, mode=0o660, gid=6),
        T.fifo("d/fifo", mode=0o600, mtime_ns=3),
        T.reg("d/none", b"", mode=0),
        T.reg("suid", b"#!/bin/sh\n", mode=0o4755),
        T.reg("sgid", b"#!/bin/sh\n", mode=0o2755, gid=50),
        T.reg("cap", b"x", mode=0o6711, xattrs={"security.capability": CAP}),
        T.dir("tmp", mode=0o1777),
        T.dir("sgiddir", mode=0o2775, gid=50, xattrs={"user.dir": b"d"}),
        T.reg("big", bytes(range(256)) * 2048),
        T.dir("long"),
        T.dir(long_dir),
        T.reg(long_dir + "/" + "f" * 200, b"long", mtime_ns=1_234_567_890_987_654_321),
        T.sym("long/link", "../" + "t" * 200),
        T.reg("ünïcødé with space", b"u"),
        T.reg("tab\tand\\backslash", b"t"),
    ]


def lower() -> list[Any]:
    return [
        T.dir(".", mtime=7),
        T.dir("a", mtime=8),
        T.reg("a/lower1", b"1"),
        T.dir("a/sub", mtime=9),
        T.reg("a/sub/lower2", b"2"),
        T.sym("a/link", "sub"),
        T.reg("top", b"top"),
        T.dir("keep", mtime=10),
        T.reg("keep/k", b"k"),
    ]


CASES: dict[str, Case] = {
    "kinds-gzip": Case([kinds()]),
    "kinds-plain": Case([kinds()], media_type=OCI_TAR),
    # GNU tar has no xattrs or sub-second times: tarfile leaves them out.
    "kinds-gnu": Case([kinds()], media_type=OCI_TAR, fmt=tarfile.GNU_FORMAT),
    "whiteouts": Case([lower(), [T.wh(".wh.top"), T.wh("a/.wh.sub"), T.wh("a/.wh.link")]]),
    "whiteout-missing": Case(
        [lower(), [T.wh(".wh.nothing"), T.wh("top/.wh.x"), T.wh("a/.wh.gone")]]
    ),
    "opaque-before": Case(
        [
            lower(),
            [
                T.dir("a", mtime=11),
                T.wh("a/.wh..wh..opq"),
                T.reg("a/new", b"n"),
                T.dir("a/sub", mtime=12),
                T.reg("a/sub/new2", b"n2"),
            ],
        ]
    ),
    "opaque-after": Case(
        [
            lower(),
            [
                T.reg("a/new", b"n"),
                T.dir("a/sub", mtime=12),
                T.reg("a/sub/new2", b"n2"),
                T.wh("a/.wh..wh..opq"),
            ],
        ],
        implicit=frozenset({"a/sub"}),
    ),
    "opaque-root": Case([lower(), [T.reg("new", b""), T.wh(".wh..wh..opq")]]),
    "whiteout-after-entry": Case(
        [lower(), [T.reg("top", b"new top"), T.wh(".wh.top"), T.wh(".wh.keep")]],
        media_type=OCI_TAR,
    ),
    "replacements": Case(
        [
            lower(),
            [
                T.sym("top", "a"),
                T.reg("a/link", b"file"),
                T.reg("keep", b"was a dir"),
                T.hard("h", "a/lower1"),
                T.hard("h2", "a/link"),
                T.dir("a/lower1", mode=0o700),
            ],
            [T.wh("a/.wh.lower1"), T.reg("a/lower1", b"again"), T.hard("a/h3", "h2")],
        ]
    ),
    "escape-relative": Case(
        [[T.dir("."), T.sym("link", "../../outside")], [T.reg("link/file", b"c")]],
        implicit=frozenset({".", "outside"}),
    ),
    "escape-absolute": Case(
        [
            [T.dir("."), T.dir("outside", mtime=5), T.sym("link", "/../../outside")],
            [T.reg("link/file", b"c"), T.dir("link/sub", mtime=6), T.reg("link/sub/x", b"x")],
        ],
        implicit=frozenset({"outside"}),
    ),
    "escape-dotdot": Case([[T.dir("."), T.reg("../../x", b"c"), T.reg("/../y", b"y")]]),
    "escape-whiteout": Case(
        [
            [T.dir("."), T.sym("out", "/../outside"), T.dir("outside"), T.reg("outside/f", b"")],
            [T.wh("out/.wh.f")],
        ],
        implicit=frozenset({"outside"}),
    ),
    "escape-hardlink-via-link": Case(
        [[T.dir("."), T.reg("f", b"f"), T.sym("up", "/../.."), T.hard("h", "up/f")]]
    ),
}


def build(base: Path, case: Case, media_type: str | None = None) -> Image:
    layers = [
        Layer(build_tar(entries, case.fmt), media_type or case.media_type)
        for entries in case.layers
    ]
    return write_image(base / "image", layers, config=case.config)


def unpack_both(
    capsys: pytest.CaptureFixture[str], ours: Image, theirs: Image, base: Path, *flags: str
) -> tuple[Path, Path]:
    res = umoci(capsys, "unpack", *flags, "--image", ours.ref, base / "ours")
    assert res.status == 0, res.err
    go_umoci("unpack", *flags, "--image", theirs.ref, base / "go")
    return base / "ours", base / "go"


@pytest.mark.parametrize("name", CASES)
def test_same_tree_as_go(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    case = CASES[name]
    image = build(tmp_path, case)
    ours, go = unpack_both(capsys, image, image, tmp_path)
    same_trees(ours, go, case.implicit)
    if not case.implicit:
        assert mtree_body(ours) == mtree_body(go)
    meta_ours, meta_go = load_json(ours / "umoci.json"), load_json(go / "umoci.json")
    assert meta_go.pop("whiteout_mode") == 0
    assert meta_ours == meta_go


def test_zstd_unpacks_like_go_gzip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = Case([kinds(), lower()])
    ours_image = build(tmp_path / "zstd", case, OCI_ZSTD)
    go_image = build(tmp_path / "gzip", case, OCI_GZIP)
    ours, go = unpack_both(capsys, ours_image, go_image, tmp_path)
    same_trees(ours, go)
    assert mtree_body(ours) == mtree_body(go)


def test_go_refuses_zstd(tmp_path: Path) -> None:
    # Why the zstd comparison goes through gzip (fails once Debian's umoci reads zstd).
    image = build(tmp_path, Case([kinds()]), OCI_ZSTD)
    done = go_umoci("unpack", "--image", image.ref, tmp_path / "go", check=False)
    assert done.returncode == 1
    assert "mediatype" in done.stderr


@pytest.mark.parametrize("name", ["kinds-gzip", "whiteouts", "replacements"])
def test_rootless_same_tree_as_go(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    case = CASES[name]
    image = build(tmp_path, case)
    ours, go = unpack_both(capsys, image, image, tmp_path, "--rootless")
    same_trees(ours, go, case.implicit)
    assert mtree_body(ours) == mtree_body(go)
    assert (
        load_json(ours / "config.json")["linux"]["uidMappings"]
        == (load_json(go / "config.json")["linux"]["uidMappings"])
    )


PASSWD = b"root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1001:Alice:/home/alice:/bin/sh\n"
GROUP = b"root:x:0:\nstaff:x:50:alice\nusers:x:1001:\n"
CONFIGS = {
    "rich": {
        "User": "alice:staff",
        "Env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"],
        "Entrypoint": ["/bin/sh", "-c"],
        "Cmd": ["echo hi"],
        "WorkingDir": "/home/alice",
        "Volumes": {"/data": {}, "/cache": {}, "/var/lib/x": {}},
        "Labels": {"org.example.label": "yes", "a": "b"},
        "StopSignal": "SIGTERM",
        "ExposedPorts": {"80/tcp": {}, "53/udp": {}},
    },
    "numeric-user": {"User": "1000", "Cmd": ["/bin/true"]},
    "uid-gid": {"User": "4242:4343", "Env": ["A=1", "A=2"]},
    "empty": {},
    "entrypoint-only": {"Entrypoint": ["/init"], "WorkingDir": "relative/dir"},
}


@pytest.mark.parametrize("rootless", [False, True], ids=["root", "rootless"])
@pytest.mark.parametrize("config_name", CONFIGS)
def test_config_json_agrees_with_go(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], config_name: str, rootless: bool
) -> None:
    files = [
        T.dir("."),
        T.dir("etc"),
        T.reg("etc/passwd", PASSWD),
        T.reg("etc/group", GROUP),
        T.dir("home"),
        T.dir("home/alice", uid=1000, gid=1001),
    ]
    image = build(tmp_path, Case([files], config=CONFIGS[config_name]))
    flags = ("--rootless",) if rootless else ()
    ours, go = unpack_both(capsys, image, image, tmp_path, *flags)
    a = comparable_config(load_json(ours / "config.json"), go=False)
    b = comparable_config(load_json(go / "config.json"), go=True)
    # Field by field first, for a readable failure.
    for key in ("process", "root", "hostname", "mounts", "annotations"):
        assert a[key] == b[key], key
    assert a == b
    same_trees(ours, go)


def test_home_from_the_image_config_is_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The one process field where 0.6 (and we) deliberately differ from 0.4.7.
    files = [T.dir("etc"), T.reg("etc/passwd", PASSWD), T.reg("etc/group", GROUP)]
    config = {"User": "alice", "Env": ["HOME=/elsewhere"]}
    image = build(tmp_path, Case([files], config=config))
    ours, go = unpack_both(capsys, image, image, tmp_path)
    assert "HOME=/elsewhere" in load_json(ours / "config.json")["process"]["env"]
    assert "HOME=/home/alice" in load_json(go / "config.json")["process"]["env"]


@pytest.mark.parametrize("flags", [(), ("--rootless",)], ids=["root", "rootless"])
def test_bundle_vector_image_same_as_go(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: tuple[str, ...]
) -> None:
    layout = VECTORS / "bundle" / "image"
    image = Image(layout, "latest", "", "")
    ours, go = unpack_both(capsys, image, image, tmp_path, *flags)
    same_trees(ours, go)
    assert mtree_body(ours) == mtree_body(go)


@pytest.mark.parametrize(
    "target", ["nonexist/..", "x/y/../../z", "/gone/../../z"], ids=["dotdot", "deep", "abs"]
)
def test_dangling_link_through_missing_dirs_creates_only_the_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    case = Case([[T.dir("."), T.sym("l", target)], [T.reg("l/f", b"c")]])
    image = build(tmp_path, case)
    ours, go = unpack_both(capsys, image, image, tmp_path)
    a, b = tree(ours / "rootfs", mtimes=False), tree(go / "rootfs", mtimes=False)
    assert diff_trees(a, b) == []


def test_empty_pax_xattr_is_not_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = Case([[T.dir("."), T.reg("f", b"x", pax={"SCHILY.xattr.user.empty": ""})]])
    image = build(tmp_path, case)
    ours, go = unpack_both(capsys, image, image, tmp_path)
    same_trees(ours, go)
