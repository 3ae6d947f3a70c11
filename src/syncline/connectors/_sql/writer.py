"""Merge writes: ``INSERT … ON CONFLICT (key) DO UPDATE``, one transaction per call.

A :class:`WritePlan` is made once per (table, schema): which property goes to
which column, how each value becomes a parameter, and the DDL that creates the
table or adds missing columns when the pipeline allows it. :func:`write` takes
up to ``batch_size`` records, groups them by the set of properties they carry
(a record without a property leaves that column untouched), converts each
group column by column, and runs one ``executemany`` per group in one
transaction. When a row's values are rejected (a constraint, a value out of
range), the transaction is rolled back and redone with the failing rows
isolated: each group is split in halves, each half tried in its own
savepoint, until the failing rows stand alone. k bad rows among n cost about
``2·k·log2(n)`` extra statements, and the good rows are written.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from operator import add, itemgetter
from typing import Any

from syncline.connectors._sql.dialect import Column, Connection, Writer
from syncline.connectors._sql.naming import quote, quote_table
from syncline.connectors._sql.options import DatabaseOptions
from syncline.sdk.errors import ConfigError, PermanentError
from syncline.sdk.records import Records
from syncline.types import Object

__all__ = ["NO_ID", "WritePlan", "prepare", "write"]

NO_ID = (
    "the record has no ID: a database destination merges on the key column, so every "
    "record needs an ID to be written under"
)
_SAVEPOINT = "syncline_rows"


@dataclass(frozen=True, slots=True)
class Target:
    """Where one property is written: its column, value writer and text cast."""

    column: str
    write: Writer | None
    cast: str | None = None


@dataclass(slots=True)
class WritePlan:
    """How records of one schema are written to one table.

    ``ddl`` runs at the start of the next write transaction and is cleared once
    that transaction commits.
    """

    table: str
    key: str
    key_integer: bool
    targets: dict[str, Target]
    placeholder: Callable[[int], str]
    key_cast: str | None = None
    ddl: list[str] = field(default_factory=list)
    _statements: dict[tuple[str, ...], Statement] = field(default_factory=dict)

    def statement(self, shape: tuple[str, ...]) -> Statement:
        """The upsert statement for records carrying exactly the properties ``shape``."""
        found = self._statements.get(shape)
        if found is None:
            found = self._statements[shape] = self._build(shape)
        return found

    def _build(self, shape: tuple[str, ...]) -> Statement:
        # Parameters: the properties written as they are, the converted ones,
        # then the key — so one itemgetter call per record fetches the first
        # part of a row and one zip of the converted columns and the keys the rest.
        plain = tuple(n for n in shape if self.targets[n].write is None)
        converted = tuple(n for n in shape if self.targets[n].write is not None)
        order = plain + converted
        columns = [self.targets[name].column for name in order] + [self.key]
        casts = [self.targets[name].cast for name in order] + [self.key_cast]
        markers = ", ".join(
            self.placeholder(i + 1) + (f"::text::{cast}" if cast else "")
            for i, cast in enumerate(casts)
        )
        names = ", ".join(quote(c) for c in columns)
        updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in columns[:-1])
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        sql = (
            f"INSERT INTO {self.table} ({names}) VALUES ({markers}) "
            f"ON CONFLICT ({quote(self.key)}) {action}"
        )
        return Statement(sql, columns, plain, converted)

    def rows(
        self, statement: Statement, keys: list[Any], attributes: list[dict[str, Any]]
    ) -> tuple[list[tuple[Any, ...]], dict[int, str]]:
        """The parameter rows of one group for ``statement``.

        Returns the rows and, by position in the group, the property whose
        value could not be converted (those rows are left out).
        """
        plain = statement.plain
        if len(plain) > 1:
            values: Iterable[tuple[Any, ...]] = map(itemgetter(*plain), attributes)
        elif plain:
            values = zip(map(itemgetter(plain[0]), attributes))
        else:
            values = (() for _ in attributes)
        converted: list[list[Any]] = []
        failed: dict[int, str] = {}
        for name in statement.converted:
            writer = self.targets[name].write
            assert writer is not None
            column, bad = writer.column([a[name] for a in attributes])
            for position in bad:
                failed.setdefault(position, name)
            converted.append(column)
        # Each row is (*plain values, *converted values, key): one tuple
        # concatenation per row, mapped in C — no Python code runs per row.
        rows = list(map(add, values, zip(*converted, keys, strict=True)))
        if failed:
            rows = [row for i, row in enumerate(rows) if i not in failed]
        return rows, failed


@dataclass(frozen=True, slots=True)
class Statement:
    """One upsert statement: its SQL, its columns in parameter order (the key
    column last), and the properties taken as they are (``plain``) and
    converted, in that order."""

    sql: str
    columns: list[str]
    plain: tuple[str, ...]
    converted: tuple[str, ...]


async def prepare(conn: Connection, options: DatabaseOptions, schema: Object) -> WritePlan:
    """The write plan for ``schema`` into the pipeline's table (see the module docstring)."""
    assert options.table is not None
    table = quote_table(options.table)
    key = options.key
    columns = await conn.columns(options.table, None)
    wanted = [p for p in schema.properties if options.columns.get(p.name, p.name) != key]
    ddl: list[str] = []
    existing: dict[str, Column] = {}
    if columns is None:
        if not options.create_table:
            raise ConfigError(
                f"{conn.label} table {options.table!r} does not exist; create it, or set the "
                "pipeline option 'create_table' to create it from the schema",
                field="table",
            )
        defs = [f"{quote(key)} {conn.key_type} PRIMARY KEY NOT NULL"]
        defs += [
            f"{quote(options.columns.get(p.name, p.name))} {conn.column_type(p.type)}"
            for p in wanted
        ]
        ddl.append(f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(defs)})")
        key_integer = False
        key_cast = None
    else:
        existing = {c.name: c for c in columns}
        key_column = existing.get(key)
        if key_column is None:
            raise ConfigError(
                f"{conn.label} table {options.table!r} has no key column {key!r}; set the "
                "pipeline option 'key' to the column that identifies a row",
                field="key",
            )
        if not key_column.unique:
            raise ConfigError(
                f"{conn.label} table {options.table!r}: key column {key!r} is neither the "
                "primary key nor covered by a single-column unique index, so rows cannot be "
                f"merged on it; run CREATE UNIQUE INDEX ON {options.table} ({quote(key)})",
                field="key",
            )
        key_integer = key_column.integer
        key_cast = key_column.cast
        missing = [p for p in wanted if options.columns.get(p.name, p.name) not in existing]
        if missing and not options.create_table:
            shown = ", ".join(repr(options.columns.get(p.name, p.name)) for p in missing[:10])
            raise ConfigError(
                f"{conn.label} table {options.table!r} has no column(s) {shown}; add them, map "
                "the properties to existing columns with the pipeline option 'columns', or set "
                "'create_table' to add them",
                field="columns",
            )
        for p in missing:
            column = options.columns.get(p.name, p.name)
            ddl.append(f"ALTER TABLE {table} ADD COLUMN {quote(column)} {conn.column_type(p.type)}")
    targets: dict[str, Target] = {}
    for p in wanted:
        column = options.columns.get(p.name, p.name)
        found = existing.get(column)
        targets[p.name] = Target(
            column, conn.writer(found, p.type), None if found is None else found.cast
        )
    return WritePlan(table, key, key_integer, targets, conn.placeholder, key_cast, ddl)


