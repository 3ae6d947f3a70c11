"""A routing commit that fails: nothing is lost, nothing is routed twice.

The router reads and routes the next batch while the previous one commits.
When that commit fails, the batch read ahead must be dropped and routing must
start again from the watermark in the store. The failure is the store's own:
a SQLite trigger refuses the delivery row of one event while it is armed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest
from delivery_world import FAST, carried, make_world, message

SETTINGS = dataclasses.replace(FAST, route_batch=50)


async def test_a_failed_routing_commit_is_routed_again_from_the_watermark(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = await make_world(tmp_path)
    try:
        server = await world.destination("app")
        await world.pipeline("web-to-app", "app")
        messages = [message(f"user-{i % 7}", i) for i in range(300)]
        ids = await world.append(messages)
        refused = ids[120]  # in the third batch of 50
        with closing(sqlite3.connect(tmp_path / "home" / "syncline.db")) as conn:
            conn.executescript(
                "CREATE TABLE test_switch (armed INTEGER);"
                "INSERT INTO test_switch VALUES (1);"
                "CREATE TRIGGER test_refuse BEFORE INSERT ON event_deliveries"
                f" WHEN NEW.event_id = {refused} AND (SELECT armed FROM test_switch) = 1"
                " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"
            )
        caplog.set_level(logging.ERROR, logger="syncline.engine.delivery")
        async with world.service(SETTINGS) as service:
            # Routing stops at the failing batch, round after round.
            for _ in range(500):
                failures = [r for r in caplog.records if "routing failed" in r.getMessage()]
                if len(failures) >= 3:
                    break
                await asyncio.sleep(0.01)
            assert len(failures) >= 3
            assert service.router.committed_id == ids[99]
            with closing(sqlite3.connect(tmp_path / "home" / "syncline.db")) as conn:
                conn.execute("UPDATE test_switch SET armed = 0")
                conn.commit()
            assert await service.wait_idle(20)
        sent = [pair for request in server.requests("/events") for pair in carried(request)]
        # Every event exactly once, none of the batch read ahead skipped.
        assert Counter(m for _, m in sent) == Counter(m["messageId"] for m in messages)
        # Per user, in log order.
        for user in {u for u, _ in sent}:
            got = [int(m.rsplit("-", 1)[1]) for u, m in sent if u == user]
            assert got == sorted(got)
    finally:
        await world.close()
