"""Schema types: immutable values compared and hashed by value.

Every constructor checks its arguments and raises :class:`ValueError` (or
:class:`TypeError` for an argument of the wrong Python type) with a message that
names the argument, so a bad schema fails where it is written, not when the first
record arrives.
"""

from __future__ import annotations

import decimal as _dec
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from syncline.types._kinds import Kind

__all__ = [
    "IP",
    "JSON",
    "UUID",
    "Array",
    "Boolean",
    "Date",
    "DateTime",
    "Decimal",
    "Float",
    "Int",
    "Map",
    "Object",
    "Property",
    "String",
    "Time",
    "Type",
    "Year",
    "is_valid_property_name",
]

_PROPERTY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

INT_BITS = (8, 16, 24, 32, 64)
FLOAT_BITS = (32, 64)
MAX_DECIMAL_PRECISION = 76
MAX_DECIMAL_SCALE = 37
FLOAT32_MAX = 3.4028234663852886e38


def is_valid_property_name(name: object) -> bool:
    """Whether *name* is a valid property name: ``[A-Za-z_][A-Za-z0-9_]*``."""
    return type(name) is str and _PROPERTY_NAME.fullmatch(name) is not None


def _set(obj: object, name: str, value: object) -> None:
    # Frozen dataclasses normalise their own fields in __post_init__ this way.
    object.__setattr__(obj, name, value)


def _count(owner: str, name: str, value: object, minimum: int) -> int | None:
    if value is None:
        return None
    if type(value) is not int:
        raise TypeError(f"{owner}: {name} must be an int or None, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value}")
    return value


class Type:
    """Base of every schema type. Instances are immutable and compare by value.

    ``kind`` is the :class:`Kind` of the type. Subclasses are frozen dataclasses.
    """

    __slots__ = ()
    kind: ClassVar[Kind]


@dataclass(frozen=True, slots=True)
class String(Type):
    """A Unicode string.

    ``max_length`` counts characters (code points), ``max_bytes`` counts UTF-8
    bytes, ``values`` restricts the string to a list of allowed values (an enum,
    order kept, no duplicates) and ``pattern`` is a Python :mod:`re` expression the
    whole string must match. ``values`` and ``pattern`` exclude each other, and
    every listed value must respect ``max_length`` and ``max_bytes``.
    """

    max_length: int | None = None
    max_bytes: int | None = None
    values: Sequence[str] | None = None
    pattern: str | None = None
    kind: ClassVar[Kind] = Kind.STRING

    def __post_init__(self) -> None:
        _count("String", "max_length", self.max_length, 1)
        _count("String", "max_bytes", self.max_bytes, 1)
        if self.values is not None:
            if isinstance(self.values, str):
                raise TypeError("String: values must be a sequence of strings, not a string")
            values = tuple(self.values)
            for value in values:
                if type(value) is not str:
                    raise TypeError(f"String: values must be strings, got {type(value).__name__}")
            if len(set(values)) != len(values):
                raise ValueError("String: values contain duplicates")
            if not values:
                raise ValueError("String: values must not be empty; use None for any string")
            if self.max_length is not None and any(len(v) > self.max_length for v in values):
                raise ValueError("String: a value in values is longer than max_length")
            if self.max_bytes is not None and any(
                len(v.encode("utf-8", "surrogatepass")) > self.max_bytes for v in values
            ):
                raise ValueError("String: a value in values is longer than max_bytes")
            _set(self, "values", values)
        if self.pattern is not None:
            if type(self.pattern) is not str:
                raise TypeError("String: pattern must be a str (a Python regular expression)")
            if self.values is not None:
                raise ValueError("String: values and pattern cannot be used together")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(
                    f"String: pattern is not a valid regular expression: {exc}"
                ) from None


@dataclass(frozen=True, slots=True)
class Boolean(Type):
    """``True`` or ``False``."""

    kind: ClassVar[Kind] = Kind.BOOLEAN


