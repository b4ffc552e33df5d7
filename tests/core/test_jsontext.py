"""umoci.jsontext is json.loads/json.dumps without the json package: prove they agree."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from umoci import jsontext

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",)))
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(_values)
def test_dumps_and_loads_agree_with_json(value: object) -> None:
    compact = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    assert jsontext.dumps(value) == compact
    assert jsontext.loads(compact) == json.loads(compact)
    spaced = json.dumps(value, indent=2)
    assert jsontext.loads(f" \n\t{spaced}\r\n ") == json.loads(spaced)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "{",
        '{"a":1,}',
        '{"a":1} x',
        "[1, 2] [3]",
        "\ufeff{}",
        '"\\ud800"x',
        "[" * 100 + "]" * 99,
        '{"a": tru}',
        "nul",
        "1e999x",
    ],
)
def test_invalid_documents_raise_what_json_raises(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as ours:
        jsontext.loads(text)
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(text)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)


def test_constants_duplicates_and_big_numbers() -> None:
    assert jsontext.loads('{"a":1,"a":2}') == {"a": 2}  # the last one wins, as in Go
    assert jsontext.loads("123456789012345678901234567890") == 123456789012345678901234567890
    assert math.isnan(jsontext.loads("NaN"))
    assert jsontext.loads("[Infinity,-Infinity]") == [math.inf, -math.inf]
    assert jsontext.dumps({"f": 1.5, "n": math.nan, "k": {1: True}}) == json.dumps(
        {"f": 1.5, "n": math.nan, "k": {1: True}}, ensure_ascii=False, separators=(",", ":")
    )
    assert jsontext.dumps("<é>") == '"<é>"'


def test_unserializable_and_circular_values_raise() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        jsontext.dumps({"a": object()})
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        jsontext.dumps(loop)


def test_importing_it_imports_neither_json_nor_re() -> None:
    code = (
        "import sys, umoci.jsontext as j\n"
        "j.loads(j.dumps({'a': [1, 2.5, None, 'x']}))\n"
        "print(sorted(m for m in ('json', 're', 'enum') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
