"""Import throughput of the HubSpot connector against its sandbox, limits off.

    .venv/bin/python tests/connectors/hubspot/bench_hubspot_import.py --records 50000 --repeat 5

The sandbox runs in its own process with its rate limits off; the connector
runs on the real managed client with HubSpot's limits lifted (the same
endpoint groups at 10,000 requests/s), so what is measured is the connector,
the client and the sandbox — not HubSpot's 10 requests/s. Reported: records/s
of a full read (list API, 100 per page) and of an incremental read of every
record (search API, 200 per page), each the median of ``--repeat`` runs, and
the sandbox's share of the time is not subtracted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from hubspot_support import connected, read_all

from syncline.connectors.hubspot.sandbox import HubSpotSandbox

SERVE = """
import asyncio, sys
from syncline.connectors.hubspot.sandbox import HubSpotSandbox
async def main():
    sandbox = HubSpotSandbox(records=int(sys.argv[1]), limits=False)
    async with sandbox:
        print(sandbox.url, flush=True)
        while True:
            await asyncio.sleep(1)
            sandbox.server.log.clear()
asyncio.run(main())
"""


class Remote(HubSpotSandbox):
    """The settings of a sandbox served by another process."""

    def __init__(self, url: str) -> None:
        super().__init__(records=0, limits=False)
        self.remote = url

    def settings(self) -> dict[str, str]:
        return {**super().settings(), "base_url": self.remote}

    @property
    def url(self) -> str:
        return self.remote


async def measure(url: str, records: int, repeat: int) -> dict[str, float]:
    sandbox = Remote(url)
    results: dict[str, list[float]] = {"list": [], "search": []}
    for _ in range(repeat):
        async with connected(sandbox) as (hubspot, _):
            began = time.perf_counter()
            got, _ = await read_all(hubspot, "users")
            results["list"].append(len(got) / (time.perf_counter() - began))
            began = time.perf_counter()
            got, _ = await read_all(hubspot, "users", datetime(2024, 1, 1, tzinfo=UTC))
            results["search"].append(len(got) / (time.perf_counter() - began))
    return {name: statistics.median(values) for name, values in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(args.records)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        medians = asyncio.run(measure(url, args.records, args.repeat))
    finally:
        server.terminate()
        server.wait()
    for name, rate in medians.items():
        print(f"{name}: {rate:,.0f} records/s (median of {args.repeat})")


if __name__ == "__main__":
    main()
