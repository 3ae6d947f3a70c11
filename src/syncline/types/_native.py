"""Native validation of flat records while they are decoded from JSON (msgspec).

:func:`native_attributes` turns a schema into a msgspec ``Struct`` type that a
JSON decoder fills, type-checks and range-checks in one pass in C, and a
:meth:`NativeAttributes.finish` step that turns the decoded structs into the
exact dicts the compiled validator (:func:`syncline.types.compile`, operation
``"read"``, ISO 8601 times) would return for the same JSON: same values, same
types, same key order (the schema's), optional properties that were absent
left out.

The native types accept a **subset** of what the compiled validator accepts,
never more. Whatever they refuse (a string where a number is expected, a
float with an integral value for an ``Int``, a text ``fromisoformat`` does
not read, an unknown property when refused, an empty string meaning null) is
left to the caller's general path, which decodes generically and runs the
compiled validator, so every error is still reported by the validator, with
its own message.

Supported: an :class:`~syncline.types.Object` whose properties are all
``String`` (``max_length`` only), ``Int``, ``Float``, ``Boolean`` or
``DateTime``, nullable or not, optional or not. Any other schema gets None:
nothing is decided natively.
"""

from __future__ import annotations

import datetime as _dt
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import attrgetter, itemgetter, setitem
from typing import Annotated, Any

import msgspec

from syncline.types import _model as m
from syncline.types._convert import Reject, _aware_utc
from syncline.types._layouts import TimeLayouts

__all__ = ["NativeAttributes", "native_attributes", "read_iso_datetime", "read_iso_datetimes"]

_FLOAT_MAX = sys.float_info.max
_INT_LOW = -(1 << 63)
_INT_HIGH = (1 << 63) - 1
"""The native range of integers: msgspec's bounds are 64-bit signed. (A generic JSON
parse, orjson, makes floats of integers past 64 bits, which the validator reads
differently: the native range must stop there in any case.)"""

_UTC = _dt.UTC
_FROMISO = _dt.datetime.fromisoformat
_TZINFO = attrgetter("tzinfo")


def _annotation(t: m.Type) -> Any:
    """The msgspec type of a property's value (nullable not included), or None."""
    if isinstance(t, m.String):
        if t.max_bytes is not None or t.values is not None or t.pattern is not None:
            return None
        if t.max_length is None:
            return str
        return Annotated[str, msgspec.Meta(max_length=t.max_length)]
    if isinstance(t, m.Boolean):
        return bool
    if isinstance(t, m.Int):
        low, high = t.bounds()
        return Annotated[int, msgspec.Meta(ge=max(low, _INT_LOW), le=min(high, _INT_HIGH))]
    if isinstance(t, m.Float):
        # Always finite: JSON has no NaN nor Infinity, and a number too large
        # for a double is refused here and judged by the validator.
        limit = m.FLOAT32_MAX if t.bits == 32 else _FLOAT_MAX
        floor = -limit if t.min is None else max(-limit, t.min)
        ceiling = limit if t.max is None else min(limit, t.max)
        return Annotated[float, msgspec.Meta(ge=floor, le=ceiling)]
    if isinstance(t, m.DateTime):
        # Decoded as text and parsed by finish(), exactly as the validator
        # parses it: msgspec's own RFC 3339 parser rounds a seventh fraction
        # digit where datetime.fromisoformat truncates it.
        return Annotated[str, msgspec.Meta(min_length=1)]
    return None


