"""Event sources and their write keys.

A write key authenticates a client library sending events (Segment's ``writeKey``).
Keys are random (32 bytes from ``secrets``), so a plain SHA-256 is enough to look
them up without storing them: the key is shown once, when created or rotated, and
afterwards only its first characters (``write_key_prefix``) to tell keys apart.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from syncline.store.database import Database, inserted_id
from syncline.store.entities import EventSource
from syncline.store.errors import NameTaken, NotFound
from syncline.store.schema import event_sources

__all__ = ["EventSources"]

PREFIX_LENGTH = 8
MIN_KEY_LENGTH = 16


def _hash(write_key: str) -> str:
    return hashlib.sha256(write_key.encode("utf-8")).hexdigest()


def _event_source(row: sa.Row[Any]) -> EventSource:
    return EventSource(
        id=row.id, name=row.name, write_key_prefix=row.write_key_prefix, created_at=row.created_at
    )


def _check_key(write_key: str) -> None:
    if len(write_key) < MIN_KEY_LENGTH:
        raise ValueError(
            f"a write key must have at least {MIN_KEY_LENGTH} characters; leave it out to "
            "get a random one"
        )


class EventSources:
    """Create, find, rotate and remove event sources."""

    def __init__(self, db: Database, clock: Callable[[], datetime]):
        self._db = db
        self._clock = clock

    async def create(self, name: str, *, write_key: str | None = None) -> tuple[EventSource, str]:
        """Create the source ``name``; return it and its write key (shown only now).

        ``write_key`` lets an existing client keep its key (at least 16
        characters); by default a random one is made. ``NameTaken`` if the name,
        or the given key, is already in use.
        """
        key = write_key if write_key is not None else secrets.token_urlsafe(32)
        _check_key(key)
        try:
            async with self._db.write() as conn:
                result = await conn.execute(
                    event_sources.insert().values(
                        name=name,
                        write_key_hash=_hash(key),
                        write_key_prefix=key[:PREFIX_LENGTH],
                        created_at=self._clock(),
                    )
                )
                source_id = inserted_id(result)
                row = (
                    await conn.execute(
                        sa.select(event_sources).where(event_sources.c.id == source_id)
                    )
                ).one()
        except sa.exc.IntegrityError:
            raise NameTaken(
                f"event source {name!r} already exists, or its write key is used by another "
                "source; choose another name or key"
            ) from None
        return _event_source(row), key

    async def rotate_write_key(self, name: str) -> tuple[EventSource, str]:
        """Replace the source's write key with a new random one; return both.

        The old key stops working at once. ``NotFound`` if there is no such source.
        """
        key = secrets.token_urlsafe(32)
        return await self.set_write_key(name, key), key

    async def set_write_key(self, name: str, write_key: str) -> EventSource:
        """Replace the source's write key with ``write_key`` (a key from a project file).

        The source keeps its id, so its events still in the log are delivered and its
        pipelines keep routing; the old key stops working at once. ``ValueError`` for a
        key too short to be safe, ``NotFound`` if there is no such source, ``NameTaken``
        if another source already uses that key.
        """
        _check_key(write_key)
        try:
            async with self._db.write() as conn:
                result = await conn.execute(
                    event_sources.update()
                    .where(event_sources.c.name == name)
                    .values(
                        write_key_hash=_hash(write_key),
                        write_key_prefix=write_key[:PREFIX_LENGTH],
                    )
                )
                if result.rowcount == 0:
                    raise NotFound(f"event source {name!r} does not exist")
                row = (
                    await conn.execute(sa.select(event_sources).where(event_sources.c.name == name))
                ).one()
        except sa.exc.IntegrityError:
            raise NameTaken(
                f"the write key given for event source {name!r} is used by another source; "
                "give each source its own key"
            ) from None
        return _event_source(row)

    async def by_write_key(self, write_key: str) -> EventSource | None:
        """The source the key belongs to, or ``None`` for an unknown key."""
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    sa.select(event_sources).where(
                        event_sources.c.write_key_hash == _hash(write_key)
                    )
                )
            ).first()
        return None if row is None else _event_source(row)

    async def get(self, name: str) -> EventSource:
        """The source named ``name``; ``NotFound`` if there is none."""
        async with self._db.read() as conn:
            row = (
                await conn.execute(sa.select(event_sources).where(event_sources.c.name == name))
            ).first()
        if row is None:
            raise NotFound(f"event source {name!r} does not exist")
        return _event_source(row)

    async def list(self) -> list[EventSource]:
        """Every event source, ordered by name."""
        async with self._db.read() as conn:
            rows = await conn.execute(sa.select(event_sources).order_by(event_sources.c.name))
            return [_event_source(row) for row in rows]

    async def remove(self, name: str) -> None:
        """Remove the source ``name``; its key stops working. ``NotFound`` if absent."""
        async with self._db.write() as conn:
            result = await conn.execute(event_sources.delete().where(event_sources.c.name == name))
            if result.rowcount == 0:
                raise NotFound(f"event source {name!r} does not exist")
