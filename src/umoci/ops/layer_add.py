"""``umoci insert`` and ``umoci raw add-layer``: a new layer from outside the image.

``insert`` archives a file or tree at a path in the image (optionally
opaque, or a single whiteout with ``--whiteout``); ``raw add-layer`` takes
an uncompressed tar archive as it is (its entries are not rewritten, only
checked to be a readable tar) and compresses it per ``--compress``.  Both
append the layer and a history entry, and tag the result (``--tag``, or
the source tag) as the last write.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from umoci import goquote
from umoci.compress.streams import CHUNK_SIZE, ByteWriter
from umoci.errors import LayerError, UsageError
from umoci.layer.changes import clean_target
from umoci.layer.generate import (
    GenerateOptions,
    generate_insert_layer,
    generate_whiteout_layer,
)
from umoci.layer.tarstream import TarReader
from umoci.layer.whiteout import PREFIX as WHITEOUT_PREFIX_TEXT
from umoci.layout.refs import resolve
from umoci.mutate import Mutator
from umoci.ops.basic import opened, write_target
from umoci.ops.bundle_unpack import effective_maps
from umoci.ops.history import history_entry
from umoci.ops.new_layer import choose_codec, clamp_time, media_type_for, write_layer
from umoci.ops.options import Compression, HistoryOptions, InsertMode, MapOptions


def _add_layer(
    layout: str,
    tag: str,
    *,
    new_tag: str | None,
    compress: Compression,
    history: HistoryOptions,
    created_by: str,
    default_author: Callable[[Mutator], str],
    produce: Callable[[ByteWriter], object],
    platform: str | None,
) -> None:
    target = write_target(tag, new_tag)
    with opened(layout, writer=True) as store:
        path = resolve(store, tag, platform)
        mutator = Mutator(store, path)
        codec = choose_codec(compress, mutator.manifest)
        layer = write_layer(
            store, codec, media_type_for(codec, path.descriptor.media_type), produce
        )
        entry = history_entry(
            history, created_by=created_by, author=default_author(mutator), empty_layer=False
        )
        mutator.add_layer(layer.descriptor, layer.diff_id, entry)
        mutator.commit(target)


def _check_insert_target(target: str) -> None:
    """Refuse a target naming a whiteout before anything is written.

    A component starting with ``.wh.`` would be read back as a deletion (the
    Go umoci refuses it as the last component; in the middle it writes a
    layer that unpacks wrongly, so we refuse that too).
    """
    for component in clean_target(target).split(b"/"):
        if component.startswith(WHITEOUT_PREFIX_TEXT.encode()):
            raise UsageError(
                f"target {goquote.quote(target)}: invalid path has whiteout prefix "
                f'".wh.": {os.fsdecode(component)}'
            )


def insert(
    layout: str,
    tag: str,
    source: str | None,
    target: str,
    *,
    new_tag: str | None,
    mode: InsertMode,
    history: HistoryOptions,
    compress: Compression,
    maps: MapOptions,
    platform: str | None = None,
) -> None:
    _check_insert_target(target)
    if mode is InsertMode.WHITEOUT:
        if source is not None:
            raise UsageError("a whiteout takes only TARGET, no SOURCE")

        def produce(sink: ByteWriter) -> object:
            return generate_whiteout_layer(target, sink)

    else:
        if source is None:
            raise UsageError("insert needs SOURCE and TARGET")
        if not os.path.lexists(source):
            raise UsageError(f"source {source}: no such file or directory")
        maps = effective_maps(maps)
        options = GenerateOptions(
            rootless=maps.rootless,
            uid_maps=maps.uid_maps,
            gid_maps=maps.gid_maps,
            clamp_mtime=clamp_time(),
        )
        src = source

        def produce(sink: ByteWriter) -> object:
            return generate_insert_layer(
                src, target, sink, options, opaque=mode is InsertMode.OPAQUE
            )

    # The Go umoci leaves the author of an insert's history entry empty.
    _add_layer(
        layout,
        tag,
        new_tag=new_tag,
        compress=compress,
        history=history,
        created_by="umoci insert",
        default_author=lambda _: "",
        produce=produce,
        platform=platform,
    )


def _copy_checked_tar(path: str, sink: ByteWriter) -> None:
    """Copy a tar archive verbatim, refusing one our extractor could not read."""
    with open(path, "rb") as f:
        # First pass: a cheap structural check, so a broken archive never
        # becomes a layer nobody can unpack.
        reader = TarReader(f)
        while reader.next() is not None:
            pass
        f.seek(0)
        while chunk := f.read(CHUNK_SIZE):
            sink.write(chunk)


def raw_add_layer(
    layout: str,
    tag: str,
    layer_path: str,
    *,
    new_tag: str | None,
    history: HistoryOptions,
    compress: Compression,
    platform: str | None = None,
) -> None:
    if not os.path.isfile(layer_path):
        raise UsageError(f"layer {layer_path}: not a regular file")

    def produce(sink: ByteWriter) -> object:
        try:
            _copy_checked_tar(layer_path, sink)
        except OSError as err:
            raise LayerError(f"read {layer_path}: {err.strerror}") from None
        return None

    _add_layer(
        layout,
        tag,
        new_tag=new_tag,
        compress=compress,
        history=history,
        created_by="umoci raw add-layer",
        default_author=lambda mutator: mutator.config.author,
        produce=produce,
        platform=platform,
    )
