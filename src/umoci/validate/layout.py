"""Validating an image layout, or one image in it: every check of :data:`findings.CHECKS`.

The walk starts at ``index.json`` and follows every descriptor (or, for one
image, the entries of one reference), reading each blob once: JSON blobs
whole (they are small), layers streamed -- raw bytes hashed for the blob
digest, decompressed with the media type's codec, hashed again for the
diff_id, and parsed as tar -- so memory stays flat whatever the layer size.
Layers are checked last, two at a time (decompression and hashing release
the GIL), and their findings are reported in walk order.

Nothing is ever written: blobs are opened read-only and non-blocking (a
FIFO cannot hang the validator), so a read-only layout validates too.
A problem found never stops the walk; what cannot be read is reported
once, and what depends on it is skipped.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

from umoci.cas.layoutcheck import (
    BLOBS_DIR,
    INDEX_FILE,
    LAYOUT_FILE,
    LAYOUT_VERSION,
    MAX_JSON_BYTES,
    blob_entries,
    open_regular,
)
from umoci.compress import codec_for_media_type
from umoci.errors import BlobInvalidError, LayerError, UmociError
from umoci.oci import decode, mediatypes
from umoci.oci import digest as digests
from umoci.oci.decode import Problem
from umoci.oci.models import Descriptor, ImageConfig, ImageLayout, Index, Manifest, Platform
from umoci.oci.refs import is_valid_tag
from umoci.validate import schemas
from umoci.validate.findings import Report

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    JSON = dict[str, Any]
    Model = TypeVar("Model")

_MAX_DEPTH = 16
_CHUNK = 1 << 20
_TEMP_PREFIX = ".umoci-"

# How each problem the decoder finds is reported: (level, check).  Type
# problems are what the JSON schemas also catch, so they are reported only
# where the schemas found nothing (a key that only Go's case-insensitive
# match reads, say).
_PROBLEM_FINDINGS = {
    "type": ("error", "schema"),
    "time": ("error", "created"),
    "base64": ("error", "embedded-data"),
    "forbidden": ("error", "media-type"),
    "key": ("warning", "schema"),
    "duplicate": ("warning", "schema"),
}
_PROBLEM_HINTS = {"key": " (the Go umoci reads it; strict readers do not)"}


def _path(parts: list[str | int]) -> str:
    """A JSON path as the decoder writes it: ``layers[1].size``."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")


def _schema_errors(document: object, schema: JSON) -> list[tuple[str, str, str | None]]:
    """Each way *document* breaks *schema*: (path, message, the path it makes unreadable).

    A value of the wrong type, or a missing required member, is unreadable;
    a string that breaks a pattern, say, is still read.
    """
    import jsonschema  # only this verb needs it

    validator = jsonschema.Draft7Validator(schema)
    out = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        path = list(error.absolute_path)
        # Digests have their own check (grammar and algorithm).
        if path and path[-1] == "digest" and error.validator == "pattern":
            continue
        if len(path) >= 2 and path[-2] == "diff_ids" and error.validator == "pattern":
            continue
        unreadable: str | None = None
        if error.validator == "type":
            unreadable = _path(path)
        elif error.validator == "required" and isinstance(error.instance, dict):
            missing = [name for name in error.validator_value if name not in error.instance]
            unreadable = _path([*path, *missing[:1]])
        out.append((_path(path), error.message, unreadable))
    return out


def _layer_codec_problem(media_type: str) -> str | None:
    """Why unpack cannot read a layer of *media_type* (None if it can): unpack's own rule."""
    try:
        codec_for_media_type(media_type)
    except LayerError as err:
        return str(err)
    return None


def digest_problem(digest: object) -> str | None:
    """Why *digest* is not a digest we can verify (None if it is): the store's own rule."""
    if not isinstance(digest, str):
        return "digest is not a string"
    try:
        digests.split(digest)
    except BlobInvalidError as err:
        return str(err)
    return None


class _Broken:
    """The paths in one document whose values could not be read: what needs them is skipped."""

    def __init__(self, paths: list[str]) -> None:
        self._paths = paths

    def at(self, path: str) -> bool:
        """Is the value at *path*, or one inside it or around it, unreadable?"""
        inside = (f"{path}.", f"{path}[")
        return any(
            p in ("", path) or p.startswith(inside) or path.startswith((f"{p}.", f"{p}["))
            for p in self._paths
        )


