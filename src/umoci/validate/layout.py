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

import base64
import binascii
import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor

from umoci.cas.layoutcheck import (
    BLOBS_DIR,
    INDEX_FILE,
    LAYOUT_FILE,
    LAYOUT_VERSION,
    blob_entries,
    open_regular,
)
from umoci.compress import codec_for_media_type
from umoci.errors import BlobInvalidError, LayerError, UmociError
from umoci.oci import digest as digests
from umoci.oci import mediatypes
from umoci.oci.refs import is_valid_tag
from umoci.oci.timefmt import parse_time
from umoci.validate import schemas
from umoci.validate.findings import Report

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    JSON = dict[str, Any]

REF_NAME = "org.opencontainers.image.ref.name"
_MAX_JSON = 64 << 20
_MAX_DEPTH = 16
_CHUNK = 1 << 20
_TEMP_PREFIX = ".umoci-"


def _schema_errors(document: object, schema: JSON) -> list[str]:
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
        where = ".".join(str(p) for p in path) or "(document)"
        out.append(f"{where}: {error.message}")
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


class LayoutValidator:
    def __init__(self, layout: str, report: Report, *, layers: bool = True) -> None:
        self.layout = layout
        self.report = report
        self.check_layers = layers
        # JSON blobs by digest, decoded once (None: unusable, already reported).
        self._blobs: dict[str, object | None] = {}
        self._reached: set[str] = set()
        self._layer_jobs: list[tuple[JSON, str | None, str]] = []

    # -- entry points ---------------------------------------------------------

    def check_layout_files(self) -> JSON | None:
        """``oci-layout`` and ``index.json``; the index document if it is usable."""
        path = os.path.join(self.layout, LAYOUT_FILE)
        layout_doc = self._read_json_file(path, "oci-layout", LAYOUT_FILE)
        if layout_doc is not None:
            if not isinstance(layout_doc, dict):
                self.report.error("oci-layout", LAYOUT_FILE, "not a JSON object")
            elif layout_doc.get("imageLayoutVersion") != LAYOUT_VERSION:
                version = layout_doc.get("imageLayoutVersion")
                self.report.error(
                    "oci-layout",
                    LAYOUT_FILE,
                    f"imageLayoutVersion {version!r}, want {LAYOUT_VERSION!r}",
                )
        if not os.path.isdir(os.path.join(self.layout, BLOBS_DIR)):
            self.report.error("oci-layout", BLOBS_DIR, "missing or not a directory")
        index = self._read_json_file(
            os.path.join(self.layout, INDEX_FILE), "index-json", INDEX_FILE
        )
        if index is None:
            return None
        if not isinstance(index, dict):
            self.report.error("index-json", INDEX_FILE, "not a JSON object")
            return None
        self._document(index, schemas.INDEX, INDEX_FILE)
        return index

    def run_layout(self) -> None:
        index = self.check_layout_files()
        if index is not None:
            self._index_entries(index, INDEX_FILE, depth=0)
        self._run_layers()
        self._sweep_warnings()

    def run_entries(self, entries: list[tuple[JSON, str]]) -> None:
        """Validate the given descriptors (and everything below them) only."""
        for descriptor, where in entries:
            self._descriptor_tree(descriptor, where, depth=0, platform=None)
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

    def _read_json_file(self, path: str, check: str, where: str) -> object | None:
        fd = self._open_regular(path, check, where)
        if fd is None:
            return None
        with os.fdopen(fd, "rb") as f:
            data = f.read(_MAX_JSON + 1)
        if len(data) > _MAX_JSON:
            self.report.error(check, where, "larger than 64 MiB")
            return None
        try:
            value: object = json.loads(data)
        except (ValueError, RecursionError) as err:
            self.report.error(check, where, f"invalid JSON: {err}")
            return None
        return value

    def _open_blob(self, digest: str, where: str) -> int | None:
        algorithm, _, encoded = digest.partition(":")
        path = os.path.join(self.layout, BLOBS_DIR, algorithm, encoded)
        if not os.path.lexists(path):
            self.report.error("blob-missing", where, f"blob {digest} is not in the layout")
            return None
        return self._open_regular(path, "blob-type", f"{where}", follow=False)

    def _check_sums(self, descriptor: JSON, where: str, size: int, hexdigest: str) -> None:
        digest = descriptor["digest"]
        if size != descriptor["size"]:
            self.report.error(
                "blob-size",
                where,
                f"blob {digest} is {size} bytes, descriptor says {descriptor['size']}",
            )
        actual = f"{digest.partition(':')[0]}:{hexdigest}"
        if actual != digest:
            self.report.error(
                "blob-digest", where, f"blob content hashes to {actual}, not {digest}"
            )

    def _json_blob(self, descriptor: JSON, where: str) -> object | None:
        """A small blob's decoded JSON (None if unusable); read, checked and decoded once."""
        digest = descriptor["digest"]
        self._reached.add(digest)
        if digest not in self._blobs:
            self._blobs[digest] = self._decode(descriptor, where)
            self.report.blobs_checked += 1
        return self._blobs[digest]

    def _decode(self, descriptor: JSON, where: str) -> object | None:
        data = self._read_small(descriptor, where)
        if data is None:
            return None
        try:
            document: object = json.loads(data)
        except (ValueError, RecursionError) as err:
            self.report.error("schema", where, f"blob {descriptor['digest']} is not JSON: {err}")
            return None
        return document

    def _read_small(self, descriptor: JSON, where: str) -> bytes | None:
        if "data" in descriptor:
            self._embedded(descriptor, where)
        if descriptor["size"] > _MAX_JSON:
            self.report.error(
                "blob-size", where, f"{descriptor['size']} bytes is too large for JSON"
            )
            return None
        fd = self._open_blob(descriptor["digest"], where)
        if fd is None:
            return None
        algorithm = descriptor["digest"].partition(":")[0]
        digest = hashlib.new(algorithm)
        kept: list[bytes] = []
        size = 0
        with os.fdopen(fd, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                if size <= _MAX_JSON:
                    kept.append(chunk)
        self._check_sums(descriptor, where, size, digest.hexdigest())
        return b"".join(kept) if size <= _MAX_JSON else None

    def _embedded(self, descriptor: JSON, where: str) -> None:
        try:
            data = base64.b64decode(str(descriptor["data"]), validate=True)
        except (binascii.Error, ValueError):
            self.report.error("embedded-data", where, "data is not base64")
            return
        algorithm = descriptor["digest"].partition(":")[0]
        if len(data) != descriptor["size"]:
            self.report.error(
                "embedded-data",
                where,
                f"data is {len(data)} bytes, descriptor says {descriptor['size']}",
            )
        elif f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}" != descriptor["digest"]:
            self.report.error(
                "embedded-data", where, "data does not hash to the descriptor's digest"
            )

    # -- documents -----------------------------------------------------------

    def _document(self, document: JSON, schema: JSON, where: str) -> None:
        for problem in _schema_errors(document, schema):
            self.report.error("schema", where, problem)
        self._annotations(document.get("annotations"), where)

    def _annotations(self, annotations: object, where: str) -> None:
        if not isinstance(annotations, dict):
            return
        for key in annotations:
            if key == "":
                self.report.error("annotation-key", where, "empty annotation key")
            elif "." not in key:
                self.report.warning(
                    "annotation-key", where, f"annotation key {key!r} is not in reverse-domain form"
                )

    def _usable_descriptor(self, descriptor: object, where: str) -> JSON | None:
        """A descriptor that can be followed, after its own checks (None if it cannot)."""
        if not isinstance(descriptor, dict):
            return None  # the parent's schema check said so
        problem = digest_problem(descriptor.get("digest"))
        if problem is not None:
            self.report.error("digest", where, problem)
            return None
        size = descriptor.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            return None  # schema
        if not isinstance(descriptor.get("mediaType"), str):
            return None  # schema
        self._annotations(descriptor.get("annotations"), where)
        return descriptor

    def _index_entries(self, index: JSON, where: str, *, depth: int) -> None:
        entries = index.get("manifests")
        if not isinstance(entries, list):
            return
        for i, entry in enumerate(entries):
            here = f"{where} → manifests[{i}]"
            if isinstance(entry, dict):
                name = (entry.get("annotations") or {}).get(REF_NAME)
                if isinstance(name, str):
                    here += f" (tag {name})"
                    if not is_valid_tag(name):
                        self.report.error("ref-name", here, f"tag {name!r} breaks the ref grammar")
            self._descriptor_tree(entry, here, depth=depth, platform=None)

    def _descriptor_tree(self, entry: object, where: str, *, depth: int, platform: object) -> None:
        descriptor = self._usable_descriptor(entry, where)
        if descriptor is None:
            return
        media_type = descriptor["mediaType"]
        platform = descriptor.get("platform", platform)
        if media_type in mediatypes.INDEX_TYPES:
            if depth >= _MAX_DEPTH:
                self.report.error("nesting", where, f"indexes nested more than {_MAX_DEPTH} deep")
                return
            document = self._json_blob(descriptor, where)
            if isinstance(document, dict):
                self._own_media_type(document, media_type, where)
                self._document(document, schemas.INDEX, where)
                self._index_entries(document, where, depth=depth + 1)
        elif media_type in mediatypes.MANIFEST_TYPES:
            document = self._json_blob(descriptor, where)
            if isinstance(document, dict):
                self._own_media_type(document, media_type, where)
                self._document(document, schemas.MANIFEST, where)
                self._manifest(document, where, descriptor.get("platform"))
        else:
            self._reached.add(descriptor["digest"])
            self._leaf(descriptor, where)

    def _own_media_type(self, document: JSON, expected: str, where: str) -> None:
        own = document.get("mediaType")
        if isinstance(own, str) and own != expected:
            self.report.error(
                "media-type", where, f"blob says mediaType {own!r}, its descriptor {expected!r}"
            )
        if expected in mediatypes.INDEX_TYPES and ("config" in document or "layers" in document):
            self.report.error("media-type", where, "an index with config or layers fields")
        if expected in mediatypes.MANIFEST_TYPES and "manifests" in document:
            self.report.error("media-type", where, "a manifest with a manifests field")

    def _leaf(self, descriptor: JSON, where: str) -> None:
        """A blob we do not open as JSON: stream it for its size and digest (not as a layer)."""
        self._layer_jobs.append((descriptor, "", where))

    def _manifest(self, manifest: JSON, where: str, platform: object) -> None:
        config_where = f"{where} → config"
        config = self._usable_descriptor(manifest.get("config"), config_where)
        layers = manifest.get("layers")
        layer_list = layers if isinstance(layers, list) else []
        config_doc: object = None
        # An image (what unpack reads) rather than an artifact: see load_image.
        is_image = config is not None and config["mediaType"] in mediatypes.IMAGE_CONFIG_TYPES
        if config is not None:
            if is_image:
                config_doc = self._json_blob(config, config_where)
                if isinstance(config_doc, dict):
                    self._config(config_doc, config_where, len(layer_list), platform)
            else:  # an artefact's config: only the blob itself is checked
                self._reached.add(config["digest"])
                self._leaf(config, config_where)
        diff_ids: list[object] = []
        if isinstance(config_doc, dict) and isinstance(config_doc.get("rootfs"), dict):
            found = config_doc["rootfs"].get("diff_ids")
            diff_ids = found if isinstance(found, list) else []
        for i, layer in enumerate(layer_list):
            here = f"{where} → layers[{i}]"
            descriptor = self._usable_descriptor(layer, here)
            if descriptor is None:
                continue
            self._reached.add(descriptor["digest"])
            found_id = diff_ids[i] if i < len(diff_ids) else None
            # A malformed diff_id is reported once (as a digest), not again here.
            usable = isinstance(found_id, str) and digest_problem(found_id) is None
            diff_id = found_id if usable and isinstance(found_id, str) else None
            codec_problem = _layer_codec_problem(descriptor["mediaType"])
            if codec_problem is not None and is_image:
                # unpack refuses such an image; an artifact's "layers" are any blobs
                self.report.error("layer-media-type", here, codec_problem)
            is_layer = codec_problem is None
            self._layer_jobs.append((descriptor, diff_id if is_layer else "", here))
        subject = manifest.get("subject")
        if isinstance(subject, dict):
            # A subject is a reference, not a dependency: it may be elsewhere.
            self._usable_descriptor(subject, f"{where} → subject")

    def _config(self, config: JSON, where: str, layer_count: int, platform: object) -> None:
        self._document(config, schemas.CONFIG, where)
        rootfs = config.get("rootfs")
        if isinstance(rootfs, dict) and isinstance(rootfs.get("diff_ids"), list):
            diff_ids = rootfs["diff_ids"]
            for i, diff_id in enumerate(diff_ids):
                problem = digest_problem(diff_id)
                if problem is not None:
                    self.report.error("digest", f"{where} → rootfs.diff_ids[{i}]", problem)
            if len(diff_ids) != layer_count:
                self.report.error(
                    "diff-ids", where, f"{len(diff_ids)} diff_ids for {layer_count} layers"
                )
        history = config.get("history")
        if isinstance(history, list) and history:
            non_empty = sum(
                1 for h in history if isinstance(h, dict) and h.get("empty_layer") is not True
            )
            if non_empty != layer_count:
                self.report.error(
                    "history-layers",
                    where,
                    f"{non_empty} non-empty history entries for {layer_count} layers",
                )
        for field, value in [("created", config.get("created"))] + [
            (f"history[{i}].created", h.get("created"))
            for i, h in enumerate(history if isinstance(history, list) else [])
            if isinstance(h, dict)
        ]:
            if isinstance(value, str):
                try:
                    parse_time(value)
                except ValueError:
                    self.report.error("created", where, f"{field} {value!r} is not RFC 3339")
        if isinstance(platform, dict):
            for key in ("os", "architecture", "variant"):
                declared, actual = platform.get(key), config.get(key)
                if key == "variant" and (not declared or not actual):
                    continue
                if declared != actual:
                    self.report.error(
                        "platform",
                        where,
                        f"the index says {key} {declared!r}, the config {actual!r}",
                    )

    # -- layers and other streamed blobs -------------------------------------------

    def _run_layers(self) -> None:
        jobs: list[tuple[JSON, str | None, str]] = []
        seen: set[str] = set()
        for descriptor, diff_id, where in self._layer_jobs:
            if descriptor["digest"] in seen or descriptor["digest"] in self._blobs:
                continue
            seen.add(descriptor["digest"])
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
    validator: LayoutValidator, descriptor: JSON, diff_id: str | None, where: str
) -> list[tuple[str, str, str, str]]:
    """Check one streamed blob: a layer (*diff_id* None if unknown) unless *diff_id* is ""."""
    local = Report()  # per job: the jobs run in threads, their findings merge in order
    checker = LayoutValidator(validator.layout, local)
    if "data" in descriptor:
        checker._embedded(descriptor, where)
    fd = checker._open_blob(descriptor["digest"], where)
    if fd is not None:
        with os.fdopen(fd, "rb") as raw:
            algorithm = descriptor["digest"].partition(":")[0]
            counting = _Counting(raw, hashlib.new(algorithm))
            as_layer = validator.check_layers and diff_id != ""
            if as_layer:
                from umoci.validate.layers import check_layer_stream

                check_layer_stream(local, counting, descriptor["mediaType"], diff_id, where)
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


def entry_where(index: JSON, digest: str) -> str:
    """How findings name an index.json entry (its position and tag)."""
    for i, entry in enumerate(index.get("manifests") or []):
        if isinstance(entry, dict) and entry.get("digest") == digest:
            name = (entry.get("annotations") or {}).get(REF_NAME)
            return f"{INDEX_FILE} → manifests[{i}]" + (f" (tag {name})" if name else "")
    return f"digest {digest}"


__all__ = ["LayoutValidator", "UmociError", "digest_problem", "entry_where"]
