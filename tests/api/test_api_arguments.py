"""Wrong types given to umoci.api: a typed error naming the argument, and nothing written.

Every public entry point and every config field is tried with a value of
the wrong type (and the config's names with values no config can hold);
each must raise the error from umoci.errors, name what was wrong, and leave
the layout (and everything else under tmp_path) exactly as it was.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from umoci.api import (
    Bundle,
    ConfigBuilder,
    HistoryOptions,
    IdMap,
    Image,
    InvalidArgumentError,
    Layout,
    RepackOptions,
    UmociError,
    UsageError,
)
from umoci.apiargs import annotations_of, check


def tree(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and directory (None) under *root*."""
    out: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            out[os.path.relpath(os.path.join(dirpath, name), root)] = None
        for name in filenames:
            path = Path(dirpath) / name
            out[str(path.relative_to(root))] = path.read_bytes()
    return out


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    layout = Layout.init(tmp_path / "L")
    layout.new_image("a")
    (tmp_path / "src").write_text("content")
    return layout


def test_the_error_is_a_type_error_and_an_umoci_error() -> None:
    assert issubclass(InvalidArgumentError, TypeError)
    assert issubclass(InvalidArgumentError, UmociError)


# -- config fields --------------------------------------------------------------------------

WRONG_FIELD_VALUES: list[tuple[str, object]] = [
    ("user", 5),
    ("labels", {1: 2}),
    ("labels", {"k": 2}),
    ("variant", ["x"]),
    ("working_dir", 3.5),
    ("os", None),
    ("architecture", b"amd64"),
    ("author", True),
    ("stop_signal", 9),
    ("cmd", "/bin/sh"),
    ("cmd", None),
    ("cmd", ["/bin/sh", 1]),
    ("entrypoint", "/init"),
    ("env", None),
    ("env", ["PATH=/bin"]),
    ("annotations", {"k": None}),
    ("volumes", "/data"),
    ("volumes", ["/data"]),
    ("exposed_ports", {80}),
]


Change = Callable[[ConfigBuilder], None]


def configure(layout: Layout, *changes: Change) -> None:
    """One config block on tag ``a`` making *changes* in order."""
    with layout.image("a").config() as c:
        for change in changes:
            change(c)


@pytest.mark.parametrize(("field", "value"), WRONG_FIELD_VALUES)
def test_a_config_field_of_the_wrong_type_is_refused_where_it_is_assigned(
    layout: Layout, tmp_path: Path, field: str, value: object
) -> None:
    before = tree(tmp_path)
    reached = []
    with pytest.raises(InvalidArgumentError, match=rf"^ConfigBuilder\.{field}\b") as caught:
        configure(layout, lambda c: setattr(c, field, value), lambda c: reached.append(True))
    assert not reached, "refused at the assignment, not at the block's end"
    if isinstance(value, str):
        assert "pass a list" in str(caught.value)
    assert tree(tmp_path) == before


def _set_item(field: str, key: object, value: object) -> Change:
    return lambda c: getattr(c, field).__setitem__(key, value)


def _add(field: str, value: object) -> Change:
    return lambda c: getattr(c, field).add(value)


def _append(field: str, value: object) -> Change:
    return lambda c: getattr(c, field).append(value)


IN_PLACE_CHANGES = [
    ("labels", _set_item("labels", 1, "2")),
    ("labels", _set_item("labels", "k", 2)),
    ("env", _set_item("env", "X", 1)),
    ("annotations", _set_item("annotations", "k", None)),
    ("cmd", _append("cmd", 5)),
    ("entrypoint", _append("entrypoint", None)),
    ("volumes", _add("volumes", b"/data")),
    ("exposed_ports", _add("exposed_ports", 80)),
]


@pytest.mark.parametrize(("field", "change"), IN_PLACE_CHANGES)
def test_a_wrong_type_put_into_a_field_is_refused_at_the_end(
    layout: Layout, tmp_path: Path, field: str, change: Change
) -> None:
    before = tree(tmp_path)
    # With a good change before it, which must not be written either.
    with pytest.raises(InvalidArgumentError, match=rf"^ConfigBuilder\.{field}\b"):
        configure(layout, lambda c: setattr(c, "user", "1000"), change)
    assert tree(tmp_path) == before


