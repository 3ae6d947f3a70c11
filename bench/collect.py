"""Sustained ingest throughput of ``syncline serve`` (collector alone, durable acks, SQLite).

Starts the collector alone (``syncline serve --no-deliver``) as its own process
on a fresh SQLite workspace, then sends batches from this process over raw
keep-alive HTTP/1.1 connections (asyncio streams: a cheap client, so the
measured cost is the server's) and reports events/s, request latency
percentiles, the server's CPU per event (its event-loop thread and its other
threads apart: the other threads are mostly the event log's writer) and the
events per group commit (one commit is one fsync). Every 200 counted means the
events were committed (fsynced) before the answer. At the end the event log is
counted to check that every acknowledged event is there.

    .venv/bin/python bench/collect.py [--seconds 15] [--connections 16] [--batch 100]
                                      [--prune] [--profile FILE]

The machine is usually shared: compare CPU per event, not events/s, between
runs at different load averages (printed with each run).

The load is bounded: it stops after ``--seconds`` and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psutil

KEY = "bench-write-key-0123456789"
# The collector alone: `syncline serve --no-deliver` (delivery would prune the log
# and compete for the same core).
SERVE = "import typer\nfrom syncline.cli.serve import serve\ntyper.run(serve)\n"
# With --profile: the same command under cProfile, stats written at a clean stop.
PROFILED = (
    "import cProfile, sys, typer\nfrom syncline.cli.serve import serve\n"
    "out = sys.argv.pop()\nprofile = cProfile.Profile()\nprofile.enable()\n"
    "try:\n    typer.run(serve)\nfinally:\n"
    "    profile.disable()\n    profile.dump_stats(out)\n"
)
BASE = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def iso(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_body(batch: int, n: int) -> bytes:
    """A batch as analytics-python sends it: distinct ids and times, one sentAt."""
    events = [
        {
            "type": "track",
            "event": "Order Completed",
            "userId": f"user-{(n * batch + i) % 5000}",
            "messageId": str(uuid.uuid4()),
            "timestamp": iso(BASE + timedelta(milliseconds=37 * (n * batch + i))),
            "properties": {"order_id": f"o-{n}-{i}", "total": 129.5, "currency": "EUR", "items": 3},
            "context": {"library": {"name": "bench", "version": "1"}, "ip": "203.0.113.7"},
        }
        for i in range(batch)
    ]
    sent_at = iso(BASE + timedelta(milliseconds=37 * (n + 1) * batch + 250))
    return orjson.dumps({"batch": events, "sentAt": sent_at})


def _thread_cpu(pid: int) -> dict[str, tuple[float, float]]:
    """CPU seconds (total, system) of the event loop's thread and of all others."""
    times: dict[str, tuple[float, float]] = {}
    for thread in psutil.Process(pid).threads():
        # The main thread runs the event loop; the others are the log's writer,
        # its checkpointer and the store driver's threads.
        name = "event loop" if thread.id == pid else "other threads"
        used, system = times.get(name, (0.0, 0.0))
        times[name] = (used + thread.user_time + thread.system_time, system + thread.system_time)
    return times


