"""``run_demo``: the whole product in one call, on sandboxes, in a fresh workspace.

Steps, in order (each announced through ``on_step``):

1. start the sandboxes (unless already started ones are given) and open the
   workspace's SQLite store;
2. write ``syncline.yml`` and apply it with :func:`syncline.engine.config.apply_project`,
   the code of ``syncline apply``;
3. run the import pipeline with :func:`syncline.engine.runs.launch.run_pipeline`,
   the function ``syncline run`` calls: HubSpot contacts → SQLite;
4. start the collector and event delivery in this process, wired as
   ``syncline serve`` wires them (:func:`syncline.collect.serve` with a
   :class:`~syncline.engine.delivery.DeliveryService`), on a free port of
   127.0.0.1;
5. run the export pipeline (SQLite → Klaviyo profiles) **while** the events
   arrive: the export is paced by Klaviyo's profile limit, delivery by the
   event APIs' limits, and neither waits for the other — as in production,
   where runs and delivery share a store;
6. switch a 429 storm on at the GA4 sandbox and send the burst with the
   Segment client library (in a thread: the library blocks);
7. wait until the export finished and nothing is pending, stop the server
   (the collector's last group commit is flushed), and read the summary
   from the store and the sandboxes (:mod:`.summary`).

Why in-process rather than a ``syncline serve`` subprocess: the demo must
start on a fresh machine in well under a minute, stop cleanly on any failure
without leaving a server behind, and know exactly when delivery is idle
(:meth:`DeliveryService.wait_idle`); the code path that accepts and delivers
events is the same one ``syncline serve`` runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from syncline.demo.project import EXPORT_PIPELINE, IMPORT_PIPELINE, DemoProject, write_project
from syncline.demo.sandboxes import DemoSandboxes
from syncline.demo.summary import DemoSummary, EventPhase, summarize
from syncline.demo.traffic import plan_burst, send_burst
from syncline.sdk.testing.sandbox import Fault

__all__ = ["MIN_EVENTS", "DemoError", "DemoOptions", "run_demo"]

T = TypeVar("T")

MIN_EVENTS = 200
"""Fewer events would give GA4 too few requests for its 429 storm to be sure to show."""


class DemoError(Exception):
    """The demo could not be set up (a workspace in use, a missing library); the message says what to do."""


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """Sizes and timings of a demo run.

    * ``contacts`` — HubSpot contacts seeded and imported (the export takes
      the newsletter customers among them, about one in eight);
    * ``events`` — calls sent through the Segment client (at least :data:`MIN_EVENTS`);
    * ``storm_seconds`` — how long the GA4 sandbox answers 9 requests in 10
      with 429, from just before the first event is sent;
    * ``idle_timeout`` — how long to wait for delivery to finish before the
      demo reports what is still pending and fails;
    * ``seed`` — the same seed gives the same contacts and events.
    """

    contacts: int = 2000
    events: int = 2000
    storm_seconds: float = 5.0
    idle_timeout: float = 120.0
    seed: int = 7

    def __post_init__(self) -> None:
        if self.contacts < 1:
            raise ValueError(f"contacts={self.contacts}: import at least one contact")
        if self.events < MIN_EVENTS:
            raise ValueError(f"events={self.events}: send at least {MIN_EVENTS} events")
        if self.storm_seconds <= 0:
            raise ValueError(f"storm_seconds={self.storm_seconds}: must be > 0")


async def run_demo(
    home: Path,
    options: DemoOptions | None = None,
    *,
    sandboxes: DemoSandboxes | None = None,
    on_step: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Run the demo in the workspace ``home`` and return its summary.

    ``home`` must not hold a Syncline database yet (:class:`DemoError`
    otherwise: the demo never writes into a workspace in use); it is created
    if missing and kept afterwards. With ``sandboxes`` given, they must be
    started and are left running (a test inspects them afterwards); otherwise
    the demo creates, starts and stops its own. ``on_step`` receives one line
    per step as it begins. Every figure of the summary is read from the store
    and the sandboxes after the work, never taken from what the demo meant
    to do.
    """
    from syncline.store import Workspace, open_store

    options = options or DemoOptions()
    say = on_step or (lambda _line: None)
    workspace = Workspace(home)
    if workspace.database_path.exists():
        raise DemoError(
            f"{home} already holds a Syncline workspace (syncline.db); the demo needs a new "
            "one: pass --home with an empty or new directory, or leave --home out"
        )
    started = time.monotonic()
    async with contextlib.AsyncExitStack() as stack:
        if sandboxes is None:
            say("starting the HubSpot, Klaviyo, Mixpanel and GA4 sandboxes")
            sandboxes = DemoSandboxes.create(options.contacts, seed=options.seed)
            await sandboxes.start()
            stack.push_async_callback(sandboxes.stop)
        say(f"creating the workspace {home}")
        # An explicit SQLite URL: the demo never writes to SYNCLINE_DATABASE_URL.
        store = await open_store(workspace.database_url, workspace=workspace)
        stack.push_async_callback(store.close)
        project = await asyncio.to_thread(_write_project, home, sandboxes)
        await _apply(store, project.path, project.environ)

        say(f"importing HubSpot contacts into SQLite ({IMPORT_PIPELINE})")
        from syncline.engine.runs.launch import run_pipeline

        await run_pipeline(store, IMPORT_PIPELINE)
        phase = await _events_and_export(store, sandboxes, options, project.write_key, say)
        say("reading the summary from the store and the sandboxes")
        summary = await summarize(
            store,
            sandboxes,
            home=home,
            warehouse=project.warehouse,
            phase=phase,
            elapsed=time.monotonic() - started,
        )
    return summary


