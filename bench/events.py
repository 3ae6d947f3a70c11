"""Event delivery throughput and latency: HTTP load → collector → event log → sender → app.

Three processes besides this one, each on 127.0.0.1:

* a **destination** app that accepts batches (``POST /events``), counts the
  events it received and the ingest-to-delivery latency of each (from the
  ``t`` property the load stamped), optionally rate-limited to ``--rate``
  requests/s with 429 + Retry-After beyond it;
* the **server**: the collector and the delivery service in one process, on a
  fresh SQLite workspace (WAL, ``synchronous=FULL``: every 200 is durable),
  exactly what ``syncline serve`` runs with delivery plugged in
  (``--processes 2``: two processes, as ``syncline serve --no-deliver`` beside
  ``syncline events deliver``);
* (``--mode e2e``) this process, sending ``/v1/batch`` requests of ``--batch``
  events over keep-alive connections for ``--seconds``.

Modes:

* ``e2e`` — sustained end to end: accepted events/s, delivered events/s, and
  the p50/p99 latency from the load's send to the destination's receipt;
  ``--offered N`` paces the load at N events/s (else as fast as accepted).
* ``delivery`` — the delivery half alone: ``--events`` are appended to the log
  first, then the server starts and delivers them; events/s from start to the
  last one received, and the server's CPU per event (all threads, and its
  event loop's thread).
* ``--rate R`` (with ``delivery``) — the destination allows R requests/s and
  the connector's endpoint group is set to the same R: the achieved request
  rate as a share of R, the 429s the app sent, and the gaps between the
  requests it received.
* ``phases`` — in this process, the CPU per event of each store phase of
  delivery (read the log, route, the routing and outcome transactions, the
  prune), median of 5 runs of ``--events``.
* ``--lock-profile`` (with ``e2e``) — how long the collector's and delivery's
  writes waited for and held the store's single write lock (SQLite), per
  accepted event and per kind of write, and the share of the run it was held.

    .venv/bin/python bench/events.py --mode e2e --seconds 20
    .venv/bin/python bench/events.py --mode e2e --seconds 20 --offered 3000
    .venv/bin/python bench/events.py --mode delivery --events 200000
    .venv/bin/python bench/events.py --mode delivery --events 20000 --rate 50
    .venv/bin/python bench/events.py --mode phases --events 20000
    .venv/bin/python bench/events.py --mode e2e --processes 2 --offered 22000 --lock-profile
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
from pydantic import BaseModel, SecretStr

KEY = "bench-write-key-0123456789"
RATE_ENV = "SYNCLINE_BENCH_RATE"
PER_REQUEST_ENV = "SYNCLINE_BENCH_PER_REQUEST"
LOCK_PROFILE_ENV = "SYNCLINE_BENCH_LOCK_PROFILE"
BURST = 5
"""The burst of the rate-limited app, and of the connector's endpoint group."""

# -- the bench connector (imported by the server process) ----------------------------


class BenchSettings(BaseModel):
    base_url: str
    api_key: SecretStr


