"""Argument checks for :mod:`umoci.api`: a value of the annotated type, or a typed error.

Python does not enforce annotations, and a wrong type handed to the API
either failed deep inside (an ``AttributeError`` from a helper) or, worse,
was written into the image: a ``str`` is itself a sequence of strings, so
``cmd = "/bin/sh"`` became seven one-letter arguments.  :func:`checked`
makes a function check its arguments against its own annotations;
:func:`check` checks one value (the config builder checks its fields with
it).  Both raise :class:`~umoci.errors.InvalidArgumentError` naming the
argument, before anything is read or written.

The annotations understood are the ones the API uses: classes (a ``bool``
is no ``int``; an ``int`` is a ``float``), ``None``, unions, ``list[X]`` and
``tuple[X, ...]`` (either is accepted, a bare ``str`` never), ``set[X]``
(a set or frozenset), ``dict[K, V]`` and ``os.PathLike[str]``.  An
instance of a :func:`umoci.structs.dataclass` record (the options the
verbs take) has each of its fields checked as well.

Not imported by the CLI (``typing`` and ``inspect`` cost start-up time).

Internal: the checks :mod:`umoci.api` runs, not part of the API itself.
"""

from __future__ import annotations

import functools
import inspect
import os
import reprlib
import types
import typing
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from umoci.errors import InvalidArgumentError

_P = ParamSpec("_P")
_R = TypeVar("_R")

# What a value of each annotated container type may be.
_CONTAINERS: dict[object, tuple[type, ...]] = {
    list: (list, tuple),
    tuple: (list, tuple),
    set: (set, frozenset),
    dict: (dict,),
}

_SHORT = reprlib.Repr()
_SHORT.maxstring = 40
_SHORT.maxother = 40


_ANNOTATIONS: dict[object, dict[str, Any]] = {}


def annotations_of(owner: object) -> dict[str, Any]:
    """The evaluated annotations of a class (its fields) or a function (its parameters)."""
    found = _ANNOTATIONS.get(owner)
    if found is None:
        found = _ANNOTATIONS[owner] = typing.get_type_hints(owner)
    return found


def checked(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Wrap *func* so that each argument given is checked against its annotation first."""
    signature = inspect.signature(func)
    where = func.__qualname__.removesuffix(".__init__")

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        # Resolved on first use: an annotation may name a class defined after func.
        hints = annotations_of(func)
        for name, value in signature.bind(*args, **kwargs).arguments.items():
            if name in hints:
                check(f"{where}: {name}", value, hints[name])
        return func(*args, **kwargs)

    return wrapper


def check(where: str, value: object, annotation: Any) -> None:
    """Raise :class:`InvalidArgumentError` naming *where* unless *value* is an *annotation*."""
    if _is_union(annotation):
        for alternative in typing.get_args(annotation):
            if _has_outer_type(value, alternative):
                check(where, value, alternative)
                return
        raise _wrong_type(where, value, annotation)
    if not _has_outer_type(value, annotation):
        raise _wrong_type(where, value, annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if isinstance(value, (list, tuple)) and origin in (list, tuple):
        if origin is tuple and (len(args) != 2 or args[1] is not Ellipsis):
            raise TypeError(f"{where}: only tuple[X, ...] is supported, not {annotation!r}")
        for i, item in enumerate(value):
            check(f"{where}[{i}]", item, args[0])
    elif isinstance(value, (set, frozenset)) and origin is set:
        for item in value:
            check(f"{where}: item {_SHORT.repr(item)}", item, args[0])
    elif isinstance(value, dict) and origin is dict:
        for key, item in value.items():
            check(f"{where}: key {_SHORT.repr(key)}", key, args[0])
            check(f"{where}[{_SHORT.repr(key)}]", item, args[1])
    elif origin is None and hasattr(type(value), "__struct_fields__"):
        fields = annotations_of(type(value))
        for field in type(value).__struct_fields__:  # type: ignore[attr-defined]
            check(f"{where}.{field.name}", getattr(value, field.name), fields[field.name])


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (types.UnionType, typing.Union)


def _has_outer_type(value: object, annotation: Any) -> bool:
    """Is *value* of *annotation*'s outermost type (its items are not looked at)?"""
    if annotation is None or annotation is types.NoneType:
        return value is None
    origin = typing.get_origin(annotation) or annotation
    if origin in _CONTAINERS:
        return isinstance(value, _CONTAINERS[origin])
    if origin is os.PathLike:
        return isinstance(value, os.PathLike) and isinstance(os.fspath(value), str)
    if origin is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(origin, type):
        return isinstance(value, origin)
    raise TypeError(f"unsupported annotation {annotation!r}")


def _wrong_type(where: str, value: object, annotation: Any) -> InvalidArgumentError:
    want = _describe(annotation)
    alternatives = typing.get_args(annotation) if _is_union(annotation) else (annotation,)
    if isinstance(value, str) and any(
        typing.get_origin(a) in (list, tuple, set) for a in alternatives
    ):
        return InvalidArgumentError(
            f"{where}: want {want}, not a bare str (a str is a sequence of one-letter "
            f"strings): pass a list, e.g. [{_SHORT.repr(value)}]"
        )
    got = "None" if value is None else f"{type(value).__name__} {_SHORT.repr(value)}"
    return InvalidArgumentError(f"{where}: want {want}, got {got}")


def _describe(annotation: Any) -> str:
    """*annotation* as it is written in the source (``list[str]``, ``str | None``)."""
    if annotation is None or annotation is types.NoneType:
        return "None"
    args = typing.get_args(annotation)
    if _is_union(annotation):
        return " | ".join(_describe(a) for a in args)
    origin = typing.get_origin(annotation)
    if origin is None:
        return str(getattr(annotation, "__name__", annotation))
    inner = ", ".join("..." if a is Ellipsis else _describe(a) for a in args)
    return f"{origin.__name__}[{inner}]"


__all__ = ["annotations_of", "check", "checked"]
