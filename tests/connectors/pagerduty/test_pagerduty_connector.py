"""The PagerDuty connector against its sandbox: depth ceiling, resume, incremental reads, check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from syncline import types as t
from syncline.connectors.pagerduty import ACCEPT, SPEC, PagerDuty, PagerDutySettings
from syncline.connectors.pagerduty._cursor import Window
from syncline.connectors.pagerduty.sandbox import SANDBOX_TOKEN, PagerDutySandbox
from syncline.http import Client
from syncline.sdk import Env, PermanentError, Record, Role
from syncline.sdk.testing import MemorySettings
from syncline.sdk.testing.sandbox import Fault


@asynccontextmanager
async def connected(sandbox: PagerDutySandbox, **overrides: Any) -> AsyncIterator[PagerDuty]:
    """A connector instance on its own managed client, as a new process would have."""
    settings = MemorySettings(PagerDutySettings(**{**sandbox.settings(), **overrides}))
    async with Client(SPEC, settings) as http:
        yield PagerDuty(Env(settings=settings, http=http))


async def read(
    connector: PagerDuty,
    target: str,
    updated_at: datetime | None = None,
    cursor: str | None = None,
    pages: int | None = None,
) -> tuple[list[Record], str | None]:
    """Read ``pages`` calls (None: to the end); return the records and the last cursor."""
    schema = await connector.record_schema(target, Role.SOURCE)
    records: list[Record] = []
    calls = 0
    while pages is None or calls < pages:
        page = await connector.records(target, updated_at, cursor, schema)
        calls += 1
        records += page.records
        if page.done:
            return records, None
        cursor = page.cursor
    return records, cursor


def incident_pages(sandbox: PagerDutySandbox) -> list[dict[str, str]]:
    return [r.params for r in sandbox.received("/incidents") if r.status == 200]


async def test_a_read_across_the_depth_ceiling_returns_every_incident_exactly_once() -> None:
    # 12,000 incidents within 30 days: the first six-month window holds more
    # than PagerDuty can page, so it must be split before it is read.
    sandbox = PagerDutySandbox(
        records=12_000, users=10, incident_span=timedelta(days=30), limits=False
    )
    async with sandbox, connected(sandbox) as pagerduty:
        records, _ = await read(pagerduty, "incidents")
    ids = [r.id for r in records]
    assert len(ids) == 12_000 and set(ids) == set(sandbox.ids("incidents"))
    pages = incident_pages(sandbox)
    assert all(int(p.get("offset", 0)) + int(p["limit"]) <= 10_000 for p in pages)
    assert not [r for r in sandbox.received("/incidents") if r.status == 400]
    windows = {(p["since"], p["until"]) for p in pages if "since" in p}
    assert len(windows) >= 3  # the overfull window was halved at least once
    for p in pages:
        if "since" in p:
            since = datetime.fromisoformat(p["since"])
            assert datetime.fromisoformat(p["until"]) - since <= timedelta(days=180)


async def test_a_new_instance_resumes_from_a_mid_read_cursor() -> None:
    sandbox = PagerDutySandbox(records=1_500, users=5, limits=False)
    async with sandbox:
        async with connected(sandbox) as first:
            head, cursor = await read(first, "incidents", pages=6)
        assert cursor is not None and head
        async with connected(sandbox) as second:
            tail, _ = await read(second, "incidents", cursor=cursor)
    ids = [r.id for r in head + tail]
    assert len(ids) == len(set(ids)) == 1_500


async def test_incremental_read_returns_exactly_the_changed_incidents() -> None:
    sandbox = PagerDutySandbox(records=800, users=20, limits=False)
    async with sandbox, connected(sandbox) as pagerduty:
        everything, _ = await read(pagerduty, "incidents")
        high_water = max(r.updated_at for r in everything if r.updated_at is not None)
        # Records carry the app's own times, which all lie before the data's anchor.
        assert high_water < datetime(2026, 1, 2, tzinfo=UTC)
        changed = sandbox.touch("incidents", 9)
        records, _ = await read(
            pagerduty, "incidents", updated_at=high_water + timedelta(seconds=1)
        )
    assert sorted(r.id for r in records) == sorted(changed)
    for record in records:
        assert record.updated_at == sandbox.updated_at_of("incidents", record.id)
        # The oldest incidents changed: a created_at filter alone would miss them.
        assert datetime.fromisoformat(record.attributes["created_at"]) < high_water


async def test_records_match_the_static_schemas() -> None:
    sandbox = PagerDutySandbox(records=300, users=40, limits=False)
    async with sandbox, connected(sandbox) as pagerduty:
        for target in ("users", "incidents"):
            schema = await pagerduty.record_schema(target, Role.SOURCE)
            validate = t.compile(schema)
            records, _ = await read(pagerduty, target)
            assert len(records) == len(sandbox.ids(target))
            for record in records:
                validate(record.attributes)
    assert schema.property("status").type == t.String(
        values=["triggered", "acknowledged", "resolved"]
    )
    assert schema.property("created_at").type == t.DateTime()


async def test_users_are_full_reads_without_a_change_time() -> None:
    sandbox = PagerDutySandbox(records=10, users=250, limits=False)
    async with sandbox, connected(sandbox) as pagerduty:
        records, _ = await read(pagerduty, "users")
        touched = sandbox.touch("users", 3)
        again, _ = await read(pagerduty, "users", updated_at=datetime.now(UTC))
    assert len(records) == 250 and all(r.updated_at is None for r in records)
    assert {r.id for r in again} == set(sandbox.ids("users"))
    by_id = {r.id: r for r in again}
    assert all(by_id[i].attributes["job_title"] == "Incident Commander" for i in touched)


async def test_more_users_than_the_ceiling_fail_instead_of_returning_a_partial_list() -> None:
    sandbox = PagerDutySandbox(records=0, users=10_001, limits=False)
    async with sandbox, connected(sandbox) as pagerduty:
        with pytest.raises(PermanentError, match="10001 users"):
            await read(pagerduty, "users")


async def test_service_filter_reads_only_those_services() -> None:
    sandbox = PagerDutySandbox(records=500, users=5, limits=False)
    async with sandbox, connected(sandbox, service_ids=["PSV0001", "PSV0003"]) as pagerduty:
        assert await pagerduty.check() == []
        records, _ = await read(pagerduty, "incidents")
    expected = {
        i
        for i, item in sandbox.incidents.items()
        if item["service"]["id"] in {"PSV0001", "PSV0003"}
    }
    assert {r.id for r in records} == expected and expected


async def test_every_request_carries_the_token_and_the_versioned_accept_header() -> None:
    sandbox = PagerDutySandbox(records=50, users=5, limits=False)
    async with sandbox, connected(sandbox) as pagerduty:
        await read(pagerduty, "incidents")
        await read(pagerduty, "users")
    assert sandbox.received()
    for request in sandbox.received():
        assert request.header("authorization") == f"Token token={SANDBOX_TOKEN}"
        assert request.header("accept") == ACCEPT


async def test_check_maps_each_bad_setting_to_its_field() -> None:
    sandbox = PagerDutySandbox(records=5, users=2, limits=False)
    async with sandbox:
        async with connected(sandbox) as good:
            assert await good.check() == []
        async with connected(sandbox, **sandbox.bad_settings()) as bad:
            problems = await bad.check()
        assert [p.field for p in problems] == ["api_token"]
        assert "revoked" not in problems[0].message
        async with connected(sandbox, service_ids=["PNOPE00"]) as unknown:
            assert [p.field for p in await unknown.check()] == ["service_ids"]
        async with connected(sandbox, base_url=sandbox.url + "/v1") as elsewhere:
            assert [p.field for p in await elsewhere.check()] == ["base_url"]
        working = sandbox.settings()
    # The sandbox is stopped: nothing listens at base_url any more.
    settings = MemorySettings(PagerDutySettings(**working))
    async with Client(SPEC, settings) as http:
        gone = PagerDuty(Env(settings=settings, http=http))
        assert [p.field for p in await gone.check()] == ["base_url"]


async def test_a_foreign_cursor_is_a_permanent_error() -> None:
    sandbox = PagerDutySandbox(records=5, users=2, limits=False)
    async with sandbox, connected(sandbox) as pagerduty:
        schema = await pagerduty.record_schema("incidents", Role.SOURCE)
        with pytest.raises(PermanentError, match="cursor"):
            await pagerduty.records("incidents", None, "offset=100", schema)


@pytest.mark.parametrize(
    "fault", ["5xx-burst", "reset", "truncate", Fault("429-storm", seconds=2.5)], ids=str
)
async def test_reads_complete_under_faults(fault: str | Fault) -> None:
    # A storm of PagerDuty 429s is waited out through `ratelimit-reset`.
    sandbox = PagerDutySandbox(records=600, users=30, limits=True, faults=[fault])
    async with sandbox, connected(sandbox) as pagerduty:
        incidents, _ = await read(pagerduty, "incidents")
        users, _ = await read(pagerduty, "users")
    assert {r.id for r in incidents} == set(sandbox.ids("incidents"))
    assert {r.id for r in users} == set(sandbox.ids("users"))
    # The fault hit: some requests had to be sent again.
    sent = [(r.path, r.query) for r in sandbox.received()]
    assert len(sent) > len(set(sent)), f"the {fault} fault never hit"


async def test_sandbox_answers_like_pagerduty() -> None:
    sandbox = PagerDutySandbox(records=20, users=3, limits=False)
    auth = {"Authorization": f"Token token={SANDBOX_TOKEN}", "Accept": ACCEPT}
    async with sandbox, httpx.AsyncClient(base_url=sandbox.url) as client:
        deep = await client.get("/incidents", params={"offset": 9_950, "limit": 100}, headers=auth)
        assert deep.status_code == 400 and deep.json()["error"]["code"] == 2001
        wide = await client.get(
            "/incidents",
            params={"since": "2025-01-01T00:00:00Z", "until": "2025-09-01T00:00:00Z"},
            headers=auth,
        )
        assert wide.status_code == 400 and wide.json()["error"]["code"] == 2005
        refused = await client.get("/users", headers={"Accept": ACCEPT})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == 2006
        unversioned = await client.get("/users", headers={"Authorization": auth["Authorization"]})
        assert unversioned.status_code == 406
        listed = await client.get("/incidents", params={"date_range": "all"}, headers=auth)
        body = listed.json()
        assert (body["limit"], body["offset"], body["more"], body["total"]) == (25, 0, False, None)
        assert listed.headers["ratelimit-limit"] == "960"
        limited = sandbox.rate_limited_reply(12.3)
        assert limited.status == 429 and limited.headers["ratelimit-reset"] == "13"
        assert limited.json == {"error": {"message": "Rate Limit Exceeded", "code": 2020}}


async def test_changes_made_after_the_read_started_are_left_to_the_next_read() -> None:
    sandbox = PagerDutySandbox(records=300, users=5, limits=False)
    async with sandbox, connected(sandbox) as pagerduty:
        everything, _ = await read(pagerduty, "incidents")
        high_water = max(r.updated_at for r in everything if r.updated_at is not None)
        high_water += timedelta(seconds=1)
        # A read that started on 2026-01-01 (its cursor says so) sees today's
        # changes as made during the read: they wait for the next read.
        oldest = min(datetime.fromisoformat(r.attributes["created_at"]) for r in everything)
        started = Window.first(oldest - timedelta(seconds=1), datetime(2026, 1, 1, tzinfo=UTC))
        changed = sandbox.touch("incidents", 4)
        during, _ = await read(pagerduty, "incidents", high_water, cursor=started.encode())
        assert during == []
        following, _ = await read(pagerduty, "incidents", high_water)
        assert sorted(r.id for r in following) == sorted(changed)
        # A full read returns every incident, changed during the read or not.
        full, _ = await read(pagerduty, "incidents", None, cursor=started.encode())
        assert len(full) == 300


async def test_sandbox_sorts_and_filters_like_pagerduty() -> None:
    sandbox = PagerDutySandbox(records=120, users=30, limits=False)
    auth = {"Authorization": f"Token token={SANDBOX_TOKEN}", "Accept": ACCEPT}
    async with sandbox, httpx.AsyncClient(base_url=sandbox.url, headers=auth) as client:
        newest = await client.get(
            "/incidents", params={"date_range": "all", "sort_by": "incident_number:desc"}
        )
        numbers = [i["incident_number"] for i in newest.json()["incidents"]]
        assert numbers == list(range(120, 95, -1))
        resolved = await client.get(
            "/incidents",
            params={"date_range": "all", "statuses[]": "resolved", "sort_by": "resolved_at"},
        )
        times = [i["resolved_at"] for i in resolved.json()["incidents"]]
        assert times and times == sorted(times)
        bad = await client.get("/incidents", params={"statuses[]": "open"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == 2001
        found = await client.get("/users", params={"query": "user1", "total": "true"})
        assert found.json()["total"] == 11  # user1, user10 … user19
