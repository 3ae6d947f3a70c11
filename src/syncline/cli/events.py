"""``syncline events …``: deliver, inspect dead letters, replay, tail, counters, preview.

* ``deliver`` — run event delivery alone (``syncline serve`` also runs it);
* ``dead`` — list dead letters (``--json`` for scripts);
* ``replay`` — move dead letters back to the queue;
* ``tail`` — follow deliveries and failures per destination as they happen;
* ``stats`` — counters per pipeline step, and the backlog;
* ``preview`` — the exact request a destination would receive for an event.

Exit codes: 0 success, 1 the work ran and failed, 2 usage or configuration
error (unknown connection or pipeline, unreadable event file).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from syncline.cli.output import EXIT_FAILED, EXIT_USAGE, fail, print_json, print_table

if TYPE_CHECKING:
    from syncline.store import Store

__all__ = ["app"]

app = typer.Typer(
    help="Deliver events; inspect dead letters, replay them, follow delivery, preview requests.",
    no_args_is_help=True,
)


async def _open() -> Store:
    from syncline.store import StoreError, open_store

    try:
        return await open_store()
    except (StoreError, ValueError, OSError) as error:
        fail(f"cannot open the store: {error}")


def _parse_since(text: str | None) -> datetime | None:
    """An ISO 8601 time, or a duration back from now (``90s``, ``15m``, ``2h``, ``1d``)."""
    if text is None:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text[-1:] in units and text[:-1].isdigit():
        return datetime.now(UTC) - timedelta(seconds=int(text[:-1]) * units[text[-1]])
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        fail(
            f"--since {text!r}: give an ISO 8601 time (2026-01-31T12:00:00Z) or a duration (15m, 2h, 1d)"
        )
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def _ids(
    store: Store, connection: str | None, pipeline: str | None
) -> tuple[int | None, int | None]:
    from syncline.engine.connections import find_connection
    from syncline.store import NotFound

    try:
        connection_id = (await find_connection(store, connection)).id if connection else None
        pipeline_id = (await store.pipelines.get(pipeline)).id if pipeline else None
    except NotFound as error:
        fail(str(error))
    return connection_id, pipeline_id


# -- deliver --------------------------------------------------------------------


@app.command("deliver")
def deliver(
    until_idle: bool = typer.Option(
        False, "--until-idle", help="Exit once the log is routed and nothing is pending."
    ),
    batch_size: int = typer.Option(500, "--batch-size", min=1, help="Most events per call."),
    max_delay: float = typer.Option(
        0.2, "--max-delay", min=0, help="Seconds a ready event waits for a fuller batch."
    ),
    max_attempts: int = typer.Option(12, "--max-attempts", min=1, help="Attempts per event."),
    retry_window: float = typer.Option(
        10800, "--retry-window", min=0, help="Seconds after the first attempt to keep retrying."
    ),
) -> None:
    """Route accepted events to the event pipelines and deliver them, until stopped."""
    import asyncio

    from syncline.engine.delivery import DeliverySettings

    settings = DeliverySettings(
        batch_size=batch_size,
        max_delay=max_delay,
        max_attempts=max_attempts,
        retry_window=retry_window,
    )
    asyncio.run(_deliver(settings, until_idle))


async def _deliver(settings: Any, until_idle: bool) -> None:
    import asyncio
    import signal

    from syncline.engine.delivery import DeliveryService
    from syncline.engine.tuning import tune_gc_for_delivery

    store = await _open()
    try:
        service = DeliveryService(store, settings)
        tune_gc_for_delivery()
        await service.start()
        try:
            if until_idle:
                while not await service.wait_idle(3600):
                    pass
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            print("syncline events deliver: started", flush=True)
            await stop.wait()
        finally:
            await service.stop()
    finally:
        await store.close()


# -- dead -------------------------------------------------------------------------


@app.command("dead")
def dead(
    connection: str | None = typer.Option(None, "--connection", help="Only this destination."),
    pipeline: str | None = typer.Option(None, "--pipeline", help="Only this event pipeline."),
    limit: int = typer.Option(100, "--limit", min=1, help="Most dead letters listed."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """List dead letters: the event, the pipeline, the error, attempts and the request."""
    import asyncio

    asyncio.run(_dead(connection, pipeline, limit, as_json))


async def _dead(connection: str | None, pipeline: str | None, limit: int, as_json: bool) -> None:
    from syncline.store.deliveries import Deliveries

    store = await _open()
    try:
        connection_id, pipeline_id = await _ids(store, connection, pipeline)
        letters = await Deliveries(store.database, lambda: datetime.now(UTC)).dead(
            connection_id=connection_id, pipeline_id=pipeline_id, limit=limit
        )
    finally:
        await store.close()
    if as_json:
        print_json([letter.to_json() for letter in letters])
        return
    if not letters:
        print("no dead letters")
        return
    for letter in letters:
        dead_at = letter.dead_at.isoformat(timespec="seconds") if letter.dead_at else "?"
        print(
            f"#{letter.id}  {letter.pipeline}  message {letter.message_id}  "
            f"attempts {letter.attempts}  dead {dead_at}"
        )
        print(f"    error: {letter.error}")
        if letter.request:
            print(f"    request: {letter.request.splitlines()[0]}")


# -- replay -------------------------------------------------------------------------


@app.command("replay")
def replay(
    connection: str | None = typer.Option(None, "--connection", help="Only this destination."),
    pipeline: str | None = typer.Option(None, "--pipeline", help="Only this event pipeline."),
    since: str | None = typer.Option(
        None, "--since", help="Only dead since: an ISO time or a duration back (15m, 2h, 1d)."
    ),
    ids: list[int] = typer.Option(  # noqa: B008 - typer's declaration style
        None, "--id", help="Only this dead letter (repeat for several)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """Queue dead letters again, each behind its user's events already pending."""
    import asyncio

    asyncio.run(_replay(connection, pipeline, _parse_since(since), ids or None, as_json))


