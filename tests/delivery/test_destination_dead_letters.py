"""Each event destination, through the real delivery engine, with invalid events in the batch.

For Klaviyo, Mixpanel, Google Analytics 4 and the Webhook, a batch of events of
a few users — some valid, some invalid for that destination — is appended to
the event log and delivered by :class:`DeliveryService` to the connector's
sandbox on 127.0.0.1. Then:

* every valid event is in what the sandbox kept, exactly once, and each
  user's valid events are there in the order they were appended;
* the dead letters (what ``syncline events dead`` lists) are exactly the
  invalid events, each with a message naming the field or parameter at
  fault, and with no value of the event in it;
* the pipeline counters agree (``delivered``, ``dead``).

Invalid events are caught at three places, covered wherever the destination
has them: the pipeline's validation of the mapped values (routing), the
connector's checks before sending (``events.discard``), and the app's own
per-item errors after sending (``EventsError``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from delivery_world import World, make_world

import syncline.connectors.google_analytics
import syncline.connectors.klaviyo
import syncline.connectors.mixpanel
import syncline.connectors.webhook  # noqa: F401 - the four connectors register on import
from syncline.connectors.google_analytics.sandbox import GoogleAnalyticsSandbox
from syncline.connectors.klaviyo.sandbox import KlaviyoSandbox
from syncline.connectors.mixpanel._encoding import insert_id
from syncline.connectors.mixpanel.sandbox import MixpanelSandbox
from syncline.connectors.webhook.sandbox import WebhookSandbox
from syncline.engine.delivery import DeliverySettings
from syncline.sdk.testing.sandbox import Sandbox
from syncline.store.deliveries import DeadLetter, Deliveries

# Fast retries: Klaviyo answers a bulk request with an invalid item by
# refusing all of it, so its valid events go again in a later request.
SETTINGS = DeliverySettings(
    batch_size=50,
    max_delay=0.005,
    max_in_flight=2,
    max_attempts=8,
    retry_window=60.0,
    backoff_base=0.002,
    backoff_cap=0.02,
    poll=0.02,
)
NOW = "2026-03-01T12:00:00.000Z"


@dataclass
class Batch:
    """Messages in append order, and what each invalid one's dead letter must say."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    invalid: dict[str, list[str]] = field(default_factory=dict)
    """messageId → fragments its dead letter's error must contain (the field at fault)."""
    secrets: dict[str, str] = field(default_factory=dict)
    """messageId → a value of the event that its error must not quote."""
    event: str = "Song Played"
    """The event name of a message that does not set one."""
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def add(
        self,
        user: str,
        *,
        invalid: list[str] | None = None,
        secret: str | None = None,
        **fields: Any,
    ) -> str:
        message_id = f"{user}-m{next(self._ids):03d}"
        message: dict[str, Any] = {
            "type": "track",
            "event": self.event,
            "messageId": message_id,
            "anonymousId": user,
            "receivedAt": NOW,
            "timestamp": NOW,
            "properties": {"mid": message_id},
        }
        message.update(fields)
        self.messages.append(message)
        if invalid is not None:
            self.invalid[message_id] = invalid
        if secret is not None:
            self.secrets[message_id] = secret
        return message_id

    def valid_by_user(self, user_of: Callable[[dict[str, Any]], str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for message in self.messages:
            if message["messageId"] not in self.invalid:
                out.setdefault(user_of(message), []).append(message["messageId"])
        return out


def by_anonymous_id(message: dict[str, Any]) -> str:
    return str(message.get("anonymousId") or message.get("userId"))


async def deliver(
    tmp_path: Path,
    sandbox: Sandbox,
    connector: str,
    pipelines: dict[str, dict[str, Any]],
    batch: Batch,
    settings: dict[str, Any] | None = None,
) -> tuple[World, dict[str, int]]:
    """Append ``batch``, deliver it to ``sandbox`` until idle; the world and pipeline ids."""
    world = await make_world(tmp_path)
    await world.store.connections.save(
        "dest",
        connector=connector,
        roles=["destination"],
        settings={**sandbox.settings(), **(settings or {})},
    )
    ids = {name: await world.pipeline(name, "dest", **config) for name, config in pipelines.items()}
    await world.append(batch.messages)
    async with world.service(SETTINGS) as service:
        assert await service.wait_idle(60), "delivery did not finish within 60 s"
    return world, ids


async def check_dead_letters(world: World, batch: Batch, pipelines: dict[str, int]) -> None:
    """The dead letters are exactly ``batch.invalid``, naming their fields; counters agree."""
    deliveries = Deliveries(world.store.database, lambda: None)  # type: ignore[arg-type,return-value]
    letters: list[DeadLetter] = await deliveries.dead()
    found = {letter.message_id: letter for letter in letters}
    assert len(found) == len(letters), "an event was dead-lettered twice"
    assert sorted(found) == sorted(batch.invalid), (
        "dead letters differ from the invalid events: "
        f"{ {k: v.error for k, v in found.items() if k not in batch.invalid} } dead but valid; "
        f"{sorted(set(batch.invalid) - set(found))} invalid but not dead"
    )
    for message_id, fragments in batch.invalid.items():
        error = found[message_id].error or ""
        for fragment in fragments:
            assert fragment in error, f"{message_id}: {error!r} does not name {fragment!r}"
        secret = batch.secrets.get(message_id)
        if secret is not None:
            assert secret not in error, f"{message_id}: the error quotes the event's value"
    counters = await deliveries.counters()
    assert sum(counters[p].get("dead", 0) for p in pipelines.values()) == len(batch.invalid)
    assert sum(counters[p].get("delivered", 0) for p in pipelines.values()) == len(
        batch.messages
    ) - len(batch.invalid)


def check_received(batch: Batch, received: list[tuple[str, str]]) -> None:
    """``received`` (user, messageId) in arrival order: each valid event once, in user order."""
    ids = [message_id for _, message_id in received]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"received more than once: {duplicates}"
    per_user: dict[str, list[str]] = {}
    for user, message_id in received:
        per_user.setdefault(user, []).append(message_id)
    assert per_user == batch.valid_by_user(by_anonymous_id)


# -- Klaviyo ------------------------------------------------------------------------------


async def test_klaviyo_delivers_valid_events_and_dead_letters_the_invalid(tmp_path: Path) -> None:
    batch = Batch()
    long_email = "x" * 300 + "@example.com"
    for u in range(6):
        user = f"kl-{u}"
        traits = {"traits": {"email": f"{user}@example.com"}}
        batch.add(user, userId=f"ext-{u}", context=traits)
        if u == 0:
            # Before sending, by the pipeline: the mapped email breaks max_length,
            # and a revenue that is not a number cannot become the value.
            batch.add(
                user,
                userId=f"ext-{u}",
                context={"traits": {"email": long_email}},
                invalid=['property "email"', "max_length"],
                secret=long_email,
            )
            batch.add(
                user,
                userId=f"ext-{u}",
                context=traits,
                properties={"revenue": "lots"},
                invalid=['property "value"'],
                secret="lots",
            )
        if u == 1:
            # Before sending, by the connector: no metric name, no profile
            # identifier, an email or a phone number Klaviyo would refuse the
            # whole request for.
            batch.add(user, userId=f"ext-{u}", context=traits, event=None, invalid=["(event)"])
            batch.add(user, invalid=["email, external_id and phone_number"])
            batch.add(
                user,
                userId=f"ext-{u}",
                context={"traits": {"email": "not-an-address"}},
                invalid=["(email) is not an email address"],
                secret="not-an-address",
            )
            batch.add(
                user,
                userId=f"ext-{u}",
                context={"traits": {**traits["traits"], "phone": "555-0100"}},
                invalid=["(phone_number)", "E.164"],
                secret="555-0100",
            )
        if u == 2:
            # By Klaviyo (a 400 pointing at the item): an email whose domain
            # ends in no real top-level domain.
            batch.add(
                user,
                userId=f"ext-{u}",
                context={"traits": {"email": "kl-2@example.c0m"}},
                invalid=["Klaviyo refused the event's email"],
                secret="kl-2@example.c0m",
            )
        if u == 3:
            # Before sending, by the connector: a time Klaviyo refuses.
            batch.add(
                user,
                userId=f"ext-{u}",
                context=traits,
                timestamp="1999-12-31T23:00:00.000Z",
                invalid=["(timestamp) is before 2000"],
            )
        batch.add(user, userId=f"ext-{u}", context=traits)
        batch.add(user, userId=f"ext-{u}", context=traits)
    # Klaviyo answers the bulk request with the bad item by refusing all of it:
    # the valid events of that request must arrive once, in a later request.
    batch.add(
        "kl-2",
        userId="ext-2",
        context={"traits": {"email": "kl-2@example.x"}},
        invalid=["Klaviyo refused the event's email"],
    )
    batch.add("kl-2", userId="ext-2", context={"traits": {"email": "kl-2@example.com"}})

    sandbox = KlaviyoSandbox()
    async with sandbox:
        pipelines = {"to-klaviyo": {"mapping": {"phone_number": "context.traits.phone"}}}
        world, ids = await deliver(tmp_path, sandbox, "klaviyo", pipelines, batch)
        try:
            received: list[tuple[str, str]] = []
            for request in sandbox.received("/api/event-bulk-create-jobs/"):
                if request.status != 202:
                    continue
                for item in request.json()["data"]["attributes"]["events-bulk-create"]["data"]:
                    profile = item["attributes"]["profile"]["data"]["attributes"]
                    event = item["attributes"]["events"]["data"][0]["attributes"]
                    assert event["unique_id"] == f"{ids['to-klaviyo']}/{event['properties']['mid']}"
                    user = "kl-" + profile["external_id"].removeprefix("ext-")
                    received.append((user, event["properties"]["mid"]))
            check_received(batch, received)
            statuses = [r.status for r in sandbox.received("/api/event-bulk-create-jobs/")]
            assert 400 in statuses, "Klaviyo's own check was not reached"
            await check_dead_letters(world, batch, ids)
        finally:
            await world.close()


# -- Mixpanel -----------------------------------------------------------------------------


async def test_mixpanel_delivers_valid_events_and_dead_letters_the_invalid(tmp_path: Path) -> None:
    batch = Batch()
    for u in range(5):
        user = f"mp-{u}"
        batch.add(user)
        if u == 0:
            # Before sending, by the connector: no event name.
            batch.add(user, event=None, invalid=["(event)"])
        if u == 1:
            # By Mixpanel (strict=1, failed_records): a placeholder distinct_id.
            batch.add(user, userId="null", invalid=["(properties.distinct_id)"])
        if u == 2:
            # By Mixpanel: a time before 1971, and one more than an hour ahead.
            batch.add(user, timestamp="1969-07-20T20:17:00.000Z", invalid=["(properties.time)"])
            batch.add(user, timestamp="2099-01-01T00:00:00.000Z", invalid=["(properties.time)"])
        batch.add(user)
        batch.add(user)

    sandbox = MixpanelSandbox()
    async with sandbox:
        world, ids = await deliver(tmp_path, sandbox, "mixpanel", {"to-mixpanel": {}}, batch)
        try:
            # imports: the events Mixpanel kept of each request, in arrival order.
            received = [
                (e["properties"]["$device_id"], e["properties"]["mid"])
                for kept in sandbox.imports
                for e in kept
            ]
            check_received(batch, received)
            assert {insert_id(m) for _, m in received} == set(sandbox.events)
            assert any(r.status == 400 for r in sandbox.received("/import"))
            await check_dead_letters(world, batch, ids)
        finally:
            await world.close()


# -- Google Analytics 4 --------------------------------------------------------------------


async def test_ga4_delivers_valid_events_and_dead_letters_the_invalid(tmp_path: Path) -> None:
    # GA4 event names are letters, digits and '_': the custom type sends
    # Segment's event name as it is, so a name with a space is refused.
    batch = Batch(event="song_played")
    order = {
        "currency": "EUR",
        "revenue": 12.5,
        "products": [{"item_id": "p-1", "price": 12.5, "quantity": 1}],
    }
    for u in range(5):
        user = f"ga-{u}"
        batch.add(user)
        batch.add(user, event="Order Completed", properties={**order, "order_id": f"o-{u}-1"})
        if u == 0:
            # Before sending, by the pipeline: a purchase without its required
            # transaction_id (order_id) or currency.
            batch.add(
                user,
                event="Order Completed",
                properties={**order},
                invalid=["event type 'purchase': property \"transaction_id\""],
            )
            no_currency = {k: v for k, v in order.items() if k != "currency"}
            batch.add(
                user,
                event="Order Completed",
                properties={**no_currency, "order_id": f"o-{u}-x"},
                invalid=['property "currency"'],
            )
        if u == 1:
            # Before sending, by the connector (GA4 would answer 2xx and drop them):
            # an event name GA4 refuses, a parameter value over 100 characters,
            # a reserved event name, a boolean parameter.
            batch.add(user, event="Song.Played", invalid=["(event)"])
            batch.add(user, event="song-played!", invalid=["(event)"])
            long_value = "v" * 101
            batch.add(
                user,
                properties={"mid": "x", "comment": long_value},
                invalid=["properties.comment", "longer than 100"],
                secret=long_value,
            )
            batch.add(user, event="session_start", invalid=["(event)", "reserved"])
            batch.add(user, properties={"mid": "y", "liked": True}, invalid=["properties.liked"])
        if u == 2:
            # No anonymousId: GA4's client_id comes from it.
            batch.add("u-9", anonymousId=None, userId="u-9", invalid=["anonymousId"])
        batch.add(user)

    pipelines: dict[str, dict[str, Any]] = {
        "purchases": {
            "event_type": "purchase",
            "mapping": {"items": "properties.products", "transaction_id": "properties.order_id"},
        },
        "custom": {
            "event_type": "custom",
            "filter": "type = 'track' and event != 'Order Completed'",
        },
    }
    sandbox = GoogleAnalyticsSandbox()
    async with sandbox:
        world, ids = await deliver(tmp_path, sandbox, "google-analytics", pipelines, batch)
        try:
            received = []
            for event in sandbox.collected:
                params = event["params"]
                mid = params.get("mid")
                if event["name"] == "purchase":
                    mid = next(
                        m["messageId"]
                        for m in batch.messages
                        if m["properties"].get("order_id") == params["transaction_id"]
                    )
                received.append((event["client_id"], mid))
            check_received(batch, received)
            # Nothing the connector sent was dropped by GA4's rules: its checks
            # before sending are GA4's.
            sent = sum(len(r.json()["events"]) for r in sandbox.received("/mp/collect"))
            assert sent == len(sandbox.collected)
            await check_dead_letters(world, batch, ids)
        finally:
            await world.close()


# -- Webhook ------------------------------------------------------------------------------


async def test_webhook_delivers_valid_events_and_dead_letters_the_invalid(tmp_path: Path) -> None:
    batch = Batch()
    for u in range(5):
        user = f"wh-{u}"
        batch.add(user, context={"traits": {"email": f"{user}@example.com"}})
        if u in (0, 3):
            # By the receiver (a 207 naming the field): an email that is not one.
            batch.add(
                user,
                context={"traits": {"email": f"{user}-at-example"}},
                invalid=["because of property 'message.context.traits.email'", "code 'invalid'"],
                secret=f"{user}-at-example",
            )
        if u == 1:
            # Before sending, by the connector: an event larger than max_body_bytes.
            batch.add(
                user,
                properties={"mid": "big", "blob": "b" * 3000},
                invalid=["max_body_bytes"],
            )
        batch.add(user)
        batch.add(user)

    sandbox = WebhookSandbox()
    async with sandbox:
        world, ids = await deliver(
            tmp_path,
            sandbox,
            "webhook",
            {"to-webhook": {"event_type": "event"}},
            batch,
            settings={"max_body_bytes": 2048, "max_events": 4},
        )
        try:
            received = [(e["message"]["anonymousId"], e["id"]) for e in sandbox.events]
            check_received(batch, received)
            assert any(r.status == 207 for r in sandbox.received())
            assert sandbox.refused_signatures == 0
            await check_dead_letters(world, batch, ids)
        finally:
            await world.close()
