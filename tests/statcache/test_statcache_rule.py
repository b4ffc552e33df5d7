"""One stat-cache rule: trust an inode while its number and ctime are unchanged, and settled.

The rule lives in :mod:`umoci.ops.statcache` alone.  These tests check
that the cache writer, repack's quick scan and its full walk apply it alike
(a file changed within the racy window is read again by both repack paths,
an entry the writer vouched for is believed by both), and that no other
module carries its own copy of the rule or its margin, ``mtree/`` least of
all.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
from statkit import last_layer, layer_count, make_image, run, sha256

import umoci
from umoci import mtree
from umoci.mtree import DeltaType
from umoci.ops import statcache
from umoci.ops.repack_scan import scan_deltas

SRC = Path(umoci.__file__).resolve().parent
OWNER = SRC / "ops" / "statcache.py"


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_bytes(), str(path))) for path in sorted(SRC.rglob("*.py"))]


def _imported(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_mtree_knows_nothing_of_the_stat_cache() -> None:
    for path, tree in _modules():
        if path.parent.name != "mtree":
            continue
        leaks = {name for name in _imported(tree) if name.startswith("umoci.ops")}
        assert not leaks, f"{path.relative_to(SRC)} imports {sorted(leaks)}"


def _mentions_ctime(node: ast.AST) -> bool:
    return any(
        (isinstance(sub, ast.Attribute) and sub.attr.endswith("ctime_ns"))
        or (isinstance(sub, ast.Name) and sub.id.endswith("ctime_ns"))
        for sub in ast.walk(node)
    )


def test_only_the_owner_holds_the_rule_and_its_margin() -> None:
    """Nowhere else a racy margin, nor ctime compared or subtracted (the rule's two halves)."""
    found: list[str] = []
    for path, tree in _modules():
        if path == OWNER:
            continue
        where = path.relative_to(SRC)
        for node in ast.walk(tree):
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AnnAssign | ast.AugAssign):
                targets = [node.target]
            for target in targets:
                for sub in ast.walk(target):
                    name = sub.id if isinstance(sub, ast.Name) else getattr(sub, "attr", "")
                    if "racy" in name.lower():
                        found.append(f"{where}:{node.lineno}: defines {name}")
            if isinstance(node, ast.Compare) and _mentions_ctime(node):
                found.append(f"{where}:{node.lineno}: compares a ctime")
            if isinstance(node, ast.BinOp) and _mentions_ctime(node):
                found.append(f"{where}:{node.lineno}: computes with a ctime")
    assert found == []


def test_the_owner_is_what_the_unpack_and_repack_paths_use() -> None:
    uses = {
        "ops/bundle_unpack.py": {"CacheWriter", "Observations"},
        "ops/extracted.py": {"known_record", "relinked", "vouched_digest"},
        "ops/bundle_repack.py": {"Observations", "read_cache", "write_cache"},
        "ops/repack_scan.py": {"unchanged"},
    }
    for where, names in uses.items():
        tree = ast.parse((SRC / where).read_bytes())
        imported = _imported(tree)
        assert {f"umoci.ops.statcache.{name}" for name in names} <= imported, where


def test_settled_is_strictly_older_than_the_margin() -> None:
    margin = statcache.RACY_MARGIN_NS
    assert not statcache.settled(1_000, 1_000 + margin)
    assert statcache.settled(1_000, 1_000 + margin + 1)
    assert not statcache.settled(1_000, 1_000)


