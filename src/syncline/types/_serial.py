"""The JSON form of types: ``to_json``/``from_json`` and ``dumps``/``loads``.

A type is a JSON object with a ``"kind"`` and its refinements in camelCase;
refinements at their default are left out. ``from_json(to_json(t)) == t`` for
every type. Decimal bounds are strings so no digit is lost.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from syncline.types import _model as m
from syncline.types._kinds import Kind

__all__ = ["dumps", "from_json", "loads", "to_json"]

_SCALARS: dict[Kind, type[m.Type]] = {
    Kind.BOOLEAN: m.Boolean,
    Kind.DATETIME: m.DateTime,
    Kind.DATE: m.Date,
    Kind.TIME: m.Time,
    Kind.YEAR: m.Year,
    Kind.UUID: m.UUID,
    Kind.JSON: m.JSON,
    Kind.IP: m.IP,
}


def to_json(t: m.Type) -> dict[str, Any]:
    """The JSON form of *t* as a dict of JSON values."""
    out: dict[str, Any] = {"kind": t.kind.value}
    if isinstance(t, m.String):
        _put(out, "maxLength", t.max_length)
        _put(out, "maxBytes", t.max_bytes)
        _put(out, "values", None if t.values is None else list(t.values))
        _put(out, "pattern", t.pattern)
    elif isinstance(t, m.Int):
        out["bits"] = t.bits
        _put(out, "unsigned", t.unsigned or None)
        _put(out, "min", t.min)
        _put(out, "max", t.max)
    elif isinstance(t, m.Float):
        out["bits"] = t.bits
        _put(out, "real", t.real or None)
        _put(out, "min", t.min)
        _put(out, "max", t.max)
    elif isinstance(t, m.Decimal):
        out["precision"] = t.precision
        out["scale"] = t.scale
        _put(out, "min", None if t.min is None else str(t.min))
        _put(out, "max", None if t.max is None else str(t.max))
    elif isinstance(t, m.Array):
        out["elementType"] = to_json(t.element)
        _put(out, "minElements", t.min_elements)
        _put(out, "maxElements", t.max_elements)
        _put(out, "unique", t.unique or None)
    elif isinstance(t, m.Map):
        out["elementType"] = to_json(t.element)
    elif isinstance(t, m.Object):
        out["properties"] = [_property_to_json(p) for p in t.properties]
    return out


def _property_to_json(p: m.Property) -> dict[str, Any]:
    out: dict[str, Any] = {"name": p.name, "type": to_json(p.type)}
    _put(out, "nullable", p.nullable or None)
    _put(out, "createRequired", p.create_required or None)
    _put(out, "updateRequired", p.update_required or None)
    _put(out, "readOptional", p.read_optional or None)
    _put(out, "prefilled", p.prefilled)
    _put(out, "description", p.description or None)
    return out


def _put(out: dict[str, Any], key: str, value: object) -> None:
    if value is not None:
        out[key] = value


class _Fields:
    """Reads the members of one JSON object, then rejects any it did not read."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected a JSON object, got {type(data).__name__}")
        self.data: dict[str, Any] = data
        self.where = where
        self.seen: set[str] = set()

    def get(self, key: str, check: Callable[[Any], bool], expected: str) -> Any:
        self.seen.add(key)
        value = self.data.get(key)
        if value is not None and not check(value):
            raise ValueError(f"{self.where}.{key}: expected {expected}, got {type(value).__name__}")
        return value

    def done(self) -> None:
        extra = sorted(k for k in self.data if k not in self.seen)
        if extra:
            raise ValueError(f"{self.where}: unknown member(s) {', '.join(map(repr, extra))}")


def _is_int(v: Any) -> bool:
    return type(v) is int


def _is_bool(v: Any) -> bool:
    return type(v) is bool


def _is_str(v: Any) -> bool:
    return type(v) is str


def _is_number(v: Any) -> bool:
    return type(v) in (int, float)


def _is_list(v: Any) -> bool:
    return type(v) is list


def _or(value: Any, default: int) -> Any:
    return default if value is None else value


