"""The layer producer in a process of its own: two interpreters, so two cores.

In one process the producer (:class:`~umoci.ops.layer_pipeline.BatchProducer`)
and the extractor share an interpreter lock: the producer's C work (sha256,
inflate) runs beside the extractor, but its tar parsing and per-entry
Python take turns with the extractor's.  Here the producer runs in a child
interpreter (``sys.executable``, started with the parent's import path) and
sends its batches through a pipe, so both sides hold a lock of their own.

The child gets the layers' blob files as inherited file descriptors, opened
by the parent exactly as any blob is (:meth:`~umoci.cas.dir.DirStore.open_blob`),
and verifies them with the same :class:`~umoci.cas.verify.VerifiedReader`, so
every error says what it says in one process.  Errors travel pickled, as the
last item of a batch, and are raised when the extractor reaches them.

A frame on the pipe is a fixed header (the lengths of the two parts and the
compressed bytes read since the last frame, for the progress line), the
batch's items encoded by :mod:`marshal` (plain tuples, strings and numbers:
fast to decode, and produced only by our own child) and the file data the
batch carries, one block.  Item encoding, by Python type:

* ``tuple``: a :class:`~umoci.layer.tarstream.TarHeader`'s fields;
* ``int``: the length of a data chunk, taken from the data block in order;
* ``str``: a :class:`~umoci.ops.layer_pipeline.FileEnd` (the file's sha256);
* ``list``: a :class:`~umoci.ops.layer_pipeline.LayerEnd`;
* ``bytes``: a pickled exception.

Either side's death is seen by the other: the parent reads EOF before the
last layer's end (a ``LayerError``: the unpack fails and the bundle is never
marked complete), the child's next write fails with EPIPE and it exits.
"""

from __future__ import annotations

import marshal
import os
import queue
import signal
import struct
import sys
import threading

from umoci import log as umoci_log
from umoci import progress
from umoci.closing import Closing
from umoci.errors import LayerError
from umoci.layer.tarstream import EntryKind, TarHeader
from umoci.ops.layer_pipeline import (
    BatchProducer,
    FileEnd,
    LayerEnd,
    LayerEntries,
    LayerSource,
)

TYPE_CHECKING = False  # typing is for mypy only
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, BinaryIO

    from umoci.cas.dir import DirStore
    from umoci.oci.models import Descriptor

log = umoci_log.get()

#: (meta length, data length, compressed bytes read since the last frame)
_FRAME = struct.Struct("<IIQ")
_KINDS = tuple(EntryKind)
_KIND_INDEX = {kind: i for i, kind in enumerate(_KINDS)}
#: Frames the child may have encoded and not yet written (each at most ~1 MiB of data).
_CHILD_DEPTH = 8
#: What a pipe may hold (Linux: at most /proc/sys/fs/pipe-max-size, 1 MiB by default).
_PIPE_SIZE = 1 << 20
#: logging.DEBUG (not imported for it): a debug run shows what the child says on stderr.
_DEBUG = 10
#: How long the parent waits for a child that sent everything to exit.
_EXIT_WAIT_S = 5.0


