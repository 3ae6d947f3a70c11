"""Delivery end to end: log → pipelines → destination, counters, dedupe, invalid events."""

from __future__ import annotations

from pathlib import Path

from delivery_world import make_world, message

from syncline.store.deliveries import Deliveries


async def test_events_are_delivered_in_batches_with_mapped_values(tmp_path: Path) -> None:
    world = await make_world(tmp_path)
    try:
        server = await world.destination("app")
        pid = await world.pipeline(
            "web-to-app", "app", mapping={"email": "lower(context.traits.email)"}
        )
        messages = [
            message(
                f"user-{i % 5}",
                i,
                properties={"price": "9.5"},
                context={"traits": {"email": "A@X.IO"}},
            )
            for i in range(40)
        ]
        messages.append({**message("user-1", 99), "type": "identify"})  # filtered by default
        await world.append(messages)
        async with world.service() as service:
            assert await service.wait_idle(10)
        sent = [e for r in server.requests("/events") for e in r.json()["events"]]
        assert sorted(e["message_id"] for e in sent) == sorted(
            m["messageId"] for m in messages[:40]
        )
        first = sent[0]
        assert first["values"] == {
            "event": first["values"]["event"],
            "price": 9.5,
            "email": "a@x.io",
        }
        assert first["id"] == f"{pid}/{first['message_id']}"
        assert (
            server.requests("/events")[0].header("authorization")
            == "Bearer sk-test-0123456789abcdef"
        )
        counters = (await Deliveries(world.store.database, lambda: None).counters())[pid]  # type: ignore[arg-type,return-value]
        assert counters["received"] == 41
        assert counters["filtered"] == 1
        assert counters["mapped"] == 40
        assert counters["delivered"] == 40
        # Per user, at most one event per request (order barrier).
        for request in server.requests("/events"):
            users = [e["user"] for e in request.json()["events"]]
            assert len(users) == len(set(users))
        # Routed rows are pruned from the log.
        assert await world.store.event_log.count() == 0
    finally:
        await world.close()


async def test_duplicate_message_ids_are_dropped_within_the_window(tmp_path: Path) -> None:
    world = await make_world(tmp_path)
    try:
        server = await world.destination("app")
        pid = await world.pipeline("web-to-app", "app")
        await world.append([message("u", 1), message("u", 2), message("u", 1)])
        async with world.service() as service:
            assert await service.wait_idle(10)
            await world.append([message("u", 2), message("u", 3)])
            service.notify()
            assert await service.wait_idle(10)
        sent = [e["message_id"] for r in server.requests("/events") for e in r.json()["events"]]
        assert sent == ["u-1", "u-2", "u-3"]
        counters = (await Deliveries(world.store.database, lambda: None).counters())[pid]  # type: ignore[arg-type,return-value]
        assert counters["duplicate"] == 2
        assert counters["delivered"] == 3
    finally:
        await world.close()


async def test_invalid_values_become_dead_letters_naming_property_and_rule(tmp_path: Path) -> None:
    world = await make_world(tmp_path)
    try:
        server = await world.destination("app")
        pid = await world.pipeline("web-to-app", "app", mapping={"email": "context.traits.email"})
        long_email = "x" * 80 + "@example.com"
        await world.append(
            [
                message("u", 1, context={"traits": {"email": long_email}}),
                message("u", 2, properties={"price": "not a number"}),
                message("u", 3),
            ]
        )
        async with world.service() as service:
            assert await service.wait_idle(10)
        sent = [e["message_id"] for r in server.requests("/events") for e in r.json()["events"]]
        assert sent == ["u-3"]
        dead = await Deliveries(world.store.database, lambda: None).dead(pipeline_id=pid)  # type: ignore[arg-type,return-value]
        assert [d.message_id for d in dead] == ["u-1", "u-2"]
        assert dead[0].error == (
            "event type 'track': property \"email\" breaks rule 'max_length': "
            + dead[0].error.split(": ", 2)[2]  # type: ignore[union-attr]
        )
        assert "max_length" in (dead[0].error or "") and long_email not in (dead[0].error or "")
        assert 'property "price"' in (dead[1].error or "") and "not a number" not in (
            dead[1].error or ""
        )
        assert dead[0].attempts == 0
    finally:
        await world.close()
