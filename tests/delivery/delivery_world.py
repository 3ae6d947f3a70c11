"""A store with an event source, destinations over FaultServers, and event pipelines.

Events are appended to the real event log (as the collector would) and
delivered by the real :class:`DeliveryService`; the FaultServers record what
each destination received.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import delivery_app  # noqa: F401 - registers events-test
import orjson

from syncline.engine.config.model import PipelineConfig
from syncline.engine.delivery import DeliveryService, DeliverySettings
from syncline.sdk.testing.server import FaultServer, ReceivedRequest, Reply
from syncline.store import Store, Workspace, open_store

API_KEY = "sk-test-0123456789abcdef"

FAST = DeliverySettings(
    batch_size=50,
    max_delay=0.005,
    max_in_flight=2,
    max_attempts=4,
    retry_window=30.0,
    backoff_base=0.002,
    backoff_cap=0.02,
    poll=0.02,
)

_ids = itertools.count(1)


def message(user: str, n: int, **fields: Any) -> dict[str, Any]:
    """A normalized track message of ``user`` with a unique messageId ``{user}-{n}``."""
    now = datetime.now(UTC).isoformat()
    msg: dict[str, Any] = {
        "type": "track",
        "event": f"Event {n}",
        "messageId": f"{user}-{n}",
        "anonymousId": user,
        "receivedAt": now,
        "timestamp": now,
        "properties": {"n": n},
    }
    msg.update(fields)
    return msg


def accepted(request: ReceivedRequest, answers: dict[int, dict[str, str]]) -> list[str]:
    """The messageIds a logged request carried that the app accepted (200, not rejected)."""
    if request.status != 200:
        return []
    events = request.json()["events"]
    answer = answers.get(id(request), {})
    return [e["message_id"] for i, e in enumerate(events) if str(i) not in answer]


def carried(request: ReceivedRequest) -> list[tuple[str, str]]:
    """``(user, messageId)`` of every event in a logged request."""
    return [(e["user"], e["message_id"]) for e in request.json()["events"]]


@dataclass
class World:
    store: Store
    source_id: int
    servers: dict[str, FaultServer] = field(default_factory=dict)
    pipelines: dict[str, int] = field(default_factory=dict)

    async def destination(
        self, name: str, *, connector: str = "events-test", max_batch: int = 100
    ) -> FaultServer:
        server = FaultServer()
        await server.start()
        server.route("POST", "/events", lambda r: {"ok": True})
        self.servers[name] = server
        await self.store.connections.save(
            name,
            connector=connector,
            roles=["destination"],
            settings={"base_url": server.url, "api_key": API_KEY, "max_batch": max_batch},
        )
        return server

    async def pipeline(self, name: str, destination: str, **config: Any) -> int:
        connection = await self.store.connections.get(destination)
        config.setdefault("event_type", "track")
        config.setdefault("event_sources", ["web"])
        saved = await self.store.pipelines.save(
            name,
            kind="events",
            target="events",
            destination_connection_id=connection.id,
            config=PipelineConfig(**config).to_json(),
        )
        self.pipelines[name] = saved.id
        return saved.id

    async def append(self, messages: list[dict[str, Any]]) -> list[int]:
        return await self.store.event_log.append(self.source_id, messages)

    def service(self, settings: DeliverySettings = FAST) -> DeliveryService:
        return DeliveryService(self.store, settings, refresh=0.2)

    async def close(self) -> None:
        for server in self.servers.values():
            await server.stop()
        await self.store.close()


async def make_world(tmp: Path, url: str | None = None) -> World:
    """A world on the SQLite file of ``tmp/home``, or on the database ``url``."""
    workspace = Workspace(tmp / "home")
    workspace.ensure()
    store = await open_store(url or workspace.database_url, workspace=workspace)
    source, _ = await store.event_sources.create("web")
    return World(store, source.id)


def scripted(
    outcomes: list[Any],
) -> tuple[Callable[[ReceivedRequest], Any], dict[int, dict[str, str]]]:
    """A handler answering each request with the next outcome (then 200), and its answers.

    An outcome is a status, a :class:`Reply`, HANG/RESET, or ``("reject",
    {index: "retry"|"reject"})`` for per-event rejections (indexes beyond the
    request's events are dropped). The rejections sent are kept in the returned
    dict, by ``id(request)``, for :func:`accepted`.
    """
    queue = list(outcomes)
    answers: dict[int, dict[str, str]] = {}

    def handle(request: ReceivedRequest) -> Any:
        step = queue.pop(0) if queue else 200
        if isinstance(step, tuple):
            count = len(request.json()["events"])
            rejected = {str(i): kind for i, kind in step[1].items() if i < count}
            answers[id(request)] = rejected
            return Reply(200, json={"rejected": rejected})
        if step == 200:
            return Reply(200, json={"ok": True})
        return step

    return handle, answers


def decode(payload: bytes) -> Any:
    return orjson.loads(payload)
