"""Recursive-descent parser: text -> syntax tree, with a column for every error.

Grammar (lowest precedence first)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := sum [suffix]
    suffix     := ("=" | "!=" | "<" | "<=" | ">" | ">=") sum
                | "is" ["not"] ("null" | "empty" | sum)
                | "contains" sum | "does" "not" ("contain" sum | "exist")
                | "starts" "with" sum | "ends" "with" sum | "exists"
                | ["not"] "in" "(" sum ("," sum)* ")"
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/") unary)*
    unary      := "-" unary | primary
    primary    := NUMBER | STRING | "true" | "false" | "null" | "(" expr ")"
                | "{" [STRING ":" expr ("," STRING ":" expr)*] "}"
                | NAME "(" [expr ("," expr)*] ")" | path
    path       := (NAME | "[" STRING "]") ("." NAME | "[" ["-"] INT "]" | "[" STRING "]")*
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ._ast import (
    Arith,
    Bool,
    Call,
    Compare,
    In,
    Literal,
    Negate,
    Node,
    Not,
    ObjectLiteral,
    Path,
    Predicate,
    children,
)
from ._lexer import KEYWORDS, Token, tokenize
from .errors import ExpressionError

__all__ = ["parse"]

_COMPARISONS: Final = {"=": "=", "!=": "=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_LITERALS: Final = {"true": True, "false": False, "null": None}


MAX_NESTING: Final = 32
"""Most parentheses, calls, ``not`` and ``-`` one inside another."""
MAX_DEPTH: Final = 64
"""Deepest syntax tree (a chain ``a + b + c ...`` is one level per operator)."""


def parse(text: str) -> Node:
    """The syntax tree of *text*. Raises ExpressionError pointing at the problem.

    Nesting is bounded (:data:`MAX_NESTING`, :data:`MAX_DEPTH`) so that neither
    parsing nor compiled evaluation can exhaust Python's recursion limit.
    """
    if not text.strip():
        raise ExpressionError("the expression is empty", text, 0)
    parser = _Parser(text)
    node = parser.expr()
    token = parser.peek()
    if token.kind != "end":
        raise parser.error(f"unexpected {_describe(token)}; expected an operator or the end", token)
    deepest, depth = _depth(node)
    if depth > MAX_DEPTH:
        raise ExpressionError(
            f"the expression is too deep (more than {MAX_DEPTH} nested operations); "
            "split it into simpler expressions",
            text,
            deepest.start,
            length=deepest.end - deepest.start,
        )
    return node


def _depth(root: Node) -> tuple[Node, int]:
    """The deepest node of the tree and its depth, without recursion."""
    deepest, most = root, 1
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > most:
            deepest, most = node, depth
        stack.extend((child, depth + 1) for child in children(node))
    return deepest, most


def _describe(token: Token) -> str:
    if token.kind == "end":
        return "end of expression"
    if token.kind == "string":
        return "string"
    if token.kind == "number":
        return f"number {token.value!r}"
    return f"'{token.value}'"


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.nesting = 0

    def nest(self, token: Token) -> None:
        """Enter one more level of nesting at *token*; the caller leaves it."""
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise self.error(
                f"the expression nests more than {MAX_NESTING} levels deep; "
                "split it into simpler expressions",
                token,
            )

    # -- token helpers -------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.tokens[self.pos]
        if token.kind != "end":
            self.pos += 1
        return token

    def at(self, kind: str, value: object = None, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token.kind == kind and (value is None or token.value == value)

    def at_word(self, word: str, ahead: int = 0) -> bool:
        return self.at("name", word, ahead)

    def expect(self, kind: str, value: str, what: str) -> Token:
        if not self.at(kind, value):
            token = self.peek()
            raise self.error(f"expected {what} but found {_describe(token)}", token)
        return self.next()

    def error(self, message: str, token: Token) -> ExpressionError:
        return ExpressionError(message, self.text, token.start, length=token.end - token.start)

    # -- conditions ----------------------------------------------------------

    def expr(self) -> Node:
        return self._bool("or", self.and_expr)

    def and_expr(self) -> Node:
        return self._bool("and", self.not_expr)

    def _bool(self, word: str, parse_operand: Callable[[], Node]) -> Node:
        first = parse_operand()
        items = [first]
        while self.at_word(word):
            self.next()
            items.append(parse_operand())
        if len(items) == 1:
            return first
        return Bool(first.start, items[-1].end, word, tuple(items))

    def not_expr(self) -> Node:
        if self.at_word("not"):
            token = self.next()
            self.nest(token)
            operand = self.not_expr()
            self.nesting -= 1
            return Not(token.start, operand.end, operand)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.sum()
        token = self.peek()
        if token.kind == "op" and token.value in _COMPARISONS:
            self.next()
            right = self.sum()
            return Compare(
                left.start, right.end, _COMPARISONS[token.value], token.value == "!=", left, right
            )
        if token.kind != "name":
            return left
        word = token.value
        if word == "is":
            return self._is(left)
        if word == "contains":
            self.next()
            right = self.sum()
            return Compare(left.start, right.end, "contains", False, left, right)
        if word in ("starts", "ends"):
            self.next()
            self.expect("name", "with", f"'with' after '{word}'")
            right = self.sum()
            return Compare(left.start, right.end, word, False, left, right)
        if word == "does":
            self.next()
            self.expect("name", "not", "'not' after 'does'")
            if self.at_word("contain"):
                self.next()
                right = self.sum()
                return Compare(left.start, right.end, "contains", True, left, right)
            end = self.expect("name", "exist", "'contain' or 'exist' after 'does not'").end
            return Predicate(
                left.start, end, "exists", True, self._path_operand(left, "does not exist")
            )
        if word == "exists":
            self.next()
            return Predicate(
                left.start, token.end, "exists", False, self._path_operand(left, "exists")
            )
        if word == "in" or (word == "not" and self.at_word("in", 1)):
            negated = word == "not"
            self.pos += 2 if negated else 1
            return self._in(left, negated)
        return left

    def _is(self, left: Node) -> Node:
        self.next()
        negated = False
        if self.at_word("not"):
            self.next()
            negated = True
        token = self.peek()
        if token.kind == "name" and token.value in ("null", "empty"):
            self.next()
            return Predicate(left.start, token.end, token.value, negated, left)
        right = self.sum()
        return Compare(left.start, right.end, "=", negated, left, right)

    def _path_operand(self, node: Node, operator: str) -> Node:
        if not isinstance(node, Path):
            raise ExpressionError(
                f"'{operator}' applies to a property path, not to a computed value",
                self.text,
                node.start,
                length=node.end - node.start,
            )
        return node

    def _in(self, left: Node, negated: bool) -> Node:
        self.expect("op", "(", "'(' after 'in'")
        items = [self.sum()]
        while self.at("op", ","):
            self.next()
            items.append(self.sum())
        end = self.expect("op", ")", "',' or ')' in the 'in' list").end
        return In(left.start, end, negated, left, tuple(items))

    # -- values --------------------------------------------------------------

    def sum(self) -> Node:
        left = self.product()
        while self.at("op", "+") or self.at("op", "-"):
            op = self.next().value
            right = self.product()
            left = Arith(left.start, right.end, op, left, right)
        return left

    def product(self) -> Node:
        left = self.unary()
        while self.at("op", "*") or self.at("op", "/"):
            op = self.next().value
            right = self.unary()
            left = Arith(left.start, right.end, op, left, right)
        return left

    def unary(self) -> Node:
        if self.at("op", "-"):
            token = self.next()
            self.nest(token)
            operand = self.unary()
            self.nesting -= 1
            if isinstance(operand, Literal) and type(operand.value) in (int, float):
                return Literal(token.start, operand.end, -operand.value)
            return Negate(token.start, operand.end, operand)
        return self.primary()

    def primary(self) -> Node:
        token = self.peek()
        if token.kind in ("number", "string"):
            self.next()
            return Literal(token.start, token.end, token.value)
        if token.kind == "name":
            if token.value in _LITERALS:
                self.next()
                return Literal(token.start, token.end, _LITERALS[token.value])
            if self.at("op", "(", 1):
                return self._call()
            if token.value in KEYWORDS:
                raise self.error(
                    f"expected a value but found the keyword '{token.value}'; "
                    f"write ['{token.value}'] for a property with that name",
                    token,
                )
            return self._path()
        if token.kind == "op":
            if token.value == "(":
                self.next()
                self.nest(token)
                node = self.expr()
                self.nesting -= 1
                self.expect("op", ")", "')'")
                return node
            if token.value == "{":
                return self._object()
            if token.value == "[":
                return self._path()
        raise self.error(f"expected a value but found {_describe(token)}", token)

    def _call(self) -> Node:
        name = self.next()
        self.next()  # "("
        self.nest(name)
        args: list[Node] = []
        if not self.at("op", ")"):
            args.append(self.expr())
            while self.at("op", ","):
                self.next()
                args.append(self.expr())
        self.nesting -= 1
        end = self.expect("op", ")", f"',' or ')' in the arguments of {name.value}()").end
        return Call(name.start, end, name.value, name.end, tuple(args))

    def _object(self) -> Node:
        brace = self.next()
        start = brace.start
        self.nest(brace)
        items: list[tuple[str, Node]] = []
        keys: set[str] = set()
        while not self.at("op", "}"):
            if items:
                self.expect("op", ",", "',' or '}' in the object")
            key = self.peek()
            if key.kind != "string":
                raise self.error(f"expected a quoted key but found {_describe(key)}", key)
            if key.value in keys:
                raise self.error("duplicate key in the object", key)
            keys.add(key.value)
            self.next()
            self.expect("op", ":", "':' after the key")
            items.append((key.value, self.expr()))
        end = self.next().end
        self.nesting -= 1
        return ObjectLiteral(start, end, tuple(items))

    def _path(self) -> Node:
        first = self.peek()
        steps: list[str | int] = []
        if first.kind == "name":
            self.next()
            steps.append(first.value)
        else:
            steps.append(self._bracket_key())
        end = self.tokens[self.pos - 1].end
        while True:
            if self.at("op", "."):
                self.next()
                token = self.peek()
                if token.kind != "name":
                    raise self.error(
                        f"expected a property name after '.' but found {_describe(token)}", token
                    )
                self.next()
                steps.append(token.value)
            elif self.at("op", "["):
                steps.append(self._bracket_key())
            else:
                break
            end = self.tokens[self.pos - 1].end
        return Path(first.start, end, tuple(steps))

    def _bracket_key(self) -> str | int:
        self.next()  # "["
        token = self.peek()
        sign = 1
        if token.kind == "op" and token.value == "-" and self.at("number", None, 1):
            self.next()
            sign = -1
            token = self.peek()
        if token.kind == "string" and sign == 1:
            key: str | int = token.value
        elif token.kind == "number" and type(token.value) is int:
            key = sign * token.value
        else:
            raise self.error(
                f"expected an integer index or a quoted key but found {_describe(token)}", token
            )
        self.next()
        self.expect("op", "]", "']'")
        return key
