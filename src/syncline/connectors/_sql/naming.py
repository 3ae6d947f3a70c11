"""Identifiers: quoting table and column names, and naming properties after columns."""

from __future__ import annotations

import re

from syncline.types import is_valid_property_name

__all__ = ["property_name", "quote", "quote_table"]

_INVALID = re.compile(r"[^A-Za-z0-9_]")


def quote(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (both SQLite and PostgreSQL)."""
    if "\x00" in name:
        raise ValueError("an SQL identifier cannot contain a NUL character")
    return '"' + name.replace('"', '""') + '"'


def quote_table(name: str) -> str:
    """A table name, optionally ``schema.table``, quoted part by part.

    A name already written with double quotes is taken literally
    (``"my.table"`` is one identifier containing a dot).
    """
    name = name.strip()
    if name.startswith('"') and name.endswith('"') and len(name) >= 2:
        return name
    return ".".join(quote(part) for part in name.split("."))


def property_name(column: str) -> str | None:
    """The property name for a column: the column's own name when valid.

    Otherwise every character outside ``[A-Za-z0-9_]`` becomes ``_`` and a
    leading digit gets a ``_`` prefix (``"First Name"`` → ``First_Name``,
    ``"2fa"`` → ``_2fa``). None when nothing usable is left.
    """
    if is_valid_property_name(column):
        return column
    name = _INVALID.sub("_", column)
    if name and name[0].isdigit():
        name = "_" + name
    return name if is_valid_property_name(name) and name.strip("_") else None
