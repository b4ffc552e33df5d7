"""A seeded generator of odd but well-formed OCI documents, to decode as the Go umoci 0.6 does.

Each :class:`Document` is an image config, a manifest and an ``index.json``
written as raw JSON text (see :mod:`decoderkit` for the placeholders), with
what Go tools may write and Go's ``encoding/json`` reads: keys in any case,
escaped (``"\\u0043md"``) or with the runes that fold onto ASCII letters
(U+017F, U+212A); a field given twice under two spellings (the later merges
into the earlier); ``null`` before and after values; unknown members at
every level holding unusual numbers (``1e400``, ``-0``, 30 digits),
nesting and lone surrogates; non-ASCII, escaped and control characters in
strings; whitespace between tokens.

Every document is one the Go umoci reads, shows and unpacks: the values an
unpack depends on (``os``, ``rootfs``, the history's layer count and times,
the descriptors' digests, sizes and media types, the tag) come last and
whole, and every value a field is given comes from that field's own
generator (a user that resolves in the layer, environment entries with a
name and ``=``), so however occurrences merge the result stays readable.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass

from decoderkit import OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, OCI_TAR, REF_NAME

Gen = Callable[[], str]

# How a field may be given: CRITICAL ones end with a whole, valid value and
# never a null that would clear them; NULLABLE ones (slices, maps, pointers)
# may end as null; SCALAR ones ignore a null.
CRITICAL, NULLABLE, SCALAR = "critical", "nullable", "scalar"

STRINGS = [
    '"plain"',
    '"with space"',
    '"a,b"',
    '"\\"quoted\\""',
    '"back\\\\slash"',
    '"tab\\there"',
    '"bell\\u0007"',
    '"ünïcödé"',
    '"\\u00e9scaped"',
    '"日本語"',
    '"\\ud83d\\ude00 pair"',
    '"lone \\ud800 surrogate"',
    '"\\udc00"',
    '"<tag>&amp;"',
    '"\\/slash"',
    '"ls\\u2028x"',
    '"nbsp\\u00a0x"',
    '""',
    '" "',
    '"x,y z"',
]
USERS = ['""', '"0"', '"0:0"', '"root"', '"1000:1000"', '"app"', '"app:app"', '"1000"']
TIMES = [
    '"2023-11-14T22:13:20Z"',
    '"2023-11-14T2:13:20Z"',
    '"2023-11-14T22:13:20,5Z"',
    '"2023-11-14T22:13:20.1234567891234Z"',
    '"2023-11-14T22:13:20-00:00"',
    '"2024-02-29T00:00:00+05:30"',
    '"0001-01-01T00:00:00Z"',
    '"1969-12-31T23:59:59.5-01:30"',
    '"2025-01-02T03:04:05.000000000Z"',
]
# (Not "+23:60": 0.6 reads it, but its stat --json cannot write it back.)
NUMBERS = [
    "1e400",
    "-0",
    "1E+2",
    "123456789012345678901234567890",
    "0.5e-7",
    "-1.5",
    "9" * 400,
    "0",
    "-9223372036854775809",
]
UNKNOWN_KEYS = [
    "x-extra",
    "Healthcheck",
    "container_config",
    "Ünknown",
    "\\u0131d",
    "working_dir",
    "os_version",
    "Stop_Signal",
    "St\\u0131pSignal",
    "",
    " spaced ",
    "\\ud800",
    "Cmd2",
]
# Spellings of a field name that Go matches: the runes outside ASCII that fold
# onto ASCII letters, raw or escaped.
FOLD_RUNES = {"s": ["\u017f", "\\u017f"], "k": ["\u212a", "\\u212A"]}


class Writer:
    """Raw JSON text with the oddities above, from one seeded random source."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def pick(self, options: list[str]) -> str:
        return self.rng.choice(options)

    def gap(self) -> str:
        return self.pick(["", "", "", "", " ", "\n\t", "\r\n  "])

    def key(self, name: str) -> str:
        """A spelling of *name* Go matches to it (sometimes the name itself)."""
        rng = self.rng
        spelt = rng.choice([name, name, name.lower(), name.upper(), name.swapcase()])
        chars = [json.dumps(c, ensure_ascii=False)[1:-1] for c in spelt]
        letters = [i for i, c in enumerate(spelt) if c.isascii() and c.isalpha()]
        if letters and rng.random() < 0.25:
            i = rng.choice(letters)
            chars[i] = f"\\u{ord(spelt[i]):04x}"
        folds = [i for i, c in enumerate(spelt) if c.lower() in FOLD_RUNES]
        if folds and rng.random() < 0.25:
            i = rng.choice(folds)
            chars[i] = rng.choice(FOLD_RUNES[spelt[i].lower()])
        return '"' + "".join(chars) + '"'

    def string(self) -> str:
        return self.pick(STRINGS)

    def array(self, item: Gen, *, nulls: bool = True, most: int = 4) -> str:
        items = [
            "null" if nulls and self.rng.random() < 0.15 else item()
            for _ in range(self.rng.randint(0, most))
        ]
        return "[" + ",".join(f"{self.gap()}{i}" for i in items) + "]"

    def string_map(self, key: Gen, value: Gen, *, nulls: bool = True) -> str:
        members = [
            (key(), "null" if nulls and self.rng.random() < 0.15 else value())
            for _ in range(self.rng.randint(0, 4))
        ]
        return "{" + ",".join(f"{k}:{self.gap()}{v}" for k, v in members) + "}"

    def unknown_value(self, depth: int = 0) -> str:
        roll = self.rng.random()
        if roll < 0.4 or depth > 2:
            return self.pick([*NUMBERS, "true", "null", *STRINGS[:6]])
        if roll < 0.7:
            return self.array(lambda: self.unknown_value(depth + 1), most=3)
        return self.string_map(self.string, lambda: self.unknown_value(depth + 1))

    def unknown(self) -> tuple[str, str]:
        return '"' + self.pick(UNKNOWN_KEYS) + '"', self.unknown_value()

    def obj(self, fields: list[tuple[str, Gen, str]], *, omit: float = 0.25) -> str:
        """An object of *fields* (name, value generator, how it may be given)."""
        rng = self.rng
        groups: list[list[tuple[str, str]]] = []
        for name, value, how in fields:
            if how != CRITICAL and rng.random() < omit:
                continue
            given: list[tuple[str, str]] = []
            if rng.random() < 0.15:
                given.append((self.key(name), "null"))  # null first: nothing to clear
            if rng.random() < 0.3:
                given.append((self.key(name), value()))  # to be overwritten or merged into
            given.append((self.key(name), value()))
            if how == SCALAR and rng.random() < 0.2:
                given.append((self.key(name), "null"))  # a no-op for a string or bool
            elif how == NULLABLE and rng.random() < 0.1:
                given.append((self.key(name), "null"))  # clears a slice, map or pointer
            groups.append(given)
        for _ in range(rng.choice([0, 0, 1, 2])):
            groups.append([self.unknown()])
        # Fields in any order; a field's own occurrences keep theirs (they decide the merge).
        if rng.random() < 0.5:
            rng.shuffle(groups)
        members = [m for g in groups for m in g]
        return "{" + ",".join(f"{self.gap()}{k}:{self.gap()}{v}" for k, v in members) + "}"


