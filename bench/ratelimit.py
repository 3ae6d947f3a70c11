"""Benchmark of the managed HTTP client's rate limiter and per-request overhead.

Three measurements, each against a fault server running in a separate process
(``python -m syncline.sdk.testing.server``), so the measured client has its
core to itself:

(a) the server enforces N requests/second with burst B (429 beyond, with
    Retry-After); the client, configured with the same limit, sends REQUESTS
    requests at CONCURRENCY. Target: achieved rate >= 97 % of N, zero 429s.
(b) the same server, the client configured at 2x the real limit. Target: it
    converges (429s under 5 % of requests) and finishes.
(c) per-request time of the managed client vs a plain ``httpx.AsyncClient`` on
    an unlimited server, interleaved repetitions, medians. Target: within 1.3x.

Run: ``.venv/bin/python bench/ratelimit.py`` (``--help`` for sizes).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import httpx

from syncline.http import Client
from syncline.sdk.errors import ConnectorError
from syncline.sdk.spec import (
    ApplicationSpec,
    AsSource,
    EndpointGroup,
    RateLimit,
    RetryPolicy,
)

SERVER_NICE = 0


@contextmanager
def server_process(*args: str) -> Iterator[str]:
    """Start the fault server in a child process; yields its base URL.

    With ``--server-nice N`` (N < 0 needs root) the server runs at that
    priority, so that other load on a shared machine does not delay its clock:
    a descheduled server reads a backlog of requests at one instant and
    refuses them as a burst the client never sent.
    """
    command = [sys.executable, "-m", "syncline.sdk.testing.server", *args]
    if SERVER_NICE:
        command = ["nice", "-n", str(SERVER_NICE), *command]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"the server did not start (printed {url!r})")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def spec_for(rate: float, burst: int) -> ApplicationSpec:
    return ApplicationSpec(
        code="bench",
        label="Bench",
        as_source=AsSource(targets=("users",)),
        endpoint_groups=(
            EndpointGroup(
                patterns=("/",),
                rate_limit=RateLimit(rate, burst=burst),
                retry=RetryPolicy.default().extend(max_attempts=20, deadline=120),
            ),
        ),
    )


async def run_workers(total: int, concurrency: int, one: Callable[[], Awaitable[None]]) -> float:
    """Run ``one`` ``total`` times from ``concurrency`` workers; returns elapsed seconds."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await one()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start


async def limited_run(
    url: str, rate: float, burst: int, total: int, concurrency: int
) -> dict[str, float]:
    failures = 0
    async with Client(spec_for(rate, burst)) as client:

        async def one() -> None:
            nonlocal failures
            try:
                await client.request("GET", f"{url}/api/items")
            except ConnectorError:
                failures += 1

        elapsed = await run_workers(total, concurrency, one)
        stats = client.stats()["/"]
    async with httpx.AsyncClient() as http:
        server = (await http.get(f"{url}/stats")).json()
    return {
        "elapsed": elapsed,
        "rate": total / elapsed,
        "sent": stats.requests,
        "429s": stats.rate_limited,
        "server_refused": server["refused"],
        "failures": failures,
    }


async def overhead(url: str, total: int, concurrency: int, repetitions: int) -> dict[str, float]:
    """Wall and CPU seconds per request, managed vs plain, medians of interleaved runs.

    CPU time is this process's (the server runs in another), so it measures the
    client's own work and holds steady when other load shares the machine.
    """
    wall: dict[str, list[float]] = {"plain": [], "managed": []}
    cpu: dict[str, list[float]] = {"plain": [], "managed": []}
    spec = spec_for(1e9, 1_000_000)
    async with Client(spec) as client, httpx.AsyncClient(follow_redirects=False) as plain:

        async def managed_one() -> None:
            await client.request("GET", f"{url}/api/items")

        async def plain_one() -> None:
            response = await plain.get(f"{url}/api/items")
            response.raise_for_status()

        runs = {"plain": plain_one, "managed": managed_one}
        await run_workers(200, concurrency, managed_one)  # warm up both pools
        await run_workers(200, concurrency, plain_one)
        for rep in range(repetitions):
            # Alternate which goes first, so drift in machine load favours neither.
            for name in ("plain", "managed") if rep % 2 == 0 else ("managed", "plain"):
                cpu_start = time.process_time()
                wall[name].append(await run_workers(total, concurrency, runs[name]) / total)
                cpu[name].append((time.process_time() - cpu_start) / total)
    result = {}
    for name in ("plain", "managed"):
        result[f"{name}_wall_us"] = statistics.median(wall[name]) * 1e6
        result[f"{name}_cpu_us"] = statistics.median(cpu[name]) * 1e6
    result["wall_ratio"] = result["managed_wall_us"] / result["plain_wall_us"]
    result["cpu_ratio"] = result["managed_cpu_us"] / result["plain_cpu_us"]
    return result


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--overhead-requests", type=int, default=2000)
    parser.add_argument("--repetitions", type=int, default=7)
    parser.add_argument("--only", choices=["a", "b", "c"], default=None)
    parser.add_argument("--server-nice", type=int, default=0)
    args = parser.parse_args()
    global SERVER_NICE
    SERVER_NICE = args.server_nice
    print(f"machine: nproc={os.cpu_count()} cpu={cpu_model()!r} python={platform.python_version()}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"httpx {httpx.__version__}")
    limit = ("--rate", str(args.rate), "--burst", str(args.burst))

    if args.only in (None, "a"):
        with server_process(*limit) as url:
            a = await limited_run(url, args.rate, args.burst, args.requests, args.concurrency)
        print(
            f"(a) limit {args.rate:g}/s burst {args.burst}, client at the same limit: "
            f"{args.requests} requests in {a['elapsed']:.2f} s = {a['rate']:.1f} req/s "
            f"({100 * a['rate'] / args.rate:.1f} % of the limit), 429s: {a['429s']:.0f} "
            f"(server refused {a['server_refused']:.0f}), failures: {a['failures']:.0f}"
        )
    if args.only in (None, "b"):
        with server_process(*limit) as url:
            b = await limited_run(url, 2 * args.rate, args.burst, args.requests, args.concurrency)
        print(
            f"(b) limit {args.rate:g}/s, client configured at {2 * args.rate:g}/s: "
            f"{args.requests} requests in {b['elapsed']:.2f} s = {b['rate']:.1f} req/s, "
            f"429s: {b['429s']:.0f} = {100 * b['429s'] / args.requests:.2f} % of requests "
            f"(server refused {b['server_refused']:.0f}), failures: {b['failures']:.0f}"
        )
    if args.only in (None, "c"):
        with server_process() as url:
            for concurrency in (1, args.concurrency):
                c = await overhead(url, args.overhead_requests, concurrency, args.repetitions)
                print(
                    f"(c) concurrency {concurrency}, medians of {args.repetitions} interleaved "
                    f"runs of {args.overhead_requests}: wall plain {c['plain_wall_us']:.0f} us, "
                    f"managed {c['managed_wall_us']:.0f} us (x{c['wall_ratio']:.3f}); "
                    f"client CPU plain {c['plain_cpu_us']:.0f} us, managed "
                    f"{c['managed_cpu_us']:.0f} us (x{c['cpu_ratio']:.3f}) per request"
                )
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    asyncio.run(main())