def _register() -> None:
    from syncline.sdk import (
        ApplicationSpec,
        AsDestination,
        EndpointGroup,
        Env,
        Events,
        EventType,
        Problem,
        RateLimit,
        RetryAfter,
        RetryPolicy,
        register,
    )

    rate = float(os.environ.get(RATE_ENV) or 0)
    per_request = int(os.environ.get(PER_REQUEST_ENV) or 1000)
    spec = ApplicationSpec(
        code="bench-events",
        label="Bench events app",
        as_destination=AsDestination(targets=("events",)),
        settings=BenchSettings,
        endpoint_groups=(
            EndpointGroup(
                patterns=("/",),
                rate_limit=RateLimit(rate, burst=BURST)
                if rate
                else RateLimit(100_000, burst=10_000),
                retry=RetryPolicy(rules={429: RetryAfter()}, max_attempts=1),
            ),
        ),
    )

    class BenchApp:
        def __init__(self, env: Env[BenchSettings]) -> None:
            self.env = env

        async def check(self) -> list[Problem]:
            return []

        async def event_types(self) -> list[EventType]:
            return [EventType("any", "Any")]

        async def event_type_schema(self, type_id: str) -> None:
            return None

        async def send_events(self, events: Events) -> None:
            request = await self._request(events, preview=False)
            await self.env.http.send(request)

        async def preview_send_events(self, events: Events) -> httpx.Request | None:
            return self.env.http.preview(await self._request(events, preview=True))

        async def _request(self, events: Events, *, preview: bool) -> httpx.Request:
            settings = await self.env.settings.load()
            body = []
            for event in events.all():
                properties = event.received.properties or {}
                body.append({"id": event.idempotency_key, "t": properties.get("t")})
                if len(body) == per_request:
                    break
            return self.env.http.build_request(
                "POST",
                f"{settings.base_url}/events",
                json={"events": body},
                headers={"Authorization": f"Bearer {settings.api_key.get_secret_value()}"},
                idempotency_key=True,
            )

    register(spec, BenchApp)


# -- the destination process ------------------------------------------------------------


async def _destination(rate: float) -> None:
    from syncline.sdk.testing.server import FaultServer, ReceivedRequest

    server = FaultServer()
    received = 0
    requests = 0
    latencies: list[float] = []
    first: float | None = None
    last: float | None = None
    arrivals: list[float] = []

    def accept(request: ReceivedRequest) -> Any:
        nonlocal received, requests, first, last
        now = time.time()
        events = orjson.loads(request.body)["events"]
        received += len(events)
        requests += 1
        arrivals.append(time.monotonic())
        first = first or now
        last = now
        latencies.extend(now - e["t"] for e in events if e.get("t"))
        return {"ok": True}

    def stats(request: ReceivedRequest) -> Any:
        ordered = sorted(latencies)

        def pct(p: float) -> float | None:
            return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else None

        return {
            "received": received,
            "requests": requests,
            "refused": rule.refused if rule else 0,
            "first": first,
            "last": last,
            "p50": pct(0.5),
            "p99": pct(0.99),
            "gaps": [b - a for a, b in itertools.pairwise(arrivals)],
        }

    # The app and the connector's endpoint group have the same rate and burst.
    rule = server.rate_limit(rate, BURST, prefix="/events") if rate else None
    server.route("POST", "/events", accept)
    server.route("GET", "/stats", stats)
    async with server:
        print(server.url, flush=True)
        while True:
            await asyncio.sleep(0.5)
            server.log.clear()


# -- the server process -----------------------------------------------------------------


async def _server(role: str) -> None:
    """``delivery``: delivery alone; ``collector``: the collector alone; ``both``: one process."""
    from syncline.collect import Collector, bind, serve
    from syncline.engine.delivery import DeliveryService, DeliverySettings
    from syncline.store import open_store

    _register()
    if os.environ.get(LOCK_PROFILE_ENV):
        _profile_locks(os.environ[LOCK_PROFILE_ENV], role)
    store = await open_store()
    service = DeliveryService(
        store, DeliverySettings(max_in_flight=int(os.environ.get("SYNCLINE_BENCH_IN_FLIGHT") or 4))
    )
    if os.environ.get("SYNCLINE_BENCH_GC") != "default":
        # What `syncline serve` and `syncline events deliver` do at start-up.
        from syncline.engine.tuning import tune_gc_for_delivery

        tune_gc_for_delivery()
    try:
        if role == "delivery":
            stop = asyncio.Event()
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
            cpu, main = time.process_time(), time.thread_time()
            await service.start()
            print("delivering", flush=True)
            await stop.wait()
            # The CPU the process and its event loop's thread spent since start.
            print(f"cpu {time.process_time() - cpu} {time.thread_time() - main}", flush=True)
            await service.stop()
            return
        services = [] if role == "collector" else [service]
        # As `syncline serve` wires them: each durable commit wakes delivery.
        collector = Collector(store, on_commit=service.notify if services else None)
        sock = bind("127.0.0.1", 0)
        with sock:
            await serve(
                collector,
                sock,
                services=services,
                announce=lambda line: print(line, flush=True),
            )
    finally:
        await store.close()


