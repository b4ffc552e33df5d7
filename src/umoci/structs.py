"""Plain record classes without the start-up cost of :mod:`dataclasses`.

Every ``umoci`` run used to pay for the standard library's dataclasses twice:
importing :mod:`dataclasses` pulls in :mod:`inspect` (and with it ``ast``,
``dis``, ``tokenize``...), and each ``@dataclass`` then builds its methods
as source code and compiles them one ``exec`` at a time.  Measured on a
2-CPU development machine for the 49 record classes the verbs load: 25-40 ms
for the import plus 1.3-1.7 ms a class, 65-85 ms in all, before a verb did
any work.

This module provides the part of the API umoci uses -- ``dataclass``
(``frozen``, ``order``, ``slots``), ``field`` (``default``,
``default_factory``, ``compare``) and ``replace`` -- with the standard
library's behaviour for those options, and imports nothing but
:mod:`operator` at run time.  It is cheap because ``__repr__``, ``__eq__``,
``__hash__``, the orderings and the frozen ``__setattr__`` are shared
functions driven by per-class data, and ``__init__``, the one method that
must be generated (with a single ``exec``), is compiled when the first
instance is built: on the same machine 2-5 ms for defining all 49
classes, plus about 0.2 ms for each class a run actually instantiates.

Deliberately left out because umoci does not use them: inheritance between
struct classes (rejected with a :class:`TypeError`), ``ClassVar`` handling
beyond skipping such annotations, ``InitVar``, ``kw_only``, ``repr=False``,
``eq=False``, ``__post_init__``, ``unsafe_hash``, the recursion guard in
``__repr__``, :func:`dataclasses.fields`/``asdict``, and the exact signature
of ``__init__`` for introspection before the first instance exists.

mypy sees :func:`dataclass` through :pep:`681` ``dataclass_transform``, so
it checks constructor calls, frozen assignments and orderings exactly as for
the standard decorator; at run time neither that marker nor :mod:`typing`
is imported.

Internal: not part of the public API (:mod:`umoci.api`).
"""

from __future__ import annotations

# Loaded anyway by collections and functools, which every verb imports.
from operator import attrgetter, ge, gt, le, lt

# Not "from typing import TYPE_CHECKING": importing typing costs ~10 ms of
# start-up, and mypy treats any constant named TYPE_CHECKING the same way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, dataclass_transform, overload

    _T = TypeVar("_T")
else:
    # dataclass() below is marked for mypy only; at run time the marker does nothing.
    def dataclass_transform(**_params):
        return lambda func: func


class FrozenInstanceError(AttributeError):
    """Assigning to or deleting a field of a ``frozen=True`` instance."""


class _Missing:
    """The type of :data:`MISSING` (``None`` is a legitimate default)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


#: "No default given" for :func:`field`.
MISSING: Any = _Missing()


class _Factory:
    """``__init__``'s default for a field with a ``default_factory`` (as in dataclasses)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


class Field:
    """What :func:`field` records about one attribute; ``name`` is filled in later."""

    __slots__ = ("compare", "default", "default_factory", "name")

    def __init__(self, default: Any, default_factory: Any, compare: bool) -> None:
        self.name = ""
        self.default = default
        self.default_factory = default_factory
        self.compare = compare

    def __repr__(self) -> str:
        return (
            f"Field(name={self.name!r}, default={self.default!r}, "
            f"default_factory={self.default_factory!r}, compare={self.compare!r})"
        )


if TYPE_CHECKING:
    # The overloads tell mypy which type the attribute gets (mypy combines
    # overloads declared under TYPE_CHECKING with the implementation below).
    @overload
    def field(*, default: _T, compare: bool = True) -> _T: ...
    @overload
    def field(*, default_factory: Callable[[], _T], compare: bool = True) -> _T: ...
    @overload
    def field(*, compare: bool = True) -> Any: ...


def field(*, default: Any = MISSING, default_factory: Any = MISSING, compare: bool = True) -> Any:
    """Describe a field whose default or comparison needs more than ``name: T = value``."""
    if default is not MISSING and default_factory is not MISSING:
        raise ValueError("cannot specify both default and default_factory")
    return Field(default, default_factory, compare)


if TYPE_CHECKING:

    @overload
    @dataclass_transform(field_specifiers=(field,))
    def dataclass(cls: type[_T], /) -> type[_T]: ...
    @overload
    def dataclass(
        *, frozen: bool = False, order: bool = False, slots: bool = False
    ) -> Callable[[type[_T]], type[_T]]: ...


