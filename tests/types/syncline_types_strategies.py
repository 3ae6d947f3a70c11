"""Hypothesis strategies that generate every kind of schema type with its refinements."""

from __future__ import annotations

import decimal
from typing import Any

from hypothesis import strategies as st

from syncline import types as t

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,11}", fullmatch=True)
maybe_count = st.none() | st.integers(1, 300)


@st.composite
def strings(draw: st.DrawFn) -> t.String:
    max_length = draw(maybe_count)
    max_bytes = draw(maybe_count)
    choice = draw(st.sampled_from(["plain", "values", "pattern"]))
    if choice == "values":
        limit = min(x for x in (max_length, max_bytes, 20) if x is not None)
        values = draw(
            st.lists(
                st.text(max_size=limit).filter(lambda v: len(v.encode()) <= limit),
                min_size=1,
                max_size=5,
                unique=True,
            )
        )
        return t.String(max_length=max_length, max_bytes=max_bytes, values=values)
    if choice == "pattern":
        pattern = draw(st.sampled_from([r"[a-z]+", r"\d{3}-\d{4}", r".*@.*", r"(?i)ab|cd"]))
        return t.String(max_length=max_length, max_bytes=max_bytes, pattern=pattern)
    return t.String(max_length=max_length, max_bytes=max_bytes)


@st.composite
def ints(draw: st.DrawFn) -> t.Int:
    bits = draw(st.sampled_from([8, 16, 24, 32, 64]))
    unsigned = draw(st.booleans())
    lo, hi = t.Int(bits=bits, unsigned=unsigned).bit_range()
    low = draw(st.none() | st.integers(lo, hi))
    high = draw(st.none() | st.integers(lo if low is None else low, hi))
    return t.Int(bits=bits, unsigned=unsigned, min=low, max=high)


@st.composite
def floats(draw: st.DrawFn) -> t.Float:
    bits = draw(st.sampled_from([32, 64]))
    bound = st.floats(-1e30, 1e30, allow_nan=False)
    low = draw(st.none() | bound)
    high = draw(st.none() | (bound if low is None else st.floats(low, 1e30)))
    return t.Float(bits=bits, real=draw(st.booleans()), min=low, max=high)


@st.composite
def decimals(draw: st.DrawFn) -> t.Decimal:
    precision = draw(st.integers(1, 76))
    scale = draw(st.integers(0, min(precision, 37)))
    digits = precision - scale
    top = 10 ** min(digits, 30) - 1
    bound = st.integers(-top, top).map(decimal.Decimal)
    low = draw(st.none() | bound)
    high = draw(st.none() | bound.filter(lambda v: low is None or v >= low))
    return t.Decimal(precision, scale, min=low, max=high)


scalars: st.SearchStrategy[t.Type] = st.one_of(
    strings(),
    st.just(t.Boolean()),
    ints(),
    floats(),
    decimals(),
    st.sampled_from([t.DateTime(), t.Date(), t.Time(), t.Year(), t.UUID(), t.JSON(), t.IP()]),
)


def _array(element: t.Type, draw: st.DrawFn) -> t.Array:
    low = draw(st.none() | st.integers(0, 5))
    high = draw(st.none() | st.integers(low or 0, 10))
    unique = draw(st.booleans()) and element.kind not in (
        t.Kind.ARRAY,
        t.Kind.OBJECT,
        t.Kind.MAP,
        t.Kind.JSON,
    )
    return t.Array(element, min_elements=low, max_elements=high, unique=unique)


@st.composite
def properties(draw: st.DrawFn, inner: st.SearchStrategy[t.Type]) -> list[t.Property]:
    chosen = draw(st.lists(names, min_size=0, max_size=5, unique=True))
    return [
        t.Property(
            name,
            draw(inner),
            nullable=draw(st.booleans()),
            create_required=draw(st.booleans()),
            update_required=draw(st.booleans()),
            read_optional=draw(st.booleans()),
            prefilled=draw(st.none() | st.text(max_size=10)),
            description=draw(st.text(max_size=10)),
        )
        for name in chosen
    ]


def _extend(inner: st.SearchStrategy[t.Type]) -> st.SearchStrategy[t.Type]:
    @st.composite
    def arrays(draw: st.DrawFn) -> t.Array:
        return _array(draw(inner), draw)

    return st.one_of(
        arrays(),
        inner.map(t.Map),
        properties(inner).map(t.Object),
    )


types: st.SearchStrategy[t.Type] = st.recursive(scalars, _extend, max_leaves=12)
objects: st.SearchStrategy[t.Object] = properties(types).map(t.Object)


junk: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=8),
    st.just(""),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def values_for(kind: t.Type) -> st.SearchStrategy[Any]:
    """Values shaped like *kind* (valid or nearly), mixed with junk of any type."""
    if kind.kind is t.Kind.OBJECT:
        return _shaped(kind)
    shaped = _shaped(kind)
    # Mostly well-shaped values, so that valid records are common too.
    return st.one_of(shaped, shaped, shaped, shaped, junk)


def _shaped(kind: t.Type) -> st.SearchStrategy[Any]:
    if isinstance(kind, t.String):
        if kind.values is not None:
            return st.sampled_from(list(kind.values))
        return st.text(max_size=(kind.max_length or 20) + 2)
    if isinstance(kind, t.Int):
        low, high = kind.bounds()
        return st.integers(low - 1, high + 1) | st.integers(low, high).map(str)
    if isinstance(kind, t.Float):
        return st.floats() | st.integers(-100, 100) | st.floats().map(repr)
    if isinstance(kind, t.Decimal):
        return st.decimals(allow_nan=False, places=kind.scale + 1).map(str) | st.integers(-999, 999)
    if isinstance(kind, t.DateTime):
        return st.datetimes() | st.datetimes().map(lambda d: d.isoformat()) | st.integers()
    if isinstance(kind, t.Date):
        return st.dates() | st.dates().map(lambda d: d.isoformat())
    if isinstance(kind, t.Time):
        return st.times() | st.times().map(lambda d: d.isoformat())
    if isinstance(kind, t.Year):
        return st.integers(-1, 10001)
    if isinstance(kind, t.UUID):
        return st.uuids() | st.uuids().map(str)
    if isinstance(kind, t.IP):
        return st.ip_addresses() | st.ip_addresses().map(str)
    if isinstance(kind, t.JSON):
        return st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=3), inner, max_size=3)
            ),
            max_leaves=6,
        )
    if isinstance(kind, t.Array):
        return st.lists(values_for(kind.element), max_size=4)
    if isinstance(kind, t.Map):
        return st.dictionaries(names, values_for(kind.element), max_size=3)
    if isinstance(kind, t.Object):
        return _object_values(kind)
    return st.booleans() | st.sampled_from(["true", "false"])


@st.composite
def _object_values(draw: st.DrawFn, kind: t.Object) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for prop in kind.properties:
        if draw(st.integers(0, 9)) > 0:
            out[prop.name] = draw(values_for(prop.type))
    return out
