"""The layer producer in a process of its own (umoci.ops.layer_process).

What the thread pipeline guarantees (tests/unpack/test_unpack_pipeline.py
compares the trees, mtrees and stat caches) holds here too; these tests are
about what only a second process can get wrong: its errors must read as in
one process, and the death of either side must fail the unpack, never leave
a bundle that repack would take.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from imagekit import Image, Layer, T, build_tar, image_of, sha256, write_image

from umoci.errors import LayerError, UmociError
from umoci.layer.extract import LayerExtractor
from umoci.ops import image_layers, layer_process
from umoci.ops.basic import opened
from umoci.ops.image_layers import apply_image_layers, load_image
from umoci.ops.layer_pipeline import LayerEntries
from umoci.ops.layer_process import ProcessPipeline

#: Many files of incompressible data: far more than the pipe and the
#: child's queue hold (~10 MiB), so the child is still at work, blocked on a
#: full pipe, when a test kills one side.
FILES = 2000
FILE_BYTES = 32 << 10


@pytest.fixture(scope="module")
def big_image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    root = tmp_path_factory.mktemp("big")
    entries = [T.dir("d")]
    entries += [T.reg(f"d/f{i:05d}", os.urandom(FILE_BYTES)) for i in range(FILES)]
    return image_of(root / "image", entries)


def _apply(image: Image, rootfs: Path, producer: str) -> None:
    rootfs.mkdir()
    with opened(str(image.layout), streams=True) as store:
        apply_image_layers(
            store, load_image(store, image.tag), LayerExtractor(rootfs), producer=producer
        )


def _error(image: Image, rootfs: Path, producer: str) -> UmociError:
    with pytest.raises(UmociError) as err:
        _apply(image, rootfs, producer)
    return err.value


def test_a_bad_blob_reads_the_same_from_the_process(tmp_path: Path) -> None:
    image = image_of(tmp_path / "image", [T.reg("a", b"a" * 5000), T.reg("b", b"b")])
    blob = image.blob_path(image.layer_digests[0])
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    thread = _error(image, tmp_path / "thread", "thread")
    child = _error(image, tmp_path / "child", "process")
    assert type(child) is type(thread)
    assert str(child) == str(thread)
    assert image.layer_digests[0] in str(child)


def test_a_bad_tar_reads_the_same_from_the_process(tmp_path: Path) -> None:
    tar = bytearray(build_tar([T.reg("a", b"x"), T.reg("b", b"y")]))
    tar[1024 + 148] ^= 0x01  # the second header's checksum: the parser stops there
    image = write_image(tmp_path / "image", [Layer(bytes(tar))], diff_ids=[sha256(bytes(tar))])
    thread = _error(image, tmp_path / "thread", "thread")
    child = _error(image, tmp_path / "child", "process")
    assert "checksum" in str(thread)
    assert type(child) is type(thread)
    assert str(child) == str(thread)


def _read_to_the_end(entries: LayerEntries) -> None:
    while entries.next() is not None:
        pass


def test_a_killed_producer_fails_the_layer(tmp_path: Path, big_image: Image) -> None:
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    with opened(str(big_image.layout), streams=True) as store:
        loaded = load_image(store, big_image.tag)
        with ProcessPipeline(
            store, loaded.manifest.layers, loaded.config.diff_ids, hash_files=True
        ) as pipeline:
            entries = pipeline.layer()
            assert entries.next() is not None
            pipeline._child.kill()
            pipeline._child.wait()
            with pytest.raises(LayerError, match=r"layer reader process was killed \(status -9\)"):
                _read_to_the_end(entries)


def test_a_producer_that_cannot_start_leaves_the_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = image_of(tmp_path / "image", [T.reg("a", b"alpha")])
    started: list[str] = []
    real = ProcessPipeline.__init__

    def spy(self: ProcessPipeline, *args: object, **kwargs: object) -> None:
        started.append("process")
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    def no_interpreter() -> list[str]:
        raise OSError("no interpreter to start (sys.executable is not Python)")

    monkeypatch.setattr(ProcessPipeline, "__init__", spy)
    monkeypatch.setattr(image_layers, "PROCESS_MIN_BYTES", 0)
    _apply(image, tmp_path / "auto", "auto")
    assert started == ["process"]
    monkeypatch.setattr(layer_process, "child_command", no_interpreter)
    _apply(image, tmp_path / "fallback", "auto")  # the thread pipeline took over
    assert (tmp_path / "fallback" / "a").read_bytes() == b"alpha"
    with pytest.raises(OSError, match="no interpreter"):
        _apply(image, tmp_path / "forced", "process")


def test_small_layers_stay_in_the_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    image = image_of(tmp_path / "image", [T.reg("a", b"alpha")])

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a producer process for a small layer")

    monkeypatch.setattr(ProcessPipeline, "__init__", refuse)
    _apply(image, tmp_path / "rootfs", "auto")
    assert (tmp_path / "rootfs" / "a").read_bytes() == b"alpha"


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(p) for p in text.split()]


def _start_unpack(image: Image, bundle: Path) -> tuple[subprocess.Popen[bytes], int]:
    """``umoci unpack`` of *image*, and the pid of its producer process once it runs."""
    process = subprocess.Popen(
        [sys.executable, "-m", "umoci", "unpack", "--image", image.ref, str(bundle)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not (children := _children(process.pid)):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no producer process was started"
        time.sleep(0.001)
    return process, children[0]


def _gone(pid: int, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.01)
    return False


def test_the_cli_unpack_fails_when_its_producer_is_killed(tmp_path: Path, big_image: Image) -> None:
    bundle = tmp_path / "bundle"
    process, child = _start_unpack(big_image, bundle)
    os.kill(child, signal.SIGKILL)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 1, err
    lines = err.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("umoci: unpack: ")
    assert "layer reader process was killed (status -9)" in lines[0]
    assert not bundle.exists()  # removed again, as after any failed unpack


def test_a_killed_unpack_leaves_no_producer_and_no_bundle_repack_takes(
    tmp_path: Path, big_image: Image
) -> None:
    bundle = tmp_path / "bundle"
    process, child = _start_unpack(big_image, bundle)
    while not (bundle / "rootfs" / "d").exists():
        assert process.poll() is None
        time.sleep(0.001)
    process.kill()
    process.communicate(timeout=60)
    assert _gone(child), "the producer outlived its unpack"
    assert not (bundle / "umoci.json").exists()
    repack = subprocess.run(
        [
            sys.executable,
            "-m",
            "umoci",
            "repack",
            "--image",
            f"{big_image.layout}:after",
            str(bundle),
        ],
        capture_output=True,
        check=False,
    )
    assert repack.returncode == 1
    assert b"umoci.json" in repack.stderr, repack.stderr


def test_the_child_keeps_this_interpreters_bytecode_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``-I`` drops PYTHONPYCACHEPREFIX and PYTHONDONTWRITEBYTECODE: they are passed as flags."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path / "pycache"))
    command = layer_process.child_command()
    assert "-B" in command
    assert f"pycache_prefix={tmp_path / 'pycache'}" in command
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.setattr(sys, "pycache_prefix", None)
    assert "-B" not in layer_process.child_command()
    assert not any("pycache_prefix" in arg for arg in layer_process.child_command())
