"""The Klaviyo connector against its sandbox: bodies, paging, errors, limits, auth."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from syncline.connectors.klaviyo import SPEC, Klaviyo, KlaviyoSettings
from syncline.connectors.klaviyo.connector import REVISION
from syncline.connectors.klaviyo.sandbox import API_KEY, KlaviyoSandbox
from syncline.http import Client
from syncline.sdk import Env
from syncline.sdk.errors import RetryableError
from syncline.sdk.testing import MemorySettings, events_from, records_from, report_of
from syncline.types import Role

SNAPSHOT = Path(__file__).parent / "snapshots" / "bulk_events.json"


@pytest.fixture
async def sandbox() -> AsyncIterator[KlaviyoSandbox]:
    async with KlaviyoSandbox(records=5, limits=False) as running:
        yield running


async def connect(settings: dict[str, Any]) -> tuple[Klaviyo, Client]:
    store = MemorySettings(KlaviyoSettings(**settings))
    client = Client(SPEC, store)
    return Klaviyo(Env(settings=store, http=client)), client


def seeded_events() -> list[dict[str, Any]]:
    return [
        {
            "type": "track",
            "event": f"Event {i % 3}",
            "messageId": f"msg-{i:03d}",
            "timestamp": f"2026-03-0{1 + i % 9}T12:00:0{i % 10}.250Z",
            **({"userId": f"u{i}"} if i % 2 == 0 else {}),
            "anonymousId": f"device-{i}",
            "context": {"traits": {"email": f"p{i}@example.com"}} if i % 3 else {},
            "properties": {"n": i, "plan": ["free", "pro"][i % 2], "price": i * 1.5},
        }
        for i in range(8)
    ]


async def test_bulk_events_body_matches_snapshot(sandbox: KlaviyoSandbox) -> None:
    connector, client = await connect(sandbox.settings())
    async with client:
        events = events_from(seeded_events(), type_id="track", pipeline="pl-7")
        report = await report_of(connector.send_events(events), events)
    # msg-003 has neither userId nor an email: discarded, naming the fields.
    assert [e.received.message_id for e, _ in report.discarded] == ["msg-003"]
    assert "email, external_id and phone_number" in str(report.discarded[0][1])
    assert len(report.succeeded) == 7 and report.error is None
    (sent,) = sandbox.received("/api/event-bulk-create-jobs/")
    assert sent.header("revision") == REVISION
    assert sent.header("content-type") == "application/vnd.api+json"
    assert "pl-7/msg-000" in sandbox.events and "pl-7/msg-003" not in sandbox.events
    # Exact: the canonical text, so key sets, values and number kinds all count.
    actual = json.dumps(json.loads(sent.body), indent=2, sort_keys=True) + "\n"
    assert actual == SNAPSHOT.read_text()


async def test_mapped_values_identify_the_profile(sandbox: KlaviyoSandbox) -> None:
    connector, client = await connect(sandbox.settings())
    messages = seeded_events()[:3]
    values = [{"email": None, "external_id": "x-0", "value": 9.5}, {}, {"email": "a@example.com"}]
    by_id = {m["messageId"]: v for m, v in zip(messages, values, strict=True)}
    async with client:
        events = events_from(messages, type_id="track", values=lambda r: dict(by_id[r.message_id]))
        report = await report_of(connector.send_events(events), events)
    assert [str(e) for _, e in report.discarded] == [
        "the event names no Klaviyo profile: email, external_id and phone_number are all "
        "empty; map one of them (e.g. email)"
    ]
    first = sandbox.events["pipeline-1/msg-000"]
    assert first["value"] == 9.5 and first["metric"]["data"]["attributes"]["name"] == "Event 0"


async def test_body_limit_postpones_never_the_first(sandbox: KlaviyoSandbox) -> None:
    connector, client = await connect(sandbox.settings())
    big = [
        {
            "type": "track",
            "event": "E",
            "userId": "u",
            "messageId": f"b{i}",
            "properties": {"blob": "x" * 1_500_000, "i": i},
        }
        for i in range(5)
    ]
    async with client:
        events = events_from(big, type_id="track")
        report = await report_of(connector.send_events(events), events)
        assert len(report.succeeded) == 3 and len(report.postponed) == 1
        many = [
            {"type": "track", "event": "E", "userId": "u", "messageId": f"m{i}"}
            for i in range(1001)
        ]
        events = events_from(many, type_id="track")
        report = await report_of(connector.send_events(events), events)
        assert len(report.succeeded) == 1000
    assert sandbox.jobs == [3, 1000]
    assert all(
        len(r.body) <= 5 * 1024 * 1024 for r in sandbox.received("/api/event-bulk-create-jobs/")
    )


async def test_rejected_event_fails_alone_and_others_are_written(sandbox: KlaviyoSandbox) -> None:
    # Klaviyo writes nothing on a 400: the rejected event fails for good, the
    # others fail as retryable, and the engine's next call (one request per
    # call) writes them.
    messages = seeded_events()[:3]
    messages[1] = {**messages[1], "context": {"traits": {"email": "p1@example.c0m"}}}
    connector, client = await connect(sandbox.settings())
    async with client:
        events = events_from(messages, type_id="track")
        first = await report_of(connector.send_events(events), events)
        assert len(sandbox.received("/api/event-bulk-create-jobs/")) == 1
        permanent = [(e, err) for e, err in first.failed if not isinstance(err, RetryableError)]
        retryable = [e for e, err in first.failed if isinstance(err, RetryableError)]
        assert [str(err) for _, err in permanent] == [
            "Klaviyo refused the event's email (HTTP 400)"
        ]
        assert [e.received.message_id for e in retryable] == ["msg-000", "msg-002"]
        assert not sandbox.events
        again = events_from([e.received.raw() for e in retryable], type_id="track")
        second = await report_of(connector.send_events(again), again)
    assert second.failed == [] and len(second.succeeded) == 2
    assert len(sandbox.received("/api/event-bulk-create-jobs/")) == 2
    assert sorted(sandbox.events) == ["pipeline-1/msg-000", "pipeline-1/msg-002"]


async def test_bad_identifiers_are_discarded_before_sending(sandbox: KlaviyoSandbox) -> None:
    # One bad email would make Klaviyo refuse the whole bulk request; caught
    # here, the other events go in the same request.
    seeded = seeded_events()
    messages = [*seeded[:3], seeded[4]]
    messages[1] = {**messages[1], "context": {"traits": {"email": "ada at example"}}}
    messages[3] = {**messages[3], "timestamp": "1999-12-31T23:59:59Z"}
    values = [None, None, {"phone_number": "555-0100", "external_id": "x"}, None]
    by_id = {m["messageId"]: v for m, v in zip(messages, values, strict=True)}
    connector, client = await connect(sandbox.settings())
    async with client:
        events = events_from(
            messages,
            type_id="track",
            values=lambda r: by_id[r.message_id] and dict(by_id[r.message_id]),
        )
        report = await report_of(connector.send_events(events), events)
    errors = {e.received.message_id: str(err) for e, err in report.discarded}
    assert set(errors) == {"msg-001", "msg-002", "msg-004"}
    assert "(email) is not an email address" in errors["msg-001"]
    assert "ada at example" not in errors["msg-001"]
    assert "(phone_number) is not in E.164 form" in errors["msg-002"]
    assert "(timestamp) is before 2000" in errors["msg-004"]
    assert len(report.succeeded) == 1 and report.failed == []
    assert sorted(sandbox.events) == ["pipeline-1/msg-000"]


async def test_read_pages_incrementally_with_apps_updated(sandbox: KlaviyoSandbox) -> None:
    async with KlaviyoSandbox(records=230, limits=False) as big:
        connector, client = await connect(big.settings())
        schema = await connector.record_schema("users", Role.SOURCE)
        async with client:
            seen: list[str] = []
            cursor = None
            while True:
                page = await connector.records("users", None, cursor, schema)
                seen += [r.id for r in page.records]
                if page.done:
                    break
                cursor = page.cursor
            assert sorted(seen) == sorted(big.ids("users")) and len(seen) == 230
            touched = big.touch("users", 3)
            since = big.updated_at_of("users", touched[0])
            assert since is not None
            page = await connector.records("users", since - timedelta(microseconds=1), None, schema)
            assert {r.id for r in page.records} == set(touched) and page.done
            assert {r.updated_at for r in page.records} == {since}
            with pytest.raises(Exception, match="not a Klaviyo profiles page"):
                await connector.records(
                    "users", None, "https://evil.example/api/profiles/?x", schema
                )
        gets = big.received("/api/profiles/", "GET")
        assert gets[0].params == {"page[size]": "100", "sort": "updated"}
        assert gets[-1].params["filter"].startswith("greater-or-equal(updated,")


async def test_profile_create_update_and_duplicate(sandbox: KlaviyoSandbox) -> None:
    connector, client = await connect(sandbox.settings())
    live = sandbox.ids("users")
    async with client:
        schema = await connector.record_schema("users", Role.DESTINATION)
        records = records_from([(None, {"email": "user1@example.com", "first_name": "Dup"})])
        report = await report_of(connector.upsert("users", records, schema), records)
        (failed,) = report.failed
        assert str(failed[1]).startswith("a Klaviyo profile with the same email")
        assert live[1] in str(failed[1]) and "user1@" not in str(failed[1])
        records = records_from([(None, {"first_name": "Nobody"})])
        report = await report_of(connector.upsert("users", records, schema), records)
        assert "no email, phone_number or external_id" in str(report.failed[0][1])
        assert len(sandbox.received("/api/profiles/", "POST")) == 1  # only the duplicate
        records = records_from([(live[0], {"title": "CTO"}), (live[1], {"title": "CFO"})])
        report = await report_of(connector.upsert("users", records, schema), records)
        assert len(report.succeeded) == 1  # one profile per call
    assert sandbox.collections["users"].get(live[0])["title"] == "CTO"  # type: ignore[index]
    (patch,) = sandbox.received(f"/api/profiles/{live[0]}/", "PATCH")
    assert json.loads(patch.body) == {
        "data": {"type": "profile", "id": live[0], "attributes": {"title": "CTO"}}
    }


async def test_check_revision_and_rate_limit_reply() -> None:
    async with KlaviyoSandbox(records=3) as sandbox:
        connector, client = await connect(sandbox.settings())
        async with client:
            assert await connector.check() == []
        connector, client = await connect(sandbox.bad_settings())
        async with client:
            assert [p.field for p in await connector.check()] == ["api_key"]
        auth = {"Authorization": f"Klaviyo-API-Key {API_KEY}"}
        async with httpx.AsyncClient(base_url=sandbox.url, headers=auth) as http:
            answer = await http.get("/api/profiles/")
            assert answer.status_code == 400
            assert answer.json()["errors"][0]["source"] == {"parameter": "revision"}
            # Sent back to back, far faster than 75 per second on any machine,
            # so some one-second window overflows; stop at the first refusal.
            for _ in range(400):
                answer = await http.get("/api/profiles/", headers={"revision": REVISION})
                if answer.status_code == 429:
                    break
            assert answer.status_code == 429
            assert answer.headers["Retry-After"]
            assert answer.json()["errors"][0]["code"] == "throttled"
