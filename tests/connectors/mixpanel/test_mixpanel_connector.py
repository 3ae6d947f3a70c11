"""The Mixpanel connector against its sandbox: bodies, limits, partial failures, auth."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from syncline.connectors.mixpanel import SPEC, Mixpanel, MixpanelSettings
from syncline.connectors.mixpanel._encoding import insert_id
from syncline.connectors.mixpanel.connector import field_message
from syncline.connectors.mixpanel.sandbox import (
    PROJECT_ID,
    SA_SECRET,
    SA_USER,
    TOKEN,
    MixpanelSandbox,
)
from syncline.http import Client
from syncline.sdk import Env
from syncline.sdk.testing import MemorySettings, events_from, records_from, report_of
from syncline.types import Role

SNAPSHOT = Path(__file__).parent / "snapshots" / "requests.json"


@pytest.fixture
async def sandbox() -> AsyncIterator[MixpanelSandbox]:
    async with MixpanelSandbox(records=5, limits=False) as running:
        yield running


async def connect(settings: dict[str, Any]) -> tuple[Mixpanel, Client]:
    store = MemorySettings(MixpanelSettings(**settings))
    client = Client(SPEC, store)
    return Mixpanel(Env(settings=store, http=client)), client


def seeded_events() -> list[dict[str, Any]]:
    return [
        {
            "type": "track",
            "event": f"Event {i % 3}",
            "messageId": f"msg-{i:03d}",
            "timestamp": f"2026-03-0{1 + i % 9}T12:00:0{i % 10}.250Z",
            **({"userId": f"u{i}"} if i % 2 == 0 else {}),
            **({"anonymousId": f"device-{i}"} if i % 3 != 0 or i % 2 else {}),
            "properties": {"n": i, "plan": ["free", "pro"][i % 2], "price": i * 1.5},
        }
        for i in range(8)
    ]


async def test_request_bodies_match_snapshot(sandbox: MixpanelSandbox) -> None:
    connector, client = await connect(sandbox.settings())
    async with client:
        events = events_from(seeded_events(), type_id="track")
        report = await report_of(connector.send_events(events), events)
        assert len(report.succeeded) == 8 and report.error is None
        records = records_from(
            [(f"user-{i}", {"email": f"p{i}@example.com", "first_name": f"P{i}"}) for i in range(3)]
        )
        schema = await connector.record_schema("users", Role.DESTINATION)
        report = await report_of(connector.upsert("users", records, schema), records)
        assert len(report.succeeded) == 3 and report.error is None
    (imported,) = sandbox.received("/import")
    assert imported.header("content-encoding") == "gzip"
    assert imported.header("content-type") == "application/x-ndjson"
    assert imported.params == {"strict": "1"}
    lines = gzip.decompress(imported.body).decode().splitlines()
    (engaged,) = sandbox.received("/engage")
    actual = {
        "import": [json.loads(line) for line in lines],
        "engage": json.loads(engaged.body),
    }
    # Exact: the canonical text, so key sets, values and number kinds all count.
    assert json.dumps(actual, indent=2, sort_keys=True) + "\n" == SNAPSHOT.read_text()


async def test_invalid_events_fail_alone_naming_the_field(sandbox: MixpanelSandbox) -> None:
    messages = seeded_events()[:5]
    messages[1] = {**messages[1], "userId": "anonymous"}  # a placeholder distinct_id
    messages[3] = {**messages[3], "timestamp": "1970-02-01T00:00:00Z"}  # before 1971
    connector, client = await connect(sandbox.settings())
    async with client:
        events = events_from(messages, type_id="track")
        report = await report_of(connector.send_events(events), events)
    assert [e.received.message_id for e in report.succeeded] == ["msg-000", "msg-002", "msg-004"]
    failed = {e.received.message_id: str(error) for e, error in report.failed}
    assert set(failed) == {"msg-001", "msg-003"}
    assert "properties.distinct_id" in failed["msg-001"]
    assert "properties.time" in failed["msg-003"]
    # Fixed texts per field: no value of the event, so failures aggregate.
    assert failed["msg-001"] == field_message("properties.distinct_id")
    assert sorted(sandbox.events) == sorted(insert_id(f"msg-00{i}") for i in (0, 2, 4))


async def test_batches_honour_count_and_size_limits(sandbox: MixpanelSandbox) -> None:
    connector, client = await connect(sandbox.settings())
    async with client:
        small = [
            {"type": "track", "event": "E", "userId": "u", "messageId": f"m{i}"}
            for i in range(2001)
        ]
        events = events_from(small, type_id="track")
        report = await report_of(connector.send_events(events), events)
        assert len(report.succeeded) == 2000 and report.error is None
        # 700 KB each: 14 fit 10 MB uncompressed, the 15th is postponed.
        big = [
            {
                "type": "track",
                "event": "E",
                "userId": "u",
                "messageId": f"b{i}",
                "properties": {"blob": "x" * 700_000, "i": i},
            }
            for i in range(18)
        ]
        events = events_from(big, type_id="track")
        report = await report_of(connector.send_events(events), events)
        assert len(report.succeeded) == 14 and len(report.postponed) == 1
    assert [len(batch) for batch in sandbox.imports] == [2000, 14]
    sizes = [len(gzip.decompress(r.body)) for r in sandbox.received("/import")]
    assert all(size <= 10 * 1024 * 1024 for size in sizes)


async def test_retried_events_are_deduplicated(sandbox: MixpanelSandbox) -> None:
    connector, client = await connect(sandbox.settings())
    async with client:
        for _ in range(2):
            events = events_from(seeded_events()[:3], type_id="track")
            await connector.send_events(events)
    assert len(sandbox.received("/import")) == 2 and len(sandbox.events) == 3


async def test_service_account_auth_and_preview(sandbox: MixpanelSandbox) -> None:
    settings = {
        "project_token": TOKEN,
        "service_account_username": SA_USER,
        "service_account_secret": SA_SECRET,
        "project_id": PROJECT_ID,
        "base_url": sandbox.url,
    }
    connector, client = await connect(settings)
    async with client:
        assert await connector.check() == []
        preview = await connector.preview_send_events(
            events_from(seeded_events()[:2], type_id="track")
        )
        assert preview is not None
        assert preview.headers["Authorization"] == "Basic [REDACTED]"
        assert preview.url.params["project_id"] == PROJECT_ID
        shown = str(preview.url) + str(preview.headers) + preview.content.decode()
        assert SA_SECRET not in shown and TOKEN not in shown
        assert orjson.loads(preview.content.splitlines()[0])["event"] == "Event 0"
        await connector.send_events(events_from(seeded_events()[:2], type_id="track"))
    assert len(sandbox.events) == 2

    wrong = {**settings, "service_account_secret": "wrong-secret"}
    connector, client = await connect(wrong)
    async with client:
        problems = await connector.check()
    assert [p.field for p in problems] == ["service_account_secret"]


def test_settings_residency_and_validation() -> None:
    assert MixpanelSettings(project_token="t").root == "https://api.mixpanel.com"
    assert MixpanelSettings(project_token="t", residency="eu").root == "https://api-eu.mixpanel.com"
    assert (
        MixpanelSettings(project_token="t", residency="eu", base_url="http://127.0.0.1:9/").root
        == "http://127.0.0.1:9"
    )
    with pytest.raises(ValueError, match="project_id is required"):
        MixpanelSettings(
            project_token="t", service_account_username="u", service_account_secret="s"
        )
    with pytest.raises(ValueError, match="go together"):
        MixpanelSettings(project_token="t", service_account_username="u")


def test_insert_id_fits_mixpanel_rules() -> None:
    for message_id in ["a", "x" * 500, "ünïcode/with spaces:and+symbols"]:
        value = insert_id(message_id)
        assert len(value) <= 36 and value.isalnum()
        assert value == insert_id(message_id)
    assert insert_id("a") != insert_id("b")


async def test_sandbox_refuses_over_limit_requests(sandbox: MixpanelSandbox) -> None:
    import httpx

    auth = httpx.BasicAuth(TOKEN, "")
    line = b'{"event":"E","properties":{"distinct_id":"u","time":1760000000000,"$insert_id":"a"}}'
    async with httpx.AsyncClient(base_url=sandbox.url, auth=auth) as http:
        too_many = b"\n".join([line] * 2001)
        answer = await http.post(
            "/import", content=too_many, headers={"Content-Type": "application/x-ndjson"}
        )
        assert answer.status_code == 413
        answer = await http.post(
            "/import",
            content=line,
            auth=httpx.BasicAuth("bad", ""),
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert answer.status_code == 401
        updates = [{"$token": TOKEN, "$distinct_id": f"d{i}", "$set": {}} for i in range(201)]
        answer = await http.post("/engage", json=updates)
        assert answer.json()["status"] == 0