async def _replay(
    connection: str | None,
    pipeline: str | None,
    since: datetime | None,
    ids: list[int] | None,
    as_json: bool,
) -> None:
    from syncline.engine.delivery import replay_dead_letters

    store = await _open()
    try:
        await _ids(store, connection, pipeline)
        replayed, still_dead = await replay_dead_letters(
            store, connection=connection, pipeline=pipeline, since=since, ids=ids
        )
    finally:
        await store.close()
    if as_json:
        print_json({"replayed": replayed, "dead_again": still_dead})
    else:
        print(f"replayed {replayed} dead letter(s); {still_dead} failed the pipeline again")
    if still_dead:
        raise SystemExit(EXIT_FAILED)


# -- stats and tail --------------------------------------------------------------------


async def _stats_rows(store: Store) -> list[dict[str, Any]]:
    from syncline.store.deliveries import STEPS, Deliveries

    deliveries = Deliveries(store.database, lambda: datetime.now(UTC))
    counters = await deliveries.counters()
    backlog = await deliveries.backlog()
    connections = {c.id: c.name for c in await store.connections.list()}
    rows = []
    for pipeline in await store.pipelines.list(kind="events"):
        counts = counters.get(pipeline.id, {})
        waiting = backlog.get(pipeline.id, {})
        rows.append(
            {
                "pipeline": pipeline.name,
                "destination": connections.get(pipeline.destination_connection_id or 0, "?"),
                "enabled": pipeline.enabled,
                "counts": {step: counts.get(step, 0) for step in STEPS},
                "pending": waiting.get("pending", 0),
                "dead_letters": waiting.get("dead", 0),
            }
        )
    return rows


