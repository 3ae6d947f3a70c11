"""Property: whatever the destination answers, every event ends exactly once, in user order.

Hypothesis draws events of a few users and a script of answers for the
destination's requests: 2xx, 429 with Retry-After, 5xx, per-event rejections
(retry or reject, through ``EventsError``), resets and hangs (client
timeouts). The real delivery service runs against a real local HTTP server
with backoff scaled down to milliseconds. Then:

* every event is delivered (accepted by the app) or dead-lettered, never
  both, and nothing stays pending;
* no request carries two events of one user;
* per user, once an event has been sent, no earlier event of that user is
  ever sent again: a later event is sent only after the earlier ones are done.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from delivery_world import FAST, accepted, carried, make_world, message, scripted
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncline.sdk.testing.server import HANG, RESET, Reply

ANSWERS = st.one_of(
    st.just(200),
    st.just(500),
    st.just(503),
    st.just(Reply(429, json={"error": "slow down"}, retry_after=0.01, retry_after_form="decimal")),
    st.just(RESET),
    st.just(HANG),
    st.tuples(
        st.just("reject"),
        st.dictionaries(
            st.integers(0, 5), st.sampled_from(["retry", "reject"]), min_size=1, max_size=3
        ),
    ),
)


async def scenario(users: list[int], answers: list[object]) -> None:
    world = await make_world(Path(tempfile.mkdtemp(prefix="delivery-prop-")))
    try:
        server = await world.destination("app")
        handle, rejections = scripted(answers)
        server.route("POST", "/events", handle)
        await world.pipeline("web-to-app", "app", event_type="any")
        messages = [message(f"user{u}", i) for i, u in enumerate(users)]
        await world.append(messages)
        async with world.service() as service:
            assert await service.wait_idle(30), "delivery did not finish"
        order = {m["messageId"]: i for i, m in enumerate(messages)}
        delivered: set[str] = set()
        last_sent: dict[str, int] = {}
        for request in server.requests("/events"):
            events = carried(request)
            per_user = [user for user, _ in events]
            assert len(per_user) == len(set(per_user)), "two events of one user in one request"
            for user, mid in events:
                assert order[mid] >= last_sent.get(user, -1), (
                    f"{mid} sent after a later event of {user}"
                )
                last_sent[user] = order[mid]
            delivered.update(accepted(request, rejections))
        dead = {d.message_id for d in await service.deliveries.dead()}
        assert not (delivered & dead), "an event was delivered and dead-lettered"
        assert delivered | dead == set(order), "an event neither delivered nor dead"
        backlog = await service.deliveries.backlog()
        assert sum(b["pending"] for b in backlog.values()) == 0
        counters = next(iter((await service.deliveries.counters()).values()))
        assert counters.get("delivered", 0) >= len(delivered)
        assert counters.get("dead", 0) == len(dead)
    finally:
        await world.close()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    users=st.lists(st.integers(0, 3), min_size=1, max_size=25),
    answers=st.lists(ANSWERS, max_size=12),
)
def test_every_event_ends_once_and_user_order_holds(
    users: list[int], answers: list[object]
) -> None:
    assert FAST.max_attempts == 4  # some events exhaust their retries and die
    asyncio.run(scenario(users, answers))
