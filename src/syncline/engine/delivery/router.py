"""Routing: from the event log to the pipelines' delivery rows, durably and without gaps.

The router reads the event log forward from its watermark, runs each message
through every enabled event pipeline of its source (filter, mapping,
validation: :meth:`EventPipeline.route`) and commits, in ONE transaction, the
delivery rows it created, the dedupe keys, the counters and the new watermark
(:meth:`syncline.store.deliveries.Deliveries.route`). A crash before the commit
routes the same log rows again; after it, never again. So every logged event
reaches every pipeline it should exactly once as a row (at-least-once overall,
since a row may be sent twice: see the sender).

Routed rows are pruned from the event log (``DeliverySettings.prune_log``): the
delivery rows keep the message, so dead letters outlive the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import orjson

from syncline.engine.delivery.pipelines import EventPipeline, user_key
from syncline.engine.delivery.settings import DeliverySettings
from syncline.store.deliveries import Deliveries, Delivery, NewDelivery

__all__ = ["EventLogReader", "Router"]

log = logging.getLogger("syncline.engine.delivery")

# Pruning every batch would double the write transactions under load.
_PRUNE_EVERY = 1.0


class EventLogReader(Protocol):
    """What the router needs of :class:`syncline.store.event_log.EventLog`."""

    async def read_after(self, after_id: int, limit: int) -> Sequence[Any]: ...

    async def delete_through(self, event_id: int) -> int: ...


class Router:
    """Routes the event log to the pipelines returned by ``pipelines()``."""

    def __init__(
        self,
        event_log: EventLogReader,
        deliveries: Deliveries,
        pipelines: Callable[[], Sequence[EventPipeline]],
        settings: DeliverySettings,
        on_routed: Callable[[dict[int, list[Delivery]]], None],
    ) -> None:
        self.event_log = event_log
        self.deliveries = deliveries
        self.pipelines = pipelines
        self.settings = settings
        self.on_routed = on_routed
        self.after_id: int | None = None
        self.committed_id: int | None = None
        self._committing: asyncio.Task[None] | None = None
        self._pruned_at = 0.0
        self._prune_through = 0

    async def route_once(self) -> int:
        """Route the next batch of the log; return how many log rows it read.

        Zero when the log has nothing past the watermark. The batch commits in
        the background while the caller reads and routes the next one: each
        call first waits for the previous batch's commit (so batches commit
        one at a time, in log order) and re-raises its error, after which
        routing starts again from the watermark in the store. Call
        :meth:`flush` to wait for the last commit; :attr:`committed_id` is
        the watermark known to be committed, :attr:`after_id` the log row
        read up to.
        """
        if self.after_id is None:
            await self.flush()
            self.after_id = self.committed_id = await self.deliveries.watermark()
        logged = await self.event_log.read_after(self.after_id, self.settings.route_batch)
        if not logged:
            await self.flush()
            await self._prune(force=True)
            return 0
        rows, counts = self._route(logged)
        through = logged[-1].id
        await self.flush()
        self._committing = asyncio.create_task(
            self._commit(through, rows, counts), name="delivery routing commit"
        )
        self.after_id = through
        return len(logged)

    async def flush(self) -> None:
        """Wait for the batch being committed; re-raise its error.

        After an error the next :meth:`route_once` reads the watermark from
        the store again: the rows read past it are routed again, none is lost.
        """
        task, self._committing = self._committing, None
        if task is None:
            return
        try:
            await task
        except BaseException:
            self.after_id = None
            raise

    async def aclose(self) -> None:
        """Stop waiting for the batch being committed (its transaction still ends in its thread)."""
        task, self._committing = self._committing, None
        if task is not None and not task.done():
            task.cancel()
        if task is not None:
            with contextlib.suppress(BaseException):
                await task
        self.after_id = None

    def _route(self, logged: Sequence[Any]) -> tuple[list[NewDelivery], Counter[tuple[int, str]]]:
        """The delivery rows and counts of ``logged``, routed through the enabled pipelines."""
        by_source: dict[int, list[EventPipeline]] = {}
        for pipeline in self.pipelines():
            if pipeline.source_ids is None:
                by_source.setdefault(-1, []).append(pipeline)
            else:
                for source_id in pipeline.source_ids:
                    by_source.setdefault(source_id, []).append(pipeline)
        every = by_source.get(-1, [])
        # The pipelines of each source, looked up once per source, not per event.
        targets_of = {s: every + p for s, p in by_source.items() if s != -1}
        rows: list[NewDelivery] = []
        received: Counter[int] = Counter()
        filtered: Counter[int] = Counter()
        loads = orjson.loads
        for event in logged:
            targets = targets_of.get(event.source_id, every)
            if not targets:
                continue
            message = loads(event.payload)
            key = user_key(event.anonymous_id, event.user_id)
            for pipeline in targets:
                received[pipeline.id] += 1
                step, values, error = pipeline.route(message)
                if step == "filtered":
                    filtered[pipeline.id] += 1
                    continue
                rows.append(
                    NewDelivery(
                        pipeline.id,
                        pipeline.connection_id,
                        event.id,
                        event.message_id,
                        key,
                        values,
                        event.payload,
                        event.received_at,
                        error,
                        message,
                    )
                )
        counts: Counter[tuple[int, str]] = Counter()
        for pipeline_id, n in received.items():
            counts[(pipeline_id, "received")] = n
        for pipeline_id, n in filtered.items():
            counts[(pipeline_id, "filtered")] = n
        return rows, counts

    async def _commit(
        self, through: int, rows: list[NewDelivery], counts: Counter[tuple[int, str]]
    ) -> None:
        _, created = await self.deliveries.route(
            through, rows, counts, window=self.settings.dedupe_window
        )
        self.committed_id = through
        self._prune_through = through
        if created:
            by_connection: dict[int, list[Delivery]] = {}
            for row in created:
                by_connection.setdefault(row.connection_id, []).append(row)
            self.on_routed(by_connection)
        await self._prune(force=False)

    async def _prune(self, *, force: bool) -> None:
        if not self.settings.prune_log or not self._prune_through:
            return
        now = time.monotonic()
        if not force and now - self._pruned_at < _PRUNE_EVERY:
            return
        self._pruned_at = now
        through, self._prune_through = self._prune_through, 0
        try:
            await self.event_log.delete_through(through)
        except Exception:
            # Pruning is housekeeping: the rows are routed; try again later.
            self._prune_through = through
            log.exception("cannot prune the event log")
