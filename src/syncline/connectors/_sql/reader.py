"""Incremental keyset reads of a table or query.

Rows are read in pages ordered by ``(updated_at, key)`` (by ``key`` alone
without an updated_at column), each page starting strictly after the last row
of the previous one. The order is total, so pages never skip or repeat a row
even when many rows share an ``updated_at`` across a page boundary, and the
cursor — the last row's raw values — works in any process.

Rows whose ``updated_at`` is NULL have no change time: a full read returns them
first (phase ``null``, ordered by key), an incremental read cannot know whether
they changed and leaves them out. Rows with a NULL key cannot be identified and
are never read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from syncline.connectors._sql.cursor import Cursor, Phase, fingerprint
from syncline.connectors._sql.dialect import Column, Connection, Converter
from syncline.connectors._sql.naming import property_name, quote, quote_table
from syncline.connectors._sql.options import DatabaseOptions
from syncline.sdk.errors import ConfigError
from syncline.sdk.protocols import RecordsPage
from syncline.sdk.records import Record
from syncline.types import Object, Property

__all__ = ["ReadPlan", "find_column", "properties_of", "read_page", "relation_name", "schema_of"]


def relation_name(options: DatabaseOptions) -> str:
    """The relation for messages: ``table "x"`` or ``the query``."""
    return f"table {options.table!r}" if options.table is not None else "the query"


def relation_sql(options: DatabaseOptions) -> str:
    if options.table is not None:
        return f"{quote_table(options.table)} AS q"
    assert options.query is not None
    return f"({options.query.strip().rstrip(';')}) AS q"


def properties_of(
    columns: Sequence[Column], renames: Mapping[str, str]
) -> list[tuple[str, Column]]:
    """(property name, column) for every supported column, in column order.

    A column named in ``renames`` (property → column) takes that property
    name; any other takes :func:`property_name` of its own. Unsupported
    columns, unusable names and names already taken are left out.
    """
    by_column = {column: prop for prop, column in renames.items()}
    taken: set[str] = set()
    found: list[tuple[str, Column]] = []
    for column in columns:
        if column.type is None:
            continue
        name = by_column.get(column.name) or property_name(column.name)
        if name is None or name in taken:
            continue
        taken.add(name)
        found.append((name, column))
    return found


def find_column(columns: Sequence[Column], name: str, option: str, where: str) -> Column:
    for column in columns:
        if column.name == name:
            return column
    known = ", ".join(c.name for c in columns[:20]) or "none"
    raise ConfigError(
        f"{where} has no column {name!r} (pipeline option {option!r}); its columns are: {known}",
        field=option,
    )


def schema_of(columns: Sequence[Column], options: DatabaseOptions, *, skip_key: bool) -> Object:
    """The record schema of the columns; the key column left out when ``skip_key``."""
    props = []
    for name, column in properties_of(columns, options.columns):
        if skip_key and column.name == options.key:
            continue
        assert column.type is not None
        props.append(Property(name, column.type, nullable=column.nullable))
    return Object(props)


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """How to fetch one relation: the select list, the property names, converters."""

    source: str
    relation: str
    select: str
    names: tuple[str, ...]
    readers: tuple[tuple[int, Converter], ...]
    key: Column
    updated_at: Column | None

    @classmethod
    def build(
        cls,
        columns: Sequence[Column],
        options: DatabaseOptions,
        wanted: set[str] | None = None,
    ) -> ReadPlan:
        """The plan for ``columns``; only the properties in ``wanted`` when given."""
        where = relation_name(options)
        key = find_column(columns, options.key, "key", where)
        updated = (
            find_column(columns, options.updated_at, "updated_at", where)
            if options.updated_at is not None
            else None
        )
        pairs = properties_of(columns, options.columns)
        if wanted is not None:
            pairs = [(name, column) for name, column in pairs if name in wanted]
        select = [f"q.{quote(key.name)}", "NULL" if updated is None else f"q.{quote(updated.name)}"]
        select += [c.select or f"q.{quote(c.name)}" for _, c in pairs]
        readers = tuple((i, c.read) for i, (_, c) in enumerate(pairs) if c.read is not None)
        return cls(
            source=fingerprint(options.table, options.query, options.key, options.updated_at),
            relation=relation_sql(options),
            select=", ".join(select),
            names=tuple(name for name, _ in pairs),
            readers=readers,
            key=key,
            updated_at=updated,
        )


async def read_page(
    conn: Connection,
    plan: ReadPlan,
    since: datetime | None,
    cursor_text: str | None,
    page_size: int,
) -> RecordsPage:
    """Read the page after ``cursor_text`` (see the module docstring)."""
    if cursor_text is None:
        phase: Phase = "key" if plan.updated_at is None else "null" if since is None else "value"
        cursor = Cursor(plan.source, phase)
    else:
        cursor = Cursor.decode(cursor_text, plan.source)
    k = f"q.{quote(plan.key.name)}"
    conditions = [f"{k} IS NOT NULL"]
    params: list[Any] = []

    def marker(value: Any) -> str:
        params.append(value)
        return conn.placeholder(len(params))

    if cursor.phase == "value":
        assert plan.updated_at is not None
        u = f"q.{quote(plan.updated_at.name)}"
        conditions.append(f"{u} IS NOT NULL")
        if cursor.started:
            conditions.append(f"({u}, {k}) > ({marker(cursor.updated_at)}, {marker(cursor.key)})")
        if since is not None:
            condition, value = conn.since(
                plan.updated_at, u, conn.placeholder(len(params) + 1), since
            )
            params.append(value)
            conditions.append(condition)
        order = f"{u}, {k}"
    else:
        if cursor.phase == "null":
            assert plan.updated_at is not None
            conditions.append(f"q.{quote(plan.updated_at.name)} IS NULL")
        if cursor.started:
            conditions.append(f"{k} > {marker(cursor.key)}")
        order = k
    sql = (
        f"SELECT {plan.select} FROM {plan.relation} WHERE {' AND '.join(conditions)} "
        f"ORDER BY {order} LIMIT {int(page_size)}"
    )
    rows = await conn.fetch(sql, params)
    records = _records(conn, plan, rows)
    if len(rows) < page_size:
        if cursor.phase == "null":
            return RecordsPage(records, Cursor(plan.source, "value").encode(), False)
        return RecordsPage(records, None, True)
    last = rows[-1]
    following = Cursor(plan.source, cursor.phase, True, last[1], last[0])
    return RecordsPage(records, following.encode(), False)


def _records(conn: Connection, plan: ReadPlan, rows: Sequence[Sequence[Any]]) -> list[Record]:
    names = plan.names
    readers = plan.readers
    updated = plan.updated_at
    records: list[Record] = []
    append = records.append
    for row in rows:
        values = list(row[2:])
        for i, read in readers:
            value = values[i]
            if value is not None:
                values[i] = read(value)
        changed = None if updated is None or row[1] is None else conn.updated_at(updated, row[1])
        append(Record(str(row[0]), dict(zip(names, values, strict=True)), changed))
    return records
