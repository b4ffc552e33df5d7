"""umoci.structs: the dataclasses subset umoci uses, behaving like the standard library."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
import subprocess
import sys
from typing import Any

import pytest

from umoci.structs import FrozenInstanceError, compile_init, dataclass, field, replace


@dataclass
class Mutable:
    name: str
    size: int = 0
    tags: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Frozen:
    digest: str
    size: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class FrozenSlots:
    path: bytes
    type: str = "file"  # field names that shadow builtins must still work
    set: tuple[str, ...] | None = None


@dataclass(slots=True)
class Slots:
    name: str
    hash: int = 0


@dataclass(frozen=True, order=True)
class Ordered:
    seconds: int
    offset: int = 0


@dataclass(frozen=True)
class Nested:
    inner: Frozen = field(default_factory=lambda: Frozen("sha256:0"))


@dataclass(frozen=True)
class Empty:
    pass


def test_init_positional_keyword_and_defaults() -> None:
    m = Mutable("a", 3)
    assert (m.name, m.size, m.tags) == ("a", 3, set())
    m = Mutable(size=1, name="b", tags={"x"})
    assert (m.name, m.size, m.tags) == ("b", 1, {"x"})
    assert Frozen("d").size == 0


def test_init_rejects_wrong_calls_like_python() -> None:
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'name'"):
        Mutable()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        Mutable("a", nope=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="takes from 2 to 4 positional arguments"):
        Mutable("a", 1, set(), 4)  # type: ignore[call-arg]


def test_default_factory_gives_each_instance_its_own_value() -> None:
    a, b = Mutable("a"), Mutable("b")
    a.tags.add("x")
    assert b.tags == set()
    assert Frozen("d").labels is not Frozen("d").labels
    assert Nested().inner == Frozen("sha256:0")
    assert Nested().inner is not Nested().inner


def test_explicit_none_is_not_taken_for_a_missing_argument() -> None:
    assert FrozenSlots(b"p", set=None).set is None
    assert Mutable("a", tags=None).tags is None  # type: ignore[arg-type]


def test_class_attributes_follow_the_standard_library() -> None:
    # Plain defaults stay on the class, default_factory fields do not.
    assert Mutable.size == 0
    assert "tags" not in Mutable.__dict__
    assert Frozen.size == 0


def test_repr() -> None:
    assert repr(Mutable("a", 2, {"t"})) == "Mutable(name='a', size=2, tags={'t'})"
    assert repr(FrozenSlots(b"p")) == "FrozenSlots(path=b'p', type='file', set=None)"
    assert repr(Empty()) == "Empty()"


def test_repr_uses_the_qualified_name() -> None:
    class Outer:
        @dataclass
        class Inner:
            x: int

    assert repr(Outer.Inner(1)).endswith("Outer.Inner(x=1)")


def test_eq_compares_fields_of_the_same_class_only() -> None:
    assert Mutable("a") == Mutable("a")
    assert Mutable("a") != Mutable("a", 1)
    assert Frozen("d") != Mutable("d")  # type: ignore[comparison-overlap]
    assert Mutable.__eq__(Mutable("a"), "a") is NotImplemented
    assert Empty() == Empty()


def test_compare_false_is_left_out_of_eq_and_hash() -> None:
    a, b = Frozen("d", extra={"x": 1}), Frozen("d", extra={"y": 2})
    assert a == b
    hashable = FrozenSlots(b"p")
    assert hash(hashable) == hash(FrozenSlots(b"p"))
    assert hash(Ordered(1, 2)) == hash((1, 2))


def test_hash_only_for_frozen_classes() -> None:
    assert Mutable.__hash__ is None
    assert Slots.__hash__ is None
    with pytest.raises(TypeError, match="unhashable"):
        hash(Mutable("a"))
    assert hash(Ordered(1)) == hash(Ordered(1))
    assert hash(Empty()) == hash(())
    assert {Ordered(1), Ordered(1), Ordered(2)} == {Ordered(1), Ordered(2)}


def test_hash_of_a_single_field_is_the_hash_of_a_one_tuple() -> None:
    @dataclass(frozen=True)
    class One:
        x: int

    assert hash(One(5)) == hash((5,))
    assert One(5) == One(5)


def test_frozen_refuses_assignment_and_deletion() -> None:
    f = Frozen("d")
    with pytest.raises(FrozenInstanceError, match="cannot assign to field 'size'"):
        f.size = 1  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError, match="cannot delete field 'size'"):
        del f.size
    with pytest.raises(FrozenInstanceError):
        f.other = 1  # type: ignore[attr-defined]
    s = FrozenSlots(b"p")
    with pytest.raises(AttributeError):
        s.type = "dir"  # type: ignore[misc]
    assert s.type == "file"


def test_mutable_classes_allow_assignment() -> None:
    m = Mutable("a")
    m.size = 5
    s = Slots("a")
    s.hash = 7
    assert (m.size, s.hash) == (5, 7)


def test_slots_has_no_instance_dict() -> None:
    assert FrozenSlots.__slots__ == ("path", "type", "set")
    assert not hasattr(FrozenSlots(b"p"), "__dict__")
    s = Slots("a")
    assert not hasattr(s, "__dict__")
    with pytest.raises(AttributeError):
        s.other = 1  # type: ignore[attr-defined]
    # Defaults live in __init__, not in class attributes that would clash with the slots.
    assert Slots("b").hash == 0


def test_slots_keeps_methods_and_properties() -> None:
    @dataclass(frozen=True, slots=True)
    class WithMethods:
        n: int

        @property
        def double(self) -> int:
            return self.n * 2

        @classmethod
        def make(cls) -> WithMethods:
            return cls(4)

        def __str__(self) -> str:
            return f"<{self.n}>"

    assert WithMethods.make().double == 8
    assert str(WithMethods(1)) == "<1>"
    assert WithMethods.__qualname__.endswith("WithMethods")


def test_order() -> None:
    assert Ordered(1, 5) < Ordered(2, 0)
    assert Ordered(1, 1) <= Ordered(1, 1)
    assert Ordered(2) > Ordered(1, 9)
    assert Ordered(2) >= Ordered(2)
    assert sorted([Ordered(3), Ordered(1, 2), Ordered(1, 1)]) == [
        Ordered(1, 1),
        Ordered(1, 2),
        Ordered(3),
    ]
    with pytest.raises(TypeError):
        _ = Ordered(1) < Frozen("d")  # type: ignore[operator]
    assert "__lt__" not in Frozen.__dict__


def test_replace() -> None:
    f = Frozen("d", 1, {"a": "b"})
    g = replace(f, size=2)
    assert g == Frozen("d", 2, {"a": "b"})
    assert f.size == 1
    assert replace(FrozenSlots(b"p"), type="dir") == FrozenSlots(b"p", "dir")
    m = Mutable("a")
    assert replace(m) == m
    assert replace(m) is not m


def test_replace_rejects_unknown_fields_and_non_structs() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        replace(Frozen("d"), nope=1)
    with pytest.raises(TypeError):
        replace(object())


def test_copy_and_pickle() -> None:
    s = FrozenSlots(b"p", "dir", ("a",))
    assert copy.copy(s) == s
    assert copy.deepcopy(s) == s
    assert pickle.loads(pickle.dumps(s)) == s
    f = Frozen("d", 1, {"a": "b"})
    assert copy.deepcopy(f) == f
    assert pickle.loads(pickle.dumps(f)) == f
    assert copy.copy(Slots("a", 1)) == Slots("a", 1)


def test_own_methods_win() -> None:
    @dataclass(frozen=True)
    class Custom:
        x: int

        def __repr__(self) -> str:
            return "custom"

        def __eq__(self, other: object) -> bool:
            return True

        def __hash__(self) -> int:
            return 42

    assert repr(Custom(1)) == "custom"
    assert Custom(1) == Custom(2)
    assert hash(Custom(1)) == 42


def test_own_eq_without_hash_leaves_a_mutable_class_unhashable() -> None:
    # The missing __hash__ is what this test is about.
    @dataclass
    class OwnEq:  # noqa: PLW1641
        x: int

        def __eq__(self, other: object) -> bool:
            return False

    assert OwnEq.__hash__ is None
    assert OwnEq(1) != OwnEq(1)


def test_match_args() -> None:
    assert Frozen.__match_args__ == ("digest", "size", "labels", "extra")
    match Ordered(1, 2):
        case Ordered(seconds, offset):
            assert (seconds, offset) == (1, 2)
        case _:
            pytest.fail("no match")


def test_definition_errors() -> None:
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):

        @dataclass
        class Bad:
            a: int = 0
            b: int  # type: ignore[misc]

    with pytest.raises(ValueError, match="both default and default_factory"):
        field(default=1, default_factory=int)  # type: ignore[call-overload]

    with pytest.raises(TypeError, match="inheriting from a struct"):

        @dataclass
        class Child(Mutable):
            extra: int = 0


def test_unannotated_class_attributes_are_not_fields() -> None:
    @dataclass(frozen=True)
    class WithConstant:
        x: int
        KNOWN = frozenset({"x"})

    assert WithConstant.__match_args__ == ("x",)
    assert WithConstant(1) == WithConstant(1)
    assert "x" in WithConstant.KNOWN


def test_same_behaviour_as_the_standard_library() -> None:
    def make(deco: Any, fld: Any) -> Any:
        @deco(frozen=True)
        class Descriptor:
            media_type: str
            digest: str
            size: int
            urls: tuple[str, ...] = ()
            annotations: dict[str, str] = fld(default_factory=dict)
            data: str | None = None
            extra: dict[str, Any] = fld(default_factory=dict, compare=False)

        return Descriptor

    ours, theirs = make(dataclass, field), make(dataclasses.dataclass, dataclasses.field)
    args = ("m", "sha256:x", 3)
    a, b = ours(*args, extra={"k": 1}), theirs(*args, extra={"k": 1})
    assert repr(a) == repr(b)
    assert a == ours(*args)
    assert b == theirs(*args)
    assert ours.__match_args__ == theirs.__match_args__
    a2, b2 = replace(a, urls=("u",)), dataclasses.replace(b, urls=("u",))
    assert repr(a2) == repr(b2)


def test_importing_the_verbs_loads_neither_dataclasses_nor_inspect() -> None:
    code = (
        "import sys, umoci.ops.bundle_repack, umoci.ops.bundle_unpack, umoci.cli.app, "
        "umoci.ops.image_stat, umoci.cli.stat_text, umoci.ops.config_image, umoci.ops.options; "
        "print(sorted({'dataclasses', 'inspect'} & set(sys.modules)))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout == "[]\n"


def test_structs_imports_no_typing() -> None:
    code = "import sys, umoci.structs; print('typing' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout == "False\n"


def test_init_is_compiled_on_first_use() -> None:
    @dataclass(frozen=True, slots=True)
    class Lazy:
        x: int
        y: list[int] = field(default_factory=list)

    stand_in = Lazy.__init__
    assert stand_in.__qualname__.endswith("Lazy.__init__")
    assert Lazy(1) == Lazy(1, [])
    assert Lazy.__init__ is not stand_in
    assert Lazy.__init__.__qualname__.endswith("Lazy.__init__")
    # A reference to the stand-in taken earlier keeps working.
    obj = object.__new__(Lazy)
    stand_in(obj, 2)
    assert obj == Lazy(2)


def test_compile_init_gives_the_real_signature_before_any_instance() -> None:
    @dataclass(frozen=True)
    class Shown:
        x: int
        y: list[int] = field(default_factory=list)
        z: str = "z"

    stand_in = Shown.__init__
    assert "*args" in str(inspect.signature(Shown))
    compile_init(Shown)
    assert Shown.__init__ is not stand_in
    assert str(inspect.signature(Shown)) == "(x, y=<factory>, z='z')"
    compile_init(Shown)  # again: nothing to do
    compile_init(int)  # not a struct: nothing to do
    assert Shown(1) == Shown(1, [], "z")