@app.command("stats")
def stats(as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout.")) -> None:
    """Counters per event pipeline and step, with what is pending and dead."""
    import asyncio

    asyncio.run(_stats(as_json))


async def _stats(as_json: bool) -> None:
    store = await _open()
    try:
        rows = await _stats_rows(store)
    finally:
        await store.close()
    if as_json:
        print_json(rows)
        return
    if not rows:
        print("no event pipelines; declare one with kind: events and run `syncline apply`")
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    table.add_column("PIPELINE")
    table.add_column("DESTINATION")
    # Every counter but "replayed" (a replay shows again as pending, then delivered).
    shown = [step for step in rows[0]["counts"] if step != "replayed"]
    for step in (*shown, "pending", "dead_letters"):
        table.add_column(step.upper().replace("_", " "), justify="right")
    for row in rows:
        counts = [str(row["counts"][s]) for s in shown]
        table.add_row(
            row["pipeline"],
            row["destination"],
            *counts,
            str(row["pending"]),
            str(row["dead_letters"]),
        )
    print_table(table)


@app.command("tail")
def tail(
    connection: str | None = typer.Option(None, "--connection", help="Only this destination."),
    interval: float = typer.Option(1.0, "--interval", min=0.1, help="Seconds between looks."),
) -> None:
    """Follow delivery live: per destination, events delivered, retried and dead, and each new dead letter."""
    import asyncio

    asyncio.run(_tail(connection, interval))


async def _tail(connection: str | None, interval: float) -> None:
    import asyncio

    from syncline.store.deliveries import Deliveries

    store = await _open()
    try:
        connection_id, _ = await _ids(store, connection, None)
        deliveries = Deliveries(store.database, lambda: datetime.now(UTC))
        last_dead = max(
            (d.id for d in await deliveries.dead(connection_id=connection_id)), default=0
        )
        previous = await _by_destination(store, connection_id)
        print(f"following delivery every {interval:g}s (Ctrl-C to stop)", flush=True)
        while True:
            await asyncio.sleep(interval)
            current = await _by_destination(store, connection_id)
            stamp = datetime.now(UTC).strftime("%H:%M:%S")
            for name, counts in sorted(current.items()):
                before = previous.get(name, {})
                delta = {
                    s: counts.get(s, 0) - before.get(s, 0) for s in ("delivered", "retried", "dead")
                }
                if any(delta.values()):
                    print(
                        f"{stamp} {name}: +{delta['delivered']} delivered, "
                        f"+{delta['retried']} retried, +{delta['dead']} dead",
                        flush=True,
                    )
            for letter in await deliveries.dead(connection_id=connection_id, after_id=last_dead):
                print(
                    f"{stamp} dead #{letter.id} {letter.pipeline} {letter.message_id}: {letter.error}",
                    flush=True,
                )
                last_dead = letter.id
            previous = current
    finally:
        await store.close()


async def _by_destination(store: Store, connection_id: int | None) -> dict[str, dict[str, int]]:
    from syncline.store.deliveries import Deliveries

    counters = await Deliveries(store.database, lambda: datetime.now(UTC)).counters()
    names = {c.id: c.name for c in await store.connections.list()}
    totals: dict[str, dict[str, int]] = {}
    for pipeline in await store.pipelines.list(kind="events"):
        target = pipeline.destination_connection_id
        if connection_id is not None and target != connection_id:
            continue
        into = totals.setdefault(names.get(target or 0, "?"), {})
        for step, count in counters.get(pipeline.id, {}).items():
            into[step] = into.get(step, 0) + count
    return totals


# -- preview ---------------------------------------------------------------------------


@app.command("preview")
def preview(
    connection: str = typer.Argument(..., help="The destination connection."),
    event_file: Path = typer.Argument(  # noqa: B008 - typer's declaration style
        ..., help="A JSON file holding one Segment message."
    ),
    pipeline: str | None = typer.Option(None, "--pipeline", help="Only this event pipeline."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """Print the exact HTTP request each event pipeline would send for the event (redacted)."""
    import asyncio

    import orjson

    try:
        message = orjson.loads(event_file.read_bytes())
    except OSError as error:
        fail(f"cannot read {event_file}: {error.strerror or error}")
    except orjson.JSONDecodeError as error:
        fail(f"{event_file} is not JSON: {error}")
    if not isinstance(message, dict):
        fail(f"{event_file} must hold one JSON object (a Segment message)")
    asyncio.run(_preview(connection, message, pipeline, as_json))


async def _preview(
    connection: str, message: dict[str, Any], pipeline: str | None, as_json: bool
) -> None:
    from syncline.engine.delivery import describe_request, preview_event
    from syncline.sdk.errors import ConnectorError
    from syncline.store import NotFound

    store = await _open()
    try:
        try:
            results = await preview_event(store, connection, message, pipeline)
        except (NotFound, ConnectorError, ValueError) as error:
            fail(str(error), EXIT_USAGE)
    finally:
        await store.close()
    if as_json:
        print_json(
            [
                {
                    "pipeline": r.pipeline,
                    "outcome": r.outcome,
                    "request": None if r.request is None else describe_request(r.request),
                }
                for r in results
            ]
        )
        return
    for result in results:
        print(f"# pipeline {result.pipeline}: {result.outcome}")
        if result.request is not None:
            print(describe_request(result.request))
        print()
