"""kill -9 at random moments of each verb: the layout stays whole and gc cleans up after.

For each verb, 20 runs on a fresh copy of one layout, each killed with
SIGKILL after a random delay within the verb's own running time.  After
each: ``index.json`` parses, every descriptor reachable from it has its
blob with the right size and digest, every tag that was there is still
there, and ``gc --grace 0`` then leaves exactly the reachable blobs and no
temporary directory.  A killed ``unpack`` leaves a bundle that is complete
(``repack`` works) or one that ``repack`` refuses as incomplete.  Run with
``pytest -m stress``; ``UMOCI_CRASH_RUNS`` changes the runs per verb.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import time
from pathlib import Path

import pytest

from integritykit import problems, reachable_digests, spawn, tags
from multikit import umoci_ok

pytestmark = pytest.mark.stress

RUNS = int(os.environ.get("UMOCI_CRASH_RUNS", "20"))
SEED = int(os.environ.get("UMOCI_CRASH_SEED", "20261202"))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A layout with tags a and b (8 MiB of random data in a layer) and a bundle of a."""
    root = tmp_path_factory.mktemp("pristine")
    layout = root / "layout"
    (root / "big").write_bytes(os.urandom(8 << 20))
    umoci_ok("init", "--layout", layout)
    umoci_ok("new", "--image", f"{layout}:a")
    umoci_ok("insert", "--image", f"{layout}:a", root / "big", "/big")
    umoci_ok("tag", "--image", f"{layout}:a", "b")
    umoci_ok("config", "--image", f"{layout}:b", "--config.user", "1")  # garbage for gc
    umoci_ok("unpack", "--image", f"{layout}:a", root / "bundle")
    (root / "bundle" / "rootfs" / "changed").write_bytes(os.urandom(8 << 20))
    return root


VERBS: dict[str, list[str]] = {
    "repack": ["repack", "--image", "{L}:r", "{B}"],
    "config": ["config", "--image", "{L}:a", "--config.env", "K=v", "--tag", "c"],
    "insert": ["insert", "--image", "{L}:a", "{R}/big", "/more", "--tag", "i"],
    "tag": ["tag", "--image", "{L}:a", "t"],
    "gc": ["gc", "--grace", "0", "--layout", "{L}"],
    "unpack": ["unpack", "--image", "{L}:a", "{R}/fresh"],
}


def _argv(verb: str, root: Path) -> list[str]:
    places = {"{L}": str(root / "layout"), "{B}": str(root / "bundle"), "{R}": str(root)}
    out = []
    for word in VERBS[verb]:
        for key, value in places.items():
            word = word.replace(key, value)
        out.append(word)
    return out


def _fresh_copy(pristine: Path, into: Path) -> Path:
    shutil.copytree(pristine, into, symlinks=True)
    return into


def _duration(pristine: Path, verb: str, scratch: Path) -> float:
    root = _fresh_copy(pristine, scratch)
    started = time.monotonic()
    process = spawn(*_argv(verb, root))
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()
    shutil.rmtree(root)
    return time.monotonic() - started


def _check_after_kill(root: Path, old_tags: set[str], verb: str) -> None:
    layout = root / "layout"
    assert problems(layout) == []
    assert old_tags <= tags(layout), f"tags lost: {old_tags - tags(layout)}"
    if verb == "unpack" and (root / "fresh").exists():
        repack = spawn("repack", "--image", f"{layout}:after", root / "fresh")
        _, err = repack.communicate(timeout=120)
        if repack.returncode != 0:
            assert not (root / "fresh" / "umoci.json").exists()
            if (root / "fresh" / "rootfs").exists():
                assert b"the bundle is incomplete" in err, err
    umoci_ok("gc", "--grace", "0", "--layout", layout)
    assert problems(layout) == []
    assert not [p for p in layout.iterdir() if p.name.startswith(".umoci-")]
    on_disk = {f"sha256:{p.name}" for p in (layout / "blobs" / "sha256").iterdir()}
    assert on_disk == reachable_digests(layout), "gc left unreachable blobs"


@pytest.mark.parametrize("verb", list(VERBS))
def test_kill9_at_random_moments(pristine: Path, tmp_path: Path, verb: str) -> None:
    rng = random.Random(f"{SEED}-{verb}")
    # The shortest of three: a slow outlier would put most kills after the end.
    duration = min(_duration(pristine, verb, tmp_path / f"timing-{i}") for i in range(3))
    old_tags = tags(pristine / "layout")
    killed = 0
    for run in range(RUNS):
        root = _fresh_copy(pristine, tmp_path / f"run-{run}")
        process = spawn(*_argv(verb, root))
        time.sleep(rng.uniform(0, duration))
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        killed += process.returncode == -signal.SIGKILL
        _check_after_kill(root, old_tags, verb)
        shutil.rmtree(root)
    # Most runs must really have died mid-way, or this tested nothing.
    assert killed >= RUNS // 2, f"only {killed} of {RUNS} runs were killed before finishing"
