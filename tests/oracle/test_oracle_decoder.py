"""The one JSON decoder against the Go umoci 0.6, over generated documents.

Each document of :mod:`decoder_documents` (an image config, a manifest and an
``index.json`` written the ways Go tools may write them) becomes an image;
``stat``, ``stat --json``, ``ls``, ``unpack`` (its ``config.json``) and ``raw
runtime-config`` must give 0.6's bytes.  Then documents 0.6 refuses, each one
defect in one place (spelt as Go may spell it): ours must refuse them too,
with one line.  The rules themselves are pinned by example in
tests/core/test_decoder_rules.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from decoder_documents import Document, documents
from oraclekit import run_tool

from decoderkit import CAPITALISED_CONFIG, INDEX, MANIFEST, write_image
from umoci.cli import main

pytestmark = pytest.mark.oracle

DOCUMENTS = documents()
# Rootful where we can; otherwise both unpack rootless (the same maps).
UNPACK_FLAGS = [] if os.geteuid() == 0 else ["--rootless"]


def ours(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_the_generator_makes_at_least_60_documents() -> None:
    assert len({d.name for d in DOCUMENTS}) == len(DOCUMENTS) >= 60
    assert len({d.config for d in DOCUMENTS}) == len(DOCUMENTS)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d.name)
def test_outputs_equal_the_oracles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], oracle_umoci: Path, document: Document
) -> None:
    image = write_image(tmp_path / "L", document.config, document.manifest, document.index)
    for argv in (
        ["stat", "--image", image],
        ["stat", "--json", "--image", image],
        ["ls", "--layout", tmp_path / "L"],
    ):
        theirs = run_tool(oracle_umoci, *argv)
        assert theirs.returncode == 0, f"the oracle refused {argv[:2]}: {theirs.stderr}"
        assert ours(capsys, *argv)[:2] == (0, theirs.stdout), argv
    for who in ("go", "ours"):
        bundle = tmp_path / f"bundle-{who}"
        config = tmp_path / f"raw-{who}.json"
        unpack = ["unpack", *UNPACK_FLAGS, "--image", image, bundle]
        raw = ["raw", "runtime-config", "--image", image, config]
        for argv in (unpack, raw):
            if who == "go":
                result = run_tool(oracle_umoci, *argv)
                assert result.returncode == 0, f"the oracle refused {argv[0]}: {result.stderr}"
            else:
                status, _, err = ours(capsys, *argv)
                assert status == 0, err
    for name in ("bundle-{}/config.json", "raw-{}.json"):
        theirs_bytes = (tmp_path / name.format("go")).read_bytes()
        assert (tmp_path / name.format("ours")).read_bytes() == theirs_bytes, name


# -- what 0.6 refuses ---------------------------------------------------------------

BASE_CONFIG = (
    '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["@DIFF_ID@"]}'
)
CONFIG_DEFECTS = {
    "cmd-string": ',"config":{"Cmd":"x"}',
    "env-number": ',"CONFIG":{"env":[1]}',
    "label-number": ',"config":{"LABELS":{"a":1}}',
    "port-array": ',"config":{"ExposedPorts":{"80":[]}}',
    "volume-string": ',"config":{"volumes":{"/v":"x"}}',
    "config-array": ',"Config":[]',
    "user-number": ',"config":{"u\\u017fer":0}',
    "args-escaped-number": ',"config":{"ArgsEscaped":1}',
    "empty-layer-string": ',"History":[{"empty_layer":"true"}]',
    "history-object": ',"history":{}',
    "created-yesterday": ',"CREATED":"yesterday"',
    "created-number": ',"created":5',
    "created-lowercase-t": ',"created":"2023-11-14t22:13:20Z"',
    "os-features-string": ',"OS.Features":"x"',
    "type-error-then-good": ',"config":{"Cmd":"x","cmd":["y"]}',
    "nan": ',"x":NaN',
    "infinity": ',"x":-Infinity',
    "diff-ids-number": ',"rootfs":{"diff_ids":[1]}',
}
MANIFEST_DEFECTS = {
    "size-float": MANIFEST.replace('"size":@CONFIG_SIZE@', '"size":@CONFIG_SIZE@.0'),
    "size-exponent": MANIFEST.replace('"size":@CONFIG_SIZE@', '"Size":1e2'),
    "size-string": MANIFEST.replace('"size":@LAYER_SIZE@', '"SIZE":"1"'),
    "size-overflow": MANIFEST.replace('"size":@LAYER_SIZE@', '"size":9223372036854775808'),
    "schema-version-float": MANIFEST.replace('"schemaVersion":2', '"SchemaVersion":2.0'),
    "manifests-field": MANIFEST[:-1] + ',"Manifests":null}',
    "media-type-index": MANIFEST[:-1] + ',"MediaType":"application/vnd.oci.image.index.v1+json"}',
    "data-not-base64": MANIFEST.replace('"size":@CONFIG_SIZE@', '"size":@CONFIG_SIZE@,"Data":"!"'),
    "digest-number": MANIFEST.replace('"digest":"@LAYER_DIGEST@"', '"DIGEST":7'),
    "layers-object": MANIFEST.replace('"layers":[', '"layers":{"x":[').replace("]}", "]}}"),
}
INDEX_DEFECTS = {
    "trailing-data": INDEX + " x",
    "ref-name-number": INDEX.replace('"t"}', "5}"),
    "annotations-array": INDEX.replace('"annotations":{', '"Annotations":[{').replace(
        "}}]}", "}]}]}"
    ),
    "size-float": INDEX.replace('"size":@MANIFEST_SIZE@', '"Size":@MANIFEST_SIZE@.5'),
    "bad-utf8-outside-a-string": INDEX[:-1] + "\udcff}",
}


def _refused_cases() -> list[tuple[str, str, str, str]]:
    """(name, config, manifest, index): one defect each."""
    cases = [
        (f"config-{n}", BASE_CONFIG + d + "}", MANIFEST, INDEX) for n, d in CONFIG_DEFECTS.items()
    ]
    cases += [(f"manifest-{n}", CAPITALISED_CONFIG, m, INDEX) for n, m in MANIFEST_DEFECTS.items()]
    cases += [(f"index-{n}", CAPITALISED_CONFIG, MANIFEST, i) for n, i in INDEX_DEFECTS.items()]
    return cases


REFUSED = _refused_cases()


@pytest.mark.parametrize("case", REFUSED, ids=[c[0] for c in REFUSED])
def test_what_the_oracle_refuses_we_refuse_in_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    oracle_umoci: Path,
    case: tuple[str, str, str, str],
) -> None:
    name, *documents_text = case
    raw = [s.encode("utf-8", "surrogateescape") for s in documents_text]
    image = write_image(tmp_path / "L", *raw)
    stat = ["stat", "--image", image]
    runtime_config = ["raw", "runtime-config", "--image", image, tmp_path / "c"]
    for verb, argv in (("stat", stat), ("raw runtime-config", runtime_config)):
        theirs = run_tool(oracle_umoci, *argv)
        assert theirs.returncode != 0, f"{name}: the oracle read it: {theirs.stdout[:200]}"
        status, out, err = ours(capsys, *argv)
        assert (status, out) == (1, ""), f"{name}: {verb} read it"
        assert err.startswith(f"umoci: {verb}: "), err
        assert err.count("\n") == 1, err
