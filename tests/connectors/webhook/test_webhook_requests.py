"""Request bodies (snapshots), signatures, per-item errors and the address policy of the webhook."""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from syncline.connectors.webhook import SPEC, Webhook, WebhookSettings, sign, verify
from syncline.connectors.webhook._address import blocked_network
from syncline.connectors.webhook.connector import _sent_field
from syncline.connectors.webhook.sandbox import PATH, SECRET, WebhookSandbox
from syncline.http import Client
from syncline.sdk.env import Env
from syncline.sdk.errors import AuthError, ConfigError, EventsError, RecordsError
from syncline.sdk.testing import MemorySettings, events_from, records_from, report_of
from syncline.types import Role

SNAPSHOTS = Path(__file__).parent / "snapshots"
# Set to rewrite the snapshot files from the current output (then review the diff).
UPDATE = os.environ.get("SYNCLINE_UPDATE_SNAPSHOTS") == "1"


@asynccontextmanager
async def connected(sandbox: WebhookSandbox, **changes: Any) -> AsyncIterator[Webhook]:
    settings = MemorySettings(WebhookSettings(**{**sandbox.settings(), **changes}))
    async with Client(SPEC, settings) as http:
        yield Webhook(Env(settings=settings, http=http))


def seeded_messages() -> list[dict[str, Any]]:
    rng = random.Random(11)
    plans = ["free", "pro", "team"]
    messages: list[dict[str, Any]] = []
    for i in range(5):
        messages.append(
            {
                "type": "track",
                "event": rng.choice(["Signed Up", "Order Completed", "Logged In"]),
                "userId": f"user-{rng.randrange(1000)}",
                "messageId": f"msg-{i:03d}",
                "timestamp": f"2026-03-0{i + 1}T12:00:00.000Z",
                "properties": {"plan": rng.choice(plans), "amount": rng.randrange(100) / 4},
            }
        )
    return messages


def seeded_users() -> list[Any]:
    rng = random.Random(12)
    return [
        {"email": f"new{rng.randrange(1000)}@example.com", "first_name": "Ada", "last_name": None},
        ("u-3", {"first_name": "Grace", "traits": {"score": rng.randrange(100), "tags": ["a"]}}),
        ("u-4", {"email": f"u{rng.randrange(1000)}@example.com"}),
    ]


def check_snapshot(name: str, body: bytes) -> None:
    path = SNAPSHOTS / name
    if UPDATE:
        path.write_text(json.dumps(orjson.loads(body), indent=2) + "\n")
    expected = json.loads(path.read_text())
    assert orjson.loads(body) == expected
    # Exactly those bytes: compact JSON, keys in the stored order.
    assert body == orjson.dumps(expected)


def check_signature(request: Any) -> None:
    timestamp = request.header("X-Syncline-Timestamp")
    assert timestamp is not None and abs(int(timestamp) - time.time()) < 600
    assert request.header("X-Syncline-Signature") == sign(SECRET, int(timestamp), request.body)


async def test_event_bodies_match_snapshot() -> None:
    async with WebhookSandbox(records=5, limits=False) as sandbox:
        async with connected(sandbox) as webhook:
            events = events_from(
                seeded_messages(), type_id="event", values=lambda r: {"user": r.user_id}
            )
            report = await report_of(webhook.send_events(events), events)
        assert len(report.succeeded) == 5 and not report.failed
        (request,) = sandbox.received(PATH)
        assert request.header("content-type") == "application/json"
        check_signature(request)
        check_snapshot("events.json", request.body)


async def test_user_bodies_match_snapshot() -> None:
    async with WebhookSandbox(records=5, limits=False) as sandbox:
        async with connected(sandbox) as webhook:
            schema = await webhook.record_schema("users", Role.DESTINATION)
            records = records_from(seeded_users())
            report = await report_of(webhook.upsert("users", records, schema), records)
        assert len(report.succeeded) == 3 and not report.failed
        (request,) = sandbox.received(PATH)
        check_signature(request)
        check_snapshot("users.json", request.body)
        assert sandbox.collections["users"].get("u-3")["attributes"]["first_name"] == "Grace"


def test_signature_round_trip() -> None:
    body = b'{"events":[{"id":"m1"}]}'
    now = 1_760_000_000
    signature = sign("s3cret", now, body)
    assert signature.startswith("v1=") and len(signature) == 3 + 64
    assert verify("s3cret", str(now), signature, body, now=now + 10)
    assert not verify("s3cret", str(now), signature, body + b" ", now=now)  # tampered body
    assert not verify("other", str(now), signature, body, now=now)  # wrong secret
    assert not verify("s3cret", str(now), signature, body, now=now + 301)  # a replay
    assert not verify("s3cret", str(now + 1), signature, body, now=now)  # moved timestamp
    assert not verify("s3cret", None, signature, body, now=now)


async def test_receiver_refuses_a_wrong_secret() -> None:
    async with WebhookSandbox(records=1, limits=False) as sandbox:
        async with connected(sandbox, signing_secret="not-the-secret") as webhook:
            events = events_from(seeded_messages()[:1], type_id="event")
            report = await report_of(webhook.send_events(events), events)
        assert isinstance(report.error, AuthError)
        assert sandbox.refused_signatures == 1 and sandbox.events == []


