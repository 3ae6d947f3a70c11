"""Connections and their encrypted settings."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from syncline.store.cipher import SettingsCipher
from syncline.store.database import Database, inserted_id
from syncline.store.entities import Connection, Role, VersionedSettings
from syncline.store.errors import ConnectionInUse, NotFound, SettingsConflict, StoreError
from syncline.store.schema import connections, pipelines

__all__ = ["Connections"]

ROLES: frozenset[str] = frozenset({"source", "destination"})
_COLUMNS = [c for c in connections.c if c.name != "settings"]


def _roles(roles: Iterable[str]) -> list[str]:
    chosen = sorted(set(roles))
    if not chosen or not ROLES.issuperset(chosen):
        raise ValueError(f"roles must be a non-empty subset of {sorted(ROLES)}, got {chosen}")
    return chosen


def _connection(row: sa.Row[Any]) -> Connection:
    m = row._mapping
    return Connection(
        id=m["id"],
        name=m["name"],
        connector=m["connector"],
        roles=frozenset(cast(list[Role], m["roles"])),
        oauth_account=m["oauth_account"],
        settings_version=m["settings_version"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


class Connections:
    """Create, read, update and remove connections; load and store their settings.

    Settings are encrypted before they reach the database and decrypted on load;
    every write bumps ``settings_version``, the token of compare-and-swap writes.
    """

    def __init__(self, db: Database, cipher: SettingsCipher, clock: Callable[[], datetime]):
        self._db = db
        self._cipher = cipher
        self._clock = clock

    async def save(
        self,
        name: str,
        *,
        connector: str,
        roles: Iterable[Role],
        settings: dict[str, Any] | None = None,
        oauth_account: str | None = None,
    ) -> Connection:
        """Create the connection ``name``, or update it if it exists (upsert by name).

        On update, ``roles`` and ``oauth_account`` are replaced, and ``settings``
        too unless it is ``None`` (then the stored settings are kept). A new
        connection with ``settings=None`` gets ``{}``. Changing the connector of an
        existing connection is refused: its pipelines were built for the old one.
        """
        chosen_roles = _roles(roles)
        try:
            return await self._save(name, connector, chosen_roles, settings, oauth_account)
        except sa.exc.IntegrityError:
            # Another writer created the same name between our read and insert
            # (possible on PostgreSQL); the second attempt sees it and updates.
            return await self._save(name, connector, chosen_roles, settings, oauth_account)

    async def _save(
        self,
        name: str,
        connector: str,
        chosen_roles: list[str],
        settings: dict[str, Any] | None,
        oauth_account: str | None,
    ) -> Connection:
        now = self._clock()
        async with self._db.write() as conn:
            row = (
                await conn.execute(
                    sa.select(*_COLUMNS).where(connections.c.name == name).with_for_update()
                )
            ).first()
            if row is None:
                result = await conn.execute(
                    connections.insert().values(
                        name=name,
                        connector=connector,
                        roles=chosen_roles,
                        settings=b"",
                        settings_version=0,
                        oauth_account=oauth_account,
                        created_at=now,
                        updated_at=now,
                    )
                )
                connection_id = inserted_id(result)
                await self._write_settings(conn, connection_id, settings or {}, version=1)
            else:
                existing = _connection(row)
                if existing.connector != connector:
                    raise StoreError(
                        f"connection {name!r} uses connector {existing.connector!r}, not "
                        f"{connector!r}; remove it first to reuse the name"
                    )
                connection_id = existing.id
                await conn.execute(
                    connections.update()
                    .where(connections.c.id == connection_id)
                    .values(roles=chosen_roles, oauth_account=oauth_account, updated_at=now)
                )
                if settings is not None:
                    await self._write_settings(
                        conn, connection_id, settings, version=existing.settings_version + 1
                    )
            return await self._get(conn, connections.c.id == connection_id, repr(name))

    async def get(self, name: str) -> Connection:
        """The connection named ``name``; ``NotFound`` if there is none."""
        async with self._db.read() as conn:
            return await self._get(conn, connections.c.name == name, repr(name))

    async def get_by_id(self, connection_id: int) -> Connection:
        """The connection with id ``connection_id``; ``NotFound`` if there is none."""
        async with self._db.read() as conn:
            return await self._get(conn, connections.c.id == connection_id, f"#{connection_id}")

    async def list(self) -> list[Connection]:
        """Every connection, ordered by name."""
        async with self._db.read() as conn:
            rows = await conn.execute(sa.select(*_COLUMNS).order_by(connections.c.name))
            return [_connection(row) for row in rows]

    async def remove(self, name: str) -> None:
        """Remove the connection ``name``.

        ``NotFound`` if it does not exist; ``ConnectionInUse`` (naming the
        pipelines) while a pipeline reads from or writes to it.
        """
        async with self._db.write() as conn:
            connection = await self._get(conn, connections.c.name == name, repr(name))
            users = await conn.execute(
                sa.select(pipelines.c.name).where(
                    sa.or_(
                        pipelines.c.source_connection_id == connection.id,
                        pipelines.c.destination_connection_id == connection.id,
                    )
                )
            )
            names = list(users.scalars())
            if names:
                raise ConnectionInUse(name, names)
            await conn.execute(connections.delete().where(connections.c.id == connection.id))

    async def load_settings(self, connection_id: int) -> VersionedSettings:
        """The decrypted settings and their version.

        ``NotFound`` if the connection does not exist; ``SettingsUnreadable`` if
        they were encrypted with another key.
        """
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    sa.select(
                        connections.c.name, connections.c.settings, connections.c.settings_version
                    ).where(connections.c.id == connection_id)
                )
            ).first()
        if row is None:
            raise NotFound(f"connection #{connection_id} does not exist")
        values = self._cipher.decrypt(connection_id, row.name, row.settings)
        return VersionedSettings(values=values, version=row.settings_version)

    async def store_settings(
        self,
        connection_id: int,
        values: dict[str, Any],
        *,
        expected_version: int | None = None,
    ) -> int:
        """Replace the settings; return the new version.

        With ``expected_version`` the write happens only if the stored version is
        still that one (compare-and-swap), else ``SettingsConflict`` is raised and
        nothing changes. This is how a rotated OAuth refresh token is saved without
        overwriting a concurrent rotation. Without it the write always wins.
        """
        async with self._db.write() as conn:
            row = (
                await conn.execute(
                    sa.select(connections.c.name, connections.c.settings_version)
                    .where(connections.c.id == connection_id)
                    # Row lock on PostgreSQL; on SQLite BEGIN IMMEDIATE already serializes.
                    .with_for_update()
                )
            ).first()
            if row is None:
                raise NotFound(f"connection #{connection_id} does not exist")
            if expected_version is not None and row.settings_version != expected_version:
                raise SettingsConflict(
                    f"the settings of connection {row.name!r} changed (version "
                    f"{row.settings_version}, expected {expected_version}); load them again "
                    "and retry"
                )
            new_version = int(row.settings_version) + 1
            await self._write_settings(conn, connection_id, values, version=new_version)
            return new_version

    async def update_settings(
        self,
        connection_id: int,
        change: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        attempts: int = 10,
    ) -> VersionedSettings:
        """Apply ``change`` to the current settings atomically; return the result.

        ``change`` receives a fresh copy of the settings and returns the new ones.
        It must be a pure function: when another writer got in between the load and
        the write, it is called again on the newer settings (up to ``attempts``
        times, then ``SettingsConflict``).
        """
        for _ in range(attempts):
            current = await self.load_settings(connection_id)
            updated = change(dict(current.values))
            try:
                version = await self.store_settings(
                    connection_id, updated, expected_version=current.version
                )
            except SettingsConflict:
                continue
            return VersionedSettings(values=updated, version=version)
        raise SettingsConflict(
            f"the settings of connection #{connection_id} kept changing during "
            f"{attempts} attempts to update them; retry later"
        )

    async def _write_settings(
        self, conn: AsyncConnection, connection_id: int, values: dict[str, Any], *, version: int
    ) -> None:
        token = self._cipher.encrypt(connection_id, values)
        await conn.execute(
            connections.update()
            .where(connections.c.id == connection_id)
            .values(settings=token, settings_version=version, updated_at=self._clock())
        )

    async def _get(
        self, conn: AsyncConnection, where: sa.ColumnElement[bool], label: str
    ) -> Connection:
        row = (await conn.execute(sa.select(*_COLUMNS).where(where))).first()
        if row is None:
            raise NotFound(f"connection {label} does not exist; `syncline connections` lists them")
        return _connection(row)
