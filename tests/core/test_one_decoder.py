"""One decoder: no module outside ``umoci.oci`` turns JSON text into objects itself.

Every OCI document (oci-layout, index.json, index, manifest, config,
descriptor) and umoci.json is read by :mod:`umoci.oci.decode` through the
models, with the Go umoci's rules; a second parser would read some document
differently (as ``stat`` and ``unpack`` once did).  The scan looks at every
call in ``src/umoci`` for the ways Python parses JSON text.
"""

from __future__ import annotations

import ast
from pathlib import Path

import umoci

SRC = Path(umoci.__file__).resolve().parent

# Calls that parse JSON text (as written in the source: module.function or a bare name).
PARSERS = {
    "json.loads",
    "json.load",
    "json.JSONDecoder",
    "json.decoder.JSONDecoder",
    "jsontext.loads",
    "jsontext.loads_bytes",
    "_json.make_scanner",
    "make_scanner",
    "raw_decode",
    "loads",
    "loads_bytes",
}

# Same names, other formats: the layer producer process's wire format
# (umoci.ops.layer_process) is marshal and pickle, never JSON.
NOT_JSON = {"marshal.loads", "pickle.loads"}

# Where parsing is allowed, and why.
ALLOWED = {
    # The one decoder.
    "oci/decode.py",
    # A bundle's config.json is the runtime-spec document we generate, not an
    # OCI document: validate hands it to jsonschema as the standard library reads it.
    "validate/bundle.py",
}


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _name(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    return None


def parsing_calls(path: Path) -> list[str]:
    """``name:line`` of each call in *path* that parses JSON text."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _name(node.func)
            if name is None or name in NOT_JSON:
                continue
            if name in PARSERS or name.rsplit(".", 1)[-1] in PARSERS:
                found.append(f"{name}:{node.lineno}")
        elif isinstance(node, ast.ImportFrom) and node.module in ("json", "json.decoder"):
            found += [f"from {node.module} import {a.name}:{node.lineno}" for a in node.names]
    return found


def test_only_the_decoder_parses_json() -> None:
    offenders = {}
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        calls = parsing_calls(path)
        if calls and relative not in ALLOWED:
            offenders[relative] = calls
    assert offenders == {}


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import json\nfrom umoci import jsontext\nfrom json import loads\n"
        "a = json.loads('1')\nb = jsontext.loads_bytes(b'1')\n"
        "c = json.JSONDecoder().raw_decode('1')\n"
    )
    assert parsing_calls(sample) == [
        "from json import loads:3",
        "json.loads:4",
        "jsontext.loads_bytes:5",
        "raw_decode:6",
        "json.JSONDecoder:6",
    ]


def test_the_deleted_decoders_stay_deleted() -> None:
    for gone in ("runtime/godecode.py", "runtime/imageconfig.py", "oci/jsonfields.py"):
        assert not (SRC / gone).exists(), gone
    from umoci import jsontext

    assert not hasattr(jsontext, "loads")  # it writes JSON only