@dataclass(frozen=True, slots=True)
class Int(Type):
    """An integer of ``bits`` (8, 16, 24, 32 or 64), signed unless ``unsigned``.

    ``min`` and ``max`` narrow the range the bits allow; both must lie inside it.
    """

    bits: int = 64
    unsigned: bool = False
    min: int | None = None
    max: int | None = None
    kind: ClassVar[Kind] = Kind.INT

    def __post_init__(self) -> None:
        if type(self.bits) is not int or self.bits not in INT_BITS:
            raise ValueError(f"Int: bits must be one of {INT_BITS}, got {self.bits!r}")
        if type(self.unsigned) is not bool:
            raise TypeError("Int: unsigned must be a bool")
        lo, hi = self.bit_range()
        for name in ("min", "max"):
            value = getattr(self, name)
            if value is None:
                continue
            if type(value) is not int:
                raise TypeError(f"Int: {name} must be an int or None, got {type(value).__name__}")
            if not lo <= value <= hi:
                raise ValueError(
                    f"Int: {name} {value} is outside the range of the bits [{lo}, {hi}]"
                )
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"Int: min {self.min} is greater than max {self.max}")

    def bit_range(self) -> tuple[int, int]:
        """The range the bits and signedness allow, ignoring ``min`` and ``max``."""
        if self.unsigned:
            return 0, (1 << self.bits) - 1
        return -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1

    def bounds(self) -> tuple[int, int]:
        """The effective inclusive range: ``min``/``max`` where set, else the bit range."""
        lo, hi = self.bit_range()
        return (lo if self.min is None else self.min, hi if self.max is None else self.max)


@dataclass(frozen=True, slots=True)
class Float(Type):
    """A binary floating-point number of ``bits`` (32 or 64).

    ``real=True`` rejects NaN and ±Infinity. ``min``/``max`` are finite bounds
    (ints are stored as floats). A 32-bit float accepts values up to ±3.4028e38;
    values are not rounded to 32-bit precision.
    """

    bits: int = 64
    real: bool = False
    min: float | None = None
    max: float | None = None
    kind: ClassVar[Kind] = Kind.FLOAT

    def __post_init__(self) -> None:
        if type(self.bits) is not int or self.bits not in FLOAT_BITS:
            raise ValueError(f"Float: bits must be one of {FLOAT_BITS}, got {self.bits!r}")
        if type(self.real) is not bool:
            raise TypeError("Float: real must be a bool")
        for name in ("min", "max"):
            value = getattr(self, name)
            if value is None:
                continue
            if type(value) not in (int, float):
                raise TypeError(
                    f"Float: {name} must be a float or None, got {type(value).__name__}"
                )
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"Float: {name} must be finite")
            if self.bits == 32 and abs(value) > FLOAT32_MAX:
                raise ValueError(f"Float: {name} is outside the range of a 32-bit float")
            _set(self, name, value)
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"Float: min {self.min} is greater than max {self.max}")


@dataclass(frozen=True, slots=True)
class Decimal(Type):
    """A fixed-point decimal with ``precision`` digits, ``scale`` of them fractional.

    ``precision`` is 1..76, ``scale`` is 0..37 and at most ``precision``.
    ``min``/``max`` (a :class:`decimal.Decimal`, int or numeric string) must fit
    the precision and scale; they are stored quantized to ``scale``.
    """

    precision: int
    scale: int
    min: _dec.Decimal | None = None
    max: _dec.Decimal | None = None
    kind: ClassVar[Kind] = Kind.DECIMAL

    def __post_init__(self) -> None:
        if type(self.precision) is not int or not 1 <= self.precision <= MAX_DECIMAL_PRECISION:
            raise ValueError(
                f"Decimal: precision must be an int in 1..{MAX_DECIMAL_PRECISION}, "
                f"got {self.precision!r}"
            )
        if type(self.scale) is not int or not 0 <= self.scale <= MAX_DECIMAL_SCALE:
            raise ValueError(
                f"Decimal: scale must be an int in 0..{MAX_DECIMAL_SCALE}, got {self.scale!r}"
            )
        if self.scale > self.precision:
            raise ValueError(
                f"Decimal: scale {self.scale} is greater than precision {self.precision}"
            )
        for name in ("min", "max"):
            value = getattr(self, name)
            if value is None:
                continue
            _set(self, name, self._bound(name, value))
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"Decimal: min {self.min} is greater than max {self.max}")

    def _bound(self, name: str, value: object) -> _dec.Decimal:
        if type(value) is bool or not isinstance(value, int | str | _dec.Decimal):
            raise TypeError(
                f"Decimal: {name} must be a decimal.Decimal, int or numeric string, "
                f"got {type(value).__name__}"
            )
        try:
            number = _dec.Decimal(value)
        except _dec.InvalidOperation:
            raise ValueError(f"Decimal: {name} is not a number") from None
        if not number.is_finite():
            raise ValueError(f"Decimal: {name} must be finite")
        quantum = _dec.Decimal(1).scaleb(-self.scale)
        context = _dec.Context(prec=MAX_DECIMAL_PRECISION + MAX_DECIMAL_SCALE + 2)
        quantized = number.quantize(quantum, context=context)
        if quantized != number:
            raise ValueError(f"Decimal: {name} has more fractional digits than scale {self.scale}")
        # adjusted() is exact; abs() or ** would round to the thread's context precision.
        if quantized and quantized.adjusted() >= self.precision - self.scale:
            raise ValueError(f"Decimal: {name} has more digits than precision {self.precision}")
        return quantized


