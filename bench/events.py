"""Event delivery throughput and latency: HTTP load → collector → event log → sender → app.

Three processes besides this one, each on 127.0.0.1:

* a **destination** app that accepts batches (``POST /events``), counts the
  events it received and the ingest-to-delivery latency of each (from the
  ``t`` property the load stamped), optionally rate-limited to ``--rate``
  requests/s with 429 + Retry-After beyond it;
* the **server**: the collector and the delivery service in one process, on a
  fresh SQLite workspace (WAL, ``synchronous=FULL``: every 200 is durable),
  exactly what ``syncline serve`` runs with delivery plugged in;
* (``--mode e2e``) this process, sending ``/v1/batch`` requests of ``--batch``
  events over keep-alive connections for ``--seconds``.

Modes:

* ``e2e`` — sustained end to end: accepted events/s, delivered events/s, and
  the p50/p99 latency from the load's send to the destination's receipt;
  ``--offered N`` paces the load at N events/s (else as fast as accepted).
* ``delivery`` — the delivery half alone: ``--events`` are appended to the log
  first, then the server starts and delivers them; events/s from start to the
  last one received.
* ``--rate R`` (with ``delivery``) — the destination allows R requests/s and
  the connector's endpoint group is set to the same R: the achieved request
  rate as a share of R, and the 429s the app sent.

    .venv/bin/python bench/events.py --mode e2e --seconds 20
    .venv/bin/python bench/events.py --mode e2e --seconds 20 --offered 3000
    .venv/bin/python bench/events.py --mode delivery --events 200000
    .venv/bin/python bench/events.py --mode delivery --events 20000 --rate 50
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
from pydantic import BaseModel, SecretStr

KEY = "bench-write-key-0123456789"
RATE_ENV = "SYNCLINE_BENCH_RATE"
PER_REQUEST_ENV = "SYNCLINE_BENCH_PER_REQUEST"
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

    def accept(request: ReceivedRequest) -> Any:
        nonlocal received, requests, first, last
        now = time.time()
        events = orjson.loads(request.body)["events"]
        received += len(events)
        requests += 1
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


async def _server(delivery_only: bool) -> None:
    from syncline.collect import Collector, bind, serve
    from syncline.engine.delivery import DeliveryService, DeliverySettings
    from syncline.store import open_store

    _register()
    store = await open_store()
    service = DeliveryService(
        store, DeliverySettings(max_in_flight=int(os.environ.get("SYNCLINE_BENCH_IN_FLIGHT") or 4))
    )
    try:
        if delivery_only:
            await service.start()
            print("delivering", flush=True)
            await asyncio.Event().wait()
        sock = bind("127.0.0.1", 0)
        with sock:
            await serve(
                Collector(store),
                sock,
                services=[service],
                announce=lambda line: print(line, flush=True),
            )
    finally:
        await store.close()


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
    parser.add_argument("--mode", choices=["e2e", "delivery"], default="e2e")
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
    parser.add_argument("_role", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._role == "_dest":
        asyncio.run(_destination(args.rate))
        return
    if args._role == "_server":
        asyncio.run(_server(args.mode == "delivery"))
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
        os.environ.update({"SYNCLINE_HOME": home, RATE_ENV: str(args.rate or "")})
        dest = subprocess.Popen(
            [sys.executable, here, "--rate", str(args.rate), "_dest"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        server: subprocess.Popen[str] | None = None
        try:
            assert dest.stdout is not None
            dest_url = dest.stdout.readline().strip()
            asyncio.run(_setup(dest_url, args.events if args.mode == "delivery" else 0))
            server = subprocess.Popen(
                [sys.executable, here, "--mode", args.mode, "_server"],
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert server.stdout is not None
            line = server.stdout.readline()
            started = time.time()
            if args.mode == "delivery":
                stats = _wait_for(dest_url, args.events, 600)
                _report_delivery(args, stats, started)
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
        finally:
            for process in (server, dest):
                if process is not None:
                    process.terminate()
                    process.wait(60)


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
