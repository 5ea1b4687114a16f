"""What msgspec refused, said in the configuration's words.

msgspec says where (``$.radar[1].lat``) and, tersely, what (``Expected `float` <= 90.0``); the
loader takes the value from the parsed TOML and the declared type from ``msgspec.inspect``,
and these functions word the refusal (``123.0 is not a latitude (-90..90)``) with the
``extra`` words of the type's ``Meta`` (values.py).  The reference uses the same names for
types and bounds, so the page and the errors agree.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Callable
from typing import Any

from msgspec import inspect as mi

from gateway.config.values import got, show

__all__ = ["bounds", "child", "choices", "explain", "kind_name", "parsers", "unwrap"]


def unwrap(t: mi.Type) -> tuple[mi.Type, dict[str, Any]]:
    """The type without ``None`` and metadata, and the metadata's ``extra``."""
    extra: dict[str, Any] = {}
    while True:
        if isinstance(t, mi.UnionType):
            t = next(x for x in t.types if not isinstance(x, mi.NoneType))
        elif isinstance(t, mi.Metadata):
            extra = {**extra, **(t.extra or {})}
            t = t.type
        else:
            return t, extra


def child(t: mi.Type, step: str | int) -> mi.Type:
    """The type one step down an error's path: an array's item, or a table's key."""
    t, _ = unwrap(t)
    if isinstance(step, int):
        assert isinstance(t, (mi.VarTupleType, mi.ListType))
        return t.item_type
    assert isinstance(t, mi.DataclassType)
    return next(f.type for f in t.fields if f.name == step)


def number(x: float) -> str:
    """A bound as people write it: ``90``, ``0.05``, ``10000000``."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def bounds(t: mi.Type) -> str:
    """``0..255``, ``-90..90``: the range a number must be in."""
    if isinstance(t, (mi.IntType, mi.FloatType)) and t.ge is not None and t.le is not None:
        return f"{number(t.ge)}..{number(t.le)}"
    return ""


def kind_name(t: mi.Type, extra: dict[str, Any] | None = None) -> str:
    """What a value of this type is called: ``a number``, ``an array of unit ids``."""
    if isinstance(t, mi.Metadata | mi.UnionType):
        t, extra = unwrap(t)
    if isinstance(t, mi.BoolType):
        return "true or false"
    if isinstance(t, mi.IntType):
        return "an integer"
    if isinstance(t, mi.FloatType):
        return "a number"
    if isinstance(t, (mi.VarTupleType, mi.ListType)):
        item = t.item_type
        schema = item.extra_json_schema if isinstance(item, mi.Metadata) else None
        title = (schema or {}).get("title")
        return f"an array of {title}s" if title else "an array"
    if isinstance(t, mi.DataclassType):
        return "a table"
    return "a string"


def choices(cls: type, key: str) -> tuple[Any, ...]:
    """The values of a ``Literal`` key in the order written (msgspec sorts them)."""
    hint = typing.get_type_hints(cls)[key]
    while typing.get_origin(hint) is not typing.Literal:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return typing.get_args(hint)


def explain(t: mi.Type, value: object, cls: type, key: str) -> str:
    """Why ``value`` is not of type ``t`` (the type of ``cls``'s ``key``), in the
    configuration's words."""
    t, extra = unwrap(t)
    if isinstance(t, mi.LiteralType) and isinstance(value, str):
        return f"{show(value)} is not one of {', '.join(map(repr, choices(cls, key)))}"
    fits: Callable[[object], bool] = {
            mi.BoolType: lambda v: isinstance(v, bool),
            mi.IntType: lambda v: type(v) is int,
            mi.FloatType: lambda v: type(v) in (int, float),
            mi.StrType: lambda v: isinstance(v, str),
            mi.LiteralType: lambda v: isinstance(v, str),
            mi.VarTupleType: lambda v: isinstance(v, list),
    }.get(type(t), lambda v: True)
    if not fits(value):
        return f"expected {kind_name(t, extra)}, got {got(value)}"
    if isinstance(t, (mi.IntType, mi.FloatType)):
        what = extra.get("what")
        return (f"{show(value)} is not {what} ({bounds(t)})" if what
                else f"{show(value)} is not in {bounds(t)}")
    refusal = extra.get("refusal", "is not allowed")
    return refusal if isinstance(value, list) else f"{show(value)} {refusal}"




@functools.cache
def parsers(cls: type) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    """The keys of ``cls`` whose values need code (a ``parse`` in their ``Meta``)."""
    found = ((f.name, unwrap(f.type)[1].get("parse"))
             for f in mi.type_info(cls).fields)  # type: ignore[attr-defined]
    return tuple((name, parse) for name, parse in found if parse is not None)
