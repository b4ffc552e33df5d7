"""No import circles in src/umoci: the graph of who imports whom has no cycle.

The graph is read from the source (the AST), not from a running program, so
every import counts wherever it is written: at module level, inside a
function (the lazy imports that keep start-up fast), and under
``TYPE_CHECKING``.  An edge goes to the module an import statement names:
``import a.b`` and ``from a import b`` (when ``a.b`` is a module) lead to
``a.b``; ``from a.b import name`` leads to ``a.b``.  That Python loads a
package's ``__init__`` before its submodules is not an edge: a package is
always initialised first, whatever its submodules import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


def modules_under(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package at *root*."""
    modules = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package tree that it imports anywhere in its body."""
    modules = modules_under(root)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                graph[name].update(alias.name for alias in node.names if alias.name in modules)
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(node, package)
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    if target in modules:
                        graph[name].add(target)
                    elif base in modules:
                        graph[name].add(base)
    return graph


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    base = parts[: len(parts) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with a cycle (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_src_umoci_has_no_import_cycle() -> None:
    graph = import_graph(SRC / "umoci")
    assert len(graph) > 100, "the package was found"
    assert "umoci.errors" in graph["umoci.cli.app"], "imports were read"
    assert cycles(graph) == []


def write_package(root: Path, files: dict[str, str]) -> Path:
    package = root / "pkg"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package


CIRCLES = {
    "module level": {"__init__.py": "", "a.py": "import pkg.b\n", "b.py": "from pkg import a\n"},
    "inside a function": {
        "__init__.py": "",
        "a.py": "from pkg.b import thing\n",
        "b.py": "thing = 1\ndef f():\n    from pkg.a import g\n",
    },
    "under TYPE_CHECKING": {
        "__init__.py": "",
        "a.py": "TYPE_CHECKING = False\nif TYPE_CHECKING:\n    from pkg.b import T\n",
        "b.py": "from pkg import a\n",
    },
    "relative, through a subpackage": {
        "__init__.py": "",
        "a.py": "from .sub import c\n",
        "sub/__init__.py": "",
        "sub/c.py": "def f():\n    from .. import a\n",
    },
    "a package and its submodule": {
        "__init__.py": "def f():\n    from pkg import a\n",
        "a.py": "from pkg import VERSION\n",
    },
}


@pytest.mark.parametrize("files", CIRCLES.values(), ids=CIRCLES.keys())
def test_every_kind_of_import_closes_a_circle(tmp_path: Path, files: dict[str, str]) -> None:
    assert cycles(import_graph(write_package(tmp_path, files))) != []


def test_a_package_loading_its_submodules_lazily_is_no_circle(tmp_path: Path) -> None:
    files = {
        "__init__.py": "def f():\n    from pkg.a import g\n",
        "a.py": "from pkg.b import h\n",
        "b.py": "import os\n",
    }
    assert cycles(import_graph(write_package(tmp_path, files))) == []
