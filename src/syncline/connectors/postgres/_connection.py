"""One PostgreSQL connection through asyncpg.

asyncpg is used directly, not through SQLAlchemy: it is natively async,
``executemany`` pipelines a whole batch through one prepared statement with
binary codecs, and its exceptions carry the SQLSTATE, which is what tells a
bad row from a bad connection.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

import asyncpg

from syncline.connectors._sql.dialect import Column, Writer
from syncline.connectors._sql.naming import quote, quote_table
from syncline.connectors.postgres._types import (
    column_type,
    created_typname,
    read_type,
    value_writer,
)
from syncline.sdk.errors import (
    AuthError,
    ConfigError,
    PermanentError,
    RetryableError,
)
from syncline.types import Type

__all__ = ["PostgresConnection"]

_ARGUMENT = re.compile(r"query argument \$(\d+)")

_TABLE_COLUMNS = """
SELECT a.attname,
       format_type(a.atttypid, a.atttypmod),
       t.typname,
       t.typtype,
       a.attnotnull,
       CASE WHEN t.typcategory = 'A' THEN e.typname END,
       EXISTS (
           SELECT 1 FROM pg_index i
           WHERE i.indrelid = a.attrelid AND i.indisunique AND i.indnkeyatts = 1
             AND i.indkey[0] = a.attnum AND i.indpred IS NULL AND i.indexprs IS NULL
       )
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type e ON e.oid = t.typelem
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""


class PostgresConnection:
    """Implements :class:`syncline.connectors._sql.dialect.Connection` for PostgreSQL."""

    label = "PostgreSQL"
    begin_sql = "BEGIN"
    key_type = "text"

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    @staticmethod
    def placeholder(position: int) -> str:
        return f"${position}"

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        return list(await self._conn.fetch(sql, *params))

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        await self._conn.execute(sql, *params)

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        await self._conn.executemany(sql, rows)

    async def close(self) -> None:
        await self._conn.close()

    async def columns(self, table: str | None, query: str | None) -> list[Column] | None:
        if table is not None:
            oid = await self._conn.fetchval("SELECT to_regclass($1)::oid", quote_table(table))
            if oid is None:
                return None
            rows = await self._conn.fetch(_TABLE_COLUMNS, oid)
            return [
                _column(name, declared, typname, typtype, not notnull, unique, element)
                for name, declared, typname, typtype, notnull, element, unique in rows
            ]
        assert query is not None
        statement = await self._conn.prepare(f"SELECT * FROM ({query.strip().rstrip(';')}) AS q")
        columns = []
        for attribute in statement.get_attributes():
            pg = attribute.type
            element = pg.name[:-2] if pg.kind == "array" and pg.name.endswith("[]") else None
            columns.append(_column(attribute.name, pg.name, pg.name, "b", True, False, element))
        return columns

    def since(
        self, column: Column, expression: str, marker: str, value: dt.datetime
    ) -> tuple[str, Any]:
        if column.native == "timestamp":
            return f"{expression} >= {marker}", value.astimezone(dt.UTC).replace(tzinfo=None)
        if column.native == "date":
            return f"{expression} >= {marker}", value.astimezone(dt.UTC).date()
        return f"{expression} >= {marker}", value

    def updated_at(self, column: Column, value: Any) -> dt.datetime | None:
        if isinstance(value, dt.datetime):
            return (
                value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
            )
        if isinstance(value, dt.date):
            return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
        return None

    def column_type(self, t: Type) -> str:
        return column_type(t)

    def writer(self, column: Column | None, t: Type) -> Writer | None:
        if column is None:
            return value_writer(created_typname(t), t, False)
        return value_writer(column.native, t, column.cast is not None)

    def row_error(self, exc: BaseException, columns: Sequence[str]) -> Exception | None:
        if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
            # Class 23 messages name the constraint or column, never the values
            # (those are in ``detail``, which is left out).
            return PermanentError(f"PostgreSQL rejected the record: {exc.message}")
        if isinstance(exc, asyncpg.DataError):
            # Class 22 messages may quote the value; only fixed parts are kept.
            match = _ARGUMENT.search(str(exc))
            if match is not None and 0 < int(match.group(1)) <= len(columns):
                # Raised by asyncpg before sending: the value does not fit the codec.
                column = columns[int(match.group(1)) - 1]
                return PermanentError(
                    f"PostgreSQL cannot take the record's value for column {column!r}: it is "
                    "of the wrong type or out of the column type's range"
                )
            where = f" for column {exc.column_name!r}" if getattr(exc, "column_name", None) else ""
            name = type(exc).__name__.removesuffix("Error")
            return PermanentError(
                f"PostgreSQL rejected a value of the record{where}: {name} "
                f"(SQLSTATE {exc.sqlstate})"
            )
        return None

    def bad_value(self, exc: BaseException) -> bool:
        # Class 22 (data exception), raised by the server or, before sending,
        # by asyncpg's codec ("invalid input for query argument $n").
        return isinstance(exc, asyncpg.DataError)

    def error(self, exc: BaseException, doing: str) -> Exception:
        return map_error(exc, doing)


def _column(
    name: str,
    declared: str,
    typname: str,
    typtype: str,
    nullable: bool,
    unique: bool,
    element: str | None,
) -> Column:
    kind, read, integer, as_text = read_type(typname, declared, element, typtype)
    return Column(
        name=name,
        sql_type=declared,
        type=kind,
        nullable=nullable,
        unique=unique,
        read=read,
        select=f"q.{quote(name)}" + ("::text" if as_text else ""),
        integer=integer,
        native=typname,
        cast=declared if as_text else None,
    )


def map_error(exc: BaseException, doing: str) -> Exception:
    """A typed connector error for an asyncpg or network failure (no secrets, no values)."""
    if isinstance(exc, asyncpg.InvalidPasswordError):
        return AuthError(f"PostgreSQL refused the password while {doing}; check 'password'")
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        return AuthError(f"PostgreSQL refused the login while {doing}: {exc.message}")
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return ConfigError(f"PostgreSQL: {exc.message}; check 'database'", field="database")
    if isinstance(exc, asyncpg.InsufficientPrivilegeError):
        return ConfigError(
            f"PostgreSQL: {exc.message} while {doing}; grant the connection's user the "
            "privilege or use another user"
        )
    if isinstance(exc, asyncpg.TooManyConnectionsError | asyncpg.CannotConnectNowError):
        return RetryableError(f"PostgreSQL cannot take the connection now while {doing}")
    if isinstance(
        exc,
        asyncpg.SerializationError
        | asyncpg.DeadlockDetectedError
        | asyncpg.LockNotAvailableError
        | asyncpg.QueryCanceledError,
    ):
        return RetryableError(f"PostgreSQL: {exc.message} while {doing}")
    if isinstance(exc, asyncpg.PostgresConnectionError | ConnectionError | TimeoutError | OSError):
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        return RetryableError(f"PostgreSQL: the connection failed while {doing} ({reason})")
    if isinstance(exc, asyncpg.DataError):
        return PermanentError(
            f"PostgreSQL rejected a value while {doing} (SQLSTATE {exc.sqlstate})"
        )
    if isinstance(exc, asyncpg.PostgresError):
        # Syntax errors, unknown columns and the like come from the pipeline's
        # query or options; their messages quote SQL, not record values.
        return ConfigError(
            f"PostgreSQL could not run the statement while {doing}: {exc.message} "
            f"(SQLSTATE {exc.sqlstate}); check the pipeline options (table, query, key, "
            "updated_at, columns)"
        )
    return PermanentError(f"PostgreSQL failed while {doing}: {type(exc).__name__}")