class ProcessPipeline(Closing):
    """:class:`~umoci.ops.layer_pipeline.LayerPipeline`'s interface, the producer in a child.

    Raises ``OSError`` when the child cannot be started (the caller then
    uses the thread pipeline).
    """

    def __init__(
        self,
        store: DirStore,
        layers: Sequence[Descriptor],
        diff_ids: Sequence[str],
        *,
        hash_files: bool,
    ) -> None:
        # Only the parent needs these: the child's start-up does without them.
        import contextlib
        import fcntl
        import subprocess

        if len(layers) != len(diff_ids):
            raise ValueError("one diff_id per layer")
        # The extractor hashes each file as it writes it, not the child: the
        # child already inflates and hashes the diff_id, and with the 0.15 s
        # of file hashing (minbase) on this side the two processes are about
        # equally busy.  ``hash_files`` only says the extractor wants them.
        del hash_files
        self.hash_files = False
        self._count = len(layers)
        self._next_layer = 0
        self._line = progress.current()
        self._reader = LayerEntries(self)
        self._finished = False
        blobs: list[Any] = []
        read_fd = write_fd = -1
        try:
            for layer in layers:
                blobs.append(store.open_blob(layer))
            read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
            with contextlib.suppress(OSError):  # a smaller pipe only means less read-ahead
                fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
            fds = [_fileno(blob) for blob in blobs]
            spec = [
                [fd, layer.media_type, layer.digest, layer.size, diff_id]
                for fd, layer, diff_id in zip(fds, layers, diff_ids, strict=True)
            ]
            self._child = subprocess.Popen(
                [*child_command(), str(write_fd), "0"],  # "0": the child hashes no files
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=None if log.isEnabledFor(_DEBUG) else subprocess.DEVNULL,
                pass_fds=(write_fd, *fds),
                close_fds=True,
            )
        except BaseException:
            for fd in (read_fd, write_fd):
                if fd >= 0:
                    os.close(fd)
            raise
        finally:
            for blob in blobs:
                blob.close()  # the child has its own descriptors now
        os.close(write_fd)
        self._pipe = open(read_fd, "rb", buffering=_PIPE_SIZE)  # noqa: SIM115 -- closed by close()
        assert self._child.stdin is not None
        try:
            self._child.stdin.write(marshal.dumps(spec))
            self._child.stdin.close()
        except OSError:
            pass  # the child died already: its EOF tells the consumer

    # -- consumer side -------------------------------------------------------------
    def layer(self) -> LayerEntries:
        """The reader for the next layer (call once per layer, in order)."""
        if self._next_layer >= self._count:
            raise IndexError("no more layers")
        self._next_layer += 1
        self._reader.start_layer()
        return self._reader

    def next_batch(self) -> list[Any]:
        head = self._pipe.read(_FRAME.size)
        if len(head) != _FRAME.size:
            raise self._died()
        meta_len, data_len, counted = _FRAME.unpack(head)
        meta = self._pipe.read(meta_len)
        data = self._pipe.read(data_len)
        if len(meta) != meta_len or len(data) != data_len:
            raise self._died()
        if counted:
            self._line.add(counted)
        batch = decode_batch(meta, data)
        if batch and isinstance(batch[-1], LayerEnd) and self._next_layer == self._count:
            self._finished = True
        return batch

    def _died(self) -> LayerError:
        status = self._child.poll()
        why = "was killed" if status is not None and status < 0 else "ended early"
        if status is None:
            why = "closed its pipe"
        return LayerError(f"layer reader process {why} (status {status})")

    def close(self) -> None:
        """Stop the child (if still running) and reap it."""
        import contextlib
        import subprocess

        try:
            if self._finished:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._child.wait(timeout=_EXIT_WAIT_S)
            if self._child.poll() is None:
                self._child.kill()
            self._child.wait()
        finally:
            self._pipe.close()


def _fileno(blob: Any) -> int:
    """The file descriptor under a verified blob reader (OSError for an embedded blob)."""
    raw = getattr(blob, "_raw", None)
    fileno = getattr(raw, "fileno", None)
    if fileno is None:
        raise OSError("blob has no file descriptor (embedded data)")
    fd: int = fileno()
    return fd


def child_command() -> list[str]:
    """How to start the producer: this interpreter, with this process's import path.

    ``-I -S`` keeps the child's start-up short and independent of the
    environment; the path it needs (ours and the one of our dependencies)
    is handed over instead.
    """
    if not sys.executable or getattr(sys, "frozen", False):
        # A frozen application's executable is the application, not Python.
        raise OSError("no interpreter to start (sys.executable is not Python)")
    # src/umoci/ops/layer_process.py -> src: where our package is found
    ours = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = [ours, *(p for p in sys.path if p)]
    boot = (
        f"import sys; sys.path[:0] = {path!r}; "
        "from umoci.ops.layer_process import child_main; child_main()"
    )
    # -I drops PYTHONPYCACHEPREFIX and PYTHONDONTWRITEBYTECODE with the rest
    # of the environment: the child gets this interpreter's own settings back.
    flags = ["-B"] if sys.dont_write_bytecode else []
    if sys.pycache_prefix:
        flags += ["-X", f"pycache_prefix={sys.pycache_prefix}"]
    return [sys.executable, "-I", "-S", *flags, "-c", boot]


# -- the wire format ---------------------------------------------------------------------


def encode_batch(batch: list[Any]) -> tuple[bytes, list[bytes | memoryview]]:
    """A batch as (meta, data blocks) (see the module docstring)."""
    meta: list[Any] = []
    data: list[bytes | memoryview] = []
    for item in batch:
        if type(item) is TarHeader:
            meta.append(
                (
                    item.name,
                    _KIND_INDEX[item.kind],
                    item.mode,
                    item.uid,
                    item.gid,
                    item.size,
                    item.mtime_ns,
                    item.atime_ns,
                    item.linkname,
                    item.devmajor,
                    item.devminor,
                    item.uname,
                    item.gname,
                    item.xattrs,
                )
            )
        elif isinstance(item, FileEnd):
            meta.append(str(item))
        elif isinstance(item, LayerEnd):
            meta.append([item.entries, item.trailing])
        elif isinstance(item, BaseException):
            meta.append(_pickled_error(item))
        else:
            meta.append(len(item))
            data.append(item)
    return marshal.dumps(meta), data


