"""The demo's summary: figures read from the store and the sandboxes, and the checks.

Every count comes from where the data ended up, never from what the demo
meant to send: run counts and timings from the store's runs, event counters,
the backlog and dead letters from the store's delivery tables, and what each
"vendor" holds from its sandbox. Only :attr:`EventPhase.burst` (what the demo
asked the client library to send) is the demo's own, and it is used solely to
check the outcome — the dead letters must be exactly the deliberately flawed
events.

:meth:`DemoSummary.to_json` is what ``syncline demo --json`` prints; its keys
are documented in ``docs/demo.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from syncline.demo.project import EVENT_PIPELINES, EXPORT_FILTER, EXPORT_PIPELINE, IMPORT_PIPELINE
from syncline.demo.sandboxes import KLAVIYO_SEED, DemoSandboxes
from syncline.demo.traffic import Burst, SendReport

__all__ = ["Check", "DemoSummary", "EventPhase", "summarize"]

_STEPS = ("received", "filtered", "duplicate", "mapped", "invalid", "delivered", "retried", "dead")
_DESTINATIONS = {
    "events-to-mixpanel": "mixpanel",
    "events-to-klaviyo": "klaviyo",
    "purchases-to-ga4": "ga4",
    "signups-to-ga4": "ga4",
}


@dataclass(frozen=True, slots=True)
class EventPhase:
    """What happened while events were sent: measured by the demo, not counted by it.

    ``accepted`` is the collector's own counter of events it made durable;
    ``idle`` whether delivery finished within the timeout; ``deliver_seconds``
    the wall time from the first call on the client to the end of delivery;
    ``sent_at`` the wall-clock time (``time.time()``) of that first call, the
    clock the sandboxes stamp requests with.
    """

    burst: Burst
    report: SendReport
    accepted: int
    idle: bool
    deliver_seconds: float
    sent_at: float


@dataclass(frozen=True, slots=True)
class Check:
    """One verdict of the demo: ``ok``, and ``detail`` with the figures compared."""

    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "detail": self.detail}


@dataclass(slots=True)
class DemoSummary:
    """Everything the demo prints; :attr:`ok` is true when every check passed."""

    workspace: str
    elapsed_seconds: float
    load_average: float
    runs: list[dict[str, Any]]
    events: dict[str, Any]
    pipelines: list[dict[str, Any]]
    destinations: list[dict[str, Any]]
    dead_letters: list[dict[str, Any]]
    sandboxes: dict[str, dict[str, Any]]
    warehouse: dict[str, Any]
    checks: list[Check] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "workspace": self.workspace,
            "elapsed_seconds": round(self.elapsed_seconds, 2),
            "load_average": round(self.load_average, 2),
            "runs": self.runs,
            "events": self.events,
            "pipelines": self.pipelines,
            "destinations": self.destinations,
            "dead_letters": self.dead_letters,
            "sandboxes": self.sandboxes,
            "warehouse": self.warehouse,
            "checks": [check.to_json() for check in self.checks],
            "commands": self.commands,
        }


async def summarize(
    store: Any,
    sandboxes: DemoSandboxes,
    *,
    home: Path,
    warehouse: Path,
    phase: EventPhase,
    elapsed: float,
) -> DemoSummary:
    """Read the figures of a finished demo from ``store``, ``sandboxes`` and the
    ``warehouse`` SQLite file the import wrote, and check them."""
    from syncline.store.deliveries import Deliveries

    runs = [await _run(store, IMPORT_PIPELINE), await _run(store, EXPORT_PIPELINE)]
    deliveries = Deliveries(store.database, lambda: datetime.now(UTC))
    counters = await deliveries.counters()
    backlog = await deliveries.backlog()
    dead = await deliveries.dead()
    pipelines = []
    for name in EVENT_PIPELINES:
        pipeline = await store.pipelines.get(name)
        counts = counters.get(pipeline.id, {})
        row: dict[str, Any] = {"pipeline": name, "destination": _DESTINATIONS[name]}
        row.update({step: counts.get(step, 0) for step in _STEPS})
        row["pending"] = backlog.get(pipeline.id, {}).get("pending", 0)
        pipelines.append(row)
    grouped = Counter((letter.pipeline, letter.error or "") for letter in dead)
    dead_letters = [
        {"pipeline": pipeline, "message": message, "count": count}
        for (pipeline, message), count in sorted(grouped.items())
    ]
    held = _held(sandboxes)
    delivered = sum(p["delivered"] for p in pipelines)
    events = {
        "sent": phase.report.queued,
        "refused_by_client": phase.report.refused,
        "accepted": phase.accepted,
        "client_errors": phase.report.errors,
        "send_seconds": round(phase.report.seconds, 2),
        "deliver_seconds": round(phase.deliver_seconds, 2),
        "delivered": delivered,
        "events_per_second": round(delivered / phase.deliver_seconds, 1)
        if phase.deliver_seconds > 0
        else None,
    }
    destinations = _destinations(pipelines, sandboxes, phase.sent_at)
    summary = DemoSummary(
        workspace=str(home),
        elapsed_seconds=elapsed,
        load_average=os.getloadavg()[0],
        runs=runs,
        events=events,
        pipelines=pipelines,
        destinations=destinations,
        dead_letters=dead_letters,
        sandboxes=held,
        warehouse={
            "path": str(warehouse),
            "contacts": await asyncio.to_thread(_rows, warehouse, "contacts"),
        },
    )
    seeded = sandboxes.hubspot.records
    summary.checks = _checks(summary, phase, {(d.pipeline, d.message_id) for d in dead}, seeded)
    summary.commands = _commands(home, runs)
    return summary


async def _run(store: Any, name: str) -> dict[str, Any]:
    pipeline = await store.pipelines.get(name)
    found = await store.runs.list(pipeline.id, limit=1)
    if not found:
        return {"pipeline": name, "run": None, "status": "not run", "counts": {}, "errors": []}
    run = found[0]
    seconds = float(run.timings.get("total", 0.0) or 0.0)
    counts = {k: v for k, v in run.counts.items() if v}
    moved = counts.get("written", 0)
    return {
        "pipeline": name,
        "kind": pipeline.kind,
        "run": run.id,
        "status": run.status,
        "counts": counts,
        "errors": [g.to_json() for g in run.error_groups],
        "seconds": round(seconds, 2),
        "written_per_second": round(moved / seconds, 1) if seconds > 0 else None,
        "error": run.error,
    }


_EVENT_PATHS = {
    "mixpanel": "/import",
    "klaviyo": "/api/event-bulk-create-jobs/",
    "ga4": "/mp/collect",
}


def _destinations(
    pipelines: list[dict[str, Any]], sandboxes: DemoSandboxes, sent_at: float
) -> list[dict[str, Any]]:
    """Per event destination: its event requests and 429s (sandbox), retries (store), pace.

    ``done_after_seconds`` is the time from the first event sent to the last
    event request the sandbox accepted; ``events_per_second`` the events it
    holds over that time.
    """
    rows = []
    for code, sandbox in (
        ("mixpanel", sandboxes.mixpanel),
        ("klaviyo", sandboxes.klaviyo),
        ("ga4", sandboxes.ga4),
    ):
        received = sandbox.received(_EVENT_PATHS[code])
        accepted = [
            r.answered_at
            for r in received
            if r.answered_at is not None and r.status is not None and r.status < 300
        ]
        held = len(_attribute(sandbox, "collected" if code == "ga4" else "events"))
        done = max(accepted) - sent_at if accepted else None
        rows.append(
            {
                "destination": code,
                "event_requests": len(received),
                "http_429": sum(1 for r in received if r.status == 429),
                "retried": sum(p["retried"] for p in pipelines if p["destination"] == code),
                "events": held,
                "done_after_seconds": round(done, 2) if done is not None else None,
                "events_per_second": round(held / done, 1) if done else None,
            }
        )
    return rows


def _held(sandboxes: DemoSandboxes) -> dict[str, dict[str, Any]]:
    """What each sandbox holds and how it was asked, from the sandbox itself."""

    def requests(sandbox: Any) -> dict[str, int]:
        received = sandbox.received()
        return {
            "requests": len(received),
            "answered_429": sum(1 for r in received if r.status == 429),
        }

    return {
        "hubspot": {**requests(sandboxes.hubspot), "contacts": len(sandboxes.hubspot.ids("users"))},
        "klaviyo": {
            **requests(sandboxes.klaviyo),
            "profiles": len(sandboxes.klaviyo.ids("users")),
            "profiles_before": KLAVIYO_SEED,
            "events": len(_attribute(sandboxes.klaviyo, "events")),
        },
        "mixpanel": {
            **requests(sandboxes.mixpanel),
            "events": len(_attribute(sandboxes.mixpanel, "events")),
        },
        "ga4": {**requests(sandboxes.ga4), "events": len(_attribute(sandboxes.ga4, "collected"))},
    }


def _rows(database: Path, table: str) -> int | None:
    """Rows of ``table`` in the SQLite file ``database``; None when there is no such table."""
    if not database.exists():
        return None
    # Read-only: the demo only looks at what the import wrote.
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        try:
            return int(db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
        except sqlite3.OperationalError:
            return None


def _attribute(sandbox: Any, name: str) -> Any:
    value = getattr(sandbox, name, None)
    if value is None:
        raise TypeError(
            f"{type(sandbox).__name__} keeps no {name!r}; the demo needs the sandbox of the "
            "connector shipped with Syncline"
        )
    return value


def _checks(
    summary: DemoSummary, phase: EventPhase, dead: set[tuple[str, str]], contacts: int
) -> list[Check]:
    imported, exported = summary.runs
    held = summary.sandboxes
    live = held["hubspot"]["contacts"]
    rows = summary.warehouse["contacts"]
    created = exported["counts"].get("created", 0)
    new_profiles = held["klaviyo"]["profiles"] - held["klaviyo"]["profiles_before"]
    checks = [
        Check(
            "import read every HubSpot contact",
            imported["status"] == "succeeded"
            and imported["counts"].get("written", 0) == live == rows
            and not imported["errors"],
            f"run {imported['status']}; {imported['counts'].get('written', 0)} written, "
            f"{rows} rows in SQLite, {live} live contacts in HubSpot (of {contacts} seeded)",
        ),
        Check(
            "export created one Klaviyo profile per selected contact",
            exported["status"] == "succeeded"
            and created == new_profiles
            and created > 0
            and not exported["errors"],
            f"run {exported['status']}; {created} created by the run ({EXPORT_FILTER}), "
            f"{new_profiles} new profiles in Klaviyo",
        ),
        Check(
            "the collector accepted every event sent",
            phase.accepted == phase.report.queued
            and not phase.report.errors
            and not phase.report.refused,
            f"{phase.report.queued} queued by the client ({phase.report.refused} refused), "
            f"{phase.accepted} accepted, {len(phase.report.errors)} client errors",
        ),
    ]
    unbalanced = [
        p["pipeline"]
        for p in summary.pipelines
        if p["received"] != phase.accepted
        or p["received"] != p["filtered"] + p["duplicate"] + p["delivered"] + p["dead"]
        or p["pending"]
    ]
    checks.append(
        Check(
            "every accepted event is delivered, filtered or dead-lettered",
            phase.idle and not unbalanced,
            "every pipeline: received = filtered + duplicate + delivered + dead, nothing pending"
            if not unbalanced
            else f"not balanced or still pending: {', '.join(unbalanced)}",
        )
    )
    for code in ("mixpanel", "klaviyo", "ga4"):
        delivered = sum(p["delivered"] for p in summary.pipelines if p["destination"] == code)
        checks.append(
            Check(
                f"{code} holds exactly the events delivered to it",
                delivered == held[code]["events"],
                f"{delivered} delivered, {held[code]['events']} held by the {code} sandbox",
            )
        )
    expected = {(p, m) for p, ids in phase.burst.flawed().items() for m in ids}
    checks.append(
        Check(
            "dead letters are exactly the deliberately flawed events",
            dead == expected,
            f"{len(dead)} dead letters, {len(expected)} flawed events planned; "
            f"{len(dead - expected)} unexpected, {len(expected - dead)} missing",
        )
    )
    ga4 = next(r for r in summary.destinations if r["destination"] == "ga4")
    checks.append(
        Check(
            "the GA4 429 storm was answered by retries",
            ga4["http_429"] > 0 and ga4["retried"] > 0,
            f"{ga4['http_429']} answers 429, {ga4['retried']} events retried",
        )
    )
    return checks


def _commands(home: Path, runs: list[dict[str, Any]]) -> list[str]:
    base = f"syncline --home {shlex.quote(str(home))}"
    commands = [f"{base} runs"]
    commands += [f"{base} runs show {r['run']}" for r in runs if r["run"] is not None]
    commands += [f"{base} events stats", f"{base} events dead"]
    return commands
