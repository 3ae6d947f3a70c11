"""A durable commit in the collector wakes delivery at once, not at its next poll."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import httpx
from delivery_world import FAST, make_world

from syncline.collect import Collector

# A poll far longer than the test may take: only a notify can route the event in time.
SLOW_POLL = dataclasses.replace(FAST, poll=60.0)


async def test_an_accepted_event_is_routed_without_waiting_for_the_poll(tmp_path: Path) -> None:
    world = await make_world(tmp_path)
    try:
        server = await world.destination("app")
        await world.pipeline("web-to-app", "app")
        _, write_key = await world.store.event_sources.rotate_write_key("web")
        async with world.service(SLOW_POLL) as service:
            collector = Collector(world.store, on_commit=service.notify)
            await collector.start()
            try:
                transport = httpx.ASGITransport(app=collector)
                async with httpx.AsyncClient(transport=transport, base_url="http://c") as client:
                    # Let the service's first routing round find the log empty.
                    await asyncio.sleep(0.2)
                    started = time.monotonic()
                    response = await client.post(
                        "/v1/track",
                        json={"userId": "u-1", "event": "Signed Up", "messageId": "m-1"},
                        auth=(write_key, ""),
                    )
                    assert response.status_code == 200
                    # wait_idle only watches; it never routes by itself.
                    assert await service.wait_idle(10)
            finally:
                await collector.stop()
        (request,) = server.requests("/events")
        assert [e["message_id"] for e in request.json()["events"]] == ["m-1"]
        assert time.monotonic() - started < 10  # the poll (60 s) was not waited for
    finally:
        await world.close()


async def test_syncline_serve_wires_its_delivery_service_to_the_commits(tmp_path: Path) -> None:
    from syncline.cli.serve import Notifiable, background_services

    world = await make_world(tmp_path)
    try:
        services = background_services(world.store)
        assert any(isinstance(service, Notifiable) for service in services)
    finally:
        await world.close()