async def test_events_are_batched_by_max_events_and_preview_redacts() -> None:
    async with WebhookSandbox(records=1, limits=False) as sandbox:
        async with connected(sandbox, max_events=2) as webhook:
            preview = await webhook.preview_send_events(
                events_from(seeded_messages(), type_id="event")
            )
            assert preview is not None
            assert preview.headers["X-Syncline-Signature"] == "[REDACTED]"
            assert len(orjson.loads(preview.content)["events"]) == 2
            events = events_from(seeded_messages(), type_id="event")
            report = await report_of(webhook.send_events(events), events)
        assert len(report.succeeded) == 2 and len(report.remaining) == 3
        assert [e["id"] for e in sandbox.events] == ["msg-000", "msg-001"]


async def test_rejected_users_never_echo_the_receivers_text() -> None:
    async with WebhookSandbox(records=3, limits=False) as sandbox:
        sandbox.reject_user_indexes = {2}
        async with connected(sandbox) as webhook:
            schema = await webhook.record_schema("users", Role.DESTINATION)
            records = records_from(
                [{"email": "ok@example.com"}, {"email": "bad-address"}, ("u-1", {"last_name": "X"})]
            )
            with pytest.raises(RecordsError) as raised:
                await webhook.upsert("users", records, schema)
        errors = {i: str(e) for i, e in raised.value.errors.items()}
        assert errors == {
            1: "the receiver rejected the record because of property 'email' (code 'invalid')",
            2: "the receiver rejected the record (code 'rejected')",
        }


async def test_rejected_events_name_only_fields_that_were_sent() -> None:
    async with WebhookSandbox(records=1, limits=False) as sandbox:
        sandbox.reject_event_ids = {"msg-002"}
        messages = seeded_messages()[:4]
        messages[1]["context"] = {"traits": {"email": "ada-at-example"}}
        async with connected(sandbox) as webhook:
            events = events_from(messages, type_id="event")
            with pytest.raises(EventsError) as raised:
                await webhook.send_events(events)
        errors = {i: str(e) for i, e in raised.value.errors.items()}
        assert errors == {
            1: "the receiver rejected the event because of property "
            "'message.context.traits.email' (code 'invalid')",
            2: "the receiver rejected the event (code 'rejected')",
        }
        assert [e["id"] for e in sandbox.events] == ["msg-000", "msg-003"]


def test_a_rejection_names_a_field_only_as_a_path_of_the_sent_event() -> None:
    sent = {"message": {"context": {"traits": {"email": "x"}}, "properties": {"a b": 1}}}
    answer = httpx.Response(
        207,
        json={
            "errors": [
                {"index": 0, "field": "message.context.traits.email"},
                {"index": 1, "field": "message.context.traits.phone"},  # not sent
                {"index": 2, "field": "message.properties.a b"},  # not a plain key path
                {"index": 3, "field": "ada@example.com is wrong"},  # the receiver's text
            ]
        },
    )
    errors = Webhook._errors(answer, 4, "event", lambda _, field: _sent_field(sent, field))
    texts = [str(errors[i]) for i in range(4)]
    assert texts[0].endswith("because of property 'message.context.traits.email'")
    assert texts[1:] == ["the receiver rejected the event"] * 3


@pytest.mark.parametrize(
    ("address", "blocked"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("172.31.255.255", True),
        ("172.32.0.1", False),
        ("192.168.0.10", True),
        ("169.254.169.254", True),
        ("0.0.0.0", True),
        ("::1", True),
        ("fd00::5", True),
        ("fe80::1%eth0", True),
        ("::ffff:10.0.0.1", True),
        ("93.184.216.34", False),
        ("2606:4700::1111", False),
    ],
)
def test_blocked_networks(address: str, blocked: bool) -> None:
    assert (blocked_network(address) is not None) is blocked


async def test_private_addresses_are_refused_unless_allowed() -> None:
    async with WebhookSandbox(records=1, limits=False) as sandbox:
        https_local = sandbox.url.replace("http://", "https://") + PATH
        cases = {
            sandbox.url + PATH: "use an https:// URL",
            https_local: "private, loopback or link-local",
            f"https://localhost:{sandbox.url.rsplit(':', 1)[1]}{PATH}": "private, loopback",
        }
        for url, said in cases.items():
            async with connected(sandbox, url=url, allow_private_addresses=False) as webhook:
                (problem,) = await webhook.check()
                assert problem.field == "url" and said in problem.message
                assert "allow_private_addresses" in problem.message
                events = events_from(seeded_messages()[:1], type_id="event")
                report = await report_of(webhook.send_events(events), events)
                assert isinstance(report.error, ConfigError) and report.error.field == "url"
        assert sandbox.received() == []
        async with connected(sandbox) as webhook:  # allowed: the same receiver works
            assert await webhook.check() == []


async def test_check_is_static_for_public_addresses() -> None:
    async with WebhookSandbox(records=1, limits=False) as sandbox:
        for url, problem in {
            "https://93.184.216.34/hook": None,
            "ftp://example.com/": "must start with https://",
            "https:///nohost": "no host",
        }.items():
            async with connected(sandbox, url=url, allow_private_addresses=False) as webhook:
                found = await webhook.check()
                if problem is None:
                    assert found == []
                else:
                    assert len(found) == 1 and problem in found[0].message
        assert sandbox.received() == []