# -- the write-lock profile (--lock-profile) ----------------------------------------


def _profile_locks(directory: str, role: str) -> None:
    """Time every raw-SQLite write of this process: the wait for the lock and the hold.

    Wraps :func:`begin_immediate` where the collector's appender and the
    delivery writer call it, and their transaction methods; the hold is a
    transaction's time minus its wait. Written to ``directory/ROLE.json`` at
    exit: totals in seconds per kind of write, and the count of each.
    """
    import atexit
    import collections
    import json
    import threading

    import syncline.store.event_log as log_module
    import syncline.store.raw_sqlite as writer_module

    totals: collections.Counter[str] = collections.Counter()
    local = threading.local()

    def timed_begin(original: Any) -> Any:
        def begin(conn: Any, *args: Any) -> None:
            began = time.perf_counter()
            try:
                original(conn, *args)
            finally:
                local.wait = time.perf_counter() - began

        return begin

    def timed(original: Any, kind_of: Any) -> Any:
        def transaction(self: Any, *args: Any) -> Any:
            local.wait = 0.0
            began = time.perf_counter()
            try:
                return original(self, *args)
            finally:
                total = time.perf_counter() - began
                kind = kind_of(*args)
                totals[f"{kind} wait"] += local.wait
                totals[f"{kind} hold"] += total - local.wait
                totals[f"{kind} count"] += 1

        return transaction

    log_module.begin_immediate = timed_begin(log_module.begin_immediate)  # type: ignore[attr-defined]
    writer_module.begin_immediate = timed_begin(writer_module.begin_immediate)  # type: ignore[attr-defined]
    appender = log_module._SqliteAppender
    appender._write = timed(appender._write, lambda rows: "collector append")  # type: ignore[method-assign]
    sqlite_writer = writer_module.SqliteWriter
    sqlite_writer._transaction = timed(  # type: ignore[method-assign]
        sqlite_writer._transaction, lambda work, args: f"delivery {work.__name__}"
    )

    def write() -> None:
        Path(directory, f"{role}.json").write_text(json.dumps(totals))

    atexit.register(write)


def _report_locks(directory: str, accepted: int, elapsed: float) -> None:
    import json

    totals: Counter[str] = Counter()
    for path in Path(directory).glob("*.json"):
        totals.update(json.loads(path.read_text()))
    if not totals:
        print("store write lock: no profile written")
        return
    kinds = sorted({key.rsplit(" ", 1)[0] for key in totals})
    held = sum(totals[f"{k} hold"] for k in kinds)
    print(
        f"store write lock: held {held:.2f} s in all, "
        f"{1e6 * held / max(accepted, 1):.1f} µs per accepted event "
        f"({100 * held / elapsed:.0f}% of the load's {elapsed:.1f} s, drain included)"
    )
    for k in kinds:
        print(
            f"  {k}: {int(totals[f'{k} count'])} transactions, held "
            f"{1e6 * totals[f'{k} hold'] / max(accepted, 1):.1f} µs/event, waited "
            f"{1e6 * totals[f'{k} wait'] / max(accepted, 1):.1f} µs/event"
        )


# -- setup and load ---------------------------------------------------------------------


async def _setup(dest_url: str, events: int) -> None:
    from syncline.engine.config.model import PipelineConfig
    from syncline.store import open_store

    _register()
    store = await open_store()
    try:
        source, _ = await store.event_sources.create("bench", write_key=KEY)
        connection = await store.connections.save(
            "app",
            connector="bench-events",
            roles=["destination"],
            settings={"base_url": dest_url, "api_key": "bench-secret-api-key"},
        )
        await store.pipelines.save(
            "bench-to-app",
            kind="events",
            target="events",
            destination_connection_id=connection.id,
            config=PipelineConfig(event_type="any").to_json(),
        )
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now))
        for start in range(0, events, 5000):
            await store.event_log.append(
                source.id,
                [
                    {
                        "type": "track",
                        "event": "Order Completed",
                        "messageId": str(uuid.uuid4()),
                        "userId": f"user-{i % 10_000}",
                        "receivedAt": stamp,
                        "timestamp": stamp,
                        "properties": {"t": now, "total": 129.5},
                    }
                    for i in range(start, min(events, start + 5000))
                ],
            )
    finally:
        await store.close()


