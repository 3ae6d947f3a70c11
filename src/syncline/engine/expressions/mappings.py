"""Pipeline mappings: output property <- expression over the input. See docs/expressions.md."""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from typing import Any

from ._ast import Node, Path, walk
from ._compiler import compile_outputs, function_errors
from ._parser import parse
from ._schema import SchemaPaths, SchemaPathsLike, path_errors
from .errors import ExpressionError

__all__ = ["Mapping", "check_mapping", "compile_mapping"]


class Mapping:
    """A compiled mapping. ``mapping(record)`` returns a new dict.

    Output properties are computed in the order they were given. A dotted
    output path (``address.city``) builds nested dicts. An expression whose
    value is *missing* (a path absent from the input, or a function of one)
    leaves its output property out; null is written as None. Values taken from
    the input (lists, dicts) are not copied.

    Raises :class:`MappingError` when an expression fails for this record
    (``to_int`` of a non-number, division by zero, ``lower`` of a number, ...);
    the error names the output property and the function, never the value.

    Attributes:
        source: the ``{output_path: expression}`` dict it was compiled from.
        outputs: the output paths, in order.
        paths: the dotted input paths the expressions read (list indexes dropped).
    """

    __slots__ = ("_compute", "outputs", "paths", "source")

    source: dict[str, str]
    outputs: tuple[str, ...]
    paths: frozenset[str]

    def __init__(self, source: dict[str, str], nodes: dict[str, Node]) -> None:
        self.source = source
        self.outputs = tuple(nodes)
        self.paths = frozenset(
            n.schema_path for node in nodes.values() for n in walk(node) if isinstance(n, Path)
        )
        self._compute = compile_outputs(list(nodes.items()))

    def __call__(self, record: MappingABC[str, Any]) -> dict[str, Any]:
        return self._compute(record)

    def __repr__(self) -> str:
        return f"Mapping({self.source!r})"


def _subject(output: str) -> str:
    return f'mapping for "{output}"'


def _output_error(output: str) -> ExpressionError | None:
    parts = output.split(".")
    if any(not part or part != part.strip() for part in parts):
        return ExpressionError(
            "an output path is names separated by dots, without empty names or spaces",
            output,
            0,
            length=len(output),
            subject=_subject(output),
        )
    return None


_Problems = dict[str, tuple[list[ExpressionError], list[ExpressionError]]]


def _parse_all(source: MappingABC[str, str]) -> tuple[dict[str, Node], _Problems]:
    """Parse every expression. Return the trees, and per output (in mapping
    order) the problems of its output path (malformed, or inside another
    output) and those of its expression (syntax, functions)."""
    nodes: dict[str, Node] = {}
    problems: _Problems = {}
    for output, text in source.items():
        if not isinstance(output, str) or not isinstance(text, str):
            raise TypeError("a mapping maps output paths (str) to expressions (str)")
        about_output, about_expression = problems[output] = ([], [])
        problem = _output_error(output)
        if problem is not None:
            about_output.append(problem)
            continue
        parts = output.split(".")
        for i in range(1, len(parts)):
            outer = ".".join(parts[:i])
            if outer in source:
                about_output.append(
                    ExpressionError(
                        f"output '{output}' is inside output '{outer}'; map one or the other",
                        output,
                        0,
                        length=len(outer),
                        subject=_subject(output),
                    )
                )
        try:
            node = parse(text)
        except ExpressionError as exc:
            about_expression.append(exc.with_subject(_subject(output)))
            continue
        about_expression += [e.with_subject(_subject(output)) for e in function_errors(node, text)]
        nodes[output] = node
    return nodes, problems


def compile_mapping(source: MappingABC[str, str]) -> Mapping:
    """Compile ``{output_path: expression}`` once into a :class:`Mapping`.

    Raises :class:`ExpressionError` for the first problem found (syntax error,
    unknown function, wrong arity, malformed output path, or an output nested
    inside another output); TypeError for keys or expressions that are not
    strings. Property paths are not checked here: use :func:`check_mapping`.
    """
    nodes, problems = _parse_all(source)
    for about_output, about_expression in problems.values():
        if about_output or about_expression:
            raise (about_output + about_expression)[0]
    return Mapping(dict(source), nodes)


def check_mapping(
    source: MappingABC[str, str],
    input_paths: SchemaPathsLike,
    output_paths: SchemaPathsLike,
) -> list[ExpressionError]:
    """Every problem of *source* against the input and output schemas; empty if none.

    Reports, per output property in mapping order: a malformed or unknown output
    path, a syntax error in its expression, unknown functions, wrong arity and
    unknown input properties, each pointing at its column. Path collections and
    functions are interpreted as in :func:`check_filter`.
    """
    inputs, outputs = SchemaPaths(input_paths), SchemaPaths(output_paths)
    nodes, problems = _parse_all(source)
    report: list[ExpressionError] = []
    for output, (about_output, about_expression) in problems.items():
        report += about_output
        if _output_error(output) is None and not outputs.knows(output):
            report.append(
                ExpressionError(
                    f"unknown output property '{output}'",
                    output,
                    0,
                    length=len(output),
                    subject=_subject(output),
                    hint=outputs.suggest(output),
                )
            )
        if output in nodes:
            about_expression += path_errors(
                nodes[output], source[output], inputs, subject=_subject(output)
            )
        report += sorted(about_expression, key=lambda e: (e.line, e.column))
    return report
