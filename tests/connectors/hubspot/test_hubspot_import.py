"""Importing 20,000 HubSpot contacts into SQLite through the import engine, limits enforced.

The sandbox enforces HubSpot's private-app limit (100 requests per rolling
10 s); the run must finish without a single 429 and at 90 % or more of the
rate that limit allows. 20,000 contacts are about 200 list requests: ~20 s.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import syncline.connectors.sqlite  # noqa: F401 - registers the destination
from syncline.connectors.hubspot.sandbox import HubSpotSandbox
from syncline.engine.config.model import PipelineConfig
from syncline.engine.runs.launch import run_pipeline
from syncline.store import Store, open_store


async def _workspace(
    tmp_path: Path, sandbox: HubSpotSandbox, monkeypatch: pytest.MonkeyPatch
) -> Store:
    monkeypatch.setenv("SYNCLINE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SYNCLINE_DATABASE_URL", raising=False)
    monkeypatch.delenv("SYNCLINE_SECRET_KEY", raising=False)
    store = await open_store()
    await store.connections.save(
        "hubspot", connector="hubspot", roles=["source", "destination"], settings=sandbox.settings()
    )
    await store.connections.save(
        "db", connector="sqlite", roles=["destination"], settings={"path": str(tmp_path / "crm.db")}
    )
    hubspot = (await store.connections.get("hubspot")).id
    db = (await store.connections.get("db")).id
    await store.pipelines.save(
        "contacts",
        kind="import",
        target="users",
        source_connection_id=hubspot,
        destination_connection_id=db,
        config=PipelineConfig(
            batch_size=1000,
            overlap_seconds=0,
            destination_options={"table": "contacts", "create_table": True},
        ).to_json(),
    )
    return store


def _rows(path: Path) -> dict[str, tuple[str, str]]:
    with sqlite3.connect(path) as db:
        return {
            str(r[0]): (r[1], r[2]) for r in db.execute("SELECT id, email, firstname FROM contacts")
        }


async def test_import_20000_contacts_at_the_published_rate_without_429(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = HubSpotSandbox(records=20_000, limits=True)
    async with sandbox:
        store = await _workspace(tmp_path, sandbox, monkeypatch)
        try:
            run = await run_pipeline(store, "contacts")
        finally:
            await store.close()
        live = sandbox.ids("users")
        assert run.status == "succeeded", run.error
        assert run.counts["read"] == len(live)
        assert run.counts["written"] == len(live)
        assert run.counts.get("failed", 0) == run.counts.get("invalid", 0) == 0
        rows = _rows(tmp_path / "crm.db")
        assert set(rows) == set(live)
        sample = sandbox.objects["contacts"][int(live[123])]
        assert rows[live[123]] == (sample.properties["email"], sample.properties["firstname"])

        sent = sandbox.received()
        assert [r for r in sent if r.status == 429] == []
        assert sandbox.rate_limited == 0
        # The rate the limit allows is 10 requests/s; measure from the first
        # request to the last (the first window's burst is one request).
        span = sent[-1].arrived_at - sent[0].arrived_at
        rate = (len(sent) - 1) / span
        assert rate >= 9.0, f"{rate:.2f} requests/s over {len(sent)} requests"
        assert rate <= 10.0


async def test_incremental_import_reads_only_changes_and_skips_archived(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = HubSpotSandbox(records=600, limits=False)
    async with sandbox:
        store = await _workspace(tmp_path, sandbox, monkeypatch)
        try:
            first = await run_pipeline(store, "contacts")
            assert first.status == "succeeded", first.error
            touched = sandbox.touch("users", 40)
            archived = sandbox.archive("users", 5)
            second = await run_pipeline(store, "contacts")
        finally:
            await store.close()
        assert second.status == "succeeded", second.error
        assert not second.full
        # The 40 changed contacts and the one at the mark (reads are "at or after").
        assert set(touched) - set(archived) <= set(_rows(tmp_path / "crm.db"))
        assert 40 - len(set(touched) & set(archived)) <= second.counts["read"] <= 41
        rows = _rows(tmp_path / "crm.db")
        for record_id in set(touched) - set(archived):
            assert rows[record_id][1] == f"Touched {record_id}"
        searches = sandbox.received("/crm/v3/objects/contacts/search")
        assert searches and all(r.status == 200 for r in searches)


async def test_export_engine_5000_users_3_percent_invalid_fail_exactly_those(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SQLite table of 5,000 people → HubSpot contacts through the export engine.

    Matched on email; 3 % are invalid in two ways: an address HubSpot refuses
    (HubSpot answers per input) and a lifecycle stage HubSpot's schema does not
    have (the engine's validation stops it before sending). Exactly those fail,
    each with a fixed message; every other row is created or updated.
    """
    sandbox = HubSpotSandbox(records=600, limits=True)
    async with sandbox:
        known = [
            sandbox.objects["contacts"][int(i)].properties["email"] for i in sandbox.ids("users")
        ]
        people = tmp_path / "people.db"
        rows = []
        for i in range(1, 5001):
            email = known[i] if i <= 500 else f"person{i}@example.org"
            stage = "lead"
            if i % 100 in (3, 77):
                email = f"person{i}.example.org"  # no @: HubSpot refuses it
            elif i % 100 == 40:
                stage = "astronaut"  # not one of HubSpot's lifecycle stages
            rows.append((i, email, f"Person {i}", stage, "2026-02-01T00:00:00+00:00"))
        with sqlite3.connect(people) as db:
            db.execute(
                "CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, firstname TEXT,"
                " stage TEXT, updated_at TEXT)"
            )
            db.executemany("INSERT INTO people VALUES (?, ?, ?, ?, ?)", rows)
        monkeypatch.setenv("SYNCLINE_HOME", str(tmp_path / "home"))
        monkeypatch.delenv("SYNCLINE_DATABASE_URL", raising=False)
        monkeypatch.delenv("SYNCLINE_SECRET_KEY", raising=False)
        store = await open_store()
        try:
            await store.connections.save(
                "hubspot", connector="hubspot", roles=["destination"], settings=sandbox.settings()
            )
            await store.connections.save(
                "db", connector="sqlite", roles=["source"], settings={"path": str(people)}
            )
            await store.pipelines.save(
                "people",
                kind="export",
                target="users",
                source_connection_id=(await store.connections.get("db")).id,
                destination_connection_id=(await store.connections.get("hubspot")).id,
                config=PipelineConfig(
                    batch_size=500,
                    source_options={"table": "people", "key": "id", "updated_at": "updated_at"},
                    mapping={"email": "email", "firstname": "firstname", "lifecyclestage": "stage"},
                    matching="email",
                ).to_json(),
            )
            run = await run_pipeline(store, "people")
        finally:
            await store.close()
    assert run.status == "succeeded", run.error
    bad_email = [r for r in rows if "@" not in r[1]]
    bad_stage = [r for r in rows if r[3] != "lead"]
    bad = {r[0] for r in bad_email + bad_stage}
    assert len(bad) == 150  # 3 % of 5,000
    assert run.counts["updated"] == 500 - sum(1 for i in bad if i <= 500)
    assert run.counts["created"] == 4500 - sum(1 for i in bad if i > 500)
    assert run.counts["failed"] + run.counts.get("invalid", 0) == 150
    groups = {g.message: g.count for g in run.error_groups}
    email_groups = [
        m for m in groups if m.startswith("HubSpot refused the value of property 'email'")
    ]
    stage_groups = [m for m in groups if "lifecyclestage" in m]
    assert [groups[m] for m in email_groups] == [len(bad_email)]
    # one group for creates, one for updates
    assert sum(groups[m] for m in stage_groups) == len(bad_stage), groups
    for message in groups:  # fixed messages: no address, no value of a row
        assert "example.org" not in message and "astronaut" not in message
    assert sandbox.rate_limited == 0
    by_email = {o.properties.get("email"): o for o in sandbox.live("contacts")}
    for i, email, name, _, _ in rows:
        if i not in bad:
            assert by_email[email].properties["firstname"] == name
            assert by_email[email].properties["lifecyclestage"] == "lead"
        else:
            assert email not in by_email or i <= 500