async def connection(
    port: int, bodies: list[bytes], deadline: float, latencies: list[float], counts: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    auth = base64.b64encode(f"{KEY}:".encode()).decode()
    n = 0
    try:
        while time.monotonic() < deadline:
            body = bodies[n % len(bodies)]
            n += 1
            head = (
                f"POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {auth}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            start = time.perf_counter()
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
            latencies.append(time.perf_counter() - start)
            status = int(status_line.split()[1])
            counts[0 if status == 200 else 1] += 1
    finally:
        writer.close()


async def prune(deadline: float) -> None:
    """Do what delivery does once it has sent everything: delete the log up to its end."""
    from syncline.store import open_store

    store = await open_store()
    try:
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            await store.event_log.delete_through(await store.event_log.max_id())
    finally:
        await store.close()


async def load(
    port: int, seconds: float, connections: int, batch: int, pruning: bool
) -> tuple[list[float], list[int]]:
    bodies = [make_body(batch, n) for n in range(64)]
    latencies: list[float] = []
    counts = [0, 0]
    deadline = time.monotonic() + seconds
    await asyncio.gather(
        *(connection(port, bodies, deadline, latencies, counts) for _ in range(connections)),
        *([prune(deadline)] if pruning else []),
    )
    return latencies, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument(
        "--prune",
        action="store_true",
        help="Delete the log up to its end every 0.5 s, as delivery does when it keeps up "
        "(without it the log grows for the whole run: the worst case).",
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="Run the server under cProfile and write its stats to FILE (pstats format).",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "SYNCLINE_HOME": home}
        env.pop("SYNCLINE_DATABASE_URL", None)
        os.environ.update(SYNCLINE_HOME=home)
        os.environ.pop("SYNCLINE_DATABASE_URL", None)
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import asyncio\nfrom syncline.store import open_store\n"
                "async def m():\n s = await open_store()\n"
                f" await s.event_sources.create('bench', write_key={KEY!r})\n await s.close()\n"
                "asyncio.run(m())",
            ],
            env=env,
            check=True,
        )
        command = [sys.executable, "-c", SERVE, "--port", "0", "--no-deliver"]
        if args.profile:
            command = [*command, str(Path(args.profile).resolve())]
            command[2] = PROFILED
        server = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            line = server.stdout.readline()
            match = re.search(r":(\d+)$", line.strip())
            assert match, f"unexpected first line from the server: {line!r}"
            port = int(match.group(1))
            server_cpu = psutil.Process(server.pid).cpu_times()
            threads_before = _thread_cpu(server.pid)
            client_cpu = os.times()
            started = time.perf_counter()
            latencies, counts = asyncio.run(
                load(port, args.seconds, args.connections, args.batch, args.prune)
            )
            elapsed = time.perf_counter() - started
            server_after = psutil.Process(server.pid).cpu_times()
            threads_after = _thread_cpu(server.pid)
            commits = orjson.loads(
                __import__("urllib.request")
                .request.urlopen(f"http://127.0.0.1:{port}/v1/_stats")
                .read()
            )["commits"]
            client_after = os.times()
        finally:
            server.terminate()
            server.wait(60)
        stored = subprocess.run(
            [
                sys.executable,
                "-c",
                "import asyncio\nfrom syncline.store import open_store\n"
                "async def m():\n s = await open_store()\n print(await s.event_log.count())\n"
                " await s.close()\nasyncio.run(m())",
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    latencies.sort()
    accepted = counts[0] * args.batch
    print(f"command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    print(f"requests: {counts[0]} ok, {counts[1]} not ok, in {elapsed:.1f}s")
    print(f"throughput: {accepted / elapsed:,.0f} events/s ({counts[0] / elapsed:,.0f} requests/s)")
    print(
        f"latency: p50 {1000 * latencies[len(latencies) // 2]:.1f} ms, p99 {1000 * latencies[int(len(latencies) * 0.99)]:.1f} ms, max {1000 * latencies[-1]:.1f} ms"
    )
    server_used = (server_after.user + server_after.system) - (server_cpu.user + server_cpu.system)
    client_used = (client_after.user + client_after.system) - (client_cpu.user + client_cpu.system)
    print(
        f"cpu: server {100 * server_used / elapsed:.0f}% "
        f"({1e6 * server_used / max(accepted, 1):.1f} us per event), "
        f"load client {100 * client_used / elapsed:.0f}% (100% = one core); "
        f"load average {Path('/proc/loadavg').read_text().split()[0]}"
    )
    threads = {
        name: used - threads_before.get(name, (0.0, 0.0))[0]
        for name, (used, _) in threads_after.items()
    }
    system = {
        name: sys_used - threads_before.get(name, (0.0, 0.0))[1]
        for name, (_, sys_used) in threads_after.items()
    }
    print(
        "cpu by thread, us per event (of which system): "
        + ", ".join(
            f"{name} {1e6 * used / max(accepted, 1):.1f} ({1e6 * system[name] / max(accepted, 1):.1f})"
            for name, used in sorted(threads.items(), key=lambda item: -item[1])
            if used > 0.01
        )
    )
    print(f"group commits: {commits} ({accepted / max(commits, 1):,.0f} events per commit)")
    if args.prune:
        print(f"event log after stop: {stored} events not yet pruned")
    else:
        print(f"event log after stop: {stored} events (acknowledged: {accepted})")


if __name__ == "__main__":
    main()
