"""What a database connector supplies: its columns and one connection per operation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from syncline.types import Type

__all__ = ["Column", "Connection", "Converter", "Writer"]

Converter = Callable[[Any], Any]

_FAILURES = (ValueError, TypeError, ArithmeticError, OverflowError)


@dataclass(frozen=True, slots=True)
class Writer:
    """Turns canonical values into parameters for one column.

    ``one`` converts a single non-None value and raises ``ValueError``,
    ``TypeError``, ``ArithmeticError`` or ``OverflowError`` for a value it
    cannot convert. ``many``, when given, converts a whole column of a batch at
    once (None stays None) — faster where a C routine formats many values in
    one call — and may raise the same errors, after which :meth:`column`
    falls back to ``one`` per value to find the culprits.
    """

    one: Converter
    many: Callable[[list[Any]], list[Any]] | None = None

    def column(self, values: list[Any]) -> tuple[list[Any], list[int]]:
        """The converted values and the positions that could not be converted (set to None)."""
        if self.many is not None:
            try:
                return self.many(values), []
            except _FAILURES:
                pass
        one = self.one
        try:
            return [None if v is None else one(v) for v in values], []
        except _FAILURES:
            pass
        out: list[Any] = []
        failed: list[int] = []
        for position, value in enumerate(values):
            if value is None:
                out.append(None)
                continue
            try:
                out.append(one(value))
            except _FAILURES:
                failed.append(position)
                out.append(None)
        return out, failed


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a table or query, as the database reports it.

    * ``type`` — its Syncline type; None when the database type is not
      supported (the column is then left out of schemas and records).
    * ``unique`` — it is the primary key or has a single-column unique index,
      so ``INSERT … ON CONFLICT`` can merge on it.
    * ``read`` — turns a fetched value (never None) into the canonical value of
      ``type``; None when the driver's value is already canonical. It never
      raises: a value it cannot convert is returned unchanged and the engine's
      validation reports it as a per-record error.
    * ``select`` — the SQL expression fetching it from the relation aliased
      ``q`` (``q."name"``, or a cast to text for types the driver cannot decode).
    * ``integer`` — its values are integers, so record IDs are converted with
      ``int()`` before they are compared or written.
    * ``native`` — the database's own name of the type (``int4``, ``TEXT``).
    * ``cast`` — set for types read as text: values are written as text and
      cast to this SQL type in the statement (``$1::text::interval``).
    """

    name: str
    sql_type: str
    type: Type | None
    nullable: bool = True
    unique: bool = False
    read: Converter | None = None
    select: str = ""
    integer: bool = False
    native: str = ""
    cast: str | None = None


class Connection(Protocol):
    """One open database connection, for one connector operation.

    Statement methods raise the driver's own exceptions; the shared code maps
    them with :meth:`row_error` and :meth:`error`, so the mapping stays next to
    the driver.
    """

    label: str
    """The database's name for messages: ``"SQLite"``, ``"PostgreSQL"``."""
    begin_sql: str
    """The statement opening a write transaction."""

    def placeholder(self, position: int) -> str:
        """The parameter marker for the 1-based ``position`` (``?`` or ``$n``)."""
        ...

    async def columns(self, table: str | None, query: str | None) -> list[Column] | None:
        """The columns of ``table`` or of ``query``'s result; None when the table does not exist."""
        ...

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]: ...

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None: ...

    def since(
        self, column: Column, expression: str, marker: str, value: datetime
    ) -> tuple[str, Any]:
        """A condition ``column >= value`` (value: aware UTC) and its parameter."""
        ...

    def updated_at(self, column: Column, value: Any) -> datetime | None:
        """A fetched updated_at value as an aware UTC datetime; None when unreadable."""
        ...

    def column_type(self, t: Type) -> str:
        """The SQL type of a created column holding values of ``t``."""
        ...

    key_type: str
    """The SQL type of a created key column (record IDs are strings)."""

    def writer(self, column: Column | None, t: Type) -> Writer | None:
        """Turn a canonical value of ``t`` into a parameter for ``column``.

        ``column`` is None for a column this operation creates (its type is
        ``column_type(t)``). None when values pass unchanged. A value the
        writer cannot convert fails its record alone (``RecordsError``).
        """
        ...

    def row_error(self, exc: BaseException, columns: Sequence[str]) -> Exception | None:
        """The per-record error for ``exc`` when it concerns the row's values, else None.

        ``columns`` names the statement's parameters in order, so an error about
        parameter ``$n`` can name its column.
        """
        ...

    def bad_value(self, exc: BaseException) -> bool:
        """Whether ``exc`` says a parameter is not a value of its column's type.

        A key that fails so cannot name a row (the purge skips it); a refused
        row (a constraint, a trigger) is not such an error.
        """
        ...

    def error(self, exc: BaseException, doing: str) -> Exception:
        """A typed connector error for any other failure while ``doing`` something."""
        ...

    async def close(self) -> None: ...