async def write(
    conn: Connection, plan: WritePlan, records: Records, batch_size: int
) -> dict[int, Exception]:
    """Write up to ``batch_size`` records in one transaction; per-record errors by index.

    Records without an ID, or with an ID the key column cannot hold, are
    discarded with an error. Returns the errors of records whose values could
    not be converted or that the database rejected, by consumed index; raises
    the driver's exception for anything else (the transaction is rolled back).
    """
    names = tuple(plan.targets)
    key_integer = plan.key_integer
    keys: list[Any] = []
    values: list[dict[str, Any]] = []
    for taken, record in enumerate(records.all(), 1):
        record_id = record.id
        if not record_id:
            records.discard(PermanentError(NO_ID))
        elif key_integer and not _is_integer(record_id):
            records.discard(
                PermanentError(f"the record ID is not an integer, but key column {plan.key!r} is")
            )
        else:
            keys.append(int(record_id) if key_integer else record_id)
            values.append(record.attributes)
        if taken >= batch_size:
            break
    errors: dict[int, Exception] = {}
    try:
        # The common case: every record carries every property. Assumed, not
        # checked per record: a missing one raises KeyError while the rows are
        # built, and the batch is then grouped by the properties each carries.
        batches = _batches(plan, {names: (keys, values, list(range(len(keys))))}, errors)
    except KeyError:
        errors.clear()
        batches = _batches(plan, _by_shape(names, keys, values), errors)
    if not batches:
        return errors
    await conn.execute(conn.begin_sql)
    try:
        for sql in plan.ddl:
            await conn.execute(sql)
        try:
            # The common case: every row is accepted, one statement per group.
            for current in batches:
                await conn.executemany(current[0], current[2])
        except Exception as exc:
            if conn.row_error(exc, current[1]) is None:
                raise
            # Some row was rejected: start over, isolating the rejected rows.
            await conn.execute("ROLLBACK")
            await conn.execute(conn.begin_sql)
            for sql in plan.ddl:
                await conn.execute(sql)
            for sql, columns, rows, indexes in batches:
                errors.update(await _write_rows(conn, sql, columns, rows, indexes))
        await conn.execute("COMMIT")
    except BaseException:
        # When the connection is gone, the transaction died with it.
        with contextlib.suppress(Exception):
            await conn.execute("ROLLBACK")
        raise
    plan.ddl.clear()
    return errors


