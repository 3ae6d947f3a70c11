"""Reading HubSpot: schema from the properties API, list paging, search windows, faults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hubspot_support import connected, read_all

from syncline import types as t
from syncline.connectors.hubspot.sandbox import TOKEN, HubSpotSandbox
from syncline.sdk import Role
from syncline.sdk.errors import PermanentError
from syncline.sdk.testing.sandbox import Fault


async def test_schema_maps_property_types_and_leaves_read_only_out_of_the_destination() -> None:
    async with HubSpotSandbox(records=1, limits=False) as sandbox, connected(sandbox) as (hs, _):
        source = await hs.record_schema("users", Role.SOURCE)
        destination = await hs.record_schema("users", Role.DESTINATION)
    assert source.property("email").type == t.String()
    assert source.property("annualrevenue").type == t.Float(real=True)
    assert source.property("date_of_birth").type == t.Date()
    assert source.property("lastmodifieddate").type == t.DateTime()
    assert source.property("newsletter").type == t.Boolean()
    assert source.property("lifecyclestage").type == t.String(
        values=["subscriber", "lead", "opportunity", "customer"]
    )
    assert source.property("interests").type == t.Array(
        t.String(values=["sports", "music", "travel", "books"])
    )
    assert all(p.nullable for p in source.properties)
    assert "hs_internal_score" not in source.names()  # hidden
    # Read-only and calculated values are readable, not writable.
    for name in ("hs_object_id", "createdate", "lastmodifieddate", "num_notes"):
        assert name in source.names() and name not in destination.names()
    assert "email" in destination.names()


async def test_full_read_pages_the_list_api_and_skips_archived() -> None:
    async with HubSpotSandbox(records=730, limits=False) as sandbox, connected(sandbox) as (hs, _):
        records, cursors = await read_all(hs, "users")
        archived = [i for i, o in sandbox.objects["contacts"].items() if o.archived]
        lists = sandbox.received("/crm/v3/objects/contacts")
    assert archived, "the seed archives some contacts"
    assert sorted(r.id for r in records) == sorted(sandbox.ids("users"))
    assert all(c is not None and c.startswith("list:") for c in cursors)
    assert {r.params["archived"] for r in lists} == {"false"}
    assert {r.params["limit"] for r in lists} == {"100"}
    record = next(r for r in records if r.attributes["interests"])
    obj = sandbox.objects["contacts"][int(record.id)]
    assert record.updated_at == datetime.fromtimestamp(obj.updated / 1000, UTC)
    assert record.attributes["interests"] == obj.properties["interests"].split(";")


@pytest.mark.parametrize("target", ["companies", "deals"])
async def test_companies_and_deals_are_read_fully_and_incrementally(target: str) -> None:
    async with HubSpotSandbox(records=450, limits=False) as sandbox, connected(sandbox) as (hs, _):
        records, _ = await read_all(hs, target)
        assert sorted(r.id for r in records) == sorted(sandbox.ids(target))
        mark = max(r.updated_at for r in records if r.updated_at is not None)
        touched = sandbox.touch(target, 7)
        again, _ = await read_all(hs, target, updated_at=mark)
        searches = sandbox.received(f"/crm/v3/objects/{target}/search")
    assert set(touched) <= {r.id for r in again}
    body = searches[0].json()
    assert body["filterGroups"][0]["filters"][0]["propertyName"] == "hs_lastmodifieddate"


async def test_incremental_read_past_the_search_ceiling_never_pages_beyond_it() -> None:
    """12,000 changed contacts: more than one search query may return (10,000)."""
    async with (
        HubSpotSandbox(records=12_250, limits=False) as sandbox,
        connected(sandbox) as (hs, _),
    ):
        since = datetime(2025, 1, 1, tzinfo=UTC)
        records, _ = await read_all(hs, "users", updated_at=since)
        searches = sandbox.received("/crm/v3/objects/contacts/search")
    want = set(sandbox.ids("users"))
    assert len(want) > 11_500
    assert {r.id for r in records} == want
    assert all(r.status == 200 for r in searches)
    # Every query starts at its first result: no offset, so never near the ceiling.
    assert all("after" not in r.json() for r in searches)
    assert all(r.json()["limit"] == 200 for r in searches)
    # Duplicates are only the records at each window's boundary instant.
    assert len(records) < len(want) * 1.05


async def test_a_whole_page_at_one_instant_is_walked_by_id() -> None:
    async with (
        HubSpotSandbox(records=1_000, limits=False) as sandbox,
        connected(sandbox) as (hs, _),
    ):
        live = sorted(int(i) for i in sandbox.ids("users"))
        instant = sandbox.now_ms()
        for obj_id in live[:450]:  # one bulk change: 450 contacts, one millisecond
            sandbox.objects["contacts"][obj_id].updated = instant
        mark = datetime.fromtimestamp(instant / 1000, UTC) - timedelta(seconds=1)
        records, cursors = await read_all(hs, "users", updated_at=mark)
    assert {int(r.id) for r in records} == set(live[:450])
    assert any(c is not None and c.startswith("tie:") for c in cursors)


async def test_records_changed_during_the_read_are_not_lost() -> None:
    async with (
        HubSpotSandbox(records=1_000, limits=False) as sandbox,
        connected(sandbox) as (hs, _),
    ):
        since = datetime(2025, 1, 1, tzinfo=UTC)
        schema = await hs.record_schema("users", Role.SOURCE)
        page = await hs.records("users", since, None, schema)
        seen = {r.id for r in page.records}
        # Contacts not read yet are changed: offset paging would skip the
        # contact that slides into the first page's place.
        unread = [o for o in sandbox.live("contacts") if str(o.id) not in seen]
        for obj in sorted(unread, key=lambda o: o.updated)[:50]:
            obj.updated = sandbox.now_ms()
        rest, _ = await read_all(hs, "users", since, page.cursor)
    assert seen | {r.id for r in rest} == set(sandbox.ids("users"))


async def test_a_cursor_from_another_connector_is_refused_with_what_to_do() -> None:
    async with HubSpotSandbox(records=1, limits=False) as sandbox, connected(sandbox) as (hs, _):
        schema = await hs.record_schema("users", Role.SOURCE)
        with pytest.raises(PermanentError, match="run a full import"):
            await hs.records("users", None, "page=3", schema)


@pytest.mark.parametrize("fault", ["429-storm", "5xx-burst", "reset", "truncate"])
async def test_reads_complete_correctly_under_faults(fault: str) -> None:
    sandbox = HubSpotSandbox(records=600, limits=False)
    async with sandbox, connected(sandbox) as (hs, _):
        # A 429 storm for a second hitting 9 requests of 10; the others hit 3 of 10.
        spec = Fault(fault, seconds=1.0) if fault == "429-storm" else Fault(fault)
        sandbox.set_faults(spec)
        full, _ = await read_all(hs, "users")
        sandbox.set_faults(spec)
        changed, _ = await read_all(hs, "users", updated_at=datetime(2025, 3, 1, tzinfo=UTC))
        statuses = [r.status for r in sandbox.received()]
    assert sorted(r.id for r in full) == sorted(sandbox.ids("users"))
    want = {
        i
        for i in sandbox.ids("users")
        if sandbox.updated_at_of("users", i) >= datetime(2025, 3, 1, tzinfo=UTC)
    }
    assert {r.id for r in changed} == want
    if fault == "429-storm":
        assert 429 in statuses
    elif fault == "5xx-burst":
        assert {500, 502, 503} & set(statuses)


async def test_check_reports_a_refused_token_on_access_token() -> None:
    async with HubSpotSandbox(records=1, limits=False) as sandbox:
        async with connected(sandbox) as (hs, _):
            assert await hs.check() == []
        async with connected(sandbox, access_token="pat-na1-wrong") as (hs, _):
            [problem] = await hs.check()
    assert problem.field == "access_token"
    assert "pat-na1-wrong" not in problem.message


async def test_sandbox_answers_like_hubspot_limits_ceiling_and_archived() -> None:
    sandbox = HubSpotSandbox(records=300, limits=True, per_ten_seconds=5, search_per_second=2)
    async with (
        sandbox,
        httpx.AsyncClient(
            base_url=sandbox.url, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as raw,
    ):
        answers = [await raw.get("/crm/v3/objects/contacts", params={"limit": 1}) for _ in range(6)]
        assert [a.status_code for a in answers] == [200] * 5 + [429]
        assert answers[0].headers["X-HubSpot-RateLimit-Max"] == "5"
        assert answers[0].headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        assert answers[4].headers["X-HubSpot-RateLimit-Remaining"] == "0"
        assert answers[5].json()["policyName"] == "TEN_SECONDLY_ROLLING"
        assert answers[5].json()["errorType"] == "RATE_LIMIT"
        assert "retry-after" not in answers[5].headers

        search = {"filterGroups": [], "limit": 200, "after": "9900"}
        ceiling = await raw.post("/crm/v3/objects/contacts/search", json=search)
        assert ceiling.status_code == 400
        found = await raw.post(
            "/crm/v3/objects/contacts/search", json={"limit": 200, "after": "100"}
        )
        assert found.status_code == 200 and found.json()["total"] == len(sandbox.ids("users"))
        third = await raw.post("/crm/v3/objects/contacts/search", json={"limit": 1})
        assert third.json()["policyName"] == "SECONDLY"

        sandbox.limits = False
        archived = await raw.get(
            "/crm/v3/objects/contacts", params={"archived": "true", "limit": 100}
        )
        ids = [r["id"] for r in archived.json()["results"]]
        assert ids and all(r["archived"] for r in archived.json()["results"])
        assert not set(ids) & set(sandbox.ids("users"))
        refused = await raw.get("/crm/v3/objects/contacts", headers={"Authorization": "Bearer x"})
        assert refused.status_code == 401


async def test_a_full_read_with_too_many_properties_for_a_url_goes_through_search() -> None:
    from syncline.connectors.hubspot.sandbox import _prop

    sandbox = HubSpotSandbox(records=450, limits=False)
    sandbox.definitions["contacts"] += [
        _prop(f"custom_property_number_{i}", "string", "text") for i in range(400)
    ]
    async with sandbox, connected(sandbox) as (hs, _):
        records, _ = await read_all(hs, "users")
    assert sorted({r.id for r in records}) == sorted(sandbox.ids("users"))
    assert sandbox.received("/crm/v3/objects/contacts", method="GET") == []
    assert "custom_property_number_399" in records[0].attributes


async def test_an_unreadable_time_is_a_per_record_error() -> None:
    sandbox = HubSpotSandbox(records=150, limits=False)
    first = min(int(i) for i in sandbox.ids("deals"))
    sandbox.objects["deals"][first].properties["closedate"] = "31/02/1990"
    async with sandbox, connected(sandbox) as (hs, _):
        records, _ = await read_all(hs, "deals")
    broken = [r for r in records if r.error is not None]
    assert [r.id for r in broken] == [str(first)]
    assert "31/02/1990" not in str(broken[0].error)
    assert len(records) == len(sandbox.ids("deals"))