@dataclass(frozen=True, slots=True)
class NativeAttributes:
    """A schema's native decoding: ``struct`` to decode into, :meth:`finish` to get dicts.

    ``extra`` names fields the struct also holds, beyond the schema's
    properties (the record's ID and change time of a flat item): ``finish``
    leaves them out of the dicts.
    """

    struct: type[msgspec.Struct]
    times: tuple[tuple[str, bool], ...]
    """Each date-time property's name, and whether every record has a text for it
    (required and not nullable: no row needs to be looked at first)."""
    extra: tuple[str, ...]

    def finish(self, decoded: Sequence[msgspec.Struct]) -> list[dict[str, Any]] | None:
        """The validated attributes of each decoded struct, in order; None if one is not valid.

        None when a date-time is not an ISO 8601 text that
        :meth:`datetime.datetime.fromisoformat` reads: the caller then takes the
        general path, where the validator decides (it also reads other layouts).
        """
        rows: list[dict[str, Any]] = msgspec.to_builtins(decoded)
        for name in self.extra:
            for row in rows:
                row.pop(name, None)
        for name, always in self.times:
            # A nullable date-time may be null (None stays None) or absent.
            present = rows if always else [row for row in rows if row.get(name) is not None]
            moments = read_iso_datetimes(list(map(itemgetter(name), present)))
            if moments is None:
                return None
            # Stored by C calls: no Python frame per row.
            deque(map(setitem, present, repeat(name), moments), maxlen=0)
        return rows


def read_iso_datetimes(texts: list[str]) -> list[_dt.datetime] | None:
    """:func:`read_iso_datetime` of each text, or None when one does not read.

    The common case — every text in UTC — is one C call per text.
    """
    try:
        moments = list(map(_FROMISO, texts))
    except ValueError:
        return None
    if set(map(_TZINFO, moments)) - {_UTC}:
        try:
            moments = list(map(read_iso_datetime, texts))
        except ValueError:
            return None
    return moments


def read_iso_datetime(text: str) -> _dt.datetime:
    """The validator's reading of an ISO 8601 text: aware, in UTC (naive means UTC).

    Raises ValueError for a text :meth:`datetime.datetime.fromisoformat` does not
    read, and for one outside the years 1..9999 once converted to UTC.
    """
    moment = _dt.datetime.fromisoformat(text)
    if moment.tzinfo is _UTC:
        return moment
    try:
        return _aware_utc(moment)
    except Reject as rejected:
        raise ValueError(rejected.message) from None


def native_attributes(
    schema: m.Object,
    layouts: TimeLayouts | None = None,
    extra: Sequence[tuple[str, Any]] = (),
    *,
    refuse_unknown: bool = True,
) -> NativeAttributes | None:
    """The native decoding of records of ``schema`` read with ``layouts``, or None.

    ``refuse_unknown``: a member that is not a property (nor in ``extra``)
    fails the decoding, so that the validator reports it; otherwise the
    decoder skips it.

    None when a property's type is not supported (see the module doc), when
    ``layouts`` reads date-times in another layout than ISO 8601, or when a
    name in ``extra`` (JSON member name, msgspec type) is also a property.
    """
    if layouts is not None and layouts.datetime is not None:
        return None
    names = set(schema.names())
    if any(name in names for name, _ in extra):
        return None
    fields: list[tuple[str, Any, Any] | tuple[str, Any]] = []
    rename: dict[str, str] = {}
    times: list[tuple[str, bool]] = []
    for index, prop in enumerate(schema.properties):
        annotation = _annotation(prop.type)
        if annotation is None:
            return None
        if prop.nullable:
            annotation = annotation | None
        field = f"p{index}"  # property names may be Python keywords
        rename[field] = prop.name
        if prop.read_optional or prop.nullable:
            # Absent stays absent: to_builtins leaves UNSET fields out.
            fields.append((field, annotation | msgspec.UnsetType, msgspec.UNSET))
        else:
            fields.append((field, annotation))
        if isinstance(prop.type, m.DateTime):
            times.append((prop.name, not (prop.read_optional or prop.nullable)))
    for index, (name, annotation) in enumerate(extra):
        field = f"x{index}"
        rename[field] = name
        fields.append((field, annotation, msgspec.UNSET))
    # Required fields must come first in a Struct; msgspec keeps that rule by
    # keyword-only fields, which keep the declared order for encoding.
    struct = msgspec.defstruct(
        "Attributes",
        fields,
        kw_only=True,
        forbid_unknown_fields=refuse_unknown,
        rename=rename,
        gc=False,
    )
    return NativeAttributes(struct, tuple(times), tuple(name for name, _ in extra))
