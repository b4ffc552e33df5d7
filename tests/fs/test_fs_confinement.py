"""Only umoci.fs touches paths inside a rootfs: an AST check over src/umoci.

Every call that names a file by path (``open``, ``os.open``, ``os.lstat``,
``os.chmod``, ``os.listdir``, ``os.path.isdir``, ``shutil.*`` ...) is found
in every module outside ``umoci/fs/``.  A module may make such calls only if
it is listed in :data:`ALLOWED`, with the calls it makes and why none of
them reaches inside a rootfs: it touches the layout, the bundle's metadata
files, the bundle or rootfs directory itself, or a host file the user named.
A new caller, or a new kind of call in a listed module, fails the test: read
``umoci/fs/__init__.py`` and go through its operations instead.  Calls on
file descriptors (``os.fstat``, ``os.read``) are not path lookups and are
not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import umoci

SRC = Path(umoci.__file__).resolve().parent

#: ``os`` functions that look a path up (the fd-only ones cannot reach a path).
OS_PATH_CALLS = frozenset(
    {
        "access",
        "chdir",
        "chflags",
        "chmod",
        "chown",
        "chroot",
        "getxattr",
        "lchflags",
        "lchmod",
        "lchown",
        "link",
        "listdir",
        "listxattr",
        "lstat",
        "makedirs",
        "mkdir",
        "mkfifo",
        "mknod",
        "open",
        "pathconf",
        "readlink",
        "remove",
        "removedirs",
        "removexattr",
        "rename",
        "renames",
        "replace",
        "rmdir",
        "scandir",
        "setxattr",
        "stat",
        "statvfs",
        "symlink",
        "truncate",
        "unlink",
        "utime",
        "walk",
        "fwalk",
    }
)
#: ``os.path`` functions that look a path up (not the string-only ones).
OS_PATH_QUERIES = frozenset(
    {
        "exists",
        "getatime",
        "getctime",
        "getmtime",
        "getsize",
        "isdir",
        "isfile",
        "isjunction",
        "islink",
        "ismount",
        "lexists",
        "realpath",
        "samefile",
    }
)
#: Modules that are all path operations (any use of them counts).
PATH_MODULES = frozenset({"shutil", "tempfile", "glob", "pathlib"})
#: Other path-opening callables.
OTHER_OPENERS = {"io": frozenset({"open", "FileIO"}), "codecs": frozenset({"open"})}
#: Methods only pathlib objects have, in case a Path arrives from elsewhere.
PATHLIB_METHODS = frozenset(
    {
        "hardlink_to",
        "is_dir",
        "is_file",
        "is_mount",
        "is_symlink",
        "iterdir",
        "lchmod",
        "read_bytes",
        "read_text",
        "rglob",
        "samefile",
        "symlink_to",
        "write_bytes",
        "write_text",
    }
)

_LAYOUT = "the image layout (blobs, index.json, oci-layout, locks, temporary files)"
_BUNDLE_META = "bundle metadata files (config.json, umoci.json, the mtree, the stat cache)"

#: module (relative to src/umoci) -> (why it never reaches inside a rootfs, the calls it makes)
ALLOWED: dict[str, tuple[str, frozenset[str]]] = {
    "api.py": (
        "hands pathlib.Path objects to callers and calls nothing on them",
        frozenset({"import pathlib"}),
    ),
    "cas/dir.py": (
        _LAYOUT,
        frozenset(
            {
                "open",
                "os.chown",
                "os.listdir",
                "os.makedirs",
                "os.mkdir",
                "os.open",
                "os.path.isdir",
                "os.path.isfile",
                "os.path.islink",
                "os.replace",
                "os.rmdir",
                "os.stat",
                "os.unlink",
            }
        ),
    ),
    "cas/layoutcheck.py": (
        _LAYOUT + ", and the bundle metadata files others read through read_regular",
        frozenset(
            {
                "open",
                "os.listdir",
                "os.open",
                "os.path.exists",
                "os.path.isdir",
                "os.path.isfile",
                "os.path.realpath",
            }
        ),
    ),
    "cas/locks.py": (_LAYOUT, frozenset({"os.open"})),
    "validate/layout.py": (
        _LAYOUT,
        frozenset({"os.listdir", "os.path.isdir", "os.path.lexists"}),
    ),
    "runtime/bundle_meta.py": (
        _BUNDLE_META + ", and that rootfs/ itself is a directory, not a symlink",
        frozenset({"os.lstat", "os.path.isdir"}),
    ),
    "transport/layout.py": (
        _LAYOUT + " a copy reads or makes",
        frozenset(
            {
                "os.listdir",
                "os.makedirs",
                "os.path.isdir",
                "os.path.islink",
                "os.path.lexists",
            }
        ),
    ),
    "transport/tarindex.py": ("the image archive the user named", frozenset({"os.open"})),
    "transport/registry/credentials.py": (
        "the credential files the user or containers' conventions name (auth.json, "
        "~/.docker/config.json)",
        frozenset({"open"}),
    ),
    "transport/registry/locations.py": (
        "the blob-location cache under ~/.cache/umoci (a hint for cross-repository mounts)",
        frozenset({"os.makedirs"}),
    ),
    "transport/registry/tls.py": (
        "certificate directories (--cert-dir, /etc/containers/certs.d, /etc/docker/certs.d)",
        frozenset({"os.listdir", "os.path.exists", "os.path.isdir"}),
    ),
    "cli/commands.py": ("the --digestfile the user named", frozenset({"open"})),
    "leftovers.py": (
        "temporary files this process made beside a destination, after a signal",
        frozenset({"os.unlink"}),
    ),
    "transport/spool.py": (
        "an unnamed spool file in --tmpdir (a named one unlinked at once without O_TMPFILE)",
        frozenset({"import tempfile", "os.open", "os.unlink", "tempfile.mkstemp"}),
    ),
    "transport/tarout.py": (
        "the image archive the user named (written beside it, renamed over it)",
        frozenset({"os.open", "os.path.isdir", "os.replace", "os.stat", "os.unlink"}),
    ),
    "runtime/atomic.py": (
        _BUNDLE_META + ": config.json",
        frozenset({"os.open", "os.replace", "os.unlink"}),
    ),
    "runtime/spec.py": (
        "statvfs of the rootfs directory itself: which mount flags the host locks",
        frozenset({"os.statvfs"}),
    ),
    "ops/statcache.py": (_BUNDLE_META, frozenset({"os.replace", "os.unlink"})),
    "ops/bundle.py": (
        "makes the bundle or rootfs directory itself and checks that it is empty "
        "(removal is umoci.fs.rmtree)",
        frozenset(
            {"os.chmod", "os.listdir", "os.makedirs", "os.mkdir", "os.path.isdir", "os.path.islink"}
        ),
    ),
    "ops/bundle_unpack.py": (
        _BUNDLE_META + ", and the empty rootfs/ directory itself",
        frozenset({"open", "os.mkdir", "os.replace", "os.unlink"}),
    ),
    "ops/layer_process.py": (
        "wraps file descriptors only (the pipe from the producer process and the blobs "
        "the parent opened for it), never a path",
        frozenset({"open"}),
    ),
    "ops/bundle_repack.py": (_BUNDLE_META, frozenset({"os.replace", "os.unlink"})),
    "ops/layer_add.py": (
        "host files the user named: insert's SOURCE (only checked to exist: its tree is "
        "read by umoci.fs.tree) and raw add-layer's tar archive",
        frozenset({"open", "os.path.isfile", "os.path.lexists"}),
    ),
    "cli/app.py": ("/dev/null", frozenset({"os.open"})),
    "cli/completion.py": (
        "shell completion lists the user's own directories",
        frozenset({"os.listdir", "os.path.isdir", "os.path.isfile"}),
    ),
    "hostplatform.py": ("/proc/cpuinfo of the host", frozenset({"open"})),
    "pprof.py": ("the profile file the user named", frozenset({"open"})),
    "demo.py": (
        "plays a user with a shell: makes its own source tree in a temporary directory "
        "and edits the bundle it unpacked, as a person would",
        frozenset(
            {
                "import tempfile",
                "open",
                "os.chmod",
                "os.makedirs",
                "os.symlink",
                "os.unlink",
                "tempfile.mkdtemp",
            }
        ),
    ),
}


class _PathCalls(ast.NodeVisitor):
    """Collects the path operations of one module (see the module docstring)."""

    def __init__(self) -> None:
        self.found: set[str] = set()
        self.modules: dict[str, str] = {}  # local name -> module it is bound to

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            top = alias.name.split(".")[0]
            if top in PATH_MODULES:
                self.found.add(f"import {alias.name}")
            self.modules[alias.asname or top] = alias.name if alias.asname else top

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if module.split(".")[0] in PATH_MODULES:
            self.found.add(f"import {module}")  # whatever it takes from there
            return
        for alias in node.names:
            local = alias.asname or alias.name
            if module == "os" and alias.name == "path":
                self.modules[local] = "os.path"
            elif self._counts(module, alias.name):
                self.found.add(f"{module}.{alias.name}")

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "open":
            self.found.add("open")
        elif isinstance(func, ast.Attribute):
            module = self._module_of(func.value)
            if module is not None and self._counts(module, func.attr):
                self.found.add(f"{module}.{func.attr}")
            elif func.attr in PATHLIB_METHODS:
                self.found.add(f".{func.attr}()")
        self.generic_visit(node)

    def _module_of(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Name):
            return self.modules.get(node.id)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            base = self.modules.get(node.value.id)
            return f"{base}.{node.attr}" if base is not None else None
        return None

    @staticmethod
    def _counts(module: str, name: str) -> bool:
        if module == "os":
            return name in OS_PATH_CALLS
        if module == "os.path":
            return name in OS_PATH_QUERIES
        if module.split(".", maxsplit=1)[0] in PATH_MODULES:
            return True
        return name in OTHER_OPENERS.get(module, frozenset())


def path_calls(source: str) -> set[str]:
    visitor = _PathCalls()
    visitor.visit(ast.parse(source))
    return visitor.found


def modules_outside_fs() -> dict[str, set[str]]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("fs/"):
            continue
        out[rel] = path_calls(path.read_text(encoding="utf-8"))
    return out


def test_only_fs_and_the_listed_modules_touch_paths() -> None:
    problems = []
    for module, calls in modules_outside_fs().items():
        allowed = ALLOWED.get(module, ("", frozenset()))[1]
        extra = sorted(calls - allowed)
        if extra:
            problems.append(
                f"{module} calls {', '.join(extra)}: a path inside a rootfs goes through "
                "umoci.fs (see its docstring); a module that only touches layout or bundle "
                "metadata files may be listed in ALLOWED with its reason"
            )
    assert problems == []


def test_every_exception_is_still_needed() -> None:
    calls = modules_outside_fs()
    stale = {
        module: sorted(allowed - calls.get(module, set()))
        for module, (_, allowed) in ALLOWED.items()
        if allowed - calls.get(module, set())
    }
    assert stale == {}, "ALLOWED lists calls these modules no longer make: remove them"


def test_the_check_sees_every_spelling() -> None:
    source = """
import os
import os as system
import os.path
from os import path as p, lstat
import io, shutil
from pathlib import Path

open("x")
os.open("x", 0)
system.chmod("x", 0)
os.path.isdir("x")
p.lexists("x")
io.open("x")
shutil.rmtree("x")
something.read_bytes()
os.fstat(3)
os.path.join("a", "b")
"""
    assert path_calls(source) == {
        "open",
        "os.open",
        "os.chmod",
        "os.path.isdir",
        "os.path.lexists",
        "os.lstat",
        "io.open",
        "import shutil",
        "shutil.rmtree",
        "import pathlib",
        ".read_bytes()",
    }