@dataclass(frozen=True)
class Document:
    name: str
    config: str
    manifest: str
    index: str


def _env(w: Writer) -> str:
    name = w.pick(["A", "PATH", "HOME", "TERM", "X_Y", "lower", "Ü"])
    return json.dumps(name + "=", ensure_ascii=False)[:-1] + w.string()[1:]


def _config(w: Writer) -> str:
    container = [
        ("User", lambda: w.pick(USERS), SCALAR),
        (
            "ExposedPorts",
            lambda: w.string_map(w.string, lambda: w.pick(["{}", '{"x":1}'])),
            NULLABLE,
        ),
        ("Env", lambda: w.array(lambda: _env(w), nulls=False), NULLABLE),
        ("Entrypoint", lambda: w.array(w.string), NULLABLE),
        ("Cmd", lambda: w.array(w.string), NULLABLE),
        (
            "Volumes",
            lambda: w.string_map(
                lambda: w.pick(['"/v"', '"/data"', '"/ü"', '"/a b"']), lambda: "{}"
            ),
            NULLABLE,
        ),
        ("WorkingDir", lambda: w.pick(['"/w"', '"/"', '"/work dir"', '"/ü"', '""']), SCALAR),
        ("Labels", lambda: w.string_map(w.string, w.string), NULLABLE),
        ("StopSignal", lambda: w.pick(['"SIGTERM"', '"9"', '""', '"SIGRTMIN+3"']), SCALAR),
        ("ArgsEscaped", lambda: w.pick(["true", "false"]), SCALAR),
    ]

    def history_entry(empty: str) -> str:
        # Every entry has a time (0.6 crashes on one without) and says whether
        # it is empty: one per image claims the layer.
        return w.obj(
            [
                ("created", lambda: w.pick(TIMES), CRITICAL),
                ("created_by", w.string, SCALAR),
                ("author", w.string, SCALAR),
                ("comment", w.string, SCALAR),
                ("empty_layer", lambda: empty, CRITICAL),
            ]
        )

    def history() -> str:
        entries = [history_entry("true") for _ in range(w.rng.randint(0, 3))]
        entries.insert(w.rng.randint(0, len(entries)), history_entry("false"))
        return "[" + ",".join(entries) + "]"

    rootfs = [
        ("type", lambda: '"layers"', CRITICAL),
        ("diff_ids", lambda: '["@DIFF_ID@"]', CRITICAL),
    ]
    return w.obj(
        [
            ("created", lambda: w.pick(TIMES), NULLABLE),
            ("author", w.string, SCALAR),
            ("architecture", lambda: w.pick(['"amd64"', '"arm64"', '"s390x"', w.string()]), SCALAR),
            ("os", lambda: '"linux"', CRITICAL),
            ("os.version", w.string, SCALAR),
            ("os.features", lambda: w.array(w.string), NULLABLE),
            ("variant", lambda: w.pick(['"v8"', '"v7"', w.string()]), SCALAR),
            ("config", lambda: w.obj(container), SCALAR),
            ("rootfs", lambda: w.obj(rootfs), CRITICAL),
            ("history", history, CRITICAL),
        ]
    )


