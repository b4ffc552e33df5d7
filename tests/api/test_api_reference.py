"""The API reference: every public name of umoci.api documented, and pdoc builds it cleanly.

Public means what the reference shows: the names in ``umoci.api.__all__``
and their members that do not start with ``_`` and are not marked
``@private`` (pdoc's convention, used for the models' codec methods).  Each
docstring names every parameter -- as ``*name*``, ``` ``name`` ``` or
``name=`` in an example -- and holds an example (a ``>>>`` session or a
``::`` code block).  ``scripts/test`` builds the reference into
``build/apidoc`` the same way, with warnings as errors.
"""

from __future__ import annotations

import enum
import inspect
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pdoc
import pytest

from umoci import api


def _members(cls: type) -> Iterator[tuple[str, object]]:
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, (classmethod, staticmethod)):
            yield name, member.__func__
        elif isinstance(member, property) or inspect.isfunction(member):
            yield name, member


def public_items() -> Iterator[tuple[str, object]]:
    for name in api.__all__:
        obj = getattr(api, name)
        yield name, obj
        if isinstance(obj, type) and not issubclass(obj, (BaseException, enum.Enum)):
            for member_name, member in _members(obj):
                if "@private" not in (member.__doc__ or ""):
                    yield f"{name}.{member_name}", member


def parameters(obj: object) -> list[str]:
    """The names a caller passes (a struct's fields, a function's parameters)."""
    if isinstance(obj, property):
        return []
    if isinstance(obj, type):
        if issubclass(obj, (BaseException, enum.Enum)):
            return []  # a message; a member's value
        fields = getattr(obj, "__struct_fields__", None)
        if fields is not None:
            return [f.name for f in fields]
        obj = obj.__init__
    assert callable(obj)
    names = list(inspect.signature(obj).parameters)
    return [n for n in names if n not in ("self", "cls")]


ITEMS = list(public_items())


def test_the_reference_covers_the_entry_points() -> None:
    names = {name for name, _ in ITEMS}
    assert {"Layout.open", "Image.insert", "Bundle.repack", "GoTime.parse"} <= names
    assert "Descriptor.to_json" not in names, "codec methods are @private"


@pytest.mark.parametrize(("name", "obj"), ITEMS, ids=[name for name, _ in ITEMS])
def test_every_public_item_documents_its_parameters_with_an_example(
    name: str, obj: Callable[..., object]
) -> None:
    doc = inspect.getdoc(obj) if not isinstance(obj, type) else obj.__doc__
    assert doc, f"{name} has no docstring"
    assert ">>>" in doc or "::\n" in doc, f"{name}: no example"
    missing = [p for p in parameters(obj) if not re.search(rf"\*{p}\*|``{p}``|\b{p}=", doc)]
    assert missing == [], f"{name}: parameters not described: {missing}"


def test_pdoc_builds_the_reference_without_warnings(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pdoc.pdoc("umoci.api", output_directory=tmp_path)
    page = (tmp_path / "umoci" / "api.html").read_text()
    shown = set(re.findall(r'id="([A-Za-z_][\w.]*)"', page))
    assert {name for name, _ in ITEMS} <= shown
    assert not {n for n in shown if n.endswith((".to_json", ".from_json", ".go_struct"))}
