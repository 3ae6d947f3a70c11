"""The worker: runs scheduled import and export pipelines when they are due.

Every ``poll`` seconds the worker lists the enabled import and export
pipelines with a schedule, and starts a run of each due one (see
:mod:`syncline.engine.schedule`) that it is not already running, at most
``concurrency`` at a time. Runs go through
:func:`syncline.engine.runs.launch.run_pipeline`, so the store's lease keeps one
live run per pipeline across every worker and every ``syncline run``: a
pipeline another process is running is skipped until its next poll. A run left
by a crashed worker is taken over and resumed once its heartbeat is stale.

Several workers may share one store (PostgreSQL for several machines); each run
is executed by exactly one of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from syncline.engine.config.model import PipelineConfig
from syncline.engine.runs.launch import RunBusy, RunSetupError, new_owner, run_pipeline
from syncline.engine.schedule import is_due
from syncline.store import Pipeline, Run, Store

__all__ = ["Worker"]

log = logging.getLogger("syncline.engine.worker")


def _every(pipeline: Pipeline) -> int | None:
    try:
        return PipelineConfig.of(pipeline.config or {}).schedule_seconds
    except ValueError:
        return None


class Worker:
    """Runs due pipelines of ``store``; :meth:`serve` until stopped, or :meth:`tick` once."""

    def __init__(
        self,
        store: Store,
        *,
        concurrency: int = 4,
        poll: float = 5.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_finish: Callable[[Pipeline, Run], None] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("a worker runs at least one pipeline at a time (concurrency >= 1)")
        self.store = store
        self.concurrency = concurrency
        self.poll = poll
        self.clock = clock
        self.on_finish = on_finish
        self.owner = new_owner()
        self.running: dict[str, asyncio.Task[None]] = {}

    async def due(self) -> list[Pipeline]:
        """Enabled, scheduled import/export pipelines due now, not running here."""
        now = self.clock()
        found = []
        for pipeline in await self.store.pipelines.list():
            if pipeline.kind == "events" or not pipeline.enabled or pipeline.name in self.running:
                continue
            every = _every(pipeline)
            if every is None:
                continue
            last = await self.store.runs.list(pipeline.id, limit=1)
            if is_due(every, last[0] if last else None, now):
                found.append(pipeline)
        return found

    async def tick(self) -> list[asyncio.Task[None]]:
        """Start runs of due pipelines (up to the free concurrency); return their tasks."""
        started = []
        for pipeline in await self.due():
            if len(self.running) >= self.concurrency:
                break
            task = asyncio.create_task(self._run(pipeline), name=f"run {pipeline.name}")
            self.running[pipeline.name] = task
            task.add_done_callback(self._forget(pipeline.name))
            started.append(task)
        return started

    def _forget(self, name: str) -> Callable[[asyncio.Task[None]], None]:
        def forget(_task: asyncio.Task[None]) -> None:
            self.running.pop(name, None)

        return forget

    async def _run(self, pipeline: Pipeline) -> None:
        try:
            run = await run_pipeline(self.store, pipeline.name, owner=self.owner)
        except RunBusy:
            log.info("pipeline %r is running elsewhere; skipped", pipeline.name)
            return
        except RunSetupError as error:
            log.error("pipeline %r cannot run: %s", pipeline.name, error)
            return
        log.info("pipeline %r: run %s %s", pipeline.name, run.id, run.status)
        if self.on_finish is not None:
            self.on_finish(pipeline, run)

    async def serve(self, stop: asyncio.Event) -> None:
        """Poll and run until ``stop`` is set (or ``serve`` is cancelled).

        Then the runs in progress are cancelled: each is recorded as
        interrupted, and the next run of its pipeline resumes it from its last
        checkpoint.
        """
        try:
            while not stop.is_set():
                await self.tick()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll)
        finally:
            for task in list(self.running.values()):
                task.cancel()
            if self.running:
                await asyncio.gather(*self.running.values(), return_exceptions=True)