def _rewrite_same_size(path: Path, data: bytes) -> None:
    st = path.stat()
    assert len(data) == st.st_size
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.mark.parametrize("late_ns", [0, 1], ids=["within-the-window", "just-past-it"])
def test_writer_scan_and_walk_draw_the_same_line(tmp_path: Path, late_ns: int) -> None:
    """A change the ctime cannot show: read again by both repack paths iff the writer said racy.

    The cache pairs the mtree's entry for ``d/a.txt`` (old contents) with
    the ctime of the rewritten file: what a walk records when the rewrite
    comes after its ``lstat`` within the same clock tick.  Whether that
    observation is settled depends on the clock reading taken before the
    ``lstat``; the boundary is one nanosecond wide.
    """
    root = tmp_path / "rootfs"
    (root / "d").mkdir(parents=True)
    (root / "d" / "a.txt").write_bytes(b"aaaa")
    (root / "d" / "b.txt").write_bytes(b"bbbb")
    spec = mtree.walk(root)
    data = mtree.dump(spec)
    _rewrite_same_size(root / "d" / "a.txt", b"AAAA")

    observations = statcache.Observations()
    margin = statcache.RACY_MARGIN_NS
    for entry in spec.entries():
        st = os.lstat(root / os.fsdecode(entry.path))
        late = late_ns if entry.path == b"d/a.txt" else 1
        observations.record(entry.path, st, st.st_ctime_ns + margin + late)
    statcache.write_cache(str(tmp_path), "m.mtree", sha256(data), spec, observations)
    snapshot = statcache.read_cache(str(tmp_path), "m.mtree", data)
    assert snapshot is not None
    racy = late_ns == 0

    # The writer: trusted unless racy (the others are all trusted).
    trusted = {path for path, fingerprint in snapshot.entries.items() if fingerprint[0] >= 0}
    assert (b"d/a.txt" not in trusted) == racy
    assert trusted | {b"d/a.txt"} == set(snapshot.entries)

    # The quick scan: the change is seen iff the entry was racy.
    deltas = scan_deltas(str(root), snapshot, rootless=False)
    assert deltas is not None
    found = [(d.path, d.type) for d in deltas]
    assert found == ([(b"d/a.txt", DeltaType.MODIFIED)] if racy else [])

    # The full walk: the file is read again iff the entry was racy.
    walked = mtree.walk(root, known_digest=snapshot.digests().take)
    expected = sha256(b"AAAA") if racy else sha256(b"aaaa")
    assert walked.index()[b"d/a.txt"].get("sha256digest") == expected
    changed = [d.path for d in mtree.compare(mtree.parse(data), walked, mtree.UMOCI_KEYWORDS)]
    assert changed == ([b"d/a.txt"] if racy else [])


def _pretend_same_tick(bundle: Path, name: str) -> None:
    """Give the cache line of ``name`` the file's current ctime, as a same-tick change would.

    The inode field stays as the writer wrote it: that is what decides.
    """
    path = bundle / statcache.CACHE_NAME
    header, *lines = path.read_text().splitlines()
    st = os.lstat(bundle / "rootfs" / name)
    for i, line in enumerate(lines):
        ino, _ctime, path_field, rest = line.split(" ", 3)
        if path_field == name:
            lines[i] = f"{ino} {st.st_ctime_ns} {path_field} {rest}"
    path.write_text("\n".join([header, *lines]) + "\n")


@pytest.mark.parametrize("route", ["scan", "walk"])
@pytest.mark.parametrize("margin_s", [3600, 0], ids=["racy", "settled"])
def test_unpack_writer_and_repack_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, route: str, margin_s: int
) -> None:
    """End to end: unpack's writer decides, and both repack paths obey.

    With an hour's margin every entry unpack records is racy, as if the
    walk had run right after extraction: a same-size rewrite that kept the
    ctime the cache holds is still found.  With no margin at all the cache
    vouches for the old contents, and repack believes it: proof that the
    writer's decision is what protects the file.
    """
    layout = make_image(tmp_path)
    bundle = tmp_path / "bundle"
    with monkeypatch.context() as patched:
        patched.setattr(statcache, "RACY_MARGIN_NS", margin_s * 10**9)
        run("unpack", "--image", f"{layout}:t", str(bundle))
    _rewrite_same_size(bundle / "rootfs" / "d" / "a.txt", b"AAAA")
    _pretend_same_tick(bundle, "d/a.txt")

    # --refresh-bundle always walks the whole rootfs; without it, the quick scan.
    flags = ["--refresh-bundle"] if route == "walk" else []
    run("repack", *flags, "--image", f"{layout}:t2", str(bundle))
    if margin_s:
        assert list(last_layer(layout, "t2")) == ["d/a.txt"]
    else:
        assert layer_count(layout, "t2") == layer_count(layout, "t")