@dataclass(frozen=True, slots=True)
class DateTime(Type):
    """An instant, year 1..9999, microsecond resolution, always UTC when canonical."""

    kind: ClassVar[Kind] = Kind.DATETIME


@dataclass(frozen=True, slots=True)
class Date(Type):
    """A calendar date, year 1..9999."""

    kind: ClassVar[Kind] = Kind.DATE


@dataclass(frozen=True, slots=True)
class Time(Type):
    """A time of day without a date, microsecond resolution."""

    kind: ClassVar[Kind] = Kind.TIME


@dataclass(frozen=True, slots=True)
class Year(Type):
    """A year, 1..9999."""

    kind: ClassVar[Kind] = Kind.YEAR


@dataclass(frozen=True, slots=True)
class UUID(Type):
    """A UUID, canonically a lowercase hyphenated string."""

    kind: ClassVar[Kind] = Kind.UUID


@dataclass(frozen=True, slots=True)
class JSON(Type):
    """Any JSON value: None, bool, int, finite float, str, list, dict with str keys."""

    kind: ClassVar[Kind] = Kind.JSON


@dataclass(frozen=True, slots=True)
class IP(Type):
    """An IPv4 or IPv6 address, canonically its compressed string form."""

    kind: ClassVar[Kind] = Kind.IP


_COMPOSITE = frozenset({Kind.ARRAY, Kind.OBJECT, Kind.MAP, Kind.JSON})


@dataclass(frozen=True, slots=True)
class Array(Type):
    """A list of ``element`` values; elements are never null.

    ``min_elements``/``max_elements`` bound the length; ``unique`` requires
    distinct elements (after normalization) and is allowed only for scalar
    element kinds (not array, object, map or json).
    """

    element: Type
    min_elements: int | None = None
    max_elements: int | None = None
    unique: bool = False
    kind: ClassVar[Kind] = Kind.ARRAY

    def __post_init__(self) -> None:
        if not isinstance(self.element, Type):
            raise TypeError(f"Array: element must be a Type, got {type(self.element).__name__}")
        _count("Array", "min_elements", self.min_elements, 0)
        _count("Array", "max_elements", self.max_elements, 0)
        if (
            self.min_elements is not None
            and self.max_elements is not None
            and self.min_elements > self.max_elements
        ):
            raise ValueError(
                f"Array: min_elements {self.min_elements} is greater than "
                f"max_elements {self.max_elements}"
            )
        if type(self.unique) is not bool:
            raise TypeError("Array: unique must be a bool")
        if self.unique and self.element.kind in _COMPOSITE:
            raise ValueError(
                f"Array: unique is not allowed for elements of kind {self.element.kind.value}"
            )


@dataclass(frozen=True, slots=True)
class Map(Type):
    """A dict from string keys to ``element`` values; values are never null."""

    element: Type
    kind: ClassVar[Kind] = Kind.MAP

    def __post_init__(self) -> None:
        if not isinstance(self.element, Type):
            raise TypeError(f"Map: element must be a Type, got {type(self.element).__name__}")


@dataclass(frozen=True, slots=True)
class Property:
    """A named, typed member of an :class:`Object`.

    - ``nullable``: ``None`` is a valid value.
    - ``create_required`` / ``update_required``: a destination needs the property
      present when it creates / updates a record.
    - ``read_optional``: a source may leave the property out of a record it reads.
    - ``prefilled``: a suggested mapping expression shown to a user; never a value.
    - ``description``: free text for people.

    ``name`` must match ``[A-Za-z_][A-Za-z0-9_]*``.
    """

    name: str
    type: Type
    nullable: bool = False
    create_required: bool = False
    update_required: bool = False
    read_optional: bool = False
    prefilled: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not is_valid_property_name(self.name):
            raise ValueError(
                f"Property: invalid name {self.name!r}; a property name must match "
                "[A-Za-z_][A-Za-z0-9_]* (letters, digits and '_', not starting with a digit)"
            )
        if not isinstance(self.type, Type):
            raise TypeError(
                f"Property {self.name!r}: type must be a Type, got {type(self.type).__name__}"
            )
        for flag in ("nullable", "create_required", "update_required", "read_optional"):
            if type(getattr(self, flag)) is not bool:
                raise TypeError(f"Property {self.name!r}: {flag} must be a bool")
        if self.prefilled is not None and type(self.prefilled) is not str:
            raise TypeError(f"Property {self.name!r}: prefilled must be a str or None")
        if type(self.description) is not str:
            raise TypeError(f"Property {self.name!r}: description must be a str")


