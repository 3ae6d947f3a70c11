"""``syncline demo``: its summary against what the sandboxes received and what the store holds.

Two runs:

* in-process, small, with sandboxes the test starts itself: every figure of
  the summary is compared with the sandboxes' own records (contacts, profiles,
  events by ID, 429 answers) and with the SQLite file the import wrote;
* the real command, with no size options, as a user runs it: exit 0 within a
  minute, and its ``--json`` summary agrees with ``syncline runs --json``,
  ``events stats --json`` and ``events dead --json`` on the workspace it left.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from syncline.demo import DemoError, DemoOptions, DemoSandboxes, run_demo
from syncline.demo.project import EXPORT_PIPELINE, IMPORT_PIPELINE
from syncline.demo.render import render
from syncline.demo.traffic import FLAWS, plan_burst

SYNCLINE = Path(sys.executable).parent / "syncline"
# The demo always uses its workspace's SQLite file; keep the caller's database out of it.
ENV = {k: v for k, v in os.environ.items() if k != "SYNCLINE_DATABASE_URL"}


async def test_summary_matches_what_the_sandboxes_received(tmp_path: Path) -> None:
    options = DemoOptions(contacts=300, events=300, storm_seconds=2.0, seed=11)
    sandboxes = DemoSandboxes.create(options.contacts, seed=3)
    await sandboxes.start()
    try:
        summary = await run_demo(tmp_path / "ws", options, sandboxes=sandboxes)
    finally:
        await sandboxes.stop()
    report = summary.to_json()
    assert summary.ok, [c for c in report["checks"] if not c["ok"]]
    imported, exported = report["runs"]

    # Import: every live HubSpot contact is a row of the SQLite table.
    hub: Any = sandboxes.hubspot
    live = {str(o.id): o for o in hub.live("contacts")}
    with sqlite3.connect(tmp_path / "ws" / "warehouse.db") as db:
        rows = dict(db.execute("SELECT id, email FROM contacts").fetchall())
    assert set(rows) == set(live)
    assert imported["counts"]["written"] == len(live) == report["sandboxes"]["hubspot"]["contacts"]
    assert report["warehouse"]["contacts"] == len(rows)

    # Export: Klaviyo gained exactly the newsletter customers, by email.
    wanted = {
        o.properties["email"]
        for o in live.values()
        if o.properties["lifecyclestage"] == "customer" and o.properties["newsletter"] == "true"
    }
    klaviyo: Any = sandboxes.klaviyo
    profiles = klaviyo.collections["users"]
    emails = {profiles.get(i)["email"] for i in profiles.ids()}
    created = {e for e in emails if e.startswith("contact")}
    assert created == wanted
    assert exported["counts"]["created"] == len(wanted)
    assert len(klaviyo.received("/api/profiles/", "POST")) == len(wanted)

    # Events: each destination holds exactly the valid events meant for it.
    burst = plan_burst(options.events, options.seed)
    tracks = [c for c in burst.calls if c.kind == "track"]
    to_mixpanel = {c.message_id for c in tracks if c.flaw != "placeholder-user"}
    to_klaviyo = {c.message_id for c in tracks if c.flaw != "anonymous"}
    purchases = {
        c.message_id for c in tracks if c.event == "Order Completed" and c.flaw != "no-currency"
    }
    signups = {c.message_id for c in tracks if c.event == "Signed Up"}
    mixpanel: Any = sandboxes.mixpanel
    assert set(mixpanel.events) == {
        hashlib.sha256(m.encode()).hexdigest()[:32] for m in to_mixpanel
    }
    assert {u.split("/", 1)[1] for u in klaviyo.events} == to_klaviyo
    ga4: Any = sandboxes.ga4
    names = Counter(e["name"] for e in ga4.collected)
    assert names == Counter({"purchase": len(purchases), "sign_up": len(signups)})

    by_name = {p["pipeline"]: p for p in report["pipelines"]}
    assert by_name["events-to-mixpanel"]["delivered"] == len(to_mixpanel)
    assert by_name["events-to-klaviyo"]["delivered"] == len(to_klaviyo)
    assert by_name["purchases-to-ga4"]["delivered"] == len(purchases)
    assert by_name["signups-to-ga4"]["delivered"] == len(signups)
    assert report["events"]["accepted"] == options.events
    assert report["events"]["delivered"] == sum(p["delivered"] for p in by_name.values())

    # The storm: every 429 GA4 answered is one retried event, and none was lost.
    answered = [r for r in ga4.received("/mp/collect") if r.status == 429]
    destinations = {r["destination"]: r for r in report["destinations"]}
    assert destinations["ga4"]["http_429"] == len(answered) > 0
    assert destinations["ga4"]["retried"] == len(answered)
    assert destinations["ga4"]["event_requests"] == len(ga4.received("/mp/collect"))
    assert destinations["mixpanel"]["events"] == len(mixpanel.events)

    # Dead letters: the flawed events, one group per pipeline, with its message.
    flawed = Counter(FLAWS[c.flaw] for c in burst.calls if c.flaw)
    assert {d["pipeline"]: d["count"] for d in report["dead_letters"]} == dict(flawed)
    messages = {d["pipeline"]: d["message"] for d in report["dead_letters"]}
    assert "currency" in messages["purchases-to-ga4"]
    assert "distinct_id" in messages["events-to-mixpanel"]
    assert "no Klaviyo profile" in messages["events-to-klaviyo"]

    # The tables for people name every section, without colour codes off a terminal.
    out = io.StringIO()
    render(summary, out)
    text = out.getvalue()
    for heading in ("What moved where", "Event delivery", "what was retried", "Dead letters"):
        assert heading in text
    assert "FAILED" not in text.split("Checks", 1)[1]
    assert f"syncline --home {tmp_path / 'ws'} events dead" in text
    assert "\x1b[" not in text


async def test_refuses_a_workspace_in_use(tmp_path: Path) -> None:
    (tmp_path / "syncline.db").write_bytes(b"")
    with pytest.raises(DemoError, match="already holds a Syncline workspace"):
        await run_demo(tmp_path, DemoOptions(contacts=10, events=200))


def _cli(home: Path, *args: str) -> Any:
    done = subprocess.run(
        [str(SYNCLINE), "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=ENV,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_real_command_agrees_with_the_workspace_it_leaves(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    started = time.monotonic()
    done = subprocess.run(
        [str(SYNCLINE), "--home", str(home), "demo", "--json"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=ENV,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # Progress lines are for terminals only: stderr stays empty in a pipe.
    assert done.stderr == ""
    summary = json.loads(done.stdout)
    assert elapsed < 60, f"syncline demo took {elapsed:.1f}s"
    assert summary["ok"] and all(c["ok"] for c in summary["checks"])
    assert summary["workspace"] == str(home)

    runs = {r["pipeline"]: r for r in _cli(home, "runs", "--json")}
    for run in summary["runs"]:
        stored = runs[run["pipeline"]]
        assert (stored["run"], stored["status"]) == (run["run"], "succeeded")
        assert {k: v for k, v in stored["counts"].items() if v} == run["counts"]
    assert runs[IMPORT_PIPELINE]["counts"]["written"] >= 1900
    assert runs[EXPORT_PIPELINE]["counts"]["created"] > 100

    stats = {r["pipeline"]: r for r in _cli(home, "events", "stats", "--json")}
    for row in summary["pipelines"]:
        stored = stats[row["pipeline"]]
        for step, value in stored["counts"].items():
            if step in row:
                assert row[step] == value, (row["pipeline"], step)
        assert stored["pending"] == row["pending"] == 0
        assert stored["dead_letters"] == row["dead"]

    dead = _cli(home, "events", "dead", "--json", "--limit", "1000")
    grouped = Counter((d["pipeline"], d["error"]) for d in dead)
    assert {(d["pipeline"], d["message"]): d["count"] for d in summary["dead_letters"]} == grouped
    assert set(FLAWS.values()) == {p for p, _ in grouped}

    ga4 = next(r for r in summary["destinations"] if r["destination"] == "ga4")
    assert ga4["retried"] > 0 and ga4["http_429"] > 0
    assert summary["commands"][0] == f"syncline --home {home} runs"


def test_cli_refuses_a_workspace_in_use(tmp_path: Path) -> None:
    (tmp_path / "syncline.db").write_bytes(b"")
    done = subprocess.run(
        [str(SYNCLINE), "--home", str(tmp_path), "demo"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=ENV,
    )
    assert done.returncode == 2
    assert "already holds a Syncline workspace" in done.stderr
    assert done.stdout == ""


def test_the_burst_is_repeatable_and_flaws_each_pipeline() -> None:
    first, again = plan_burst(900, seed=5), plan_burst(900, seed=5)
    assert first == again
    assert plan_burst(900, seed=6) != first
    flawed = first.flawed()
    assert {p: len(ids) for p, ids in flawed.items()} == {p: 3 for p in FLAWS.values()}
    kinds = Counter(c.kind for c in first.calls)
    assert set(kinds) == {"identify", "page", "track"}
    # Every track call comes from a visitor with an anonymous ID (GA4 needs a client_id).
    assert all(c.anonymous_id for c in first.calls)
    with pytest.raises(ValueError, match="at least 10"):
        plan_burst(9, seed=1)