def dataclass(
    cls: type[_T] | None = None,
    /,
    *,
    frozen: bool = False,
    order: bool = False,
    slots: bool = False,
) -> type[_T] | Callable[[type[_T]], type[_T]]:
    """Turn the annotated class attributes into fields, like :func:`dataclasses.dataclass`.

    Adds ``__init__``, ``__repr__``, ``__eq__`` and ``__match_args__``;
    ``__hash__`` for frozen classes (``None`` otherwise, so that mutable
    records are not hashable by identity while comparing by value);
    ``__lt__``/``__le__``/``__gt__``/``__ge__`` with ``order=True``.
    Methods the class body defines itself are kept.  With ``slots=True`` the
    result is a new class with ``__slots__`` (a class cannot gain slots after
    it was created).
    """

    def wrap(klass: type[_T]) -> type[_T]:
        return _process(klass, frozen, order, slots)

    return wrap if cls is None else wrap(cls)


def replace(obj: _T, /, **changes: Any) -> _T:
    """A copy of the struct instance *obj* with the given fields changed."""
    fields: tuple[Field, ...] | None = getattr(type(obj), "__struct_fields__", None)
    if fields is None:
        raise TypeError("replace() should be called on struct instances")
    for f in fields:
        if f.name not in changes:
            changes[f.name] = getattr(obj, f.name)
    # Unknown names end up as keyword arguments __init__ rejects (TypeError).
    return type(obj)(**changes)


def _key_getter(names: list[str]) -> Callable[[object], tuple[Any, ...]]:
    # The compared fields of an instance as a tuple, which is what equality,
    # hashing and ordering work on (attrgetter builds it in C).
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return lambda obj: ()


# The methods every struct shares.  Only __init__ is generated per class (it
# needs the field names as parameters); the rest look up the class's
# __struct_fields__ / __struct_key__, which costs no compiling at all.


def _repr(self: Any) -> str:
    shown = ", ".join([f"{f.name}={getattr(self, f.name)!r}" for f in self.__struct_fields__])
    return f"{self.__class__.__qualname__}({shown})"


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        key = self.__struct_key__
        return key(self) == key(other)
    return NotImplemented


def _hash(self: Any) -> int:
    return hash(self.__struct_key__(self))


