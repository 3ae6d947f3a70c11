"""The benchmark API every contender reads: bench/import.py's records, plus incremental reads.

Runs in its own process (started by run.py with Syncline's interpreter, because it
imports the record generator of ``bench/import.py`` so every benchmark serves the
same 25-property records). It prints its base URL on the first line of stdout.

Endpoints (HTTP/1.1 keep-alive, query parameters only):

* ``GET /users?after=P&limit=L[&updated_since=ISO]`` — page ``P`` (0-based) of
  ``L`` records, ordered by ``updated_at`` then ID, keeping only records with
  ``updated_at >= updated_since`` when given. Body: ``{"data": [...], "next":
  "P+1" | null}``, the same shape as bench/import.py's server.
* ``POST /_change?fraction=F`` — changes ``F`` of the records (every
  ``round(1/F)``-th ID): a new ``plan`` value and an ``updated_at`` later than
  every record's, so an incremental read returns exactly those. Answers
  ``{"changed": n}``.
* ``POST /_reset`` — back to the original records.

Pages are rendered once per (first record, page size, page) and cached, so a
repeated full read costs the server a memcpy; the cache is dropped on a change,
and a reset renders the full read again before it answers.
"""

from __future__ import annotations

import asyncio
import bisect
import importlib.util
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

_spec = importlib.util.spec_from_file_location(
    "bench_import", Path(__file__).resolve().parents[1] / "import.py"
)
assert _spec is not None and _spec.loader is not None
_bench_import = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bench_import)
record = _bench_import.record
EPOCH: datetime = _bench_import.EPOCH


class Data:
    """The records as the API currently holds them, with their order by updated_at."""

    def __init__(self, records: int) -> None:
        self.records = records
        self.reset()

    def reset(self) -> None:
        """Back to the original records, with the full read at 1,000 a page rendered.

        Rendered here, before the reset is answered, so that no contender's
        timed run pays for rendering pages another one did not (the resume
        phase starts with a reset, then runs each contender in turn).
        """
        self.changes = 0
        self.changed: dict[int, int] = {}  # index -> seconds after EPOCH
        self.order = list(range(self.records))
        self.keys = list(range(self.records))  # updated_at seconds, parallel to order
        self.cache: dict[tuple[int, int, int], bytes] = {}
        for page in range(-(-self.records // 1000)):
            self.page(None, 1000, page)

    def change(self, fraction: float) -> int:
        self.changes += 1
        step = max(1, round(1 / fraction))
        base = self.records * (self.changes + 1)
        changed = range(0, self.records, step)
        for i in changed:
            self.changed[i] = base + i
        pairs = sorted((self.changed.get(i, i), i) for i in range(self.records))
        self.keys = [k for k, _ in pairs]
        self.order = [i for _, i in pairs]
        self.cache.clear()
        return len(changed)

    def item(self, i: int) -> dict[str, Any]:
        value = record(i)
        if i in self.changed:
            stamp = (EPOCH + timedelta(seconds=self.changed[i])).isoformat()
            value["updated_at"] = stamp
            value["properties"]["plan"] = f"changed-{self.changes}"
        return value

    def page(self, since: str | None, limit: int, page: int) -> bytes:
        first = 0
        if since:
            seconds = (datetime.fromisoformat(since) - EPOCH).total_seconds()
            first = bisect.bisect_left(self.keys, seconds)
        key = (first, limit, page)
        body = self.cache.get(key)
        if body is None:
            start = first + page * limit
            end = min(self.records, start + limit)
            following = str(page + 1) if end < self.records else None
            items = [self.item(self.order[n]) for n in range(start, end)]
            body = orjson.dumps({"data": items, "next": following})
            self.cache[key] = body
        return body


class _Http(asyncio.Protocol):
    def __init__(self, data: Data) -> None:
        self.data = data
        self.buffer = b""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, chunk: bytes) -> None:
        self.buffer += chunk
        while b"\r\n\r\n" in self.buffer:
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            method, target = head.split(b"\r\n", 1)[0].split(b" ")[:2]
            url = urlsplit(target.decode())
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            status = b"200 OK"
            if url.path == "/users":
                body = self.data.page(
                    query.get("updated_since"),
                    int(query.get("limit", "100")),
                    int(query.get("after", "0")),
                )
            elif url.path == "/_change" and method == b"POST":
                body = orjson.dumps({"changed": self.data.change(float(query["fraction"]))})
            elif url.path == "/_reset" and method == b"POST":
                self.data.reset()
                body = b'{"reset": true}'
            else:
                status, body = b"404 Not Found", b'{"error": "not found"}'
            self.transport.write(
                b"HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
                % (status, len(body))
                + body
            )


def serve(records: int) -> None:
    data = Data(records)  # the full read rendered (see Data.reset)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Http(data), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        print(f"http://127.0.0.1:{port}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


if __name__ == "__main__":
    serve(int(sys.argv[1]))
