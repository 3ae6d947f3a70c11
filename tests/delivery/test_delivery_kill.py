"""SIGKILL the delivery process mid-way; after a restart nothing is lost and user order holds.

``syncline events deliver`` runs in a subprocess over a real store; the
destination is a FaultServer in this process that answers slowly, so batches
are in flight when the process dies. After the kill, a second
``syncline events deliver --until-idle`` finishes the work. Every accepted
event reached the app at least once; a batch in flight at the kill may arrive
twice (at-least-once), but per user no earlier event is ever sent after a
later one.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from delivery_world import make_world, message

from syncline.sdk.testing.server import Reply
from syncline.store.deliveries import Deliveries

CLI = Path(__file__).with_name("delivery_cli.py")
EVENTS = 2000
USERS = 100


async def test_killed_delivery_loses_nothing_and_keeps_user_order(tmp_path: Path) -> None:
    world = await make_world(tmp_path)
    env = {**os.environ, "SYNCLINE_HOME": str(tmp_path / "home")}
    env.pop("SYNCLINE_DATABASE_URL", None)
    env.pop("SYNCLINE_SECRET_KEY", None)
    try:
        server = await world.destination("app", max_batch=25)
        server.route("POST", "/events", lambda r: Reply(200, json={"ok": True}, delay=0.01))
        await world.pipeline("web-to-app", "app")
        messages = [message(f"user{i % USERS}", i) for i in range(EVENTS)]
        await world.append(messages)

        def received() -> int:
            return sum(len(r.json()["events"]) for r in server.requests("/events"))

        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(CLI),
            "events",
            "deliver",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        deadline = asyncio.get_running_loop().time() + 60
        while received() < EVENTS // 4:
            assert process.returncode is None, "delivery ended before it could be killed"
            assert asyncio.get_running_loop().time() < deadline, "no progress within 60 s"
            await asyncio.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        await process.wait()
        assert process.returncode == -signal.SIGKILL
        before = received()
        assert before < EVENTS, "everything was delivered before the kill"

        restart = await asyncio.create_subprocess_exec(
            sys.executable,
            str(CLI),
            "events",
            "deliver",
            "--until-idle",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(restart.communicate(), 120)
        assert restart.returncode == 0, err.decode()

        order = {m["messageId"]: i for i, m in enumerate(messages)}
        seen: set[str] = set()
        last: dict[str, int] = {}
        for request in server.requests("/events"):
            for event in request.json()["events"]:
                mid, user = event["message_id"], event["user"]
                assert order[mid] >= last.get(user, -1), f"{mid} sent after a later event"
                last[user] = order[mid]
                if request.status == 200:
                    seen.add(mid)
        assert seen == set(order), f"{len(set(order) - seen)} event(s) lost"
        # At most the batches in flight at the kill were sent twice.
        assert received() - EVENTS <= 4 * 25 * 2
        deliveries = Deliveries(world.store.database, lambda: None)  # type: ignore[arg-type,return-value]
        assert await deliveries.dead() == []
        backlog = await deliveries.backlog()
        assert sum(b["pending"] for b in backlog.values()) == 0
    finally:
        await world.close()
