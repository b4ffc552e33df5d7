"""umoci.jsontext is json.dumps without the json package: prove they agree.

(Reading JSON is umoci.oci.decode's; tests/core/test_decoder_rules.py.)
"""

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
def test_dumps_agrees_with_json(value: object) -> None:
    compact = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    assert jsontext.dumps(value) == compact


def test_constants_and_non_ascii() -> None:
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
        "j.dumps({'a': [1, 2.5, None, 'x']})\n"
        "print(sorted(m for m in ('json', 're', 'enum') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
