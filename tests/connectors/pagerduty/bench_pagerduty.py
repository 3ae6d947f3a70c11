"""Import throughput of the PagerDuty connector against its sandbox, with the sandbox's limits off.

Run: ``.venv/bin/python tests/connectors/pagerduty/bench_pagerduty.py [--incidents N] [--runs R]``

The sandbox serves from a separate process (so the server's CPU is not the
client's), with its rate limits off. Two client set-ups are measured:

* ``spec`` — the connector's own endpoint group (16 requests/s, PagerDuty's
  960 per minute): what a real account allows;
* ``unthrottled`` — the same group with its rate limit lifted: the cost of
  the connector, the managed client and the sandbox themselves.

Each run reads every incident (records per second of a full read, windows
and depth-ceiling splits included); the median of the runs is printed, with
the client process's CPU time per record (less sensitive to a busy machine
than the wall clock).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import time
from dataclasses import replace
from multiprocessing.connection import Connection

from syncline.connectors.pagerduty import SPEC, PagerDuty, PagerDutySettings
from syncline.connectors.pagerduty.sandbox import PagerDutySandbox
from syncline.http import Client
from syncline.sdk import ApplicationSpec, Env, RateLimit, Role
from syncline.sdk.testing import MemorySettings


def serve(incidents: int, pipe: Connection) -> None:
    """Run a sandbox with limits off until the pipe closes; send its settings first."""
    sandbox = PagerDutySandbox(records=incidents, users=1000, limits=False)

    async def main() -> None:
        async with sandbox:
            pipe.send(sandbox.settings())
            loop = asyncio.get_running_loop()
            while True:
                # The request log would grow without bound over a long benchmark.
                sandbox.server.log.clear()
                if await loop.run_in_executor(None, pipe.poll, 1.0):
                    return

    asyncio.run(main())


def unthrottled() -> ApplicationSpec:
    group = SPEC.endpoint_groups[0]
    lifted = replace(group, rate_limit=RateLimit(100_000, burst=1_000, max_concurrent=4))
    return replace(SPEC, endpoint_groups=(lifted,))


async def read_all(
    spec: ApplicationSpec, settings: dict[str, object], target: str
) -> tuple[int, float, float]:
    """Read all of ``target``: (records, wall seconds, CPU seconds of this process)."""
    store = MemorySettings(PagerDutySettings.model_validate(settings))
    async with Client(spec, store) as http:
        pagerduty = PagerDuty(Env(settings=store, http=http))
        schema = await pagerduty.record_schema(target, Role.SOURCE)
        cursor, count = None, 0
        started, cpu = time.perf_counter(), time.process_time()
        while True:
            page = await pagerduty.records(target, None, cursor, schema)
            count += len(page.records)
            if page.done:
                return count, time.perf_counter() - started, time.process_time() - cpu
            cursor = page.cursor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=50_000)
    parser.add_argument("--spec-incidents", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for label, spec, size in (
        ("unthrottled", unthrottled(), args.incidents),
        ("spec", SPEC, args.spec_incidents),
    ):
        ours, theirs = multiprocessing.Pipe()
        server = multiprocessing.Process(target=serve, args=(size, theirs), daemon=True)
        server.start()
        settings = ours.recv()
        rates, costs = [], []
        for _ in range(args.runs):
            count, seconds, cpu = asyncio.run(read_all(spec, settings, "incidents"))
            assert count == size, (count, size)
            rates.append(count / seconds)
            costs.append(cpu / count * 1e6)
        users, seconds, _ = asyncio.run(read_all(spec, settings, "users"))
        ours.send("stop")
        server.join(timeout=10)
        print(
            f"{label:12s} incidents={size:>6} runs={args.runs} "
            f"median={statistics.median(rates):>8.0f} records/s "
            f"(min {min(rates):.0f}, max {max(rates):.0f}); "
            f"client CPU {statistics.median(costs):.0f} us/record; users={users} in {seconds:.2f}s"
        )


if __name__ == "__main__":
    main()
