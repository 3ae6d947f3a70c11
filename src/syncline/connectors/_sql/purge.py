"""Deleting rows by key, for the engine's purge after a full import.

:func:`delete_keys` deletes the rows whose key column holds one of the given
record IDs, ``DELETE … WHERE key IN (…)`` in chunks of :data:`CHUNK` IDs, all
in one transaction: either every row of the call is gone or none is. IDs that
cannot name a row are skipped, not errors: an ID that is not an integer for an
integer key column, or one the database refuses as a value of the key's type
(a malformed UUID) — such an ID was never written, so there is nothing to
delete. Deleting an ID that has no row is a no-op, so a repeated purge (after
a crash) is harmless.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from syncline.connectors._sql.dialect import Column, Connection
from syncline.connectors._sql.naming import quote, quote_table
from syncline.connectors._sql.options import DatabaseOptions
from syncline.sdk.errors import ConfigError

__all__ = ["CHUNK", "delete_keys"]

CHUNK = 500
"""IDs per ``DELETE`` statement: well under SQLite's and PostgreSQL's parameter limits."""

_INT64 = (-(2**63), 2**63 - 1)
_SAVEPOINT = "syncline_keys"


async def delete_keys(conn: Connection, options: DatabaseOptions, ids: list[str]) -> None:
    """Delete the rows of the pipeline's table whose key is one of ``ids``.

    A missing table has nothing to delete (returns at once); a table without
    the key column is a ConfigError. Raises the driver's exception for any
    other failure, after rolling the transaction back.
    """
    assert options.table is not None
    columns = await conn.columns(options.table, None)
    if columns is None or not ids:
        return
    key = next((c for c in columns if c.name == options.key), None)
    if key is None:
        raise ConfigError(
            f"{conn.label} table {options.table!r} has no key column {options.key!r}; set the "
            "pipeline option 'key' to the column that identifies a row",
            field="key",
        )
    keys = _keys(key, ids)
    if not keys:
        return
    table = quote_table(options.table)
    column = quote(key.name)
    cast = f"::text::{key.cast}" if key.cast else ""
    marker = conn.placeholder

    def statement(count: int) -> str:
        markers = ", ".join(marker(i + 1) + cast for i in range(count))
        return f"DELETE FROM {table} WHERE {column} IN ({markers})"

    chunks = [keys[start : start + CHUNK] for start in range(0, len(keys), CHUNK)]
    await conn.execute(conn.begin_sql)
    try:
        try:
            for chunk in chunks:
                await conn.execute(statement(len(chunk)), chunk)
        except Exception as exc:
            if not conn.bad_value(exc):
                raise
            # Some ID is not a value of the key's type: start over, leaving out
            # the refused IDs (they name no row).
            await conn.execute("ROLLBACK")
            await conn.execute(conn.begin_sql)
            for chunk in chunks:
                await _delete_valid(conn, statement, chunk)
        await conn.execute("COMMIT")
    except BaseException:
        # When the connection is gone, the transaction died with it.
        with contextlib.suppress(Exception):
            await conn.execute("ROLLBACK")
        raise


async def _delete_valid(conn: Connection, statement: Callable[[int], str], keys: list[Any]) -> None:
    """Delete ``keys`` in a savepoint; on a refused value, split in halves down to single IDs.

    k refused IDs among n cost about ``2·k·log2(n)`` extra statements.
    """
    await conn.execute(f"SAVEPOINT {_SAVEPOINT}")
    try:
        await conn.execute(statement(len(keys)), keys)
    except Exception as exc:
        try:
            await conn.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
            await conn.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
        except Exception:
            raise exc from None
        if not conn.bad_value(exc):
            raise
        if len(keys) > 1:
            middle = len(keys) // 2
            await _delete_valid(conn, statement, keys[:middle])
            await _delete_valid(conn, statement, keys[middle:])
        return
    await conn.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")


def _keys(key: Column, ids: list[str]) -> list[Any]:
    """The key values to compare, in order, without duplicates or impossible values."""
    unique = dict.fromkeys(i for i in ids if i)
    if not key.integer:
        return list(unique)
    out: list[Any] = []
    low, high = _INT64
    for text in unique:
        try:
            number = int(text)
        except ValueError:
            continue
        if low <= number <= high:
            out.append(number)
    return out