NAMES_NO_CONFIG_HOLDS = [
    ("env", _set_item("env", "", "x")),
    ("env", _set_item("env", "A=B", "c")),
    ("labels", _set_item("labels", "", "x")),
    ("annotations", _set_item("annotations", "", "x")),
]


@pytest.mark.parametrize(("field", "change"), NAMES_NO_CONFIG_HOLDS)
def test_names_a_config_cannot_hold_are_usage_errors(
    layout: Layout, tmp_path: Path, field: str, change: Change
) -> None:
    before = tree(tmp_path)
    with pytest.raises(UsageError, match=rf"^ConfigBuilder\.{field}: "):
        configure(layout, change)
    assert tree(tmp_path) == before


def test_a_misspelt_field_is_an_attribute_error_not_ignored(layout: Layout, tmp_path: Path) -> None:
    before = tree(tmp_path)
    with pytest.raises(AttributeError, match="workdir"):
        configure(layout, lambda c: setattr(c, "workdir", "/srv"))
    assert tree(tmp_path) == before


def test_any_list_or_tuple_of_strings_is_taken(layout: Layout) -> None:
    with layout.image("a").config(tag="b") as c:
        c.cmd = ("/bin/sh", "-c")
        c.entrypoint = ["/init"]
        c.volumes = frozenset({"/data"})
    stat = layout.image("b").stat()
    assert stat.config is not None
    container = stat.config.config
    assert (container.cmd, container.entrypoint, container.volumes) == (
        ("/bin/sh", "-c"),
        ("/init",),
        ("/data",),
    )


# -- entry points ---------------------------------------------------------------------------


def _public_functions() -> list[tuple[str, Callable[..., object]]]:
    out = []
    for cls in (Layout, Image, Bundle, ConfigBuilder):
        for name, member in vars(cls).items():
            function = member.__func__ if isinstance(member, classmethod) else member
            if (name == "__init__" or not name.startswith("_")) and inspect.isfunction(function):
                out.append((f"{cls.__name__}.{name}", function))
    return out


PUBLIC_FUNCTIONS = _public_functions()


@pytest.mark.parametrize(
    ("name", "function"), PUBLIC_FUNCTIONS, ids=[n for n, _ in PUBLIC_FUNCTIONS]
)
def test_every_entry_point_checks_every_argument(
    name: str, function: Callable[..., object]
) -> None:
    parameters = list(inspect.signature(function).parameters)[1:]  # without self / cls
    if not parameters:
        return
    assert hasattr(function, "__wrapped__"), f"{name} is not @checked"
    for parameter, annotation in annotations_of(function.__wrapped__).items():
        if parameter == "return":
            continue
        # Every annotation is one the checker understands (else a plain TypeError).
        with pytest.raises(InvalidArgumentError, match=r"^x: want "):
            check("x", object(), annotation)


Call = Callable[[Layout, Path], object]