def _body(batch: int, n: int) -> bytes:
    now = time.time()
    events = [
        {
            "type": "track",
            "event": "Order Completed",
            "userId": f"user-{(n * batch + i) % 10_000}",
            "messageId": str(uuid.uuid4()),
            "properties": {"t": now, "total": 129.5, "currency": "EUR"},
        }
        for i in range(batch)
    ]
    return orjson.dumps({"batch": events})


async def _connection(
    port: int, batch: int, deadline: float, counts: list[int], n0: int, interval: float
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    auth = base64.b64encode(f"{KEY}:".encode()).decode()
    n = n0
    try:
        next_at = time.monotonic()
        while time.monotonic() < deadline:
            if interval:
                # A paced load: one request per interval on this connection.
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            body = _body(batch, n)
            n += 1
            head = (
                f"POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {auth}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            writer.write(head + body)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            counts[0 if int(status_line.split()[1]) == 200 else 1] += 1
    finally:
        writer.close()


def _stats(dest_url: str) -> dict[str, Any]:
    return httpx.get(f"{dest_url}/stats", timeout=30).json()  # type: ignore[no-any-return]


def _wait_for(dest_url: str, total: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stats = _stats(dest_url)
        if stats["received"] >= total or time.monotonic() > deadline:
            return stats
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["e2e", "delivery", "phases"], default="e2e")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument(
        "--offered",
        type=float,
        default=0.0,
        help="e2e: events/s to offer (0: as fast as accepted).",
    )
    parser.add_argument(
        "--per-request", type=int, default=1000, help="Most events per app request."
    )
    parser.add_argument(
        "--processes",
        type=int,
        choices=[1, 2],
        default=1,
        help="e2e: 1 = collector and delivery in one process (`syncline serve`); "
        "2 = two processes (`syncline serve --no-deliver` + `syncline events deliver`).",
    )
    parser.add_argument(
        "--gc",
        choices=["tuned", "default"],
        default="tuned",
        help="Server processes: tune the garbage collector as `syncline serve` does "
        "(tuned), or keep CPython's defaults (default: to measure what tuning buys).",
    )
    parser.add_argument(
        "--lock-profile",
        action="store_true",
        help="e2e: time how long the collector's and delivery's writes waited for and held "
        "the store's write lock (SQLite), reported per accepted event.",
    )
    parser.add_argument("_role", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # Read by the server processes this one starts (they inherit the environment).
    os.environ["SYNCLINE_BENCH_GC"] = args.gc
    if args.mode == "phases":
        _phases(args.events)
        return
    if args._role == "_dest":
        asyncio.run(_destination(args.rate))
        return
    if args._role == "_server":
        asyncio.run(_server("delivery" if args.mode == "delivery" else "both"))
        return
    if args._role == "_collector":
        asyncio.run(_server("collector"))
        return
    if args._role == "_deliverer":
        asyncio.run(_server("delivery"))
        return

    here = str(Path(__file__).resolve())
    with tempfile.TemporaryDirectory() as home:
        env = {
            **os.environ,
            "SYNCLINE_HOME": home,
            RATE_ENV: str(args.rate or ""),
            PER_REQUEST_ENV: str(args.per_request),
        }
        env.pop("SYNCLINE_DATABASE_URL", None)
        if args.lock_profile:
            env[LOCK_PROFILE_ENV] = str(Path(home) / "locks")
            Path(home, "locks").mkdir()
        os.environ.update({"SYNCLINE_HOME": home, RATE_ENV: str(args.rate or "")})
        dest = subprocess.Popen(
            [sys.executable, here, "--rate", str(args.rate), "_dest"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        server: subprocess.Popen[str] | None = None
        deliverer: subprocess.Popen[str] | None = None
        try:
            assert dest.stdout is not None
            dest_url = dest.stdout.readline().strip()
            asyncio.run(_setup(dest_url, args.events if args.mode == "delivery" else 0))
            split = args.mode == "e2e" and args.processes == 2
            if split:
                deliverer = subprocess.Popen(
                    [sys.executable, here, "--mode", "delivery", "_deliverer"],
                    env=env,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                assert deliverer.stdout is not None
                deliverer.stdout.readline()
            server = subprocess.Popen(
                [sys.executable, here, "--mode", args.mode, "_collector" if split else "_server"],
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert server.stdout is not None
            line = server.stdout.readline()
            started = time.time()
            if args.mode == "delivery":
                stats = _wait_for(dest_url, args.events, 600)
                server.terminate()
                cpu = server.communicate(timeout=60)[0].split()
                _report_delivery(args, stats, started)
                if len(cpu) == 3 and cpu[0] == "cpu":
                    print(
                        f"server CPU: {1e6 * float(cpu[1]) / args.events:.1f} µs/event "
                        f"(event loop thread {1e6 * float(cpu[2]) / args.events:.1f} µs/event)"
                    )
            else:
                match = re.search(r":(\d+)$", line.strip())
                assert match, f"unexpected first line from the server: {line!r}"
                port = int(match.group(1))
                counts = [0, 0]
                interval = args.connections * args.batch / args.offered if args.offered else 0.0
                load_start = time.monotonic()
                deadline = load_start + args.seconds

                async def load() -> None:
                    await asyncio.gather(
                        *(
                            _connection(port, args.batch, deadline, counts, i * 1_000_000, interval)
                            for i in range(args.connections)
                        )
                    )

                asyncio.run(load())
                elapsed = time.monotonic() - load_start
                at_end = _stats(dest_url)
                accepted = counts[0] * args.batch
                stats = _wait_for(dest_url, accepted, 600)
                _report_e2e(args, accepted, counts, elapsed, at_end, stats)
                drained = time.monotonic() - load_start
        finally:
            for process in (server, deliverer, dest):
                if process is not None:
                    process.terminate()
                    process.wait(60)
        if args.lock_profile and args.mode == "e2e":
            _report_locks(str(Path(home) / "locks"), accepted, drained)


async def _phase_run(events: int, chunk: int) -> Counter[str]:
    """Route ``events`` logged events and settle them, timing each store phase (CPU)."""
    from datetime import UTC, datetime

    from syncline.engine.delivery import DeliveryService
    from syncline.store import open_store
    from syncline.store.deliveries import Deliveries, Settlement

    store = await open_store()
    service = DeliveryService(store)
    await service.refresh()
    pipeline = service.pipeline((await store.pipelines.get("bench-to-app")).id)
    assert pipeline is not None
    deliveries = Deliveries(store.database, lambda: datetime.now(UTC))
    # The previous code has no log_reader: it read the log through EventLog.
    make_reader = getattr(deliveries, "log_reader", None)
    reader: Any = make_reader(store.event_log) if make_reader else store.event_log
    spent: Counter[str] = Counter()
    after, ids = 0, []
    while True:
        start = time.process_time()
        logged = await reader.read_after(after, chunk)
        spent["read the event log"] += time.process_time() - start
        if not logged:
            break
        start = time.process_time()
        # The router's own routing step (decode, filter, map, build the rows).
        rows, counts = service.router._route(logged)
        spent["route (decode, map, row)"] += time.process_time() - start
        start = time.process_time()
        _, created = await deliveries.route(logged[-1].id, rows, counts)
        spent["routing transaction"] += time.process_time() - start
        ids += [row.id for row in created]
        after = logged[-1].id
    start = time.process_time()
    for at in range(0, len(ids), 500):
        part = ids[at : at + 500]
        await deliveries.settle(
            Settlement(part, [], Counter({(pipeline.id, "delivered"): len(part)}))
        )
    spent["outcome transactions (500 per call)"] += time.process_time() - start
    start = time.process_time()
    await reader.delete_through(after)
    spent["prune the log"] += time.process_time() - start
    assert len(ids) == events, f"{len(ids)} rows routed for {events} events"
    if hasattr(deliveries, "close"):
        deliveries.close()
    await store.close()
    return spent


def _phases(events: int, runs: int = 5) -> None:
    """``--mode phases``: CPU µs/event of each store phase of delivery, median of ``runs``."""
    results: list[Counter[str]] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as home:
            os.environ["SYNCLINE_HOME"] = home
            os.environ.pop("SYNCLINE_DATABASE_URL", None)
            _register()
            asyncio.run(_setup("http://127.0.0.1:9", events))
            results.append(asyncio.run(_phase_run(events, 2000)))
    print(f"command: bench/events.py {' '.join(sys.argv[1:])}")
    print(
        f"machine: {_machine()}; load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])}"
    )
    print(f"CPU µs per event (all threads), median of {runs} runs of {events} events:")
    for phase in results[0]:
        values = sorted(1e6 * r[phase] / events for r in results)
        print(
            f"  {phase:38s} {values[len(values) // 2]:6.1f}  (runs: {values[0]:.1f}–{values[-1]:.1f})"
        )


def _machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _report_delivery(args: argparse.Namespace, stats: dict[str, Any], started: float) -> None:
    print(f"command: bench/events.py {' '.join(sys.argv[1:])}")
    print(f"machine: {_machine()}")
    span = (stats["last"] or started) - started
    print(
        f"delivered: {stats['received']} of {args.events} events in {span:.1f}s "
        f"({stats['received'] / max(span, 1e-9):,.0f} events/s, {stats['requests']} requests)"
    )
    if args.rate:
        active = (stats["last"] or started) - (stats["first"] or started)
        achieved = (stats["requests"] - 1) / max(active, 1e-9)
        print(
            f"rate: {achieved:.2f} requests/s of {args.rate:g} allowed "
            f"({100 * achieved / args.rate:.1f}%), 429 answers: {stats['refused']}"
        )
        gaps = sorted(stats["gaps"])
        if gaps:
            slot = 1 / args.rate
            late = [g for g in gaps if g > 1.5 * slot]
            print(
                f"gaps between requests: median {1000 * gaps[len(gaps) // 2]:.1f} ms, "
                f"p90 {1000 * gaps[int(len(gaps) * 0.9)]:.1f} ms, max {1000 * gaps[-1]:.1f} ms "
                f"(1/R = {1000 * slot:.1f} ms); {len(late)} gaps over 1.5/R lose "
                f"{sum(g - slot for g in late):.2f} s of {sum(gaps):.2f} s"
            )


def _report_e2e(
    args: argparse.Namespace,
    accepted: int,
    counts: list[int],
    elapsed: float,
    at_end: dict[str, Any],
    stats: dict[str, Any],
) -> None:
    print(f"command: bench/events.py {' '.join(sys.argv[1:])}")
    print(f"machine: {_machine()}")
    print(
        f"accepted: {accepted} events in {elapsed:.1f}s ({accepted / elapsed:,.0f} events/s; "
        f"{counts[1]} requests refused)"
    )
    print(
        f"delivered during the load: {at_end['received']} ({at_end['received'] / elapsed:,.0f} events/s)"
    )
    drained = (stats["last"] or 0) - (stats["first"] or 0)
    print(
        f"delivered in all: {stats['received']} (first to last delivery {drained:.1f}s: "
        f"{stats['received'] / max(drained, 1e-9):,.0f} events/s)"
    )
    if stats["p50"] is not None:
        print(
            f"ingest-to-delivery latency: p50 {1000 * stats['p50']:.0f} ms, p99 {1000 * stats['p99']:.0f} ms"
        )


if __name__ == "__main__":
    main()
