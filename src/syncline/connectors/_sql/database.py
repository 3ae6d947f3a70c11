"""The connector methods shared by SQLite and PostgreSQL.

A subclass opens connections (:meth:`Database.connect`) and checks its
settings (:meth:`check`); everything else is here. Settings are loaded in
every operation. Read and write plans are cached per instance, keyed by the
database's identity, the options and the schema, and dropped whenever an
operation fails for a reason other than a row's values, so a table changed
behind the connector's back is introspected again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel

from syncline.connectors._sql.dialect import Connection
from syncline.connectors._sql.options import DatabaseOptions, options_of
from syncline.connectors._sql.purge import delete_keys
from syncline.connectors._sql.reader import (
    ReadPlan,
    read_page,
    relation_name,
    schema_of,
)
from syncline.connectors._sql.writer import WritePlan, prepare, write
from syncline.sdk.env import Env
from syncline.sdk.errors import ConfigError, ConnectorError, RecordsError
from syncline.sdk.protocols import RecordsPage
from syncline.sdk.records import Records
from syncline.types import Object, Role

__all__ = ["Database", "MissingDatabase"]

S = TypeVar("S", bound=BaseModel)

_PLANS = 64


class MissingDatabase(ConfigError):
    """The database does not exist (and this operation may not create it)."""


class Database(ABC, Generic[S]):
    """A database connector: each operation takes a connection from :meth:`connect`
    and closes it at the end (a connection may keep itself open for reuse)."""

    def __init__(self, env: Env[S]) -> None:
        self.env = env
        self._reads: dict[tuple[str, str, tuple[str, ...] | None], ReadPlan] = {}
        self._writes: dict[tuple[str, str, Object], WritePlan] = {}

    @abstractmethod
    async def connect(self, settings: S, *, create: bool) -> Connection:
        """Open a connection; ``create`` allows creating the database (SQLite's file).

        Raises :class:`MissingDatabase` when the database does not exist and
        ``create`` is False, and typed connector errors for anything else.
        """

    @abstractmethod
    def identity(self, settings: S) -> str:
        """What distinguishes one database from another (no secrets), for plan caches."""

    async def record_schema(self, target: str, role: Role) -> Object:
        """The table's (or query's) columns as properties.

        For ``Role.DESTINATION`` the key column is left out (it is written
        from each record's ``id``); a missing table with ``create_table`` set
        gives an empty schema: the table is created from the schema handed to
        ``upsert``.
        """
        writing = role is Role.DESTINATION
        options = options_of(self.env.options, write=writing)
        settings = await self.env.settings.load()
        try:
            conn = await self.connect(settings, create=False)
        except MissingDatabase:
            if writing and options.create_table:
                return Object([])
            raise
        try:
            columns = await conn.columns(options.table, options.query)
        except ConnectorError:
            raise
        except Exception as exc:
            raise conn.error(exc, f"reading the columns of {relation_name(options)}") from None
        finally:
            await conn.close()
        if columns is None:
            if writing and options.create_table:
                return Object([])
            raise _no_table(conn, options)
        if not writing:
            ReadPlan.build(columns, options)  # names a missing key or updated_at column
        return schema_of(columns, options, skip_key=writing)

    async def records(
        self, target: str, updated_at: datetime | None, cursor: str | None, schema: Object
    ) -> RecordsPage:
        """The next page after ``cursor`` (see :mod:`syncline.connectors._sql.reader`).

        Only the properties of ``schema`` are fetched when it names any.
        """
        options = options_of(self.env.options, write=False)
        settings = await self.env.settings.load()
        wanted = tuple(schema.names()) or None
        cache_key = (self.identity(settings), options.model_dump_json(), wanted)
        conn = await self.connect(settings, create=False)
        try:
            plan = self._reads.get(cache_key)
            if plan is None:
                columns = await conn.columns(options.table, options.query)
                if columns is None:
                    raise _no_table(conn, options)
                plan = ReadPlan.build(columns, options, None if wanted is None else set(wanted))
                if len(self._reads) >= _PLANS:
                    self._reads.clear()
                self._reads[cache_key] = plan
            return await read_page(conn, plan, updated_at, cursor, options.page_size)
        except ConnectorError:
            self._reads.pop(cache_key, None)
            raise
        except Exception as exc:
            self._reads.pop(cache_key, None)
            raise conn.error(exc, f"reading {relation_name(options)}") from None
        finally:
            await conn.close()

    async def upsert(self, target: str, records: Records, schema: Object) -> None:
        """Merge up to ``batch_size`` records on the key column in one transaction.

        See :mod:`syncline.connectors._sql.writer`. Records rejected by the
        database (a constraint, a value out of the column's range) fail alone
        through ``RecordsError``; records without an ID are discarded.
        """
        options = options_of(self.env.options, write=True)
        settings = await self.env.settings.load()
        cache_key = (self.identity(settings), options.model_dump_json(), schema)
        conn = await self.connect(settings, create=options.create_table)
        try:
            plan = self._writes.get(cache_key)
            if plan is None:
                plan = await prepare(conn, options, schema)
                if len(self._writes) >= _PLANS:
                    self._writes.clear()
                self._writes[cache_key] = plan
            errors = await write(conn, plan, records, options.batch_size)
        except ConnectorError:
            self._writes.pop(cache_key, None)
            raise
        except Exception as exc:
            self._writes.pop(cache_key, None)
            raise conn.error(exc, f"writing to {relation_name(options)}") from None
        finally:
            await conn.close()
        if errors:
            raise RecordsError(errors)

    async def delete(self, target: str, ids: list[str]) -> None:
        """Delete the rows whose key is one of ``ids``, in one transaction (purge).

        See :mod:`syncline.connectors._sql.purge`: IDs without a row, or that
        the key column cannot hold, are skipped; a missing database or table
        has nothing to delete. Idempotent.
        """
        options = options_of(self.env.options, write=True)
        settings = await self.env.settings.load()
        try:
            conn = await self.connect(settings, create=False)
        except MissingDatabase:
            return
        try:
            await delete_keys(conn, options, ids)
        except ConnectorError:
            raise
        except Exception as exc:
            raise conn.error(exc, f"deleting from {relation_name(options)}") from None
        finally:
            await conn.close()


def _no_table(conn: Connection, options: DatabaseOptions) -> ConfigError:
    return ConfigError(
        f"{conn.label} table {options.table!r} does not exist; check the pipeline option "
        "'table' (use schema.table for a table outside the default schema)",
        field="table",
    )
