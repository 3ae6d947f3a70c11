"""Event pipeline configurations that cannot work are refused loudly, losing nothing."""

from __future__ import annotations

from pathlib import Path

from delivery_world import make_world, message


async def test_a_mapping_on_an_event_type_without_values_dead_letters_naming_it(
    tmp_path: Path,
) -> None:
    world = await make_world(tmp_path)
    try:
        server = await world.destination("app")
        await world.pipeline("web-to-app", "app", event_type="any", mapping={"email": "userId"})
        await world.append([message("u", 1)])
        async with world.service() as service:
            assert await service.wait_idle(10)
            (dead,) = await service.deliveries.dead()
        assert server.requests("/events") == []
        assert "event type 'any' takes no values" in dead.error
        assert "remove `mapping`" in dead.error
    finally:
        await world.close()
