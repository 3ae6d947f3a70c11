"""Tokens of the expression language, each with its offset for error carets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from .errors import ExpressionError

__all__ = ["KEYWORDS", "Token", "tokenize"]

KEYWORDS: Final = frozenset(
    {"and", "or", "not", "is", "in", "contains", "does", "starts", "ends", "exists"}
    | {"true", "false", "null"}
)
"""Words that cannot start a path; write ``['in']`` for a property named ``in``."""

_TWO_CHAR: Final = frozenset({"<=", ">=", "!="})
_OPERATOR_CHARS: Final = frozenset("()[]{},.:=<>!+-*/")
_ESCAPES: Final = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r"}


@dataclass(frozen=True, slots=True)
class Token:
    """One token. *kind* is ``name``, ``string``, ``number``, ``op`` or ``end``;
    *value* is the name, the decoded string, the int/float, or the operator text."""

    kind: str
    value: Any
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """The tokens of *text*, ending with an ``end`` token. Raises ExpressionError."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        start = i
        if c.isalpha() or c == "_":
            while i < n and (text[i].isalnum() or text[i] == "_"):
                i += 1
            tokens.append(Token("name", text[start:i], start, i))
        elif c.isdigit():
            i = _number(text, i, tokens)
        elif c in "'\"":
            i = _string(text, i, tokens)
        elif c in _OPERATOR_CHARS:
            if text[i : i + 2] in _TWO_CHAR:
                i += 2
            elif c == "!":
                raise ExpressionError("'!' must be followed by '='", text, i)
            else:
                i += 1
            tokens.append(Token("op", text[start:i], start, i))
        else:
            raise ExpressionError(f"unexpected character {c!r}", text, i)
    tokens.append(Token("end", None, n, n))
    return tokens


def _number(text: str, i: int, tokens: list[Token]) -> int:
    start, n = i, len(text)
    while i < n and text[i].isdigit():
        i += 1
    is_float = False
    if i + 1 < n and text[i] == "." and text[i + 1].isdigit():
        is_float = True
        i += 1
        while i < n and text[i].isdigit():
            i += 1
    if i < n and text[i] in "eE":
        j = i + 1
        if j < n and text[j] in "+-":
            j += 1
        if j < n and text[j].isdigit():
            is_float = True
            i = j
            while i < n and text[i].isdigit():
                i += 1
    if i < n and (text[i].isalpha() or text[i] == "_"):
        raise ExpressionError("a number cannot be followed by a letter", text, i)
    raw = text[start:i]
    value: int | float = float(raw) if is_float else int(raw)
    tokens.append(Token("number", value, start, i))
    return i


def _string(text: str, i: int, tokens: list[Token]) -> int:
    quote, start, n = text[i], i, len(text)
    i += 1
    parts: list[str] = []
    while True:
        if i >= n:
            raise ExpressionError(
                f"unterminated string: add the closing {quote}",
                text,
                start,
                length=n - start,
            )
        c = text[i]
        if c == quote:
            break
        if c == "\\":
            if i + 1 >= n or text[i + 1] not in _ESCAPES:
                raise ExpressionError(
                    "unknown escape: use \\\\, \\', \\\", \\n, \\t or \\r", text, i, length=2
                )
            parts.append(_ESCAPES[text[i + 1]])
            i += 2
            continue
        parts.append(c)
        i += 1
    tokens.append(Token("string", "".join(parts), start, i + 1))
    return i + 1
