"""One public Python surface: umoci.api, re-exported by umoci, and every other module internal.

These tests pin the shape rather than the behaviour: what ``umoci`` and
``umoci.api`` export, that the API reaches the verbs only through
:mod:`umoci.ops`, that every other module says it is internal, and that the
typed options cover what the CLI accepts.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import umoci
from umoci import api
from umoci.compress import CODECS

SRC = Path(__file__).resolve().parents[2] / "src"


def test_umoci_reexports_the_api_and_loads_it_on_first_use() -> None:
    code = (
        "import sys, umoci\n"
        "from umoci import ops, goquote\n"  # submodules still import as submodules
        "before = 'umoci.api' in sys.modules\n"
        "from umoci import Layout, Compression\n"
        "import umoci.api\n"
        "print(before, Layout is umoci.api.Layout, Compression is umoci.api.Compression)\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout == "False True True\n"


def test_the_reexported_names_are_the_apis() -> None:
    assert sorted(umoci._API_NAMES) == sorted(api.__all__)
    assert set(api.__all__) <= set(dir(umoci))
    for name in api.__all__:
        assert getattr(umoci, name) is getattr(api, name)


def test_a_name_the_api_lacks_is_an_attribute_error() -> None:
    for name in ("Nothing", "_API", "api_names"):
        assert not hasattr(umoci, name)


# The modules api.py may import: the verbs (as a package), the argument
# checker, and the modules that define the types it re-exports.
API_IMPORTS = {
    "umoci": {"ops"},
    "umoci.apiargs": {"annotations_of", "check", "checked"},
    "umoci.errors": None,  # the error classes
    "umoci.idmap": {"IdMap"},
    "umoci.oci.models": None,  # the document models
    "umoci.oci.timefmt": {"GoTime"},
    "umoci.ops.image_stat": None,  # the stat result types
    "umoci.ops.options": None,  # the option types
    "umoci.structs": {"compile_init"},  # constructors with real signatures
    "umoci.transport.registry.options": {"RegistryOptions", "Secret"},  # docker:// settings
}


def test_the_api_reaches_the_verbs_only_through_umoci_ops() -> None:
    tree = ast.parse((SRC / "umoci" / "api.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert all(not alias.name.startswith("umoci") for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("umoci"):
            module = node.module or ""
            assert module in API_IMPORTS, f"umoci.api imports {module}"
            names = {alias.name for alias in node.names}
            allowed = API_IMPORTS[module]
            if allowed is not None:
                assert names <= allowed, f"umoci.api imports {names - allowed} from {module}"
            else:  # below ops, only types: classes the API re-exports or builds
                source = sys.modules[module]
                assert all(isinstance(getattr(source, n), type) for n in names), module


def test_every_module_but_the_api_says_it_is_internal() -> None:
    """Each module's docstring, or that of a package it is in, says "Internal"."""
    root = SRC / "umoci"
    public = {root / "__init__.py", root / "api.py"}
    unmarked = []
    for path in sorted(root.rglob("*.py")):
        if path in public:
            continue
        docstrings = [ast.get_docstring(ast.parse(path.read_text())) or ""]
        for package in path.relative_to(root).parents:
            init = root / package / "__init__.py"
            if package != Path(".") and init.exists():
                docstrings.append(ast.get_docstring(ast.parse(init.read_text())) or "")
        if not any("Internal" in doc for doc in docstrings):
            unmarked.append(str(path.relative_to(SRC)))
    assert unmarked == []


def test_compression_has_a_member_for_every_codec() -> None:
    assert [c.value for c in api.Compression] == ["auto", *CODECS]


def test_insert_modes() -> None:
    assert [m.value for m in api.InsertMode] == ["merge", "opaque", "whiteout"]