def _write_project(home: Path, sandboxes: DemoSandboxes) -> DemoProject:
    home.mkdir(parents=True, exist_ok=True)
    settings = {code: s.settings() for code, s in sandboxes.by_code().items()}
    return write_project(home, settings)


async def _apply(store: Any, path: Path, environ: dict[str, str]) -> None:
    from syncline.engine.config import ConfigFileError, apply_project

    try:
        await apply_project(store, path, environ)
    except ConfigFileError as error:
        # The file is ours: a problem here is a bug or a connector that changed.
        problems = "; ".join(str(issue) for issue in error.issues)
        raise DemoError(f"the demo's project file {path} was refused: {problems}") from None


async def _events_and_export(
    store: Any,
    sandboxes: DemoSandboxes,
    options: DemoOptions,
    write_key: str,
    say: Callable[[str], None],
) -> EventPhase:
    from syncline.collect import Collector, bind, serve
    from syncline.engine.delivery import DeliveryService
    from syncline.engine.runs.launch import run_pipeline

    burst = plan_burst(options.events, options.seed)
    delivery = DeliveryService(store)
    collector = Collector(store, on_commit=delivery.notify)
    sock = bind("127.0.0.1", 0)
    host, port = sock.getsockname()[:2]
    stop = asyncio.Event()
    listening = asyncio.Event()
    server = asyncio.create_task(
        serve(collector, sock, services=[delivery], announce=lambda _: listening.set(), stop=stop),
        name="demo collector",
    )
    export: asyncio.Task[Any] | None = None
    try:
        await _until(listening, server)
        say(f"collector and delivery listening on http://{host}:{port} (as `syncline serve`)")
        say(f"exporting newsletter customers to Klaviyo ({EXPORT_PIPELINE}), in the background")
        export = asyncio.create_task(run_pipeline(store, EXPORT_PIPELINE), name="demo export")
        sandboxes.ga4.set_faults(Fault("429-storm", seconds=options.storm_seconds))
        say(
            f"sending {len(burst.calls):,} events with segment-analytics-python "
            f"(GA4 answers 429 for {options.storm_seconds:g}s)"
        )
        sending, sent_at = time.monotonic(), time.time()
        send = asyncio.to_thread(send_burst, burst, f"http://{host}:{port}", write_key)
        report = await _while_serving(send, server)
        say("waiting for delivery to finish")
        idle = await _while_serving(delivery.wait_idle(options.idle_timeout), server)
        delivered_at = time.monotonic()
        await _while_serving(export, server)
    finally:
        sandboxes.ga4.clear_faults()
        if export is not None and not export.done():
            # Interrupted: the run is recorded as interrupted and resumes next time.
            export.cancel()
            await asyncio.gather(export, return_exceptions=True)
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await server
        sock.close()
    return EventPhase(
        burst=burst,
        report=report,
        accepted=sum(collector.stats.accepted.values()),
        idle=idle,
        deliver_seconds=delivered_at - sending,
        sent_at=sent_at,
    )


async def _while_serving(work: Awaitable[T], server: asyncio.Task[Any]) -> T:
    """Await ``work`` unless the server stops first (Ctrl-C or SIGTERM stop it): then stop too."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task, server}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        return task.result()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    server.result()  # a server that failed raises its error here
    raise KeyboardInterrupt


async def _until(event: asyncio.Event, task: asyncio.Task[Any]) -> None:
    """Wait for ``event``; if ``task`` ends first, raise what it raised."""
    waiter = asyncio.create_task(event.wait())
    done, _ = await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
    if waiter not in done:
        waiter.cancel()
        task.result()
        raise DemoError("the collector stopped before it listened")