class LayoutValidator:
    def __init__(self, layout: str, report: Report, *, layers: bool = True) -> None:
        self.layout = layout
        self.report = report
        self.check_layers = layers
        # JSON blobs by digest, parsed once (None: unusable, already reported).
        self._blobs: dict[str, object | None] = {}
        self._reached: set[str] = set()
        self._layer_jobs: list[tuple[Descriptor, str | None, str]] = []

    # -- entry points ---------------------------------------------------------

    def check_layout_files(self) -> Index | None:
        """``oci-layout`` and ``index.json``; the index if it is usable."""
        data = self._read_file(os.path.join(self.layout, LAYOUT_FILE), "oci-layout", LAYOUT_FILE)
        if data is not None:
            try:
                version = ImageLayout.from_bytes(data, LAYOUT_FILE, BlobInvalidError).version
            except UmociError as err:
                self.report.error("oci-layout", LAYOUT_FILE, str(err))
            else:
                if version != LAYOUT_VERSION:
                    self.report.error(
                        "oci-layout",
                        LAYOUT_FILE,
                        f"imageLayoutVersion {version!r}, want {LAYOUT_VERSION!r}",
                    )
        if not os.path.isdir(os.path.join(self.layout, BLOBS_DIR)):
            self.report.error("oci-layout", BLOBS_DIR, "missing or not a directory")
        data = self._read_file(os.path.join(self.layout, INDEX_FILE), "index-json", INDEX_FILE)
        if data is None:
            return None
        try:
            # Go reads index.json with json.Unmarshal: nothing may follow the object.
            value = decode.parse(data, INDEX_FILE, BlobInvalidError)
        except UmociError as err:
            self.report.error("index-json", INDEX_FILE, str(err).removeprefix(f"{INDEX_FILE}: "))
            return None
        if decode.members(value) is None:
            self.report.error("index-json", INDEX_FILE, "not a JSON object")
            return None
        index, _ = self._document(
            value,
            schemas.INDEX,
            INDEX_FILE,
            lambda problems: Index.from_json(value, "", INDEX_FILE, problems=problems),
        )
        return index

    def run_layout(self) -> None:
        index = self.check_layout_files()
        if index is not None:
            self._index_entries(index, INDEX_FILE, _Broken([]), depth=0)
        self._run_layers()
        self._sweep_warnings()

    def run_entries(self, entries: list[tuple[Descriptor, str]]) -> None:
        """Validate the given descriptors (and everything below them) only."""
        for descriptor, where in entries:
            self._descriptor_tree(descriptor, where, depth=0)
        self._run_layers()

    # -- reading -----------------------------------------------------------

    def _open_regular(
        self, path: str, check: str, where: str, *, follow: bool = True
    ) -> int | None:
        """A read-only fd for a regular file, or None with the problem reported under *check*."""
        try:
            return open_regular(path, follow=follow)
        except FileNotFoundError:
            self.report.error(check, where, "missing")
        except OSError as err:
            self.report.error(check, where, err.strerror or str(err))
        return None

    def _read_file(self, path: str, check: str, where: str) -> bytes | None:
        fd = self._open_regular(path, check, where)
        if fd is None:
            return None
        with os.fdopen(fd, "rb") as f:
            data = f.read(MAX_JSON_BYTES + 1)
        if len(data) > MAX_JSON_BYTES:
            self.report.error(check, where, "larger than 64 MiB")
            return None
        return data

    def _open_blob(self, digest: str, where: str) -> int | None:
        algorithm, _, encoded = digest.partition(":")
        path = os.path.join(self.layout, BLOBS_DIR, algorithm, encoded)
        if not os.path.lexists(path):
            self.report.error("blob-missing", where, f"blob {digest} is not in the layout")
            return None
        return self._open_regular(path, "blob-type", f"{where}", follow=False)

    def _check_sums(self, descriptor: Descriptor, where: str, size: int, hexdigest: str) -> None:
        digest = descriptor.digest
        if size != descriptor.size:
            message = f"blob {digest} is {size} bytes, descriptor says {descriptor.size}"
            self.report.error("blob-size", where, message)
        actual = f"{digest.partition(':')[0]}:{hexdigest}"
        if actual != digest:
            self.report.error(
                "blob-digest", where, f"blob content hashes to {actual}, not {digest}"
            )

    def _json_blob(self, descriptor: Descriptor, where: str) -> object | None:
        """A small blob's parsed JSON (None if unusable); read, checked and parsed once."""
        digest = descriptor.digest
        self._reached.add(digest)
        if digest not in self._blobs:
            self._blobs[digest] = self._parse(descriptor, where)
            self.report.blobs_checked += 1
        return self._blobs[digest]

    def _parse(self, descriptor: Descriptor, where: str) -> object | None:
        data = self._read_small(descriptor, where)
        if data is None:
            return None
        try:
            # Blobs are read as Go's json.Decoder reads them: the first value.
            return decode.parse(data, f"blob {descriptor.digest}", first_value=True)
        except UmociError as err:
            self.report.error("schema", where, str(err))
            return None

    def _read_small(self, descriptor: Descriptor, where: str) -> bytes | None:
        if descriptor.data is not None:
            self._embedded(descriptor, where)
        if descriptor.size > MAX_JSON_BYTES:
            self.report.error("blob-size", where, f"{descriptor.size} bytes is too large for JSON")
            return None
        fd = self._open_blob(descriptor.digest, where)
        if fd is None:
            return None
        algorithm = descriptor.digest.partition(":")[0]
        digest = hashlib.new(algorithm)
        kept: list[bytes] = []
        size = 0
        with os.fdopen(fd, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                if size <= MAX_JSON_BYTES:
                    kept.append(chunk)
        self._check_sums(descriptor, where, size, digest.hexdigest())
        return b"".join(kept) if size <= MAX_JSON_BYTES else None

    def _embedded(self, descriptor: Descriptor, where: str) -> None:
        data = descriptor.data
        assert data is not None
        algorithm = descriptor.digest.partition(":")[0]
        if len(data) != descriptor.size:
            self.report.error(
                "embedded-data",
                where,
                f"data is {len(data)} bytes, descriptor says {descriptor.size}",
            )
        elif f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}" != descriptor.digest:
            self.report.error(
                "embedded-data", where, "data does not hash to the descriptor's digest"
            )

    # -- documents -----------------------------------------------------------

    def _document(
        self,
        value: object,
        schema: JSON,
        where: str,
        read: Callable[[list[Problem]], Model],
    ) -> tuple[Model, _Broken]:
        """Check a document against its schema, then read it with its model.

        The model decodes it as the Go umoci does, collecting what it finds
        on the way (see :data:`_PROBLEM_FINDINGS`).  Returns the model and
        the paths where something was reported.
        """
        schema_errors = _schema_errors(decode.plain(value), schema)
        broken = [unreadable for _, _, unreadable in schema_errors if unreadable is not None]
        for path, message, _ in schema_errors:
            self.report.error("schema", where, f"{path or '(document)'}: {message}")
        problems: list[Problem] = []
        model = read(problems)
        for problem in problems:
            level, check = _PROBLEM_FINDINGS[problem.kind]
            if level == "error" and problem.kind != "forbidden":
                broken.append(problem.path)
            if problem.kind == "type" and schema_errors:
                continue  # the schema's findings name it
            message = problem.message + _PROBLEM_HINTS.get(problem.kind, "")
            if problem.path:
                message = f"{problem.path}: {message}"
            self.report.add(level, check, where, message)
        return model, _Broken(broken)

    def _annotations(self, annotations: dict[str, str], where: str) -> None:
        for key in annotations:
            if key == "":
                self.report.error("annotation-key", where, "empty annotation key")
            elif "." not in key:
                self.report.warning(
                    "annotation-key", where, f"annotation key {key!r} is not in reverse-domain form"
                )

    def _usable_descriptor(
        self, descriptor: Descriptor, where: str, broken: _Broken, path: str
    ) -> Descriptor | None:
        """A descriptor that can be followed, after its own checks (None if it cannot)."""
        if broken.at(path):
            return None  # the document's findings said so
        problem = digest_problem(descriptor.digest)
        if problem is not None:
            self.report.error("digest", where, problem)
            return None
        if descriptor.size < 0:
            return None  # schema
        self._annotations(descriptor.annotations, where)
        return descriptor

    def _index_entries(self, index: Index, where: str, broken: _Broken, *, depth: int) -> None:
        for i, entry in enumerate(index.manifests):
            here = f"{where} → manifests[{i}]"
            name = entry.ref_name
            if name is not None:
                here += f" (tag {name})"
                if not is_valid_tag(name):
                    self.report.error("ref-name", here, f"tag {name!r} breaks the ref grammar")
            usable = self._usable_descriptor(entry, here, broken, f"manifests[{i}]")
            if usable is not None:
                self._descriptor_tree(usable, here, depth=depth)

    def _descriptor_tree(self, descriptor: Descriptor, where: str, *, depth: int) -> None:
        media_type = descriptor.media_type
        if media_type in mediatypes.INDEX_TYPES:
            if depth >= _MAX_DEPTH:
                self.report.error("nesting", where, f"indexes nested more than {_MAX_DEPTH} deep")
                return
            value = self._json_blob(descriptor, where)
            if value is not None:
                index, broken = self._document(
                    value,
                    schemas.INDEX,
                    where,
                    lambda problems: Index.from_json(value, media_type, where, problems=problems),
                )
                self._own_media_type(index.media_type, media_type, where)
                self._annotations(index.annotations, where)
                self._index_entries(index, where, broken, depth=depth + 1)
        elif media_type in mediatypes.MANIFEST_TYPES:
            value = self._json_blob(descriptor, where)
            if value is not None:
                manifest, broken = self._document(
                    value,
                    schemas.MANIFEST,
                    where,
                    lambda problems: Manifest.from_json(value, media_type, where, problems),
                )
                self._own_media_type(manifest.media_type, media_type, where)
                self._annotations(manifest.annotations, where)
                self._manifest(manifest, where, broken, descriptor.platform)
        else:
            self._reached.add(descriptor.digest)
            self._leaf(descriptor, where)

    def _own_media_type(self, own: str, expected: str, where: str) -> None:
        if own and own != expected:
            self.report.error(
                "media-type", where, f"blob says mediaType {own!r}, its descriptor {expected!r}"
            )

    def _leaf(self, descriptor: Descriptor, where: str) -> None:
        """A blob we do not open as JSON: stream it for its size and digest (not as a layer)."""
        self._layer_jobs.append((descriptor, "", where))

    def _manifest(
        self, manifest: Manifest, where: str, broken: _Broken, platform: Platform | None
    ) -> None:
        config_where = f"{where} → config"
        config = self._usable_descriptor(manifest.config, config_where, broken, "config")
        config_model: ImageConfig | None = None
        # An image (what unpack reads) rather than an artifact: see load_image.
        is_image = config is not None and config.media_type in mediatypes.IMAGE_CONFIG_TYPES
        if config is not None:
            if is_image:
                config_model = self._config(config, config_where, len(manifest.layers), platform)
            else:  # an artefact's config: only the blob itself is checked
                self._reached.add(config.digest)
                self._leaf(config, config_where)
        diff_ids = config_model.diff_ids if config_model is not None else ()
        for i, layer in enumerate(manifest.layers):
            here = f"{where} → layers[{i}]"
            descriptor = self._usable_descriptor(layer, here, broken, f"layers[{i}]")
            if descriptor is None:
                continue
            self._reached.add(descriptor.digest)
            found_id = diff_ids[i] if i < len(diff_ids) else None
            # A malformed diff_id is reported once (as a digest), not again here.
            usable_id = found_id is not None and digest_problem(found_id) is None
            diff_id = found_id if usable_id else None
            codec_problem = _layer_codec_problem(descriptor.media_type)
            if codec_problem is not None and is_image:
                # unpack refuses such an image; an artifact's "layers" are any blobs
                self.report.error("layer-media-type", here, codec_problem)
            is_layer = codec_problem is None
            self._layer_jobs.append((descriptor, diff_id if is_layer else "", here))
        if manifest.subject is not None:
            # A subject is a reference, not a dependency: it may be elsewhere.
            self._usable_descriptor(manifest.subject, f"{where} → subject", broken, "subject")

    def _config(
        self, descriptor: Descriptor, where: str, layer_count: int, platform: Platform | None
    ) -> ImageConfig | None:
        value = self._json_blob(descriptor, where)
        if value is None:
            return None
        config, broken = self._document(
            value,
            schemas.CONFIG,
            where,
            lambda problems: ImageConfig.from_json(value, where, problems),
        )
        if not broken.at("rootfs.diff_ids"):
            for i, diff_id in enumerate(config.diff_ids):
                problem = digest_problem(diff_id)
                if problem is not None:
                    self.report.error("digest", f"{where} → rootfs.diff_ids[{i}]", problem)
            if len(config.diff_ids) != layer_count:
                self.report.error(
                    "diff-ids", where, f"{len(config.diff_ids)} diff_ids for {layer_count} layers"
                )
        if config.history and not broken.at("history"):
            non_empty = sum(1 for h in config.history if not h.empty_layer)
            if non_empty != layer_count:
                self.report.error(
                    "history-layers",
                    where,
                    f"{non_empty} non-empty history entries for {layer_count} layers",
                )
        if platform is not None:
            for key in ("os", "architecture", "variant"):
                declared, actual = getattr(platform, key), getattr(config, key)
                if key == "variant" and (not declared or not actual):
                    continue
                if declared != actual:
                    self.report.error(
                        "platform",
                        where,
                        f"the index says {key} {declared!r}, the config {actual!r}",
                    )
        return config

    # -- layers and other streamed blobs -------------------------------------------

    def _run_layers(self) -> None:
        jobs: list[tuple[Descriptor, str | None, str]] = []
        seen: set[str] = set()
        for descriptor, diff_id, where in self._layer_jobs:
            if descriptor.digest in seen or descriptor.digest in self._blobs:
                continue
            seen.add(descriptor.digest)
            jobs.append((descriptor, diff_id, where))
        self._layer_jobs = []
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="umoci-validate") as pool:
            results = list(pool.map(lambda job: _stream_blob(self, *job), jobs))
        for findings in results:
            self.report.blobs_checked += 1
            for level, check, where, message in findings:
                self.report.add(level, check, where, message)

    # -- warnings ------------------------------------------------------------------

    def _sweep_warnings(self) -> None:
        if os.path.isdir(os.path.join(self.layout, BLOBS_DIR)):
            for algorithm, name in blob_entries(self.layout):
                if f"{algorithm}:{name}" not in self._reached:
                    where = f"{BLOBS_DIR}/{algorithm}/{name}"
                    self.report.warning(
                        "unreferenced-blob", where, "nothing in index.json reaches it"
                    )
        for name in sorted(os.listdir(self.layout)):
            if name.startswith(_TEMP_PREFIX):
                self.report.warning(
                    "temp-file", name, "left by a umoci that did not finish (umoci gc removes it)"
                )


