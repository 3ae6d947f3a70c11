"""Failures: dead letters with the redacted request, replay, isolation, rate limits."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import sqlalchemy as sa
from delivery_world import API_KEY, FAST, make_world, message, scripted

from syncline.engine.delivery import preview_event, replay_dead_letters
from syncline.sdk.testing.server import HANG
from syncline.store.schema import event_deliveries


async def test_rejected_event_is_dead_lettered_with_redacted_request_then_replayed(
    tmp_path: Path,
) -> None:
    world = await make_world(tmp_path)
    try:
        server = await world.destination("app")
        handle, _ = scripted([("reject", {0: "reject"})])
        server.route("POST", "/events", handle)
        pid = await world.pipeline("web-to-app", "app")
        await world.append([message("u", 1), message("v", 2)])
        async with world.service() as service:
            assert await service.wait_idle(10)
            [letter] = await service.deliveries.dead()
            assert letter.message_id == "u-1"
            assert letter.pipeline == "web-to-app"
            assert letter.error == "the app rejected this event"
            assert letter.attempts == 1
            assert letter.request is not None
            assert letter.request.startswith(f"POST {server.url}/events")
            assert "Bearer [REDACTED]" in letter.request
            assert API_KEY not in letter.request
            assert '"message_id":"u-1"' in letter.request

            # Replay queues it again; the running service delivers it.
            replayed, dead_again = await replay_dead_letters(world.store, connection="app")
            assert (replayed, dead_again) == (1, 0)
            assert await service.wait_idle(10)
            assert await service.deliveries.dead() == []
            counters = (await service.deliveries.counters())[pid]
        sent = [e["message_id"] for r in server.requests("/events") for e in r.json()["events"]]
        assert sorted(sent) == ["u-1", "u-1", "v-2"]
        assert counters["dead"] == 1 and counters["replayed"] == 1
        assert counters["delivered"] == 2
    finally:
        await world.close()


async def test_retryable_failures_retry_until_the_attempts_are_spent(tmp_path: Path) -> None:
    world = await make_world(tmp_path)
    try:
        server = await world.destination("app")
        server.route("POST", "/events", lambda r: 503)
        await world.pipeline("web-to-app", "app")
        await world.append([message("u", 1), message("u", 2)])
        async with world.service() as service:
            assert await service.wait_idle(10)
            dead = await service.deliveries.dead()
        # The second event waited for the first; both died after 4 attempts each.
        assert [d.message_id for d in dead] == ["u-1", "u-2"]
        assert [d.attempts for d in dead] == [FAST.max_attempts] * 2
        assert "HTTP 503" in (dead[0].error or "")
        sent = [e["message_id"] for r in server.requests("/events") for e in r.json()["events"]]
        assert sent == ["u-1"] * FAST.max_attempts + ["u-2"] * FAST.max_attempts
    finally:
        await world.close()


async def test_a_hanging_destination_does_not_delay_a_healthy_one(tmp_path: Path) -> None:
    world = await make_world(tmp_path)
    try:
        slow = await world.destination("slow")
        slow.route("POST", "/events", lambda r: HANG)
        fast = await world.destination("fast", max_batch=20)
        await world.pipeline("to-slow", "slow")
        await world.pipeline("to-fast", "fast")
        messages = [message(f"user{i % 50}", i) for i in range(300)]
        await world.append(messages)
        settings = replace(FAST, max_attempts=1000, retry_window=600, max_in_flight=2)
        slow_id, fast_id = world.pipelines["to-slow"], world.pipelines["to-fast"]
        async with world.service(settings) as service:
            started = time.monotonic()
            while True:
                # Delivered means received by the app AND recorded: the last
                # call's outcome is committed just after the app answered it.
                received = {
                    e["message_id"] for r in fast.requests("/events") for e in r.json()["events"]
                }
                backlog = await service.deliveries.backlog()
                if len(received) == 300 and backlog.get(fast_id, {"pending": 0})["pending"] == 0:
                    break
                assert time.monotonic() - started < 20, "the healthy destination was held up"
                await asyncio.sleep(0.02)
        assert backlog[slow_id]["pending"] == 300  # still hanging, nothing lost
        assert len(slow.requests("/events")) >= 1
    finally:
        await world.close()


async def test_wait_time_keeps_delivery_under_the_apps_rate_limit(tmp_path: Path) -> None:
    world = await make_world(tmp_path)
    try:
        server = await world.destination("app", connector="events-test-limited", max_batch=1)
        server.rate_limit(20, burst=2, prefix="/events")
        await world.pipeline("web-to-app", "app")
        await world.append([message(f"user{i}", i) for i in range(30)])
        started = time.monotonic()
        async with world.service(replace(FAST, max_in_flight=4)) as service:
            assert await service.wait_idle(20)
        elapsed = time.monotonic() - started
        statuses = [r.status for r in server.requests("/events")]
        assert statuses.count(429) == 0
        assert statuses.count(200) == 30
        assert elapsed >= 1.3  # 30 requests at 20/s: the limiter paced them
    finally:
        await world.close()


async def test_preview_is_the_request_send_would_send_with_secrets_redacted(
    tmp_path: Path,
) -> None:
    world = await make_world(tmp_path)
    try:
        server = await world.destination("app")
        await world.pipeline("web-to-app", "app", mapping={"email": "context.traits.email"})
        event = message("u", 7, context={"traits": {"email": "a@b.io"}}, properties={"price": 3})
        [result] = await preview_event(world.store, "app", event)
        assert result.outcome == "request"
        request = result.request
        assert request is not None
        assert request.method == "POST" and str(request.url) == f"{server.url}/events"
        assert request.headers["authorization"] == "Bearer [REDACTED]"
        body = request.content.decode()
        assert API_KEY not in body
        assert '"id":"[PIPELINE]/u-7"' in body
        assert '"values":{"event":"Event 7","price":3.0,"email":"a@b.io"}' in body
        assert server.requests() == []  # nothing was sent

        [filtered] = await preview_event(world.store, "app", {**event, "type": "identify"})
        assert filtered.request is None and "filter" in filtered.outcome
    finally:
        await world.close()


async def test_a_row_visible_late_below_the_read_position_is_still_delivered(
    tmp_path: Path,
) -> None:
    world = await make_world(tmp_path)
    try:
        server = await world.destination("app")
        await world.pipeline("web-to-app", "app")
        await world.append([message(f"user{i}", i) for i in range(5)])
        async with world.service(replace(FAST, sweep=0.05)) as service:
            assert await service.wait_idle(10)
            # As a PostgreSQL replay committed out of id order would look: a
            # pending row whose id is below what the sender has read.
            async with world.store.database.write() as conn:
                row = (await conn.execute(sa.select(event_deliveries).limit(1))).first()
                assert row is None  # delivered rows are gone
                template = message("late", 99)
                await conn.execute(
                    event_deliveries.insert().values(
                        id=2,
                        pipeline_id=world.pipelines["web-to-app"],
                        connection_id=(await world.store.connections.get("app")).id,
                        event_id=999,
                        message_id="late-99",
                        user_key="a:late",
                        state="pending",
                        attempts=0,
                        payload=__import__("orjson").dumps(template),
                        created_at=__import__("datetime").datetime.now(__import__("datetime").UTC),
                    )
                )
            assert await service.wait_idle(10)
        sent = [e["message_id"] for r in server.requests("/events") for e in r.json()["events"]]
        assert "late-99" in sent
    finally:
        await world.close()
