"""Events/s delivered to each event destination's sandbox, with its limits on and off.

For each destination (Klaviyo, Mixpanel, Google Analytics 4, Webhook) and each
mode, every run uses three processes on 127.0.0.1:

* the destination's **sandbox** (the connector's own fake of the vendor API,
  ``limits`` on or off), with a transform that counts its answers by status
  and the time of the last accepted request, and ``GET /_bench/stats``;
* the **delivery** process: ``DeliveryService`` with default settings on a
  fresh SQLite workspace, started after the events are in the log;
* this process: it writes the workspace (event source, connection, event
  pipeline, N events appended to the event log in chunks of 5,000), starts
  the other two, polls the sandbox until it holds every event, then stops both.

Limits **on**: the sandbox enforces the vendor's published limits and the
connector's endpoint group keeps its declared rate. Limits **off**: the
sandbox enforces none and the delivery process lifts the connector's declared
rate to 100,000 requests/s (``max_concurrent`` is kept: it is a concurrency
cap, not a rate).

Measured per run: events/s from the delivery service's start to the last
accepted request; requests/s between the first and the last accepted
request; events per request; 429s answered; the delivery process's CPU
time over the same span (its startup excluded) as a share of one core. With
limits on, the request rate as a share of the rate the API
allows (the sandbox's limit) and of the rate the connector declares.

    .venv/bin/python bench/destinations.py                       # 3 runs of each, on and off
    .venv/bin/python bench/destinations.py --runs 5 --only ga4 --limits on
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil

USERS = 10_000
LIFTED_RATE = 100_000.0
BATCH_ENV = "SYNCLINE_BENCH_BATCH_SIZE"


def _track(i: int, stamp: str) -> dict[str, Any]:
    user = i % USERS
    return {
        "type": "track",
        "event": "Order Completed",
        "messageId": f"bench-{i}",
        "userId": f"user-{user}",
        "anonymousId": f"device-{user}",
        "receivedAt": stamp,
        "timestamp": stamp,
        "context": {"traits": {"email": f"user{user}@example.com"}},
        "properties": {"order_id": f"o-{i}", "revenue": 129.5, "currency": "EUR", "plan": "pro"},
    }


def _ga4(i: int, stamp: str) -> dict[str, Any]:
    # GA4 event names are letters, digits and '_' (the custom type sends Segment's name).
    return {**_track(i, stamp), "event": "order_completed", "userId": None}


@dataclass(frozen=True)
class Destination:
    """How to run one destination: its connector, sandbox, events and limits."""

    key: str
    code: str
    package: str
    sandbox: str
    event_type: str
    path: str
    events_on: int
    events_off: int
    allowed_rps: float
    allowed: str
    message: Callable[[int, str], dict[str, Any]] = _track
    settings: tuple[tuple[str, Any], ...] = ()

    def kept(self, sandbox: Any) -> int:
        """Events the sandbox holds (deduplicated where the API deduplicates)."""
        if self.key == "ga4":
            return len(sandbox.collected)
        return len(sandbox.events)


DESTINATIONS = {
    d.key: d
    for d in (
        Destination(
            "klaviyo",
            "klaviyo",
            "syncline.connectors.klaviyo",
            "syncline.connectors.klaviyo.sandbox:KlaviyoSandbox",
            "track",
            "/api/event-bulk-create-jobs/",
            15_000,
            40_000,
            2.5,
            "150 requests/min (10/s bursts), 1,000 events per request",
        ),
        Destination(
            "mixpanel",
            "mixpanel",
            "syncline.connectors.mixpanel",
            "syncline.connectors.mixpanel.sandbox:MixpanelSandbox",
            "track",
            "/import",
            40_000,
            40_000,
            15.0,
            "15 requests/s of up to 2,000 events (~30,000 events/s)",
        ),
        Destination(
            "ga4",
            "google-analytics",
            "syncline.connectors.google_analytics",
            "syncline.connectors.google_analytics.sandbox:GoogleAnalyticsSandbox",
            "custom",
            "/mp/collect",
            400,
            2_000,
            30.0,
            "30 requests/s (the sandbox's; Google publishes none), 25 events per request",
            message=_ga4,
        ),
        Destination(
            "webhook",
            "webhook",
            "syncline.connectors.webhook",
            "syncline.connectors.webhook.sandbox:WebhookSandbox",
            "event",
            "/hooks/syncline",
            15_000,
            40_000,
            20.0,
            "20 requests/s (the sandbox receiver's), max_events 100 per request",
        ),
    )
}


def _declared_rps(dest: Destination) -> float:
    package = importlib.import_module(dest.package)
    groups = package.SPEC.endpoint_groups
    return float(min(g.rate_limit.requests_per_second for g in groups if g.rate_limit))


def _sandbox_class(dest: Destination) -> Any:
    module, _, name = dest.sandbox.partition(":")
    return getattr(importlib.import_module(module), name)


# -- the sandbox process ---------------------------------------------------------------


async def _serve_sandbox(dest: Destination, limits: bool) -> None:
    from syncline.sdk.testing.server import ReceivedRequest, Reply

    sandbox = _sandbox_class(dest)(records=10, limits=limits)
    statuses: dict[int, int] = {}
    times = {"first_ok": 0.0, "last_ok": 0.0}

    def count(request: ReceivedRequest, reply: Reply) -> Reply:
        if request.path == dest.path:
            statuses[reply.status] = statuses.get(reply.status, 0) + 1
            if reply.status < 300:
                now = time.time()
                times["first_ok"] = times["first_ok"] or now
                times["last_ok"] = now
        return reply

    def stats(request: ReceivedRequest) -> Any:
        return {
            "kept": dest.kept(sandbox),
            "statuses": {str(k): v for k, v in statuses.items()},
            **times,
            "cpu": time.process_time(),
        }

    sandbox.server.transform(count)
    sandbox.server.route("GET", "/_bench/stats", stats)
    async with sandbox:
        print(sandbox.url, orjson.dumps(sandbox.settings()).decode(), flush=True)
        while True:
            # The request log would grow for the whole run; the counts above suffice.
            await asyncio.sleep(0.5)
            sandbox.server.log.clear()


# -- the delivery process ---------------------------------------------------------------


def _lift_limits(dest: Destination) -> None:
    from syncline.sdk import registry

    entry = registry.get(dest.code)
    groups = tuple(
        dataclasses.replace(
            group,
            rate_limit=dataclasses.replace(
                group.rate_limit, requests_per_second=LIFTED_RATE, burst=10_000
            ),
        )
        if group.rate_limit is not None
        else group
        for group in entry.spec.endpoint_groups
    )
    registry.register(dataclasses.replace(entry.spec, endpoint_groups=groups), entry.cls)


async def _deliver(dest: Destination, limits: bool) -> None:
    from syncline.engine.delivery import DeliveryService, DeliverySettings
    from syncline.store import open_store

    importlib.import_module(dest.package)
    if not limits:
        _lift_limits(dest)
    store = await open_store()
    batch_size = int(os.environ.get(BATCH_ENV) or DeliverySettings().batch_size)
    service = DeliveryService(store, DeliverySettings(batch_size=batch_size))
    try:
        await service.start()
        print("delivering", flush=True)
        # Nobody reads this pipe any more: anything printed later must not fill it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        await asyncio.Event().wait()
    finally:
        await store.close()


# -- setup, one run, report ---------------------------------------------------------------


async def _setup(dest: Destination, settings: dict[str, Any], events: int) -> None:
    from syncline.engine.config.model import PipelineConfig
    from syncline.store import open_store

    importlib.import_module(dest.package)
    store = await open_store()
    try:
        source, _ = await store.event_sources.create("bench")
        connection = await store.connections.save(
            "dest",
            connector=dest.code,
            roles=["destination"],
            settings={**settings, **dict(dest.settings)},
        )
        await store.pipelines.save(
            "bench-to-dest",
            kind="events",
            target="events",
            destination_connection_id=connection.id,
            config=PipelineConfig(event_type=dest.event_type).to_json(),
        )
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        for start in range(0, events, 5000):
            await store.event_log.append(
                source.id, [dest.message(i, stamp) for i in range(start, min(events, start + 5000))]
            )
    finally:
        await store.close()


@dataclass
class Run:
    events: int
    seconds: float
    events_per_s: float
    requests: int
    requests_per_s: float
    refused: int
    delivery_cpu: float
    delivery_waited: float
    sandbox_cpu: float
    complete: bool


def _cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def _runqueue_wait(pid: int) -> float:
    """Seconds the process's main thread (the event loop) waited for a CPU while runnable.

    From Linux's ``/proc/PID/schedstat`` (second field, nanoseconds): time the
    loop was ready to run but the machine gave the core to someone else.
    """
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


def one_run(
    dest: Destination, limits: bool, events: int, timeout: float, batch_size: int | None
) -> Run:
    here = str(Path(__file__).resolve())
    mode = "on" if limits else "off"
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "SYNCLINE_HOME": home, BATCH_ENV: str(batch_size or "")}
        env.pop("SYNCLINE_DATABASE_URL", None)
        os.environ["SYNCLINE_HOME"] = home
        os.environ.pop("SYNCLINE_DATABASE_URL", None)
        sandbox = subprocess.Popen(
            [sys.executable, here, "_sandbox", dest.key, mode],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        delivery: subprocess.Popen[str] | None = None
        try:
            assert sandbox.stdout is not None
            url, settings = sandbox.stdout.readline().strip().split(" ", 1)
            asyncio.run(_setup(dest, orjson.loads(settings), events))
            delivery = subprocess.Popen(
                [sys.executable, here, "_deliver", dest.key, mode],
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert delivery.stdout is not None
            line = delivery.stdout.readline()
            assert line.strip() == "delivering", f"the delivery process said {line!r}"
            started = time.time()
            cpu_start = _cpu(delivery.pid)
            wait_start = _runqueue_wait(delivery.pid)
            sandbox_start = httpx.get(f"{url}/_bench/stats", timeout=30).json()["cpu"]
            deadline = time.monotonic() + timeout
            while True:
                stats = httpx.get(f"{url}/_bench/stats", timeout=30).json()
                if stats["kept"] >= events or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            cpu = _cpu(delivery.pid) - cpu_start
            waited = _runqueue_wait(delivery.pid) - wait_start
        finally:
            for process in (delivery, sandbox):
                if process is not None:
                    process.terminate()
                    process.wait(60)
    statuses = {int(k): v for k, v in stats["statuses"].items()}
    ok = sum(v for k, v in statuses.items() if k < 300)
    span = max(stats["last_ok"] - started, 1e-9)
    active = max(stats["last_ok"] - stats["first_ok"], 1e-9)
    return Run(
        events=stats["kept"],
        seconds=span,
        events_per_s=stats["kept"] / span,
        requests=ok,
        requests_per_s=(ok - 1) / active if ok > 1 else 0.0,
        refused=statuses.get(429, 0),
        delivery_cpu=cpu,
        delivery_waited=waited,
        sandbox_cpu=stats["cpu"] - sandbox_start,
        complete=stats["kept"] >= events,
    )


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="Repetitions of each (medians).")
    parser.add_argument(
        "--only", default=",".join(DESTINATIONS), help="Comma-separated: " + ", ".join(DESTINATIONS)
    )
    parser.add_argument("--limits", default="on,off", help="on, off or on,off")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="Multiply every destination's event count."
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="DeliverySettings.batch_size (default 500)."
    )
    parser.add_argument("_role", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._role:
        role, key, mode = args._role
        dest = DESTINATIONS[key]
        runner = _serve_sandbox if role == "_sandbox" else _deliver
        asyncio.run(runner(dest, mode == "on"))
        return

    print(f"command: bench/destinations.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"machine: {os.cpu_count()} cores (nproc), Python {sys.version.split()[0]}")
    if args.batch_size:
        print(f"delivery batch_size: {args.batch_size}")
    print(f"load average at start: {Path('/proc/loadavg').read_text().strip()}")
    rows: list[str] = []
    for key in args.only.split(","):
        dest = DESTINATIONS[key.strip()]
        declared = _declared_rps(dest)
        for mode in args.limits.split(","):
            limits = mode.strip() == "on"
            events = int((dest.events_on if limits else dest.events_off) * args.scale)
            expected = events / 10 if limits else 30.0
            runs: list[Run] = []
            for n in range(args.runs):
                run = one_run(dest, limits, events, max(120.0, 4 * expected), args.batch_size)
                runs.append(run)
                print(
                    f"  {key} limits {mode} run {n + 1}: {run.events}/{events} events in "
                    f"{run.seconds:.1f}s = {run.events_per_s:,.0f} events/s, "
                    f"{run.requests} requests ({run.requests_per_s:.2f}/s), "
                    f"429s {run.refused}, CPU delivery {run.delivery_cpu:.1f}s "
                    f"(its loop waited for a CPU {run.delivery_waited:.1f}s), "
                    f"sandbox {run.sandbox_cpu:.1f}s"
                    + ("" if run.complete else "  INCOMPLETE (timed out)"),
                    flush=True,
                )
            eps = [r.events_per_s for r in runs]
            rps = _median([r.requests_per_s for r in runs])
            per_request = _median([r.events / max(r.requests, 1) for r in runs])
            cpu_share = _median([r.delivery_cpu / r.seconds for r in runs])
            cpu_per_event = _median([r.delivery_cpu / max(r.events, 1) for r in runs])
            sandbox_share = _median([r.sandbox_cpu / r.seconds for r in runs])
            waited_share = _median([r.delivery_waited / r.seconds for r in runs])
            share = (
                f"{100 * rps / dest.allowed_rps:.0f} % of {dest.allowed_rps:g}/s; "
                f"{100 * rps / declared:.0f} % of declared {declared:g}/s"
                if limits
                else "—"
            )
            rows.append(
                f"| {key} | {mode} | {events:,} | **{_fmt(_median(eps))}** "
                f"({_fmt(min(eps))}–{_fmt(max(eps))}) | {rps:.2f} | {per_request:,.0f} | "
                f"{sum(r.refused for r in runs)} | {share} | {100 * cpu_share:.0f} % | "
                f"{1e6 * cpu_per_event:,.0f} µs | {100 * waited_share:.0f} % | "
                f"{100 * sandbox_share:.0f} % |"
            )
    print(f"load average at end: {Path('/proc/loadavg').read_text().strip()}")
    print()
    print(
        "| destination | limits | events | events/s, median (min–max) | requests/s | "
        "events/request | 429s (all runs) | request rate vs allowed | CPU delivery | "
        "delivery CPU per event | event loop waiting for a CPU | CPU sandbox |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