@dataclass(frozen=True, slots=True)
class Object(Type):
    """An ordered set of :class:`Property`; names are unique.

    Lookups: :meth:`get`, :meth:`property`, :meth:`by_path` (dotted paths into
    nested objects), :meth:`names`, :meth:`walk`; pruning: :meth:`select`.
    """

    properties: Sequence[Property]
    _index: dict[str, Property] = field(init=False, repr=False, compare=False, hash=False)
    kind: ClassVar[Kind] = Kind.OBJECT

    def __post_init__(self) -> None:
        if isinstance(self.properties, str | bytes) or not isinstance(self.properties, Iterable):
            raise TypeError("Object: properties must be a sequence of Property")
        properties = tuple(self.properties)
        index: dict[str, Property] = {}
        duplicates: list[str] = []
        for position, prop in enumerate(properties):
            if not isinstance(prop, Property):
                raise TypeError(
                    f"Object: properties[{position}] must be a Property, got {type(prop).__name__}"
                )
            if prop.name in index and prop.name not in duplicates:
                duplicates.append(prop.name)
            index[prop.name] = prop
        if duplicates:
            raise ValueError(
                "Object: duplicate property names: " + ", ".join(repr(n) for n in duplicates)
            )
        _set(self, "properties", properties)
        _set(self, "_index", index)

    def names(self) -> list[str]:
        """The property names, in order."""
        return [p.name for p in self.properties]

    def get(self, name: str) -> Property | None:
        """The property called *name*, or ``None``."""
        return self._index.get(name)

    def by_path(self, path: str) -> Property:
        """The property at a dotted *path* (``"address.city"``) through nested objects.

        Raises :class:`KeyError` naming the first missing segment.
        """
        current: Object = self
        segments = path.split(".")
        for depth, segment in enumerate(segments):
            prop = current._index.get(segment)
            if prop is None:
                raise KeyError(f"no property {'.'.join(segments[: depth + 1])!r}")
            if depth == len(segments) - 1:
                return prop
            if not isinstance(prop.type, Object):
                raise KeyError(f"property {'.'.join(segments[: depth + 1])!r} is not an object")
            current = prop.type
        raise KeyError("empty property path")

    def walk(self) -> Iterator[tuple[str, Property]]:
        """Every property depth-first as ``(dotted path, property)``, into nested objects."""
        for prop in self.properties:
            yield prop.name, prop
            if isinstance(prop.type, Object):
                for path, inner in prop.type.walk():
                    yield f"{prop.name}.{path}", inner

    def select(self, paths: Iterable[str]) -> Object:
        """A copy keeping only the properties at *paths* (dotted), in schema order.

        Selecting ``"address"`` keeps the whole nested object; selecting
        ``"address.city"`` keeps ``address`` with ``city`` only. Unknown paths
        raise :class:`KeyError`.
        """
        whole: set[str] = set()
        partial: dict[str, list[str]] = {}
        for path in paths:
            self.by_path(path)
            head, _, rest = path.partition(".")
            if rest:
                partial.setdefault(head, []).append(rest)
            else:
                whole.add(head)
        kept: list[Property] = []
        for prop in self.properties:
            if prop.name in whole:
                kept.append(prop)
            elif prop.name in partial and isinstance(prop.type, Object):
                kept.append(_replace_type(prop, prop.type.select(partial[prop.name])))
        return Object(kept)

    def property(self, name: str) -> Property:
        """The property called *name*; :class:`KeyError` if there is none."""
        prop = self._index.get(name)
        if prop is None:
            raise KeyError(f"no property {name!r}")
        return prop


def _replace_type(prop: Property, new_type: Type) -> Property:
    return Property(
        prop.name,
        new_type,
        nullable=prop.nullable,
        create_required=prop.create_required,
        update_required=prop.update_required,
        read_optional=prop.read_optional,
        prefilled=prop.prefilled,
        description=prop.description,
    )
