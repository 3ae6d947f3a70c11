"""Pipelines: a source → destination flow for one target, with its configuration."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from syncline.store.database import Database, inserted_id
from syncline.store.entities import Pipeline, PipelineKind
from syncline.store.errors import NotFound, StoreError
from syncline.store.schema import PIPELINE_KINDS, connections, pipeline_checkpoints, pipelines

__all__ = ["Pipelines"]


def _pipeline(row: sa.Row[Any]) -> Pipeline:
    m = row._mapping
    return Pipeline(
        id=m["id"],
        name=m["name"],
        kind=cast(PipelineKind, m["kind"]),
        source_connection_id=m["source_connection_id"],
        destination_connection_id=m["destination_connection_id"],
        target=m["target"],
        config=m["config"],
        enabled=m["enabled"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _check_ends(kind: str, source: int | None, destination: int | None) -> None:
    if kind not in PIPELINE_KINDS:
        raise ValueError(f"pipeline kind must be one of {list(PIPELINE_KINDS)}, got {kind!r}")
    if kind == "import" and source is None:
        raise ValueError("an import pipeline needs a source connection")
    if kind in ("export", "events") and destination is None:
        raise ValueError(f"an {kind} pipeline needs a destination connection")


class Pipelines:
    """Create, read, update and remove pipelines.

    Creating a pipeline also creates its (empty) checkpoint; removing it removes
    its runs, checkpoint, imported record IDs and identity map.
    """

    def __init__(self, db: Database, clock: Callable[[], datetime]):
        self._db = db
        self._clock = clock

    async def save(
        self,
        name: str,
        *,
        kind: PipelineKind,
        target: str,
        source_connection_id: int | None = None,
        destination_connection_id: int | None = None,
        config: dict[str, Any] | None = None,
        enabled: bool = True,
    ) -> Pipeline:
        """Create the pipeline ``name``, or update it if it exists (upsert by name).

        An import pipeline needs a source connection; export and event pipelines
        need a destination connection (``ValueError`` otherwise). ``NotFound`` when
        a connection id does not exist. Changing the kind of an existing pipeline
        is refused: its runs and checkpoint mean something else per kind. On update
        every field is replaced (``config=None`` means ``{}``).
        """
        _check_ends(kind, source_connection_id, destination_connection_id)
        values = {
            "kind": kind,
            "target": target,
            "source_connection_id": source_connection_id,
            "destination_connection_id": destination_connection_id,
            "config": config or {},
            "enabled": enabled,
        }
        try:
            return await self._save(name, values)
        except sa.exc.IntegrityError:
            # A concurrent create of the same name won the race; update it instead.
            return await self._save(name, values)

    async def _save(self, name: str, values: dict[str, Any]) -> Pipeline:
        now = self._clock()
        async with self._db.write() as conn:
            for column in ("source_connection_id", "destination_connection_id"):
                if values[column] is not None:
                    found = await conn.scalar(
                        sa.select(connections.c.id).where(connections.c.id == values[column])
                    )
                    if found is None:
                        raise NotFound(f"connection #{values[column]} does not exist")
            row = (
                await conn.execute(
                    sa.select(pipelines).where(pipelines.c.name == name).with_for_update()
                )
            ).first()
            if row is None:
                result = await conn.execute(
                    pipelines.insert().values(name=name, created_at=now, updated_at=now, **values)
                )
                pipeline_id = inserted_id(result)
                await conn.execute(
                    pipeline_checkpoints.insert().values(
                        pipeline_id=pipeline_id, generation=0, updated_at=now
                    )
                )
            else:
                existing = _pipeline(row)
                if existing.kind != values["kind"]:
                    raise StoreError(
                        f"pipeline {name!r} is an {existing.kind} pipeline, not "
                        f"{values['kind']}; remove it first to reuse the name"
                    )
                pipeline_id = existing.id
                await conn.execute(
                    pipelines.update()
                    .where(pipelines.c.id == pipeline_id)
                    .values(updated_at=now, **values)
                )
            return await self._get(conn, pipelines.c.id == pipeline_id, repr(name))

    async def get(self, name: str) -> Pipeline:
        """The pipeline named ``name``; ``NotFound`` if there is none."""
        async with self._db.read() as conn:
            return await self._get(conn, pipelines.c.name == name, repr(name))

    async def get_by_id(self, pipeline_id: int) -> Pipeline:
        """The pipeline with id ``pipeline_id``; ``NotFound`` if there is none."""
        async with self._db.read() as conn:
            return await self._get(conn, pipelines.c.id == pipeline_id, f"#{pipeline_id}")

    async def list(
        self, *, kind: PipelineKind | None = None, connection_id: int | None = None
    ) -> list[Pipeline]:
        """Pipelines ordered by name, optionally only one kind or one connection's."""
        query = sa.select(pipelines).order_by(pipelines.c.name)
        if kind is not None:
            query = query.where(pipelines.c.kind == kind)
        if connection_id is not None:
            query = query.where(
                sa.or_(
                    pipelines.c.source_connection_id == connection_id,
                    pipelines.c.destination_connection_id == connection_id,
                )
            )
        async with self._db.read() as conn:
            return [_pipeline(row) for row in await conn.execute(query)]

    async def set_enabled(self, name: str, enabled: bool) -> Pipeline:
        """Enable or disable the pipeline ``name``; ``NotFound`` if there is none."""
        async with self._db.write() as conn:
            result = await conn.execute(
                pipelines.update()
                .where(pipelines.c.name == name)
                .values(enabled=enabled, updated_at=self._clock())
            )
            if result.rowcount == 0:
                raise NotFound(f"pipeline {name!r} does not exist")
            return await self._get(conn, pipelines.c.name == name, repr(name))

    async def remove(self, name: str) -> None:
        """Remove the pipeline ``name`` and everything recorded for it.

        ``NotFound`` if there is none. A running run is removed too: its owner's
        next checkpoint or heartbeat fails with ``LeaseLost``.
        """
        async with self._db.write() as conn:
            result = await conn.execute(pipelines.delete().where(pipelines.c.name == name))
            if result.rowcount == 0:
                raise NotFound(f"pipeline {name!r} does not exist")

    async def _get(
        self, conn: AsyncConnection, where: sa.ColumnElement[bool], label: str
    ) -> Pipeline:
        row = (await conn.execute(sa.select(pipelines).where(where))).first()
        if row is None:
            raise NotFound(f"pipeline {label} does not exist; `syncline pipelines` lists them")
        return _pipeline(row)