# (the start of the message, a call with one argument of the wrong type)
WRONG_ARGUMENTS: list[tuple[str, Call]] = [
    ("Layout: path", lambda _, t: Layout(5)),
    ("Layout.init: path", lambda _, t: Layout.init(os.fsencode(t / "N"))),
    ("Layout.open: path", lambda _, t: Layout.open(None)),
    ("Layout.resolve: ref", lambda lay, _: lay.resolve(5)),
    ("Layout.resolve: platform", lambda lay, _: lay.resolve("a", platform=5)),
    ("Layout.image: ref", lambda lay, _: lay.image(["a"])),
    ("Layout.image: platform", lambda lay, _: lay.image("a", platform=5)),
    ("Layout.new_image: tag", lambda lay, _: lay.new_image(None)),
    ("Layout.tag: new_tag", lambda lay, _: lay.tag("a", None)),
    ("Layout.tag: platform", lambda lay, _: lay.tag("a", "b", platform=5)),
    ("Layout.remove: tag", lambda lay, _: lay.remove(5)),
    ("Layout.gc: grace", lambda lay, _: lay.gc(grace="0")),
    ("Layout.gc: grace", lambda lay, _: lay.gc(grace=True)),
    ("Image: layout", lambda lay, _: Image(lay.path, "a")),
    ("Image: platform", lambda lay, _: Image(lay, "a", 5)),
    ("Image.config: tag", lambda lay, _: lay.image("a").config(tag=5)),
    ("Image.config: history", lambda lay, _: lay.image("a").config(history="x")),
    (
        "Image.config: history.author",
        lambda lay, _: lay.image("a").config(history=HistoryOptions(author=5)),
    ),
    (
        "Image.config: history.created: .* got str",
        lambda lay, _: lay.image("a").config(
            history=HistoryOptions(created="2025-01-01T00:00:00Z")
        ),
    ),
    ("Layout.stat: ref", lambda lay, _: lay.stat(5)),
    ("Layout.stat: platform", lambda lay, _: lay.stat("a", platform=["linux/amd64"])),
    ("Image.unpack: bundle", lambda lay, _: lay.image("a").unpack(5)),
    ("Image.unpack: rootless", lambda lay, t: lay.image("a").unpack(t / "b", rootless="yes")),
    (
        "Image.unpack: uid_map: .* pass a list",
        lambda lay, t: lay.image("a").unpack(t / "b", uid_map="0:0:1"),
    ),
    (r"Image.unpack: gid_map\[0\]", lambda lay, t: lay.image("a").unpack(t / "b", gid_map=(0,))),
    (
        r"Image.unpack: uid_map\[0\]: want IdMap, got str",
        lambda lay, t: lay.image("a").unpack(t / "b", uid_map=("0:0:1",)),
    ),
    (
        r"Image.unpack: uid_map\[0\].host_id",
        lambda lay, t: lay.image("a").unpack(t / "b", uid_map=(IdMap(0, "0", 1),)),
    ),
    ("Image.insert: source", lambda lay, _: lay.image("a").insert(5, "/x")),
    ("Image.insert: target", lambda lay, t: lay.image("a").insert(t / "src", 5)),
    ("Image.insert: mode", lambda lay, t: lay.image("a").insert(t / "src", "/x", mode="opaque")),
    (
        "Image.insert: compress",
        lambda lay, t: lay.image("a").insert(t / "src", "/x", compress="gzip"),
    ),
    ("Image.insert: tag", lambda lay, t: lay.image("a").insert(t / "src", "/x", tag=["b"])),
    ("Bundle: path", lambda _, t: Bundle(5)),
    ("Bundle.open: path", lambda _, t: Bundle.open(None)),
    ("Bundle.repack: layout", lambda lay, t: Bundle(t / "b").repack(lay.path)),
    ("Bundle.repack: tag", lambda lay, t: Bundle(t / "b").repack(lay, tag=5)),
    (
        "Bundle.repack: options.mask_paths: .* pass a list",
        lambda lay, t: Bundle(t / "b").repack(lay, options=RepackOptions(mask_paths="/etc")),
    ),
    (
        "Bundle.repack: options.compress: want Compression, got str",
        lambda lay, t: Bundle(t / "b").repack(lay, options=RepackOptions(compress="zstd")),
    ),
]


@pytest.mark.parametrize(("message", "call"), WRONG_ARGUMENTS, ids=[m for m, _ in WRONG_ARGUMENTS])
def test_an_entry_point_refuses_a_wrong_argument_and_writes_nothing(
    layout: Layout, tmp_path: Path, message: str, call: Call
) -> None:
    before = tree(tmp_path)
    with pytest.raises(InvalidArgumentError, match=f"^{message}"):
        call(layout, tmp_path)
    assert tree(tmp_path) == before


def test_a_malformed_platform_is_refused_when_the_image_is_named(
    layout: Layout, tmp_path: Path
) -> None:
    before = tree(tmp_path)
    with pytest.raises(UsageError, match="invalid --platform 'linux'"):
        layout.image("a", platform="linux")
    assert tree(tmp_path) == before