Groups = dict[tuple[str, ...], tuple[list[Any], list[dict[str, Any]], list[int]]]
"""Records by the properties they carry: their keys, attributes and consumed indexes."""


def _by_shape(names: tuple[str, ...], keys: list[Any], values: list[dict[str, Any]]) -> Groups:
    full = frozenset(names)
    groups: Groups = {}
    for index, (key, attributes) in enumerate(zip(keys, values, strict=True)):
        shape = names if attributes.keys() >= full else tuple(n for n in names if n in attributes)
        group = groups.get(shape)
        if group is None:
            group = groups[shape] = ([], [], [])
        group[0].append(key)
        group[1].append(attributes)
        group[2].append(index)
    return groups


def _batches(
    plan: WritePlan, groups: Groups, errors: dict[int, Exception]
) -> list[tuple[str, list[str], list[tuple[Any, ...]], list[int]]]:
    """One (sql, columns, rows, indexes) per group; conversion failures go to ``errors``.

    Raises KeyError when a record of a group lacks one of the group's properties.
    """
    batches = []
    for shape, (keys, values, indexes) in groups.items():
        if not keys:
            continue
        statement = plan.statement(shape)
        rows, failed = plan.rows(statement, keys, values)
        for position, name in failed.items():
            column = plan.targets[name].column
            errors[indexes[position]] = PermanentError(
                f"property {name!r}: the value cannot be written to column {column!r}"
            )
        if failed:
            indexes = [index for i, index in enumerate(indexes) if i not in failed]
        if rows:
            batches.append((statement.sql, statement.columns, rows, indexes))
    return batches


def _is_integer(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


async def _write_rows(
    conn: Connection,
    sql: str,
    columns: list[str],
    rows: list[tuple[Any, ...]],
    indexes: list[int],
) -> dict[int, Exception]:
    await conn.execute(f"SAVEPOINT {_SAVEPOINT}")
    try:
        await conn.executemany(sql, rows)
    except Exception as exc:
        try:
            await conn.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
            await conn.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
        except Exception:
            raise exc from None
        error = conn.row_error(exc, columns)
        if error is None:
            raise
        if len(rows) == 1:
            return {indexes[0]: error}
        middle = len(rows) // 2
        errors = await _write_rows(conn, sql, columns, rows[:middle], indexes[:middle])
        errors.update(await _write_rows(conn, sql, columns, rows[middle:], indexes[middle:]))
        return errors
    await conn.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
    return {}
