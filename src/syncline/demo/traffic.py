"""The demo's burst of events, and sending it with a real Segment client library.

:func:`plan_burst` builds a repeatable list of calls a small web shop makes
(identify, page, and ``Product Viewed`` / ``Product Added`` / ``Order
Completed`` / ``Signed Up`` tracks) for ``events // 5`` visitors; each visitor
has an anonymous ID, as a browser library gives it, and most are signed in.
A few calls carry a **deliberate flaw** (:data:`FLAWS`), each of which one
event pipeline must dead-letter while the others deliver the event:

* ``no-currency`` — an ``Order Completed`` without ``currency``: the GA4
  ``purchase`` event type requires it, so the pipeline's validation refuses it;
* ``anonymous`` — a ``Product Viewed`` of a visitor who never signed in and
  gave no email: the Klaviyo connector discards it (no profile to attach it to);
* ``placeholder-user`` — a ``Product Viewed`` whose ``userId`` is the text
  ``"null"`` (a template bug): Mixpanel itself rejects it.

:func:`send_burst` sends the calls with ``segment.analytics`` (the
``segment-analytics-python`` package, the ``demo`` extra) to a collector URL
and returns once the client's queue is flushed. It blocks: run it in a thread.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FLAWS", "Burst", "Call", "SendReport", "plan_burst", "send_burst"]

FLAWS: Mapping[str, str] = {
    "no-currency": "purchases-to-ga4",
    "anonymous": "events-to-klaviyo",
    "placeholder-user": "events-to-mixpanel",
}
"""Each deliberate flaw and the event pipeline that must dead-letter it."""

_PRODUCTS = (
    ("sku-100", "Trail Shoe", 89.0),
    ("sku-101", "Rain Jacket", 129.0),
    ("sku-102", "Wool Socks", 14.5),
    ("sku-103", "Day Pack", 59.0),
    ("sku-104", "Water Bottle", 19.0),
)
# Share of ordinary calls per kind; flawed calls come on top (see plan_burst).
_MIX = (
    ("identify", 0.10),
    ("page", 0.30),
    ("Product Viewed", 0.28),
    ("Product Added", 0.20),
    ("Order Completed", 0.08),
    ("Signed Up", 0.04),
)


@dataclass(frozen=True, slots=True)
class Call:
    """One call on the Segment client: ``kind`` is identify, page or track."""

    kind: str
    message_id: str
    anonymous_id: str
    user_id: str | None = None
    event: str | None = None
    name: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    flaw: str | None = None


@dataclass(frozen=True, slots=True)
class Burst:
    """The planned calls, in sending order, and the message IDs of the flawed ones."""

    calls: list[Call]

    def flawed(self) -> dict[str, set[str]]:
        """``{pipeline name: message IDs it must dead-letter}`` for every flaw planned."""
        out: dict[str, set[str]] = {pipeline: set() for pipeline in FLAWS.values()}
        for call in self.calls:
            if call.flaw is not None:
                out[FLAWS[call.flaw]].add(call.message_id)
        return out


@dataclass(frozen=True, slots=True)
class SendReport:
    """What the client library did: calls it queued, and errors it reported.

    ``errors`` holds the client's ``on_error`` reports as ``"<ExceptionType>:
    <count> events"`` (never event contents); ``seconds`` is the wall time from
    the first call to the end of the flush.
    """

    queued: int
    refused: int
    errors: list[str]
    seconds: float


def plan_burst(events: int, seed: int) -> Burst:
    """``events`` calls (at least 10), the same for the same ``seed``.

    One call in 300 per flaw (at least one of each) carries it, at random
    places of the burst; the others follow :data:`_MIX`. Visitor ``i`` has the anonymous
    ID ``anon-<i>``; three in four are signed in (``userId`` ``user-<i>`` and
    an email in ``context.traits``), the others only view pages.
    """
    if events < 10:
        raise ValueError(f"events={events}: the demo needs at least 10 events")
    rng = random.Random(seed)
    visitors = max(2, events // 5)
    per_flaw = max(1, events // 300)
    flaw_at = _flaw_positions(events, per_flaw, rng)
    calls: list[Call] = []
    orders = 0
    for i in range(events):
        visitor = i % visitors
        message_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        flaw = flaw_at.get(i)
        if flaw is not None:
            calls.append(_flawed(flaw, message_id, visitor, i))
            continue
        # Visitors who never signed in only browse: the shop tracks actions of
        # known users, so that every destination can name the person.
        kind = _pick(rng) if visitor % 4 != 3 else "page"
        orders += kind == "Order Completed"
        calls.append(_ordinary(kind, message_id, visitor, rng, orders))
    return Burst(calls)


def _ordinary(kind: str, message_id: str, visitor: int, rng: random.Random, orders: int) -> Call:
    """An ordinary call of ``kind`` by ``visitor`` (signed in unless ``visitor % 4 == 3``)."""
    anonymous_id = f"anon-{visitor}"
    signed_in = visitor % 4 != 3
    user_id = f"user-{visitor}" if signed_in else None
    email = f"visitor{visitor}@example.com"
    context: dict[str, Any] = {"traits": {"email": email}} if signed_in else {}
    if kind == "identify":
        traits = {"email": email, "plan": rng.choice(("free", "pro"))}
        return Call("identify", message_id, anonymous_id, user_id, traits=traits)
    if kind == "page":
        path = rng.choice(("/", "/shoes", "/jackets", "/checkout"))
        page = {"url": f"https://shop.example.com{path}", "title": "Shop", "path": path}
        return Call(
            "page",
            message_id,
            anonymous_id,
            user_id,
            name="Shop",
            properties=page,
            context={**context, "page": page},
        )
    properties = _properties(kind, rng, orders)
    return Call(
        "track", message_id, anonymous_id, user_id, kind, properties=properties, context=context
    )


def _flaw_positions(events: int, per_flaw: int, rng: random.Random) -> dict[int, str]:
    """Random distinct positions in the burst, ``per_flaw`` for each flaw, in turn."""
    slots = rng.sample(range(events), per_flaw * len(FLAWS))
    names = list(FLAWS)
    return {slot: names[n % len(names)] for n, slot in enumerate(slots)}


def _pick(rng: random.Random) -> str:
    roll = rng.random()
    for kind, share in _MIX:
        if roll < share:
            return kind
        roll -= share
    return _MIX[-1][0]


def _properties(kind: str, rng: random.Random, orders: int) -> dict[str, Any]:
    sku, name, price = rng.choice(_PRODUCTS)
    if kind == "Signed Up":
        return {"method": rng.choice(("email", "Google", "Apple"))}
    if kind == "Order Completed":
        quantity = rng.randint(1, 3)
        item = {"item_id": sku, "item_name": name, "price": price, "quantity": quantity}
        return {
            "order_id": f"order-{orders}",
            "revenue": round(price * quantity, 2),
            "currency": "EUR",
            "items": [item],
        }
    return {"product_id": sku, "name": name, "price": price}


def _flawed(flaw: str, message_id: str, visitor: int, i: int) -> Call:
    anonymous_id = f"anon-{visitor}"
    email = {"traits": {"email": f"visitor{visitor}@example.com"}}
    if flaw == "no-currency":
        item = {"item_id": "sku-100", "item_name": "Trail Shoe", "price": 89.0, "quantity": 1}
        properties = {"order_id": f"order-x{i}", "revenue": 89.0, "items": [item]}
        return Call(
            "track",
            message_id,
            anonymous_id,
            f"user-{visitor}",
            "Order Completed",
            properties=properties,
            context=email,
            flaw=flaw,
        )
    if flaw == "anonymous":
        # A visitor nobody knows yet: a fresh anonymous ID, no userId, no email.
        return Call(
            "track",
            message_id,
            f"anon-stranger-{i}",
            None,
            "Product Viewed",
            properties={"product_id": "sku-102", "name": "Wool Socks", "price": 14.5},
            flaw=flaw,
        )
    return Call(
        "track",
        message_id,
        anonymous_id,
        "null",
        "Product Viewed",
        properties={"product_id": "sku-103", "name": "Day Pack", "price": 59.0},
        context=email,
        flaw=flaw,
    )


def send_burst(burst: Burst, host: str, write_key: str) -> SendReport:
    """Send every call of ``burst`` to the collector at ``host``; blocks until flushed.

    The client batches as it does in production (up to 100 events per
    request, gzip off) and retries failed requests itself; whatever it still
    could not deliver is reported through ``on_error`` and returned in
    :attr:`SendReport.errors`. Raises ``ModuleNotFoundError`` with the install
    command when ``segment-analytics-python`` is missing.
    """
    try:
        import segment.analytics as segment
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "syncline demo sends events with the Segment client library, which is not "
            "installed; install the demo extra: pip install -e '.[demo]'"
        ) from None
    errors: list[str] = []

    def on_error(error: Exception, batch: list[Any]) -> None:
        errors.append(f"{type(error).__name__}: {len(batch)} events")

    client = segment.Client(
        write_key,
        host=host,
        on_error=on_error,
        max_retries=3,
        # The burst is queued at once; the default queue (10,000) would drop the rest.
        max_queue_size=max(10_000, len(burst.calls) + 1),
    )
    started = time.monotonic()
    queued = refused = 0
    for call in burst.calls:
        ok, _ = _enqueue(client, call)
        queued += bool(ok)
        refused += not ok
    client.flush()
    client.join()
    return SendReport(queued, refused, errors, time.monotonic() - started)


def _enqueue(client: Any, call: Call) -> tuple[bool, Any]:
    common = {
        "anonymous_id": call.anonymous_id,
        "message_id": call.message_id,
        "context": dict(call.context),
    }
    if call.kind == "identify":
        return client.identify(call.user_id, dict(call.traits), **common)  # type: ignore[no-any-return]
    if call.kind == "page":
        return client.page(call.user_id, name=call.name, properties=dict(call.properties), **common)  # type: ignore[no-any-return]
    return client.track(call.user_id, call.event, dict(call.properties), **common)  # type: ignore[no-any-return]