def from_json(data: dict[str, Any], *, _where: str = "$") -> m.Type:
    """The type whose JSON form is *data*.

    Raises :class:`ValueError` naming the location (``$.properties[2].type.bits``)
    of an unknown kind, a misspelt or unknown member, a member of the wrong JSON
    type, or a refinement the type constructor refuses.
    """
    f = _Fields(data, _where)
    raw_kind = f.get("kind", _is_str, "a string")
    if raw_kind is None:
        raise ValueError(f"{_where}: a type needs a kind")
    try:
        kind = Kind(raw_kind)
    except ValueError:
        raise ValueError(
            f"{_where}.kind: unknown kind {raw_kind!r}; expected one of "
            + ", ".join(k.value for k in Kind)
        ) from None
    try:
        t = _build(kind, f)
    except (TypeError, ValueError) as exc:
        if str(exc).startswith("$"):
            raise
        raise ValueError(f"{_where}: {exc}") from None
    f.done()
    return t


def _build(kind: Kind, f: _Fields) -> m.Type:
    where = f.where
    if kind in _SCALARS:
        return _SCALARS[kind]()
    if kind is Kind.STRING:
        values = f.get("values", _is_list, "an array of strings")
        return m.String(
            max_length=f.get("maxLength", _is_int, "an integer"),
            max_bytes=f.get("maxBytes", _is_int, "an integer"),
            values=values,
            pattern=f.get("pattern", _is_str, "a string"),
        )
    if kind is Kind.INT:
        return m.Int(
            bits=_or(f.get("bits", _is_int, "an integer"), 64),
            unsigned=bool(f.get("unsigned", _is_bool, "a boolean")),
            min=f.get("min", _is_int, "an integer"),
            max=f.get("max", _is_int, "an integer"),
        )
    if kind is Kind.FLOAT:
        return m.Float(
            bits=_or(f.get("bits", _is_int, "an integer"), 64),
            real=bool(f.get("real", _is_bool, "a boolean")),
            min=f.get("min", _is_number, "a number"),
            max=f.get("max", _is_number, "a number"),
        )
    if kind is Kind.DECIMAL:
        bounds = [f.get(k, _is_str, "a decimal string") for k in ("min", "max")]
        precision = f.get("precision", _is_int, "an integer")
        scale = f.get("scale", _is_int, "an integer")
        if precision is None or scale is None:
            raise ValueError(f"{where}: a decimal needs precision and scale")
        return m.Decimal(
            precision,
            scale,
            min=bounds[0],
            max=bounds[1],
        )
    if kind in (Kind.ARRAY, Kind.MAP):
        raw = f.get("elementType", lambda v: isinstance(v, dict), "a type object")
        if raw is None:
            raise ValueError(f"{where}: an {kind.value} needs elementType")
        element = from_json(raw, _where=f"{where}.elementType")
        if kind is Kind.MAP:
            return m.Map(element)
        return m.Array(
            element,
            min_elements=f.get("minElements", _is_int, "an integer"),
            max_elements=f.get("maxElements", _is_int, "an integer"),
            unique=bool(f.get("unique", _is_bool, "a boolean")),
        )
    raw_props = f.get("properties", _is_list, "an array of properties")
    if raw_props is None:
        raise ValueError(f"{where}: an object needs properties")
    return m.Object([_property(p, f"{where}.properties[{i}]") for i, p in enumerate(raw_props)])


def _property(data: object, where: str) -> m.Property:
    f = _Fields(data, where)
    name = f.get("name", _is_str, "a string")
    raw_type = f.get("type", lambda v: isinstance(v, dict), "a type object")
    if name is None or raw_type is None:
        raise ValueError(f"{where}: a property needs name and type")
    prop_type = from_json(raw_type, _where=f"{where}.type")
    try:
        prop = m.Property(
            name,
            prop_type,
            nullable=bool(f.get("nullable", _is_bool, "a boolean")),
            create_required=bool(f.get("createRequired", _is_bool, "a boolean")),
            update_required=bool(f.get("updateRequired", _is_bool, "a boolean")),
            read_optional=bool(f.get("readOptional", _is_bool, "a boolean")),
            prefilled=f.get("prefilled", _is_str, "a string"),
            description=f.get("description", _is_str, "a string") or "",
        )
    except (TypeError, ValueError) as exc:
        if str(exc).startswith("$"):
            raise
        raise ValueError(f"{where}: {exc}") from None
    f.done()
    return prop


def dumps(t: m.Type) -> str:
    """*t* as compact JSON text; ``loads(dumps(t)) == t``."""
    return json.dumps(to_json(t), separators=(",", ":"), ensure_ascii=False)


def loads(text: str | bytes) -> m.Type:
    """The type whose JSON text is *text*; :class:`ValueError` if it is not one."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
    return from_json(data)