def decode_batch(meta: bytes, data: bytes) -> list[Any]:
    """The batch :func:`encode_batch` encoded."""
    items = marshal.loads(meta)  # written by our own child, not by input
    view = memoryview(data)
    pos = 0
    batch: list[Any] = []
    append = batch.append
    for item in items:
        kind = type(item)
        if kind is int:
            append(view[pos : pos + item])
            pos += item
        elif kind is tuple:
            append(TarHeader(item[0], _KINDS[item[1]], *item[2:]))
        elif kind is str:
            append(FileEnd(item))
        elif kind is list:
            append(LayerEnd(item[0], item[1]))
        else:
            append(_unpickled_error(item))
    return batch


def _pickled_error(err: BaseException) -> bytes:
    """``err`` pickled, or (when it cannot be) a LayerError with its words."""
    import pickle

    try:
        data = pickle.dumps(err)
        pickle.loads(data)  # our own bytes: proves they load again
        return data
    except Exception:
        return pickle.dumps(LayerError(f"{type(err).__name__}: {err}"))


def _unpickled_error(data: bytes) -> BaseException:
    import pickle

    err = pickle.loads(data)  # written by our own child, not by input
    if not isinstance(err, BaseException):
        return LayerError(f"layer reader process sent {type(err).__name__}")
    return err


# -- the child ---------------------------------------------------------------------------


class _Counter:
    """Compressed bytes read since the last frame was sent."""

    def __init__(self) -> None:
        self.pending = 0

    def add(self, nbytes: int = 0, entries: int = 0) -> None:
        self.pending += nbytes


def child_main() -> None:
    """The producer process: argv is ``WRITE_FD HASH_FILES``, stdin the layers (marshal)."""
    # Ctrl-C reaches the whole process group: the parent decides, and kills us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The interpreter is ours alone: tuned as the umoci command tunes its
    # own for bulk data (umoci.cli.tuning says why).
    import gc

    from umoci.cli.tuning import HELPER_SWITCH_INTERVAL

    gc.disable()
    sys.setswitchinterval(HELPER_SWITCH_INTERVAL)
    out = int(sys.argv[1])
    hash_files = sys.argv[2] == "1"
    spec = marshal.loads(sys.stdin.buffer.read())  # from our parent
    frames: queue.Queue[tuple[bytes, list[bytes | memoryview]] | None] = queue.Queue(
        maxsize=_CHILD_DEPTH
    )
    broken = threading.Event()
    counter = _Counter()

    def deliver(batch: list[Any]) -> None:
        meta, data = encode_batch(batch)
        counted, counter.pending = counter.pending, 0
        head = _FRAME.pack(len(meta), sum(len(d) for d in data), counted)
        while not broken.is_set():
            try:
                frames.put((head + meta, data), timeout=0.1)
                return
            except queue.Full:
                continue

    def write_frames() -> None:
        try:
            while (frame := frames.get()) is not None:
                _write_all(out, [frame[0], *frame[1]])
        except OSError:  # the parent is gone (EPIPE) or stopped reading
            broken.set()

    writer = threading.Thread(target=write_frames, name="umoci-frames", daemon=True)
    writer.start()
    sources = [
        LayerSource(_blob_opener(fd, digest, size), media_type, digest, diff_id)
        for fd, media_type, digest, size, diff_id in spec
    ]
    BatchProducer(
        sources,
        hash_files=hash_files,
        deliver=deliver,
        stopped=broken.is_set,
        counter=counter,
    ).run()
    while not broken.is_set():
        try:
            frames.put(None, timeout=0.1)
            break
        except queue.Full:
            continue
    writer.join()
    os._exit(0)  # no interpreter teardown: nothing is left to flush


def _blob_opener(fd: int, digest: str, size: int) -> Any:
    from umoci.cas.verify import VerifiedReader

    def open_blob() -> BinaryIO:
        return VerifiedReader(open(fd, "rb", buffering=0), digest, size)  # type: ignore[return-value]

    return open_blob


def _write_all(fd: int, blocks: list[bytes | memoryview]) -> None:
    """Write every block, whatever the pipe takes per call."""
    views = [memoryview(b).cast("B") for b in blocks if len(b)]
    while views:
        n = os.writev(fd, views)
        while n:
            if n >= len(views[0]):
                n -= len(views[0])
                views.pop(0)
            else:
                views[0] = views[0][n:]
                n = 0
