"""Which property paths a schema has, for the static checks."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection
from typing import TypeAlias

from ._ast import Node, Path, walk
from .errors import ExpressionError

__all__ = ["SchemaPaths", "SchemaPathsLike", "path_errors"]

SchemaPathsLike: TypeAlias = Collection[str] | Callable[[str], bool]
"""Dotted property paths (``{"email", "address", "address.city"}``) or a function
telling whether a dotted path exists."""


class SchemaPaths:
    """The paths of one schema.

    Given a collection, a path is known when it is listed, when it is a prefix of
    a listed path (``address`` for ``address.city``), or when it extends a listed
    path that no other listed path extends: such a leaf is taken as an opaque
    JSON value (``traits`` alone admits ``traits.email``). Given a function, the
    function decides and no suggestions are made.
    """

    def __init__(self, paths: SchemaPathsLike) -> None:
        self._decide: Callable[[str], bool] | None = None
        self._known: set[str] = set()
        self._leaves: set[str] = set()
        if callable(paths):
            self._decide = paths
            return
        if isinstance(paths, str):
            raise TypeError("schema paths must be a collection of paths, not one string")
        listed = set(paths)
        extended: set[str] = set()
        for path in listed:
            parts = path.split(".")
            for i in range(1, len(parts)):
                extended.add(".".join(parts[:i]))
        self._known = listed | extended
        self._leaves = listed - extended

    def knows(self, path: str) -> bool:
        if self._decide is not None:
            return bool(self._decide(path))
        if path in self._known:
            return True
        parts = path.split(".")
        return any(".".join(parts[:i]) in self._leaves for i in range(1, len(parts)))

    def suggest(self, path: str) -> str:
        """A ``did you mean`` hint for an unknown *path*, or an empty string."""
        if self._decide is not None:
            return ""
        close = difflib.get_close_matches(path, sorted(self._known), n=1, cutoff=0.6)
        return f"did you mean '{close[0]}'?" if close else ""


def path_errors(
    node: Node, text: str, schema: SchemaPaths, *, subject: str = ""
) -> list[ExpressionError]:
    """An error for every path in *node* that *schema* does not know, in source order."""
    errors: list[ExpressionError] = []
    for sub in walk(node):
        if isinstance(sub, Path) and not schema.knows(sub.schema_path):
            errors.append(
                ExpressionError(
                    f"unknown input property '{sub.schema_path}'",
                    text,
                    sub.start,
                    length=sub.end - sub.start,
                    subject=subject,
                    hint=schema.suggest(sub.schema_path),
                )
            )
    return errors
