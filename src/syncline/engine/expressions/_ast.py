"""Syntax tree of the expression language. Every node knows its source span."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "Arith",
    "Bool",
    "Call",
    "Compare",
    "In",
    "Literal",
    "Negate",
    "Node",
    "Not",
    "ObjectLiteral",
    "Path",
    "Predicate",
    "children",
    "walk",
]


@dataclass(frozen=True, slots=True)
class Node:
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Literal(Node):
    """A string, number, boolean or null written in the expression."""

    value: Any


@dataclass(frozen=True, slots=True)
class Path(Node):
    """A property path. *steps* are names (str) and list indexes (int)."""

    steps: tuple[str | int, ...]

    @property
    def schema_path(self) -> str:
        """The dotted path a schema knows: names only, list indexes dropped."""
        return ".".join(step for step in self.steps if isinstance(step, str))


@dataclass(frozen=True, slots=True)
class Call(Node):
    """``name(args...)``; *name_end* delimits the name for carets."""

    name: str
    name_end: int
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class ObjectLiteral(Node):
    """``{'key': value, ...}``, used as a lookup table."""

    items: tuple[tuple[str, Node], ...]


@dataclass(frozen=True, slots=True)
class Negate(Node):
    """Unary minus."""

    operand: Node


@dataclass(frozen=True, slots=True)
class Arith(Node):
    """``left op right`` with op one of ``+ - * /``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Compare(Node):
    """A binary comparison: ``= != < <= > >= contains starts ends`` and their
    negations (``!=`` is stored as op ``=`` with *negated*)."""

    op: str
    negated: bool
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Predicate(Node):
    """A unary test: ``null``, ``empty`` or ``exists``, possibly negated."""

    op: str
    negated: bool
    operand: Node


@dataclass(frozen=True, slots=True)
class In(Node):
    """``operand [not] in (items...)``."""

    negated: bool
    operand: Node
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Bool(Node):
    """``and`` / ``or`` over two or more conditions."""

    op: str
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not(Node):
    operand: Node


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-nodes of *node*, left to right."""
    if isinstance(node, Call):
        return node.args
    if isinstance(node, ObjectLiteral):
        return tuple(value for _, value in node.items)
    if isinstance(node, Negate | Not | Predicate):
        return (node.operand,)
    if isinstance(node, Arith | Compare):
        return (node.left, node.right)
    if isinstance(node, In):
        return (node.operand, *node.items)
    if isinstance(node, Bool):
        return node.items
    return ()


def walk(node: Node) -> list[Node]:
    """*node* and all its descendants, parents before children, left to right."""
    out: list[Node] = []
    stack = [node]
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(reversed(children(current)))
    return out
