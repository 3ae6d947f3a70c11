"""The same delivery path on PostgreSQL: routing, dedupe, retries, dead letters, replay."""

from __future__ import annotations

from pathlib import Path

import pytest
from delivery_world import make_world, message, scripted

from syncline.engine.delivery import replay_dead_letters

pytestmark = pytest.mark.postgres


async def test_delivery_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    world = await make_world(tmp_path, postgres_url)
    try:
        server = await world.destination("app")
        handle, _ = scripted([503, ("reject", {0: "reject"})])
        server.route("POST", "/events", handle)
        pid = await world.pipeline("web-to-app", "app", mapping={"email": "context.traits.email"})
        await world.append(
            [
                message("u", 1),
                message("v", 2),
                message("u", 1),  # duplicate
                message("w", 3, context={"traits": {"email": "x" * 90}}),  # invalid
            ]
        )
        async with world.service() as service:
            assert await service.wait_idle(15)
            dead = await service.deliveries.dead()
            assert sorted(d.message_id for d in dead) == ["u-1", "w-3"]
            assert await replay_dead_letters(world.store, ids=[d.id for d in dead]) == (2, 1)
            assert await service.wait_idle(15)
            counters = (await service.deliveries.counters())[pid]
        sent = [e["message_id"] for r in server.requests("/events") for e in r.json()["events"]]
        assert sent.count("u-1") == 3 and sent.count("v-2") == 2  # 503, rejected/ok, replay
        assert counters["duplicate"] == 1
        assert counters["invalid"] == 1
        assert counters["delivered"] == 2
        assert counters["replayed"] == 2
    finally:
        await world.close()
