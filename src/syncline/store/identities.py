"""The export identity map: a pipeline's matching value ↔ the app's record ID.

An export pipeline matches each source row to an app record through a matching
property (an email, an external ID, …). The map holds, per pipeline, the app's
records keyed by their matching value, so deciding create-or-update is a lookup
instead of an API call per row. It is refreshed incrementally: read the app's
records changed since :meth:`Identities.high_water`, :meth:`Identities.upsert`
them, then :meth:`Identities.set_high_water`.

Matching values are strings; the engine converts typed values (numbers, UUIDs) to
their canonical string form before calling. One app record has one matching value:
upserting a record under a new value drops its old one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from syncline.store.database import Database, chunks
from syncline.store.errors import NotFound
from syncline.store.schema import identities, pipeline_checkpoints

__all__ = ["Identities"]


class Identities:
    """Bulk upsert, lookup and removal of a pipeline's identity map."""

    def __init__(self, db: Database, clock: Callable[[], datetime]):
        self._db = db
        self._clock = clock

    async def upsert(self, pipeline_id: int, pairs: Iterable[tuple[str, str]]) -> None:
        """Store ``(matching_value, app_record_id)`` pairs in one transaction.

        The result is that of applying the pairs one at a time, in order: each
        pair points its value at its record (re-pointing a value another record
        held) and drops the value the record had before, so a record never has
        two values. ``NotFound`` if the pipeline does not exist.
        """
        ordered = list(pairs)
        if not ordered:
            return
        values = sorted({value for value, _ in ordered})
        records = sorted({record for _, record in ordered})
        async with self._db.write() as conn:
            # Serializes concurrent upserts of one pipeline on PostgreSQL.
            locked = await conn.scalar(
                sa.select(pipeline_checkpoints.c.pipeline_id)
                .where(pipeline_checkpoints.c.pipeline_id == pipeline_id)
                .with_for_update()
            )
            if locked is None:
                raise NotFound(f"pipeline #{pipeline_id} does not exist")
            current: dict[str, str] = {}
            for column, keys in (
                (identities.c.matching_value, values),
                (identities.c.app_record_id, records),
            ):
                for chunk in chunks(keys):
                    rows = await conn.execute(
                        sa.select(identities.c.matching_value, identities.c.app_record_id).where(
                            identities.c.pipeline_id == pipeline_id, column.in_(chunk)
                        )
                    )
                    current.update({row.matching_value: row.app_record_id for row in rows})
            existing = sorted(current)
            value_of = {record: value for value, record in current.items()}
            for value, record in ordered:
                old_value = value_of.pop(record, None)
                if old_value is not None:
                    del current[old_value]
                old_record = current.get(value)
                if old_record is not None:
                    del value_of[old_record]
                current[value] = record
                value_of[record] = value
            for chunk in chunks(existing):
                await conn.execute(
                    identities.delete().where(
                        identities.c.pipeline_id == pipeline_id,
                        identities.c.matching_value.in_(chunk),
                    )
                )
            for rows_chunk in chunks(sorted(current.items())):
                await conn.execute(
                    identities.insert().values(
                        [
                            {"pipeline_id": pipeline_id, "matching_value": v, "app_record_id": r}
                            for v, r in rows_chunk
                        ]
                    )
                )

    async def lookup(self, pipeline_id: int, values: Sequence[str]) -> dict[str, str]:
        """Map each known matching value in ``values`` to its app record ID.

        Values absent from the result are unknown (the export creates them).
        """
        found: dict[str, str] = {}
        async with self._db.read() as conn:
            for chunk in chunks(sorted(set(values))):
                rows = await conn.execute(
                    sa.select(identities.c.matching_value, identities.c.app_record_id).where(
                        identities.c.pipeline_id == pipeline_id,
                        identities.c.matching_value.in_(chunk),
                    )
                )
                found.update({row.matching_value: row.app_record_id for row in rows})
        return found

    async def remove_records(self, pipeline_id: int, app_record_ids: Iterable[str]) -> None:
        """Drop the entries of app records that no longer exist."""
        ids = sorted(set(app_record_ids))
        async with self._db.write() as conn:
            for chunk in chunks(ids):
                await conn.execute(
                    identities.delete().where(
                        identities.c.pipeline_id == pipeline_id,
                        identities.c.app_record_id.in_(chunk),
                    )
                )

    async def clear(self, pipeline_id: int) -> None:
        """Empty the map and its high-water mark (after the matching property changed)."""
        async with self._db.write() as conn:
            await conn.execute(identities.delete().where(identities.c.pipeline_id == pipeline_id))
            await self._set_high_water(conn, pipeline_id, None)

    async def count(self, pipeline_id: int) -> int:
        """How many matching values the map holds."""
        async with self._db.read() as conn:
            total = await conn.scalar(
                sa.select(sa.func.count()).where(identities.c.pipeline_id == pipeline_id)
            )
            return int(total or 0)

    async def high_water(self, pipeline_id: int) -> datetime | None:
        """How far the map has been refreshed; ``None`` means never (read everything)."""
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    sa.select(pipeline_checkpoints.c.identities_high_water).where(
                        pipeline_checkpoints.c.pipeline_id == pipeline_id
                    )
                )
            ).first()
        if row is None:
            raise NotFound(f"pipeline #{pipeline_id} does not exist")
        value: datetime | None = row.identities_high_water
        return value

    async def set_high_water(self, pipeline_id: int, high_water: datetime | None) -> None:
        """Record how far the map has been refreshed (after the upserts committed)."""
        async with self._db.write() as conn:
            await self._set_high_water(conn, pipeline_id, high_water)

    async def _set_high_water(
        self, conn: AsyncConnection, pipeline_id: int, value: datetime | None
    ) -> None:
        result = await conn.execute(
            pipeline_checkpoints.update()
            .where(pipeline_checkpoints.c.pipeline_id == pipeline_id)
            .values(identities_high_water=value, updated_at=self._clock())
        )
        if result.rowcount == 0:
            raise NotFound(f"pipeline #{pipeline_id} does not exist")
