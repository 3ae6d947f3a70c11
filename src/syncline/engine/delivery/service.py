"""The delivery service: one router and one sender per destination, as a background service.

:class:`DeliveryService` has ``async start()`` / ``async stop()``, so
``syncline serve`` runs it beside the collector (and ``syncline events
deliver`` runs it alone). It:

* compiles the event pipelines (:mod:`.pipelines`) and opens each destination
  connection's connector once; every ``refresh`` seconds it looks for changed
  pipelines, sources and connections and recompiles;
* runs the :class:`~.router.Router` (event log → delivery rows), woken by
  :meth:`notify` or every ``poll`` seconds;
* runs one :class:`~.sender.Sender` per destination connection as its own
  task, so a slow or failing destination never delays another one: each has
  its own queue, batches, in-flight calls and retries; they share only the
  store.

One process should run delivery for a store at a time: the routing watermark
and the senders' in-memory queues assume a single owner (a second process
would send events twice, never lose them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from syncline.engine.connections import open_connector
from syncline.engine.delivery.pipelines import EventPipeline, compile_pipeline
from syncline.engine.delivery.router import EventLogReader, Router
from syncline.engine.delivery.sender import Sender
from syncline.engine.delivery.settings import DeliverySettings
from syncline.store import Store
from syncline.store.deliveries import Deliveries, Delivery

__all__ = ["DeliveryService"]

log = logging.getLogger("syncline.engine.delivery")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DeliveryService:
    """Routes and delivers the events of ``store``; see the module docstring."""

    def __init__(
        self,
        store: Store,
        settings: DeliverySettings | None = None,
        *,
        refresh: float = 5.0,
        clock: Callable[[], datetime] = _utc_now,
        event_log: EventLogReader | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or DeliverySettings()
        self.refresh_every = refresh
        self.clock = clock
        self.deliveries = Deliveries(store.database, clock)
        self.senders: dict[int, Sender] = {}
        self._event_log: EventLogReader = event_log or self.deliveries.log_reader(store.event_log)
        self._pipelines: dict[int, EventPipeline] = {}
        self._enabled: list[EventPipeline] = []
        self._connectors: dict[int, tuple[Any | None, str, datetime | None]] = {}
        self._fingerprint: object = None
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._sender_tasks: dict[int, asyncio.Task[None]] = {}
        self.router = Router(
            self._event_log, self.deliveries, lambda: self._enabled, self.settings, self._routed
        )

    # -- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        """Compile the pipelines, open the destinations and start every task."""
        self._stop.clear()
        await self.refresh()
        self._tasks = [
            asyncio.create_task(self._route_loop(), name="delivery router"),
            asyncio.create_task(self._refresh_loop(), name="delivery refresh"),
        ]

    async def stop(self) -> None:
        """Stop routing and sending; calls in flight are cancelled (their events stay pending)."""
        self._stop.set()
        tasks = self._tasks + list(self._sender_tasks.values())
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks, self._sender_tasks, self.senders = [], {}, {}
        for connector, _, _ in self._connectors.values():
            if connector is not None:
                with contextlib.suppress(Exception):
                    await connector.aclose()
        self._connectors = {}
        self._fingerprint = None
        self.deliveries.close()

    async def __aenter__(self) -> DeliveryService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def notify(self) -> None:
        """New events are in the log: route them now rather than at the next poll."""
        self._wake.set()

    def pipeline(self, pipeline_id: int) -> EventPipeline | None:
        """The compiled pipeline with that id (disabled ones included), or None."""
        return self._pipelines.get(pipeline_id)

    # -- catalog ------------------------------------------------------------------

    async def refresh(self) -> None:
        """Recompile pipelines and open new destinations if anything changed."""
        pipelines = await self.store.pipelines.list(kind="events")
        sources = {s.name: s.id for s in await self.store.event_sources.list()}
        connections = {}
        for connection_id in {p.destination_connection_id for p in pipelines}:
            if connection_id is not None:
                connection = await self.store.connections.get_by_id(connection_id)
                connections[connection_id] = connection
        fingerprint = (
            tuple((p.id, p.updated_at, p.enabled) for p in pipelines),
            tuple(sorted(sources.items())),
            tuple(sorted((c.id, c.updated_at) for c in connections.values())),
        )
        if fingerprint == self._fingerprint:
            return
        for connection_id, connection in connections.items():
            known = self._connectors.get(connection_id)
            if known is not None and known[2] == connection.updated_at:
                continue
            if known is not None and known[0] is not None:
                await known[0].aclose()
            try:
                opened = await open_connector(self.store, connection.name, role="destination")
                self._connectors[connection_id] = (opened, "", connection.updated_at)
            except Exception as error:
                why = f"connection {connection.name!r} cannot be opened: {error}"
                log.error("%s", why)
                self._connectors[connection_id] = (None, why, connection.updated_at)
        compiled: dict[int, EventPipeline] = {}
        for p in pipelines:
            connector, why, _ = self._connectors.get(
                p.destination_connection_id or 0, (None, "", None)
            )
            instance = connector.instance if connector is not None else None
            compiled[p.id] = await compile_pipeline(p, instance, sources, why or "no destination")
            if compiled[p.id].broken:
                log.error("event pipeline %r: %s", p.name, compiled[p.id].broken)
        self._pipelines = compiled
        self._enabled = [compiled[p.id] for p in pipelines if p.enabled]
        self._fingerprint = fingerprint
        for connection_id, connection in connections.items():
            connector, why, _ = self._connectors[connection_id]
            sender = self.senders.get(connection_id)
            if sender is not None and sender.connector is connector:
                continue
            if sender is not None:
                # The connection changed: the old sender finishes nothing more;
                # its rows are still pending and the new one loads them.
                task = self._sender_tasks.pop(connection_id)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            sender = Sender(
                connection_id,
                connection.name,
                connector,
                why,
                self.pipeline,
                self.deliveries,
                self.settings,
                clock=self.clock,
            )
            self.senders[connection_id] = sender
            self._sender_tasks[connection_id] = asyncio.create_task(
                sender.run(self._stop), name=f"sender {connection.name}"
            )

    # -- loops --------------------------------------------------------------------

    def _routed(self, created: dict[int, list[Delivery]]) -> None:
        for connection_id, rows in created.items():
            sender = self.senders.get(connection_id)
            if sender is not None:
                sender.offer(rows)

    async def _route_loop(self) -> None:
        try:
            while not self._stop.is_set():
                # Cleared before reading the log, so a notify() that comes while
                # this round reads is not lost: the next round starts at once.
                self._wake.clear()
                try:
                    routed = await self.router.route_once()
                except Exception:
                    log.exception("routing failed; retrying in %.1f s", self.settings.poll)
                    routed = 0
                if routed >= self.settings.route_batch:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.poll)
        finally:
            await self.router.aclose()

    async def _refresh_loop(self) -> None:
        forgotten = time.monotonic()
        while not self._stop.is_set():
            await asyncio.sleep(self.refresh_every)
            try:
                await self.refresh()
                if time.monotonic() - forgotten > 600:
                    forgotten = time.monotonic()
                    await self.deliveries.forget_before(self.clock() - self.settings.dedupe_window)
            except Exception:
                log.exception("cannot refresh the event pipelines")

    async def wait_idle(self, seconds: float) -> bool:
        """Wait until the log is routed and no delivery is pending; True if it happened.

        For tests and ``syncline events deliver --until-idle``; dead letters
        do not count as pending.
        """
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            routed = self.router.committed_id
            newest = await self._newest()
            backlog = await self.deliveries.backlog()
            pending = sum(v.get("pending", 0) for v in backlog.values())
            if routed is not None and routed >= newest and pending == 0:
                return True
            await asyncio.sleep(0.02)
        return False

    async def _newest(self) -> int:
        max_id = getattr(self._event_log, "max_id", None)
        if max_id is None:
            return 0
        return int(await max_id())