def _descriptor(w: Writer, media_type: str, digest: str, size: str) -> str:
    return w.obj(
        [
            ("mediaType", lambda: json.dumps(media_type), CRITICAL),
            ("digest", lambda: f'"{digest}"', CRITICAL),
            ("size", lambda: size, CRITICAL),
            ("annotations", lambda: w.string_map(w.string, w.string), NULLABLE),
            ("urls", lambda: w.array(w.string), NULLABLE),
        ]
    )


def _manifest(w: Writer) -> str:
    return w.obj(
        [
            ("schemaVersion", lambda: "2", CRITICAL),
            ("mediaType", lambda: w.pick([json.dumps(OCI_MANIFEST), '""']), CRITICAL),
            (
                "config",
                lambda: _descriptor(w, OCI_CONFIG, "@CONFIG_DIGEST@", "@CONFIG_SIZE@"),
                CRITICAL,
            ),
            (
                "layers",
                lambda: "[" + _descriptor(w, OCI_TAR, "@LAYER_DIGEST@", "@LAYER_SIZE@") + "]",
                CRITICAL,
            ),
            ("annotations", lambda: w.string_map(w.string, w.string), NULLABLE),
        ]
    )


def _index(w: Writer) -> str:
    def platform() -> str:
        return w.obj(
            [
                ("architecture", lambda: w.pick(['"amd64"', '"arm64"', w.string()]), SCALAR),
                ("os", lambda: w.pick(['"linux"', w.string()]), SCALAR),
                ("os.version", w.string, SCALAR),
                ("os.features", lambda: w.array(w.string), NULLABLE),
                ("variant", w.string, SCALAR),
            ]
        )

    def annotations() -> str:
        others = w.string_map(w.string, w.string)
        tag = f'"{REF_NAME}":"t"'
        return "{" + tag + "}" if others == "{}" else others[:-1] + "," + tag + "}"

    def entry() -> str:
        return w.obj(
            [
                ("mediaType", lambda: json.dumps(OCI_MANIFEST), CRITICAL),
                ("digest", lambda: '"@MANIFEST_DIGEST@"', CRITICAL),
                ("size", lambda: "@MANIFEST_SIZE@", CRITICAL),
                ("annotations", annotations, CRITICAL),
                ("platform", platform, NULLABLE),
                ("artifactType", w.string, SCALAR),
            ]
        )

    return w.obj(
        [
            ("schemaVersion", lambda: "2", CRITICAL),
            ("mediaType", lambda: json.dumps(OCI_INDEX), SCALAR),
            ("manifests", lambda: "[" + entry() + "]", CRITICAL),
            ("annotations", lambda: w.string_map(w.string, w.string), NULLABLE),
        ]
    )


def documents(count: int = 72) -> list[Document]:
    """*count* documents, the same ones on every run."""
    out = []
    for seed in range(count):
        w = Writer(seed)
        out.append(Document(f"doc{seed:02d}", _config(w), _manifest(w), _index(w)))
    return out
