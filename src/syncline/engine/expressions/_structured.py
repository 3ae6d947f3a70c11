"""The structured filter form (JSON/YAML) -> the same syntax tree as the text form.

Each condition ``{"property": p, "operator": op, "value": v}`` is rewritten as
the text ``p op v`` (the value written as a literal) and parsed, so both forms
share one parser, one compiler and one set of error messages; an error shows
the rewritten text of the condition it is about.
"""

from __future__ import annotations

import datetime as dt
import decimal
import difflib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ._ast import Bool, Node, Not, Path
from ._parser import parse
from .errors import ExpressionError

__all__ = ["BINARY_OPERATORS", "LIST_OPERATORS", "UNARY_OPERATORS", "Clause", "from_structured"]

BINARY_OPERATORS: Final = (
    "is", "is not", "=", "!=", "<", "<=", ">", ">=",
    "contains", "does not contain", "starts with", "ends with",
)  # fmt: skip
UNARY_OPERATORS: Final = (
    "is empty", "is not empty", "is null", "is not null", "exists", "does not exist",
)  # fmt: skip
LIST_OPERATORS: Final = ("in", "not in")
_ALL_OPERATORS: Final = BINARY_OPERATORS + UNARY_OPERATORS + LIST_OPERATORS
_CONDITION_KEYS: Final = frozenset({"property", "operator", "value", "values"})


@dataclass(frozen=True, slots=True)
class Clause:
    """One text condition of a filter: where it is (*subject*), its text, its tree."""

    subject: str
    text: str
    node: Node


def from_structured(spec: Any, subject: str = "filter") -> tuple[Node, list[Clause]]:
    """The syntax tree of a structured filter and its clauses. Raises ExpressionError.

    *spec* is a mapping with exactly one of ``all`` / ``any`` (a list of
    conditions), ``not`` (one condition), or a condition with ``property``,
    ``operator`` and ``value`` / ``values``. A list item may also be a string in
    the text language.
    """
    clauses: list[Clause] = []
    node = _convert(spec, subject, clauses)
    return node, clauses


def _problem(subject: str, message: str, spec: Any) -> ExpressionError:
    try:
        shown = json.dumps(spec, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        shown = repr(spec)
    return ExpressionError(message, shown, 0, length=len(shown), subject=subject)


def _convert(spec: Any, subject: str, clauses: list[Clause]) -> Node:
    if isinstance(spec, str):
        node = _parse(spec, subject)
        clauses.append(Clause(subject, spec, node))
        return node
    if not isinstance(spec, Mapping):
        raise _problem(subject, "a condition must be an object or a string", spec)
    groups = [key for key in ("all", "any", "not") if key in spec]
    if groups:
        if len(spec) != 1:
            raise _problem(
                subject, f"'{groups[0]}' must be the only key of its object", sorted(spec)
            )
        key = groups[0]
        inner = spec[key]
        if key == "not":
            node = _convert(inner, f"{subject}.not", clauses)
            return Not(node.start, node.end, node)
        if isinstance(inner, str) or not isinstance(inner, Sequence) or not inner:
            raise _problem(f"{subject}.{key}", f"'{key}' must be a non-empty list", inner)
        items = [_convert(item, f"{subject}.{key}[{i}]", clauses) for i, item in enumerate(inner)]
        if len(items) == 1:
            return items[0]
        return Bool(0, 0, "and" if key == "all" else "or", tuple(items))
    return _condition(spec, subject, clauses)


def _condition(spec: Mapping[str, Any], subject: str, clauses: list[Clause]) -> Node:
    unknown = sorted(str(key) for key in spec if key not in _CONDITION_KEYS)
    if unknown:
        raise _problem(
            subject,
            f"unknown key '{unknown[0]}'; a condition has 'property', 'operator' and "
            "'value' (or 'values' for 'in'), a group has 'all', 'any' or 'not'",
            dict(spec),
        )
    prop, operator = spec.get("property"), spec.get("operator")
    if not isinstance(prop, str) or not isinstance(operator, str):
        raise _problem(
            subject, "a condition needs a 'property' and an 'operator' string", dict(spec)
        )
    path = _parse(prop, f"{subject}.property")
    if not isinstance(path, Path):
        raise ExpressionError(
            "'property' must be a property path such as traits.email",
            prop,
            0,
            length=len(prop),
            subject=f"{subject}.property",
        )
    op = " ".join(operator.split()).lower()
    if op not in _ALL_OPERATORS:
        close = difflib.get_close_matches(op, _ALL_OPERATORS, n=1, cutoff=0.6)
        raise ExpressionError(
            f"unknown operator '{operator}'",
            operator,
            0,
            length=len(operator),
            subject=f"{subject}.operator",
            hint=f"did you mean '{close[0]}'?" if close else "",
        )
    if op in UNARY_OPERATORS:
        if "value" in spec or "values" in spec:
            raise _problem(subject, f"operator '{op}' takes no value", dict(spec))
        text = f"{prop} {op}"
    elif op in LIST_OPERATORS:
        values = spec.get("values", spec.get("value"))
        if isinstance(values, str) or not isinstance(values, Sequence) or not values:
            raise _problem(subject, f"operator '{op}' needs 'values', a non-empty list", dict(spec))
        literals = ", ".join(_literal(v, subject) for v in values)
        text = f"{prop} {op} ({literals})"
    else:
        if "value" not in spec or "values" in spec:
            raise _problem(subject, f"operator '{op}' needs one 'value'", dict(spec))
        text = f"{prop} {op} {_literal(spec['value'], subject)}"
    node = _parse(text, subject)
    clauses.append(Clause(subject, text, node))
    return node


def _parse(text: str, subject: str) -> Node:
    try:
        return parse(text)
    except ExpressionError as exc:
        raise exc.with_subject(subject) from None


def _literal(value: Any, subject: str) -> str:
    """*value* written as a literal of the text language."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | decimal.Decimal):
        if isinstance(value, float) and math.isfinite(value):
            return repr(value)
        if isinstance(value, decimal.Decimal) and value.is_finite():
            # Written exactly: a number literal would be a float.
            return f"to_decimal('{value}')"
        raise _problem(subject, "a value must be a finite number", str(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        value = value.isoformat()  # YAML parses unquoted timestamps
    if isinstance(value, str):
        escaped = (
            value.replace("\\", "\\\\")
            .replace("'", "\\'")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
            .replace("\t", "\\t")
        )
        return f"'{escaped}'"
    raise _problem(subject, "a value must be a string, number, boolean or null", repr(value))
