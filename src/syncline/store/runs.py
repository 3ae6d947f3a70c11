"""Runs, their lease, and the pipeline checkpoint they advance.

Lifecycle of a run, as the store enforces it:

1. :meth:`Runs.start` inserts a ``running`` run. The database allows one running
   run per pipeline (a partial unique index), so a second start fails with
   ``RunAlreadyLive`` — unless the live run's heartbeat is older than
   ``stale_after``, in which case it is marked ``interrupted`` and taken over.
   With ``resume=True`` the new run continues the progress the last unfinished
   run of the same kind (full or incremental) left in the checkpoint; otherwise
   that progress is dropped, and a full run starts a new *generation*.
2. :meth:`Runs.checkpoint` after each batch, in one transaction: the cursor, the
   run's high-water ``updated_at``, the run's counters, the IDs the batch saw,
   and the heartbeat. Once it returns, all of it is on disk.
3. :meth:`Runs.finish` ends the run. Only ``succeeded`` promotes the run's
   high-water mark to the pipeline's, for the next incremental run; a failed or
   interrupted run leaves its progress for the next run to resume.

Every call made on behalf of a run names its ``owner``; when the run is no
longer running under that owner (it was taken over, finished or removed), the
call raises ``LeaseLost`` and changes nothing. That is the fence that keeps a
worker which lost its lease from overwriting its successor's progress.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from syncline.store import runs_sqlite
from syncline.store.database import Database, chunks, inserted_id
from syncline.store.entities import Checkpoint, ErrorGroup, Run, RunStatus
from syncline.store.errors import LeaseLost, NotFound, RunAlreadyLive
from syncline.store.raw_sqlite import SqliteWriter, sqlite_file
from syncline.store.schema import pipeline_checkpoints, pipeline_records, runs

__all__ = ["Runs"]

ENDED: tuple[RunStatus, ...] = ("succeeded", "failed", "interrupted")


def _run(row: sa.Row[Any]) -> Run:
    m = row._mapping
    return Run(
        id=m["id"],
        pipeline_id=m["pipeline_id"],
        status=cast(RunStatus, m["status"]),
        full=m["full"],
        started_at=m["started_at"],
        ended_at=m["ended_at"],
        counts=m["counts"],
        error_groups=tuple(ErrorGroup.from_json(g) for g in m["error_groups"]),
        timings=m["timings"],
        error=m["error"],
        resumed_from_run_id=m["resumed_from_run_id"],
        owner=m["owner"],
        heartbeat_at=m["heartbeat_at"],
    )


def _checkpoint(row: sa.Row[Any]) -> Checkpoint:
    m = row._mapping
    return Checkpoint(
        pipeline_id=m["pipeline_id"],
        run_id=m["run_id"],
        cursor=m["cursor"],
        run_high_water=m["run_high_water"],
        high_water=m["high_water"],
        generation=m["generation"],
        identities_high_water=m["identities_high_water"],
        updated_at=m["updated_at"],
    )


def _utc(value: datetime | None) -> datetime | None:
    """``value`` as the store reads it back: aware, in UTC."""
    return None if value is None else value.astimezone(UTC)


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _progress(
    counts: Mapping[str, int] | None,
    error_groups: Sequence[ErrorGroup] | None,
    timings: Mapping[str, float] | None,
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if counts is not None:
        values["counts"] = dict(counts)
    if error_groups is not None:
        values["error_groups"] = [g.to_json() for g in error_groups]
    if timings is not None:
        values["timings"] = dict(timings)
    return values


class Runs:
    """Start, checkpoint, heartbeat and finish runs; read runs and checkpoints."""

    def __init__(self, db: Database, clock: Callable[[], datetime]):
        self._db = db
        self._clock = clock
        # On a SQLite file, checkpoints take the raw path (see runs_sqlite).
        path = sqlite_file(db)
        self._raw = (
            None
            if path is None
            # A checkpoint writes two rows: the WAL is copied back every 100 or so.
            else SqliteWriter(path, name="syncline-runs", what="run", checkpoint_rows=200)
        )

    def close(self) -> None:
        """Close the SQLite checkpoint writer's connection (it opens again on next use)."""
        if self._raw is not None:
            self._raw.close()

    async def start(
        self,
        pipeline_id: int,
        *,
        owner: str,
        full: bool,
        resume: bool = True,
        stale_after: timedelta | None = None,
    ) -> Run:
        """Start a run of the pipeline, owned by ``owner`` (a worker identifier).

        * ``RunAlreadyLive`` if a run is running and its heartbeat is recent
          (younger than ``stale_after``; with ``stale_after=None`` any live run
          blocks). A stale live run is marked ``interrupted`` and its progress is
          then available to resume.
        * ``resume=True``: when the checkpoint holds the progress of an unfinished
          run with the same ``full`` flag, the new run takes it over
          (``resumed_from_run_id`` names that run; read the cursor with
          :meth:`checkpoint_of`). Otherwise the progress is dropped, and a full run
          starts a new generation of seen record IDs.
        * ``NotFound`` if the pipeline does not exist.
        """
        now = self._clock()
        async with self._db.write() as conn:
            cp_row = (
                await conn.execute(
                    sa.select(pipeline_checkpoints)
                    .where(pipeline_checkpoints.c.pipeline_id == pipeline_id)
                    # Serializes starts of one pipeline on PostgreSQL.
                    .with_for_update()
                )
            ).first()
            if cp_row is None:
                raise NotFound(f"pipeline #{pipeline_id} does not exist")
            cp = _checkpoint(cp_row)
            live = (
                await conn.execute(
                    sa.select(runs).where(
                        runs.c.pipeline_id == pipeline_id, runs.c.status == "running"
                    )
                )
            ).first()
            if live is not None:
                if stale_after is None or live.heartbeat_at > now - stale_after:
                    raise RunAlreadyLive(pipeline_id, live.id, live.owner)
                await conn.execute(
                    runs.update()
                    .where(runs.c.id == live.id)
                    .values(
                        status="interrupted",
                        ended_at=now,
                        error="the run's worker stopped sending heartbeats",
                    )
                )
            pending_full = None
            if cp.run_id is not None:
                pending_full = await conn.scalar(
                    sa.select(runs.c.full).where(runs.c.id == cp.run_id)
                )
            resuming = resume and cp.run_id is not None and pending_full == full
            values: dict[str, Any] = {"updated_at": now}
            if not resuming:
                values.update(cursor=None, run_high_water=None)
                if full:
                    values["generation"] = cp.generation + 1
            try:
                async with conn.begin_nested():
                    result = await conn.execute(
                        runs.insert().values(
                            pipeline_id=pipeline_id,
                            status="running",
                            full=full,
                            started_at=now,
                            counts={},
                            error_groups=[],
                            timings={},
                            resumed_from_run_id=cp.run_id if resuming else None,
                            owner=owner,
                            heartbeat_at=now,
                        )
                    )
            except sa.exc.IntegrityError:
                raise RunAlreadyLive(pipeline_id, None, None) from None
            run_id = inserted_id(result)
            values["run_id"] = run_id
            await conn.execute(
                pipeline_checkpoints.update()
                .where(pipeline_checkpoints.c.pipeline_id == pipeline_id)
                .values(**values)
            )
            return await self._get(conn, run_id)

    async def checkpoint(
        self,
        run_id: int,
        *,
        owner: str,
        cursor: str | None,
        high_water: datetime | None,
        seen_record_ids: Iterable[str] = (),
        counts: Mapping[str, int] | None = None,
        error_groups: Sequence[ErrorGroup] | None = None,
        timings: Mapping[str, float] | None = None,
    ) -> Checkpoint:
        """Durably record the progress of a batch; return the new checkpoint.

        In one transaction: ``cursor`` replaces the stored cursor; the run's
        high-water mark becomes the later of the stored one and ``high_water``
        (the batch's greatest ``updated_at``); ``seen_record_ids`` are marked as
        seen in the current generation (for purging after a full run); ``counts``,
        ``error_groups`` and ``timings``, when given, replace the run's (they are
        totals, not increments); the heartbeat is renewed. When this returns the
        transaction is committed and fsynced. ``LeaseLost`` if the run is not
        running under ``owner``.

        On a SQLite file the transaction runs on a connection and a thread of
        its own, in one trip (:mod:`syncline.store.runs_sqlite`).
        """
        now = self._clock()
        ids = sorted(set(seen_record_ids))
        if self._raw is not None:
            moved: Checkpoint = await self._raw.run(
                runs_sqlite.checkpoint,
                run_id,
                owner,
                cursor,
                high_water,
                ids,
                counts,
                error_groups,
                timings,
                now,
            )
            return moved
        async with self._db.write() as conn:
            run, cp = await self._owned(conn, run_id, owner)
            if cp.run_id != run_id:
                raise LeaseLost.checkpoint_taken(run_id)
            run_high_water = _later(cp.run_high_water, high_water)
            await conn.execute(
                pipeline_checkpoints.update()
                .where(pipeline_checkpoints.c.pipeline_id == run.pipeline_id)
                .values(cursor=cursor, run_high_water=run_high_water, updated_at=now)
            )
            await conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(heartbeat_at=now, **_progress(counts, error_groups, timings))
            )
            await self._mark_seen(conn, run.pipeline_id, cp.generation, ids)
        # The row is locked by this transaction, so it now holds the values just
        # written: no need to read it back (datetimes as the store returns them).
        return dataclasses.replace(
            cp,
            cursor=cursor,
            run_high_water=_utc(run_high_water),
            updated_at=_utc(now),
        )

    async def heartbeat(self, run_id: int, *, owner: str) -> None:
        """Prove ``owner`` is alive; ``LeaseLost`` if the run is no longer its own."""
        async with self._db.write() as conn:
            result = await conn.execute(
                runs.update()
                .where(runs.c.id == run_id, runs.c.owner == owner, runs.c.status == "running")
                .values(heartbeat_at=self._clock())
            )
            if result.rowcount == 0:
                raise LeaseLost(f"run {run_id} is not running under owner {owner!r}")

    async def finish(
        self,
        run_id: int,
        *,
        owner: str,
        status: RunStatus,
        counts: Mapping[str, int] | None = None,
        error_groups: Sequence[ErrorGroup] | None = None,
        timings: Mapping[str, float] | None = None,
        error: str | None = None,
    ) -> Run:
        """End the run with ``status`` (succeeded, failed or interrupted).

        ``succeeded`` promotes the run's high-water mark (the later of it and the
        pipeline's current one, so the mark never moves back) and clears the
        run's progress. ``failed`` and ``interrupted`` keep the progress so a
        later run can resume. ``error`` is the run-level failure message (fixed
        text, no personal data). ``LeaseLost`` if the run is not running under
        ``owner``.
        """
        if status not in ENDED:
            raise ValueError(f"a run ends as one of {list(ENDED)}, not {status!r}")
        now = self._clock()
        async with self._db.write() as conn:
            run, cp = await self._owned(conn, run_id, owner)
            await conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(
                    status=status,
                    ended_at=now,
                    heartbeat_at=now,
                    error=error,
                    **_progress(counts, error_groups, timings),
                )
            )
            if status == "succeeded" and cp.run_id == run_id:
                await conn.execute(
                    pipeline_checkpoints.update()
                    .where(pipeline_checkpoints.c.pipeline_id == run.pipeline_id)
                    .values(
                        high_water=_later(cp.high_water, cp.run_high_water),
                        run_id=None,
                        cursor=None,
                        run_high_water=None,
                        updated_at=now,
                    )
                )
            return await self._get(conn, run_id)

    async def get(self, run_id: int) -> Run:
        """The run with id ``run_id``; ``NotFound`` if there is none."""
        async with self._db.read() as conn:
            return await self._get(conn, run_id)

    async def list(self, pipeline_id: int, *, limit: int = 50) -> list[Run]:
        """The pipeline's most recent runs, newest first."""
        async with self._db.read() as conn:
            rows = await conn.execute(
                sa.select(runs)
                .where(runs.c.pipeline_id == pipeline_id)
                .order_by(runs.c.started_at.desc(), runs.c.id.desc())
                .limit(limit)
            )
            return [_run(row) for row in rows]

    async def live(self, pipeline_id: int) -> Run | None:
        """The pipeline's running run, if any."""
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    sa.select(runs).where(
                        runs.c.pipeline_id == pipeline_id, runs.c.status == "running"
                    )
                )
            ).first()
            return None if row is None else _run(row)

    async def checkpoint_of(self, pipeline_id: int) -> Checkpoint:
        """The pipeline's checkpoint; ``NotFound`` if the pipeline does not exist."""
        async with self._db.read() as conn:
            return await self._checkpoint_of(conn, pipeline_id)

    async def reset_checkpoint(self, pipeline_id: int) -> Checkpoint:
        """Forget all progress and the high-water mark: the next run reads everything.

        ``RunAlreadyLive`` while a run is running (stop it first). The generation
        and the identity map are kept.
        """
        async with self._db.write() as conn:
            live = (
                await conn.execute(
                    sa.select(runs.c.id, runs.c.owner).where(
                        runs.c.pipeline_id == pipeline_id, runs.c.status == "running"
                    )
                )
            ).first()
            if live is not None:
                raise RunAlreadyLive(pipeline_id, live.id, live.owner)
            result = await conn.execute(
                pipeline_checkpoints.update()
                .where(pipeline_checkpoints.c.pipeline_id == pipeline_id)
                .values(
                    run_id=None,
                    cursor=None,
                    run_high_water=None,
                    high_water=None,
                    updated_at=self._clock(),
                )
            )
            if result.rowcount == 0:
                raise NotFound(f"pipeline #{pipeline_id} does not exist")
            return await self._checkpoint_of(conn, pipeline_id)

    async def unseen_record_ids(
        self, pipeline_id: int, generation: int, *, limit: int = 10_000
    ) -> builtins.list[str]:
        """Up to ``limit`` record IDs imported earlier but not seen in ``generation``.

        After a full run of that generation succeeds, these are the records the
        app no longer returns: purge them from the destination, then call
        :meth:`forget_record_ids`. Ordered by ID, so repeated calls page through.
        """
        async with self._db.read() as conn:
            rows = await conn.execute(
                sa.select(pipeline_records.c.record_id)
                .where(
                    pipeline_records.c.pipeline_id == pipeline_id,
                    pipeline_records.c.generation < generation,
                )
                .order_by(pipeline_records.c.record_id)
                .limit(limit)
            )
            return list(rows.scalars())

    async def forget_record_ids(self, pipeline_id: int, record_ids: Iterable[str]) -> None:
        """Drop record IDs from the pipeline's imported set (after purging them)."""
        ids = sorted(set(record_ids))
        async with self._db.write() as conn:
            for chunk in chunks(ids):
                await conn.execute(
                    pipeline_records.delete().where(
                        pipeline_records.c.pipeline_id == pipeline_id,
                        pipeline_records.c.record_id.in_(chunk),
                    )
                )

    async def _mark_seen(
        self, conn: AsyncConnection, pipeline_id: int, generation: int, ids: Sequence[str]
    ) -> None:
        for chunk in chunks(ids):
            insert = self._db.insert(pipeline_records)
            await conn.execute(
                insert.values(
                    [
                        {"pipeline_id": pipeline_id, "record_id": i, "generation": generation}
                        for i in chunk
                    ]
                ).on_conflict_do_update(
                    index_elements=[pipeline_records.c.pipeline_id, pipeline_records.c.record_id],
                    set_={"generation": insert.excluded.generation},
                )
            )

    async def _owned(
        self, conn: AsyncConnection, run_id: int, owner: str
    ) -> tuple[Run, Checkpoint]:
        """Lock the run's checkpoint, then the run, and check ``owner`` holds it.

        The lock order (checkpoint before run) is the one :meth:`start` uses, so
        a takeover and a checkpoint of the same pipeline never deadlock.
        """
        # One statement: the run's pipeline_id as a subquery (which locks
        # nothing), the checkpoint row selected and locked by it.
        pipeline_of_run = sa.select(runs.c.pipeline_id).where(runs.c.id == run_id).scalar_subquery()
        cp_row = (
            await conn.execute(
                sa.select(pipeline_checkpoints)
                .where(pipeline_checkpoints.c.pipeline_id == pipeline_of_run)
                .with_for_update()
            )
        ).first()
        row = (
            await conn.execute(sa.select(runs).where(runs.c.id == run_id).with_for_update())
        ).first()
        run = None if row is None or cp_row is None else _run(row)
        lost = LeaseLost.unless_owned(
            run_id, owner, None if run is None else (run.status, run.owner)
        )
        if lost is not None:
            raise lost
        assert run is not None and cp_row is not None
        return run, _checkpoint(cp_row)

    async def _get(self, conn: AsyncConnection, run_id: int) -> Run:
        row = (await conn.execute(sa.select(runs).where(runs.c.id == run_id))).first()
        if row is None:
            raise NotFound(f"run {run_id} does not exist")
        return _run(row)

    async def _checkpoint_of(self, conn: AsyncConnection, pipeline_id: int) -> Checkpoint:
        row = (
            await conn.execute(
                sa.select(pipeline_checkpoints).where(
                    pipeline_checkpoints.c.pipeline_id == pipeline_id
                )
            )
        ).first()
        if row is None:
            raise NotFound(f"pipeline #{pipeline_id} does not exist")
        return _checkpoint(row)
