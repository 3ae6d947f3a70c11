"""Pipeline filters: which records or events pass. See docs/expressions.md."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._ast import Node, Path, walk
from ._compiler import compile_test, function_errors
from ._parser import parse
from ._schema import SchemaPaths, SchemaPathsLike, path_errors
from ._structured import Clause, from_structured
from .errors import ExpressionError

__all__ = ["Filter", "FilterSource", "check_filter", "compile_filter"]

FilterSource = str | Mapping[str, Any]
"""A filter in the text language, or its structured (JSON/YAML) form."""


class Filter:
    """A compiled filter. ``filter(record)`` is True when the record passes.

    *record* is a mapping (a record's attributes or an event message). Calling
    never raises: missing paths, nulls, incompatible kinds and failing
    functions all have a defined result (docs/expressions.md, "Semantics").

    Attributes:
        source: the text or structured form the filter was compiled from.
        paths: the dotted input paths the filter reads (list indexes dropped).
    """

    __slots__ = ("_test", "paths", "source")

    source: FilterSource
    paths: frozenset[str]

    def __init__(self, source: FilterSource, node: Node) -> None:
        self.source = source
        self.paths = frozenset(n.schema_path for n in walk(node) if isinstance(n, Path))
        self._test = compile_test(node)

    def __call__(self, record: Mapping[str, Any]) -> bool:
        return self._test(record)

    def __repr__(self) -> str:
        return f"Filter({self.source!r})"


def _clauses(source: FilterSource) -> tuple[Node, list[Clause]]:
    if isinstance(source, str):
        try:
            node = parse(source)
        except ExpressionError as exc:
            raise exc.with_subject("filter") from None
        return node, [Clause("filter", source, node)]
    if isinstance(source, Mapping):
        return from_structured(source)
    raise TypeError(f"a filter is a string or a mapping, not {type(source).__name__}")


def compile_filter(source: FilterSource) -> Filter:
    """Compile *source* (text or structured form) once into a :class:`Filter`.

    Raises :class:`ExpressionError` for a syntax error, an unknown function or a
    wrong number of arguments (the first one found); TypeError if *source* is
    neither a string nor a mapping. Property paths are not checked here: use
    :func:`check_filter` with the input schema before data moves.
    """
    node, clauses = _clauses(source)
    for clause in clauses:
        errors = function_errors(clause.node, clause.text)
        if errors:
            raise min(errors, key=_position).with_subject(clause.subject)
    return Filter(source, node)


def check_filter(source: FilterSource, input_paths: SchemaPathsLike) -> list[ExpressionError]:
    """Every problem of *source* against an input schema, in order; empty if none.

    *input_paths* is a collection of dotted paths or a function telling whether
    a path exists (see :class:`~._schema.SchemaPaths` for how prefixes and
    opaque leaves count). Reports a syntax error (then nothing else, since the
    rest cannot be read), unknown functions, wrong arity and unknown input
    properties, each with its column.
    """
    try:
        _, clauses = _clauses(source)
    except ExpressionError as exc:
        return [exc]
    schema = SchemaPaths(input_paths)
    errors: list[ExpressionError] = []
    for clause in clauses:
        found = function_errors(clause.node, clause.text)
        found += path_errors(clause.node, clause.text, schema)
        errors.extend(e.with_subject(clause.subject) for e in sorted(found, key=_position))
    return errors


def _position(error: ExpressionError) -> tuple[int, int]:
    return error.line, error.column