def _ordering(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def compare(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            key = self.__struct_key__
            return op(key(self), key(other))
        return NotImplemented

    return compare


_ORDER = {
    "__lt__": _ordering(lt),
    "__le__": _ordering(le),
    "__gt__": _ordering(gt),
    "__ge__": _ordering(ge),
}


def _is_frozen_field(self: Any, name: str) -> bool:
    cls = self.__class__
    # A plain subclass of a frozen struct may set attributes of its own.
    return "__struct_fields__" in cls.__dict__ or any(f.name == name for f in cls.__struct_fields__)


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    if _is_frozen_field(self, name):
        raise FrozenInstanceError(f"cannot assign to field {name!r}")
    object.__setattr__(self, name, value)


def _frozen_delattr(self: Any, name: str) -> None:
    if _is_frozen_field(self, name):
        raise FrozenInstanceError(f"cannot delete field {name!r}")
    object.__delattr__(self, name)


def _frozen_getstate(self: Any) -> list[Any]:
    return [getattr(self, f.name) for f in self.__struct_fields__]


def _frozen_setstate(self: Any, state: list[Any]) -> None:
    for f, value in zip(self.__struct_fields__, state, strict=True):
        object.__setattr__(self, f.name, value)


def _collect(cls: type) -> list[Field]:
    fields = []
    seen_default = False
    # Only this class's own annotations (and not through inspect, see above).
    annotations: dict[str, Any] = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
    for name, annotation in annotations.items():
        # With "from __future__ import annotations" these are strings.
        if str(annotation).startswith(("ClassVar", "typing.ClassVar")):
            continue
        value = cls.__dict__.get(name, MISSING)
        f = value if isinstance(value, Field) else Field(value, MISSING, True)
        f.name = name
        has_default = f.default is not MISSING or f.default_factory is not MISSING
        if seen_default and not has_default:
            raise TypeError(f"non-default argument {name!r} follows default argument")
        seen_default = seen_default or has_default
        fields.append(f)
    return fields


def _init(cls: type, fields: list[Field], frozen: bool, slots: bool) -> Callable[..., None]:
    # Generated so that instances are built as fast as by a hand-written
    # __init__ and that wrong calls fail with Python's own TypeErrors.  The
    # "__s_" prefix keeps our names apart from field names (fields called
    # "type" or "set" exist and would shadow builtins).
    namespace: dict[str, Any] = {"__s_FACTORY": _FACTORY, "__s_set": object.__setattr__}
    params = ["self"]
    body = []
    for f in fields:
        n = f.name
        if f.default_factory is not MISSING:
            namespace[f"__s_f_{n}"] = f.default_factory
            params.append(f"{n}=__s_FACTORY")
            body.append(f"  if {n} is __s_FACTORY: {n} = __s_f_{n}()\n")
        elif f.default is not MISSING:
            namespace[f"__s_d_{n}"] = f.default
            params.append(f"{n}=__s_d_{n}")
        else:
            params.append(n)
        if not frozen:
            body.append(f"  self.{n} = {n}\n")
        elif slots:
            # object.__setattr__ gets past the frozen class's own __setattr__.
            body.append(f"  __s_set(self, {n!r}, {n})\n")
    if frozen and not slots and fields:
        # Filling the instance dict in one go compiles and runs faster than
        # one object.__setattr__ call a field.
        values = ", ".join(f"{f.name!r}: {f.name}" for f in fields)
        body.append(f"  self.__dict__.update({{{values}}})\n")
    exec(f"def __init__({', '.join(params)}):\n{''.join(body) or '  pass'}\n", namespace)
    init: Callable[..., None] = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


def _lazy_init(cls: type, fields: list[Field], frozen: bool, slots: bool) -> Callable[..., None]:
    # Compiling __init__ is most of what a struct costs, and a run builds
    # instances of only some of umoci's ~50 structs: compile on first use,
    # then put the real __init__ in the stand-in's place.
    real: Callable[..., None] | None = None

    def compile_real() -> Callable[..., None]:
        nonlocal real
        if real is None:
            real = _init(cls, fields, frozen, slots)
            if cls.__dict__.get("__init__") is __init__:
                cls.__init__ = real  # type: ignore[misc]
        return real

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        (real or compile_real())(self, *args, **kwargs)

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.compile_real = compile_real  # type: ignore[attr-defined]
    return __init__


def compile_init(cls: type) -> None:
    """Give the struct class *cls* its real ``__init__`` now, not at its first instance.

    For classes whose constructor people read (the API's, in ``help()`` and
    the API reference): the stand-in's signature is ``(*args, **kwargs)``.
    """
    compile_real = getattr(cls.__dict__.get("__init__"), "compile_real", None)
    if compile_real is not None:
        compile_real()


def _with_slots(cls: type, names: tuple[str, ...]) -> type:
    namespace = dict(cls.__dict__)
    # Slots replace the class attributes holding the defaults (__init__ has
    # them) and the per-instance dict.
    for name in (*names, "__dict__", "__weakref__"):
        namespace.pop(name, None)
    namespace["__slots__"] = names
    new = type(cls)(cls.__name__, cls.__bases__, namespace)
    new.__qualname__ = cls.__qualname__
    return new


def _process(cls: type[_T], frozen: bool, order: bool, slots: bool) -> type[_T]:
    for base in cls.__mro__[1:]:
        if "__struct_fields__" in base.__dict__:
            raise TypeError(f"{cls.__qualname__}: inheriting from a struct is not supported")
    own = dict(cls.__dict__)
    if order and any(name in own for name in _ORDER):
        raise TypeError(f"{cls.__qualname__}: order=True with its own comparison methods")
    fields = _collect(cls)
    names = tuple(f.name for f in fields)

    if slots:
        cls = _with_slots(cls, names)
    else:
        # Like the standard library: plain defaults stay class attributes,
        # field() objects give way to their default (or to nothing).
        for f in fields:
            if isinstance(own.get(f.name), Field):
                if f.default is MISSING:
                    delattr(cls, f.name)
                else:
                    setattr(cls, f.name, f.default)

    methods: dict[str, Any] = {
        "__init__": _lazy_init(cls, fields, frozen, slots),
        "__repr__": _repr,
        "__eq__": _eq,
        "__match_args__": names,
    }
    if order:
        methods.update(_ORDER)
    # A class body defining __eq__ gets __hash__ = None from Python itself;
    # only a __hash__ written out in the body counts as the class's own.
    if "__hash__" not in own or (own["__hash__"] is None and "__eq__" in own):
        # Frozen: hash what equality compares.  Mutable and compared by
        # value: unhashable, as with the standard library.
        methods["__hash__"] = _hash if frozen else None
        own.pop("__hash__", None)
    if frozen:
        methods["__setattr__"] = _frozen_setattr
        methods["__delattr__"] = _frozen_delattr
        if slots:
            # copy and pickle restore slots with setattr, which is refused now.
            methods["__getstate__"] = _frozen_getstate
            methods["__setstate__"] = _frozen_setstate
    for name, value in methods.items():
        if name not in own:
            setattr(cls, name, value)
    cls.__struct_fields__ = tuple(fields)  # type: ignore[attr-defined]
    cls.__struct_key__ = staticmethod(_key_getter([f.name for f in fields if f.compare]))  # type: ignore[attr-defined]
    return cls
