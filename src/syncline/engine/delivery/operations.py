"""One-off delivery operations for the CLI: preview a request, replay dead letters.

Both compile the pipelines of a destination connection exactly as the running
service does, so what they show or queue is what delivery would do.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from syncline.engine.connections import OpenConnector, find_connection, open_connector
from syncline.engine.delivery.pipelines import EventPipeline, compile_pipeline, user_key
from syncline.sdk.errors import ConfigError
from syncline.sdk.events import Event, Events
from syncline.sdk.received import ReceivedEvent
from syncline.store import Pipeline, Store
from syncline.store.deliveries import Deliveries, NewDelivery

__all__ = ["PreviewResult", "compiled_pipelines", "preview_event", "replay_dead_letters"]


async def compiled_pipelines(
    store: Store, connector: OpenConnector | None, pipelines: Iterable[Pipeline], why: str = ""
) -> dict[int, EventPipeline]:
    """The given event pipelines compiled for ``connector`` (None: all broken with ``why``)."""
    sources = {s.name: s.id for s in await store.event_sources.list()}
    instance = connector.instance if connector is not None else None
    return {p.id: await compile_pipeline(p, instance, sources, why) for p in pipelines}


@dataclass(frozen=True, slots=True)
class PreviewResult:
    """What one pipeline would do with the event: the request, or why there is none."""

    pipeline: str
    request: httpx.Request | None
    outcome: str


def _complete(message: dict[str, Any]) -> dict[str, Any]:
    """Fill what the collector would add to a hand-written message."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    message.setdefault("messageId", f"preview-{uuid.uuid4()}")
    message.setdefault("receivedAt", now)
    message.setdefault("timestamp", message["receivedAt"])
    return message


async def preview_event(
    store: Store, connection: str, message: dict[str, Any], pipeline: str | None = None
) -> list[PreviewResult]:
    """The request each event pipeline of ``connection`` would send for ``message``.

    Calls the connector's ``preview_send_events`` with the one event, as the
    pipeline maps it: credentials are ``[REDACTED]``, pipeline IDs
    ``[PIPELINE]`` (the connector's contract). ``pipeline`` restricts to one
    pipeline. A pipeline whose filter drops the event, whose mapping fails or
    whose connector discards it yields no request and says why.
    ``ConfigError`` when the connection has no such event pipeline;
    ``ValueError`` when the message is not a valid Segment message.
    """
    found = await find_connection(store, connection)
    chosen = [
        p
        for p in await store.pipelines.list(kind="events", connection_id=found.id)
        if p.destination_connection_id == found.id and (pipeline is None or p.name == pipeline)
    ]
    if not chosen:
        which = f"no event pipeline {pipeline!r}" if pipeline else "no event pipeline"
        raise ConfigError(
            f"connection {found.name!r} has {which}; `syncline events stats` lists them"
        )
    message = _complete(dict(message))
    received = ReceivedEvent.from_message(orjson.loads(orjson.dumps(message)))
    results: list[PreviewResult] = []
    async with await open_connector(store, found.name, role="destination") as connector:
        compiled = await compiled_pipelines(store, connector, chosen)
        for p in chosen:
            event_pipeline = compiled[p.id]
            step, values, error = event_pipeline.route(message)
            if step == "filtered":
                results.append(PreviewResult(p.name, None, "the pipeline's filter drops the event"))
                continue
            if error is not None:
                results.append(PreviewResult(p.name, None, f"dead letter: {error}"))
                continue
            info = event_pipeline.type_info(event_pipeline.values(values))
            events = Events([Event(str(p.id), received, info)])
            request = await connector.instance.preview_send_events(events)
            outcome = events.close()
            if request is None:
                reason = str(outcome.discarded[0][1]) if outcome.discarded else "no request needed"
                results.append(PreviewResult(p.name, None, f"discarded: {reason}"))
            else:
                results.append(PreviewResult(p.name, request, "request"))
    return results


async def replay_dead_letters(
    store: Store,
    *,
    connection: str | None = None,
    pipeline: str | None = None,
    since: datetime | None = None,
    ids: Iterable[int] | None = None,
) -> tuple[int, int]:
    """Move matching dead letters back to pending; return (replayed, dead again).

    Each event goes through its pipeline's current mapping and validation
    again (the filter is not applied: the event was chosen), and is queued as
    a new delivery, after every event of its user already pending — so a
    replayed event may reach the app after later events of the same user that
    were delivered while it was dead. One that still fails is dead again at
    once, with the new error. A running delivery process picks replayed
    events up within its poll interval.
    """
    deliveries = Deliveries(store.database, lambda: datetime.now(UTC))
    connection_id = (await find_connection(store, connection)).id if connection else None
    pipeline_id = (await store.pipelines.get(pipeline)).id if pipeline else None
    dead = await deliveries.dead(
        connection_id=connection_id, pipeline_id=pipeline_id, since=since, ids=ids
    )
    if not dead:
        return 0, 0
    by_connection: dict[int, list[Any]] = {}
    for letter in dead:
        by_connection.setdefault(letter.connection_id, []).append(letter)
    replaced: list[tuple[int, NewDelivery]] = []
    for cid, letters in by_connection.items():
        found = await store.connections.get_by_id(cid)
        pipelines = [await store.pipelines.get_by_id(i) for i in {d.pipeline_id for d in letters}]
        try:
            connector: OpenConnector | None = await open_connector(
                store, found.name, role="destination"
            )
            why = ""
        except Exception as error:
            connector, why = None, f"connection {found.name!r} cannot be opened: {error}"
        try:
            compiled = await compiled_pipelines(store, connector, pipelines, why)
        finally:
            if connector is not None:
                await connector.aclose()
        for letter in letters:
            message = orjson.loads(letter.payload)
            _, values, problem = compiled[letter.pipeline_id].route(message, apply_filter=False)
            received = ReceivedEvent.from_message(message)
            replaced.append(
                (
                    letter.id,
                    NewDelivery(
                        pipeline_id=letter.pipeline_id,
                        connection_id=cid,
                        event_id=letter.event_id,
                        message_id=letter.message_id,
                        user_key=user_key(received.anonymous_id, received.user_id),
                        values=values,
                        payload=letter.payload,
                        received_at=letter.received_at,
                        error=problem,
                    ),
                )
            )
    replayed = await deliveries.replay(replaced)
    return replayed, sum(1 for _, row in replaced if row.error)
