"""Writing HubSpot contacts: batch create/update, 207 and 400 mapping, replays, a 5,000 export."""

from __future__ import annotations

from typing import Any

import pytest
from hubspot_support import connected

from syncline.connectors.hubspot import SPEC
from syncline.connectors.hubspot.sandbox import HubSpotSandbox
from syncline.sdk import Record, Records, Role
from syncline.sdk.errors import PermanentError, RetryableError
from syncline.sdk.testing import records_from, report_of
from syncline.sdk.testing.server import Reply

CREATE = "/crm/v3/objects/contacts/batch/create"
UPDATE = "/crm/v3/objects/contacts/batch/update"


async def test_export_of_5000_users_with_3_percent_invalid_fails_exactly_those() -> None:
    """2,500 creates and 2,500 updates, 150 of them invalid, with HubSpot's limits on.

    Driven the way the export engine drives ``upsert``: one ``Records`` over a
    window of the pending records per call, what is not consumed goes to the
    next call, retryable failures go again.
    """
    sandbox = HubSpotSandbox(records=2_600, limits=True)
    async with sandbox, connected(sandbox, spec=SPEC) as (hs, _):
        schema = await hs.record_schema("users", Role.DESTINATION)
        live = sandbox.ids("users")[:2_500]
        items: list[Record] = []
        bad: dict[int, str] = {}
        for i in range(5_000):
            update = i % 2 == 1
            attributes: dict[str, Any] = {"firstname": f"Exported {i}"}
            if not update:
                attributes["email"] = f"new{i}@example.org"
            if i % 100 in (7, 58):  # a bad address: 2 in 100
                attributes["email"] = f"broken{i}.example.org"
                bad[i] = "HubSpot refused the value of property 'email': not a valid email address"
            elif i % 100 == 33:  # a property HubSpot does not have: 1 in 100
                attributes["favourite_colour"] = "teal"
                bad[i] = (
                    "HubSpot has no property 'favourite_colour'; create it in HubSpot or remove "
                    "it from the mapping"
                )
            items.append(Record(live[i // 2] if update else "", attributes))
        position = {id(r): i for i, r in enumerate(items)}

        failed: dict[int, str] = {}
        written: list[int] = []
        pending = list(items)
        calls = 0
        while pending:
            calls += 1
            assert calls < 500
            records = Records(pending[:300])
            report = await report_of(hs.upsert("users", records, schema), records)
            assert report.violation is None
            written += [position[id(r)] for r in report.succeeded]
            retry = [r for r, e in report.failed if isinstance(e, RetryableError)]
            failed.update(
                {
                    position[id(r)]: str(e)
                    for r, e in report.failed
                    if not isinstance(e, RetryableError)
                }
            )
            pending = retry + list(report.remaining) + pending[300:]

        assert len(bad) == 150
        assert {i: m.split(" (HTTP")[0] for i, m in failed.items()} == bad
        assert sorted(written) == sorted(set(range(5_000)) - set(bad))
        by_email = {o.properties.get("email"): o for o in sandbox.live("contacts")}
        for i in written:
            if i % 2 == 0:
                assert by_email[f"new{i}@example.org"].properties["firstname"] == f"Exported {i}"
            else:
                obj = sandbox.objects["contacts"][int(live[i // 2])]
                assert obj.properties["firstname"] == f"Exported {i}"
        assert sandbox.rate_limited == 0
        batches = sandbox.received(CREATE) + sandbox.received(UPDATE)
        assert len(batches) == 50 and all(len(r.json()["inputs"]) == 100 for r in batches)
        assert {r.status for r in batches} == {207}


async def test_same_sends_creates_and_updates_to_their_own_endpoints() -> None:
    async with HubSpotSandbox(records=10, limits=False) as sandbox, connected(sandbox) as (hs, _):
        schema = await hs.record_schema("users", Role.DESTINATION)
        first = sandbox.ids("users")[0]
        records = records_from(
            [{"email": "a@example.com"}, (first, {"lastname": "B"}), {"email": "c@example.com"}]
        )
        report = await report_of(hs.upsert("users", records, schema), records)
        assert [r.attributes.get("email") for r in report.succeeded] == [
            "a@example.com",
            "c@example.com",
        ]
        assert [r.id for r in report.remaining] == [first]
        [create] = sandbox.received(CREATE)
        assert [i["objectWriteTraceId"] for i in create.json()["inputs"]] == ["0", "1"]
        assert sandbox.received(UPDATE) == []


async def test_create_is_never_replayed_and_update_is() -> None:
    async with HubSpotSandbox(records=10, limits=False) as sandbox, connected(sandbox) as (hs, _):
        schema = await hs.record_schema("users", Role.DESTINATION)
        sandbox.server.script(CREATE, [503])
        records = records_from([{"email": "a@example.com"}])
        report = await report_of(hs.upsert("users", records, schema), records)
        [(_, error)] = report.failed
        assert isinstance(error, RetryableError)
        assert len(sandbox.received(CREATE)) == 1

        sandbox.server.script(UPDATE, [503, 502])
        records = records_from([(sandbox.ids("users")[0], {"firstname": "Again"})])
        report = await report_of(hs.upsert("users", records, schema), records)
        assert len(report.succeeded) == 1
        assert [r.status for r in sandbox.received(UPDATE)] == [503, 502, 200]


async def test_a_400_names_the_bad_inputs_and_sends_the_others_again() -> None:
    async with HubSpotSandbox(records=10, limits=False) as sandbox, connected(sandbox) as (hs, _):
        schema = await hs.record_schema("users", Role.DESTINATION)
        refusal = {
            "status": "error",
            "category": "VALIDATION_ERROR",
            "message": 'Property values were not valid: [{"value":"secret@value"}]',
            "errors": [
                {
                    "category": "VALIDATION_ERROR",
                    "context": {"objectWriteTraceId": ["1"]},
                    "errors": [{"code": "INVALID_EMAIL", "context": {"propertyName": ["email"]}}],
                }
            ],
        }
        sandbox.server.script(CREATE, [Reply(400, json=refusal)])
        records = records_from(
            [{"email": "a@example.com"}, {"email": "b@x"}, {"email": "c@example.com"}]
        )
        report = await report_of(hs.upsert("users", records, schema), records)
        errors = {r.attributes["email"]: e for r, e in report.failed}
        assert isinstance(errors["b@x"], PermanentError) and "'email'" in str(errors["b@x"])
        assert "secret@value" not in str(errors["b@x"])
        assert isinstance(errors["a@example.com"], RetryableError)
        assert isinstance(errors["c@example.com"], RetryableError)


async def test_update_errors_placed_by_id_and_unplaceable_errors_fail_the_batch() -> None:
    async with HubSpotSandbox(records=10, limits=False) as sandbox, connected(sandbox) as (hs, _):
        schema = await hs.record_schema("users", Role.DESTINATION)
        one, two = sandbox.ids("users")[:2]
        by_id = {
            "status": "COMPLETE",
            "results": [],
            "errors": [
                {"status": "error", "category": "OBJECT_NOT_FOUND", "context": {"ids": [two]}}
            ],
        }
        sandbox.server.script(UPDATE, [Reply(207, json=by_id)])
        records = records_from([(one, {"firstname": "A"}), (two, {"firstname": "B"})])
        report = await report_of(hs.upsert("users", records, schema), records)
        assert [r.id for r in report.succeeded] == [one]
        [(record, error)] = report.failed
        assert record.id == two and "does not exist" in str(error)

        vague = {"status": "COMPLETE", "results": [], "errors": [{"category": "VALIDATION_ERROR"}]}
        sandbox.server.script(UPDATE, [Reply(207, json=vague)])
        records = records_from([(one, {"firstname": "A"}), (two, {"firstname": "B"})])
        report = await report_of(hs.upsert("users", records, schema), records)
        assert len(report.failed) == 2
        assert all("without naming the records" in str(e) for _, e in report.failed)


async def test_values_are_written_as_hubspot_text() -> None:
    from datetime import date

    async with HubSpotSandbox(records=1, limits=False) as sandbox, connected(sandbox) as (hs, _):
        schema = await hs.record_schema("users", Role.DESTINATION)
        records = records_from(
            [
                {
                    "email": "typed@example.com",
                    "interests": ["music", "books"],
                    "newsletter": True,
                    "annualrevenue": 1500.0,
                    "date_of_birth": date(1990, 4, 2),
                    "phone": None,
                }
            ]
        )
        report = await report_of(hs.upsert("users", records, schema), records)
        assert len(report.succeeded) == 1
        [sent] = sandbox.received(CREATE)
    assert sent.json()["inputs"][0]["properties"] == {
        "email": "typed@example.com",
        "interests": "music;books",
        "newsletter": "true",
        "annualrevenue": "1500",
        "date_of_birth": "1990-04-02",
        "phone": "",
    }


async def test_only_users_can_be_written() -> None:
    async with HubSpotSandbox(records=1, limits=False) as sandbox, connected(sandbox) as (hs, _):
        schema = await hs.record_schema("users", Role.DESTINATION)
        with pytest.raises(PermanentError, match="only users"):
            await hs.upsert("deals", records_from([{"dealname": "x"}]), schema)


async def test_a_409_without_input_context_fails_the_whole_batch() -> None:
    async with HubSpotSandbox(records=1, limits=False) as sandbox, connected(sandbox) as (hs, _):
        schema = await hs.record_schema("users", Role.DESTINATION)
        conflict = {"status": "error", "category": "CONFLICT", "message": "Contact already exists."}
        sandbox.server.script(CREATE, [Reply(409, json=conflict)])
        records = records_from([{"email": "a@example.com"}, {"email": "b@example.com"}])
        report = await report_of(hs.upsert("users", records, schema), records)
    assert len(report.failed) == 2 and not report.succeeded
    assert all(isinstance(e, PermanentError) for _, e in report.failed)
