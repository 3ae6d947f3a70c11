"""``syncline serve``: accept events over the Segment tracking API until stopped.

One process: the collector (see ``docs/events.md``) and the background
services returned by :func:`background_services`, started and stopped with it.
Ctrl-C or SIGTERM stops accepting, lets requests in flight finish (each 200 is
sent only once its events are durable), stops the services and commits what is
still queued. Exit code 2 when the store cannot be opened or the address cannot
be bound.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import typer

from syncline.cli.output import fail

if TYPE_CHECKING:
    from syncline.collect import CollectorSettings, Service
    from syncline.store import Store

__all__ = ["Notifiable", "background_services", "serve"]


@runtime_checkable
class Notifiable(Protocol):
    """A background service that wants to hear of each durable commit of events."""

    def notify(self) -> None: ...


def background_services(store: Store) -> list[Service]:
    """The services ``syncline serve`` runs beside the collector, in start order.

    Each is started before the server accepts requests and stopped after it
    stopped (see :mod:`syncline.collect.server`): event delivery, one sender
    per destination connection.
    """
    from syncline.engine.delivery import DeliveryService

    return [DeliveryService(store)]


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(
        8080, "--port", min=0, max=65535, help="Port to listen on (0: any free port)."
    ),
    max_request_mb: float = typer.Option(
        4.0, "--max-request-mb", min=0.001, help="Largest request body, raw or inflated."
    ),
    max_batch_events: int = typer.Option(
        2500, "--max-batch-events", min=1, help="Most events in one request."
    ),
    strict_event_kb: int = typer.Option(
        0,
        "--strict-event-kb",
        min=0,
        help="Reject single events larger than this (Segment's rule is 32); 0: no limit.",
    ),
    max_backlog: int = typer.Option(
        1_000_000,
        "--max-backlog",
        min=1,
        help="Answer 429 while the event log holds this many undelivered events.",
    ),
    deliver: bool = typer.Option(
        True,
        "--deliver/--no-deliver",
        help=(
            "Deliver events in this process. Turn it off to run the collector alone, "
            "with `syncline events deliver` in one other process."
        ),
    ),
) -> None:
    """Accept events from Segment and RudderStack client libraries (and deliver them)."""
    import asyncio

    from syncline.collect import CollectorSettings

    settings = CollectorSettings(
        max_request_bytes=int(max_request_mb * 1024 * 1024),
        max_batch_events=max_batch_events,
        strict_event_bytes=strict_event_kb * 1024 or None,
        max_backlog=max_backlog,
    )
    asyncio.run(_serve(host, port, settings, deliver=deliver))


async def _serve(host: str, port: int, settings: CollectorSettings, *, deliver: bool) -> None:
    from syncline.collect import Collector, bind
    from syncline.collect import serve as serve_collector
    from syncline.store import StoreError, open_store

    try:
        store = await open_store()
    except (StoreError, ValueError) as error:
        fail(f"cannot open the store: {error}")
    except OSError as error:
        fail(f"cannot open the store: {error}; check SYNCLINE_HOME and SYNCLINE_DATABASE_URL")
    try:
        try:
            sock = bind(host, port)
        except OSError as error:
            fail(
                f"cannot listen on {host}:{port}: {error.strerror or error}; choose another --port"
            )
        services = background_services(store) if deliver else []
        # Each durable commit wakes delivery at once instead of at its next poll.
        wakers = [service.notify for service in services if isinstance(service, Notifiable)]

        def committed() -> None:
            for wake in wakers:
                wake()

        collector = Collector(store, settings, on_commit=committed)
        from syncline.engine.tuning import tune_gc_for_delivery

        tune_gc_for_delivery()
        with sock:
            await serve_collector(
                collector,
                sock,
                services=services,
                announce=lambda line: print(f"syncline serve: {line}", flush=True),
            )
        print("syncline serve: stopped", flush=True)
    finally:
        await store.close()
