"""What keeps a sender busy: slots freed before the commit, batches not held for nothing,
and the SQLite fast path writing what the SQLAlchemy path writes."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from delivery_world import FAST, make_world, message

from syncline.store.deliveries import Deliveries, NewDelivery, RetryUpdate, Settlement


def _sent(server: Any) -> list[str]:
    return [e["message_id"] for r in server.requests("/events") for e in r.json()["events"]]


async def test_calls_waiting_for_their_commit_do_not_hold_the_in_flight_slots(
    tmp_path: Path,
) -> None:
    """While outcomes cannot be committed, the next batches are still sent (one slot)."""
    world = await make_world(tmp_path)
    try:
        server = await world.destination("app", max_batch=10)
        await world.pipeline("web-to-app", "app", event_type="any")
        # One event per user: no batch waits for another user's event.
        ids = await world.append([message(f"user{i}", i) for i in range(2000)])
        settings = replace(FAST, batch_size=10, max_in_flight=1)
        blocker = sqlite3.connect(
            world.store.database.url.database, isolation_level=None, check_same_thread=False
        )
        async with world.service(settings) as service:
            started = time.monotonic()
            while (service.router.committed_id or 0) < ids[-1]:
                assert time.monotonic() - started < 30, "the events were not routed"
                await asyncio.sleep(0.005)
            # Another writer holds the database: no outcome can be committed.
            await asyncio.to_thread(blocker.execute, "BEGIN IMMEDIATE")
            before = len(server.requests("/events"))
            await asyncio.sleep(1.0)
            during = len(server.requests("/events")) - before
            blocker.execute("ROLLBACK")
            assert await service.wait_idle(30)
        blocker.close()
        # With the slot held until the commit, at most one more call would go out.
        assert during >= 5, f"only {during} request(s) while outcomes waited for the database"
        sent = _sent(server)
        assert sorted(set(sent)) == sorted(f"user{i}-{i}" for i in range(2000))
        backlog = await service.deliveries.backlog()
        assert all(v["pending"] == 0 for v in backlog.values())
    finally:
        await world.close()


async def test_a_connector_that_packs_few_events_is_not_held_for_a_full_batch(
    tmp_path: Path,
) -> None:
    """Once a call shows the connector takes 10 events, 10 ready events start the next call."""
    world = await make_world(tmp_path)
    try:
        server = await world.destination("app", max_batch=10)
        await world.pipeline("web-to-app", "app", event_type="any")
        await world.append([message(f"user{i}", i) for i in range(60)])
        # A batch of 500 never fills; only the first call waits max_delay to learn the fit.
        settings = replace(FAST, batch_size=500, max_delay=2.0, max_in_flight=1)
        async with world.service(settings) as service:
            assert await service.wait_idle(60)
        requests = server.requests("/events")
        assert len(requests) == 6
        gaps = [b.arrived_at - a.arrived_at for a, b in itertools.pairwise(requests)]
        # Held for a fuller batch, each gap would be max_delay (2 s).
        assert max(gaps) < 1.0, f"calls waited for a batch the connector cannot take: {gaps}"
        assert sorted(_sent(server)) == sorted(f"user{i}-{i}" for i in range(60))
    finally:
        await world.close()


def _row(pipeline_id: int, connection_id: int, n: int, error: str | None = None) -> NewDelivery:
    now = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
    return NewDelivery(
        pipeline_id=pipeline_id,
        connection_id=connection_id,
        event_id=n,
        message_id=f"m-{n % 7}" if n >= 100 else f"m-{n}",
        user_key=f"u:{n % 3}",
        values={"n": n, "at": "2026-05-01T12:00:00Z"} if n % 2 else None,
        payload=b'{"n": %d}' % n,
        received_at=now + timedelta(microseconds=n) if n % 5 else now,
        error=error,
    )


@pytest.mark.parametrize("window_minutes", [1, 600])
async def test_the_sqlite_fast_path_writes_what_the_sqlalchemy_path_writes(
    tmp_path: Path, window_minutes: int
) -> None:
    """Same calls on two stores, one through each path: the same rows, counts and dead letters."""
    results = []
    for fast in (True, False):
        world = await make_world(tmp_path / ("fast" if fast else "plain"))
        try:
            await world.destination("app")
            pid = await world.pipeline("web-to-app", "app")
            cid = (await world.store.connections.get("app")).id
            clock = [datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)]
            deliveries = Deliveries(world.store.database, lambda clock=clock: clock[0])  # type: ignore[misc]
            if not fast:
                deliveries._raw = None  # the path PostgreSQL and in-memory SQLite take
            window = timedelta(minutes=window_minutes)
            first = [_row(pid, cid, n) for n in range(10)] + [_row(pid, cid, 10, "bad value")]
            added1, created1 = await deliveries.route(10, first, Counter(), window=window)
            clock[0] += timedelta(minutes=5)
            # m-0 … m-6 again (outside a 1-minute window, inside a 10-hour one),
            # and duplicates within the same call.
            again = [_row(pid, cid, n) for n in range(100, 110)]
            added2, created2 = await deliveries.route(20, again, Counter(), window=window)
            retry_at = clock[0] + timedelta(seconds=30)
            await deliveries.settle(
                Settlement(
                    [created1[0].id, created1[1].id],
                    [
                        RetryUpdate(created1[2].id, 1, clock[0], retry_at, "HTTP 503", "POST /"),
                        RetryUpdate(created1[3].id, 2, clock[0], None, "HTTP 400", None, True),
                    ],
                    Counter({(pid, "delivered"): 2, (pid, "retried"): 1, (pid, "dead"): 1}),
                )
            )
            pending = await deliveries.pending(cid, 0, 1000)
            dead = await deliveries.dead()
            results.append(
                {
                    "added": (dict(added1), dict(added2)),
                    "created": [(d.id, d.message_id, d.values) for d in created1 + created2],
                    "pending": [
                        (
                            d.id,
                            d.message_id,
                            d.user_key,
                            d.attempts,
                            d.first_attempt_at,
                            d.next_attempt_at,
                            d.values,
                            d.payload,
                            d.received_at,
                        )
                        for d in pending
                    ],
                    "dead": [(d.id, d.message_id, d.error, d.attempts, d.dead_at) for d in dead],
                    "counters": await deliveries.counters(),
                    "watermark": await deliveries.watermark(),
                    "kept": await deliveries.forget_before(clock[0] + timedelta(days=2)),
                }
            )
            deliveries.close()
        finally:
            await world.close()
    assert results[0] == results[1]
    assert results[0]["watermark"] == 20
    duplicates = results[0]["added"][1].get((pid, "duplicate"), 0)
    assert duplicates == (3 if window_minutes == 1 else 10)


async def test_route_reports_rows_inserted_under_a_concurrent_writer(tmp_path: Path) -> None:
    """Ids handed to the senders are the rows' real ids even when other writers interleave."""
    world = await make_world(tmp_path)
    try:
        await world.destination("app")
        pid = await world.pipeline("web-to-app", "app")
        cid = (await world.store.connections.get("app")).id
        deliveries = Deliveries(world.store.database, lambda: datetime.now(UTC))
        other = Deliveries(world.store.database, lambda: datetime.now(UTC))
        other._raw = None  # a writer on another connection and path
        routed = []
        for round_ in range(5):
            rows = [_row(pid, cid, 1000 * round_ + n) for n in range(50)]
            extra = [_row(pid, cid, 1000 * round_ + 500 + n) for n in range(5)]
            (_, created), _ = await asyncio.gather(
                deliveries.route(round_, rows, Counter()), other.route(round_, extra, Counter())
            )
            routed.extend(created)
        stored = {d.id: d for d in await deliveries.pending(cid, 0, 10_000)}
        for row in routed:
            assert stored[row.id].message_id == row.message_id
            assert stored[row.id].event_id == row.event_id
        deliveries.close()
    finally:
        await world.close()
