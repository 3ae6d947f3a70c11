"""A run's checkpoint on a SQLite file: the whole transaction in one trip to a thread.

Why this path exists: an import or export run checkpoints after every batch
(500 records by default). Through SQLAlchemy's asyncio layer a checkpoint is
at least six trips between the event loop and the driver's thread
(``BEGIN``, two locking reads, two updates, ``COMMIT``), each statement built
and processed in Python: 3.5 ms a checkpoint on an idle event loop
(``bench/checkpoint.py``), and several times that during a run, where every
trip waits for the GIL while the run decodes and encodes records. The
same transaction on a plain ``sqlite3`` connection takes 0.3–0.5 ms, most of
it the fsync. Here :func:`checkpoint` runs it on the store's run writer (a
:class:`~syncline.store.raw_sqlite.SqliteWriter`, its own connection and
thread), with the statements, checks and column formats of the SQLAlchemy
path (:meth:`syncline.store.runs.Runs.checkpoint`), which other databases
still take.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from syncline.store.entities import Checkpoint, ErrorGroup
from syncline.store.errors import LeaseLost
from syncline.store.raw_sqlite import read_time, sqlite_json, sqlite_time

__all__ = ["checkpoint"]

_CHECKPOINT_OF_RUN = (
    "SELECT pipeline_id, run_id, cursor, run_high_water, high_water, generation,"
    " identities_high_water, updated_at FROM pipeline_checkpoints"
    " WHERE pipeline_id = (SELECT pipeline_id FROM runs WHERE id = ?)"
)
_RUN = "SELECT status, owner FROM runs WHERE id = ?"
_SET_CURSOR = (
    "UPDATE pipeline_checkpoints SET cursor = ?, run_high_water = ?, updated_at = ?"
    " WHERE pipeline_id = ?"
)
_MARK_SEEN = (
    "INSERT INTO pipeline_records (pipeline_id, record_id, generation) VALUES (?, ?, ?)"
    " ON CONFLICT (pipeline_id, record_id) DO UPDATE SET generation = excluded.generation"
)


def checkpoint(
    conn: sqlite3.Connection,
    run_id: int,
    owner: str,
    cursor: str | None,
    high_water: datetime | None,
    ids: Sequence[str],
    counts: Mapping[str, int] | None,
    error_groups: Sequence[ErrorGroup] | None,
    timings: Mapping[str, float] | None,
    now: datetime,
) -> tuple[Checkpoint, int]:
    """:meth:`Runs.checkpoint` inside the writer's transaction; ``(checkpoint, rows written)``.

    Raises :class:`LeaseLost` (the writer rolls back) when ``owner`` no longer
    holds the run or another run's progress is in the pipeline's checkpoint.
    On SQLite the writer's ``BEGIN IMMEDIATE`` holds the write lock, so the
    rows read here cannot change before the commit.
    """
    row = conn.execute(_CHECKPOINT_OF_RUN, (run_id,)).fetchone()
    found = conn.execute(_RUN, (run_id,)).fetchone()
    lost = LeaseLost.unless_owned(run_id, owner, None if row is None else found)
    if lost is not None:
        raise lost
    cp = Checkpoint(
        pipeline_id=row[0],
        run_id=row[1],
        cursor=row[2],
        run_high_water=read_time(row[3]),
        high_water=read_time(row[4]),
        generation=row[5],
        identities_high_water=read_time(row[6]),
        updated_at=read_time(row[7]),
    )
    if cp.run_id != run_id:
        raise LeaseLost.checkpoint_taken(run_id)
    run_high_water = cp.run_high_water
    if high_water is not None and (run_high_water is None or high_water > run_high_water):
        run_high_water = high_water
    stamp = sqlite_time(now)
    conn.execute(_SET_CURSOR, (cursor, sqlite_time(run_high_water), stamp, cp.pipeline_id))
    columns = ["heartbeat_at = ?"]
    values: list[Any] = [stamp]
    if counts is not None:
        columns.append("counts = ?")
        values.append(sqlite_json(dict(counts)))
    if error_groups is not None:
        columns.append("error_groups = ?")
        values.append(sqlite_json([g.to_json() for g in error_groups]))
    if timings is not None:
        columns.append("timings = ?")
        values.append(sqlite_json(dict(timings)))
    conn.execute(f"UPDATE runs SET {', '.join(columns)} WHERE id = ?", (*values, run_id))
    conn.executemany(_MARK_SEEN, [(cp.pipeline_id, i, cp.generation) for i in ids])
    # As the SQLAlchemy path returns it: the values written, aware and in UTC.
    moved = dataclasses.replace(
        cp,
        cursor=cursor,
        run_high_water=None if run_high_water is None else run_high_water.astimezone(UTC),
        updated_at=now.astimezone(UTC),
    )
    return moved, 2 + len(ids)
