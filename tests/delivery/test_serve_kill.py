"""`syncline serve` is one process: collector and delivery. SIGKILL it mid-delivery.

Events are sent over HTTP to a real `syncline serve` that also delivers them to
a slow destination. The process is killed while batches are in flight and
started again: every event that got a 200 reaches the app at least once, and
per user no event is ever delivered before an earlier one of the same user.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import httpx
from delivery_world import carried, make_world

from syncline.sdk.testing.server import Reply

CLI = Path(__file__).with_name("delivery_cli.py")
USERS = 20
EVENTS = 1000


async def _start_serve(env: dict[str, str]) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(CLI),
        "serve",
        "--port",
        "0",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
    assert match, f"serve did not start: {line!r}"
    return process, match.group(1)


async def test_killed_serve_delivers_every_acked_event_in_user_order(tmp_path: Path) -> None:
    world = await make_world(tmp_path)
    env = {**os.environ, "SYNCLINE_HOME": str(tmp_path / "home")}
    env.pop("SYNCLINE_DATABASE_URL", None)
    env.pop("SYNCLINE_SECRET_KEY", None)
    process = None
    try:
        _, write_key = await world.store.event_sources.rotate_write_key("web")
        server = await world.destination("app", max_batch=20)
        server.route("POST", "/events", lambda r: Reply(200, json={"ok": True}, delay=0.02))
        await world.pipeline("web-to-app", "app")

        process, url = await _start_serve(env)
        sent: list[str] = []
        async with httpx.AsyncClient(base_url=url, auth=(write_key, ""), timeout=30) as client:
            for start in range(0, EVENTS, 100):
                batch = [
                    {
                        "type": "track",
                        "event": f"Event {n}",
                        "anonymousId": f"user{n % USERS}",
                        "messageId": f"m{n}",
                        "properties": {"n": n},
                    }
                    for n in range(start, start + 100)
                ]
                response = await client.post("/v1/batch", json={"batch": batch})
                assert response.status_code == 200, response.text
                sent += [m["messageId"] for m in batch]

        def delivered() -> list[tuple[str, str]]:
            return [
                pair for r in server.requests("/events") if r.status == 200 for pair in carried(r)
            ]

        deadline = asyncio.get_running_loop().time() + 60
        while len(delivered()) < EVENTS // 5:
            assert asyncio.get_running_loop().time() < deadline, "no delivery within 60 s"
            await asyncio.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        await process.wait()
        assert len({m for _, m in delivered()}) < EVENTS, "everything was delivered before the kill"

        process, _ = await _start_serve(env)
        deadline = asyncio.get_running_loop().time() + 120
        while {m for _, m in delivered()} != set(sent):
            assert asyncio.get_running_loop().time() < deadline, "acked events never delivered"
            await asyncio.sleep(0.05)

        # Per user, a first delivery never overtakes an earlier event of that user.
        order = {m: i for i, m in enumerate(sent)}
        seen: set[str] = set()
        for user, message_id in delivered():
            if message_id in seen:
                continue
            earlier = [m for m in sent[: order[message_id]] if f"user{int(m[1:]) % USERS}" == user]
            assert all(m in seen for m in earlier), (
                f"{message_id} of {user} overtook an earlier event"
            )
            seen.add(message_id)
    finally:
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 60)
        await world.close()