def _stream_blob(
    validator: LayoutValidator, descriptor: Descriptor, diff_id: str | None, where: str
) -> list[tuple[str, str, str, str]]:
    """Check one streamed blob: a layer (*diff_id* None if unknown) unless *diff_id* is ""."""
    local = Report()  # per job: the jobs run in threads, their findings merge in order
    checker = LayoutValidator(validator.layout, local)
    if descriptor.data is not None:
        checker._embedded(descriptor, where)
    fd = checker._open_blob(descriptor.digest, where)
    if fd is not None:
        with os.fdopen(fd, "rb") as raw:
            algorithm = descriptor.digest.partition(":")[0]
            counting = _Counting(raw, hashlib.new(algorithm))
            as_layer = validator.check_layers and diff_id != ""
            if as_layer:
                from umoci.validate.layers import check_layer_stream

                check_layer_stream(local, counting, descriptor.media_type, diff_id, where)
            while counting.read(_CHUNK):
                pass
            checker._check_sums(descriptor, where, counting.size, counting.hash.hexdigest())
    return [(f.level, f.check, f.where, f.message) for f in local.findings]


class _Counting:
    """A reader that hashes and counts what passes through it."""

    def __init__(self, raw: Any, digest: Any) -> None:
        self._raw = raw
        self.hash = digest
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._raw.read(n if n >= 0 else _CHUNK)
        self.hash.update(data)
        self.size += len(data)
        return data


def entry_where(index: Index, digest: str) -> str:
    """How findings name an index.json entry (its position and tag)."""
    for i, entry in enumerate(index.manifests):
        if entry.digest == digest:
            name = entry.ref_name
            return f"{INDEX_FILE} → manifests[{i}]" + (f" (tag {name})" if name else "")
    return f"digest {digest}"


__all__ = ["LayoutValidator", "UmociError", "digest_problem", "entry_where"]
