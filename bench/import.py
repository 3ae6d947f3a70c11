"""Import throughput and memory: the real engine against the bare fetch-and-parse ceiling.

A local paginated API runs in a separate process and serves pre-rendered pages
(so the server stays cheap) of records with 25 properties. Measured, with
several interleaved repetitions and medians:

* **ceiling** — a bare loop that fetches every page with httpx and parses it
  with orjson, nothing else;
* **engine → SQLite** and **engine → JSONL** — a full import through
  :func:`syncline.engine.runs.launch.run_pipeline` (what ``syncline run``
  calls): the managed HTTP client, the connector building ``Record`` values,
  compiled validation, batching, ``upsert()`` into the destination and a
  durable checkpoint per batch.

``--rss`` measures the peak RSS of an engine import (SQLite destination) at
several record counts, each in a fresh process.

    .venv/bin/python bench/import.py --records 200000 --repeat 5
    .venv/bin/python bench/import.py --rss 200000,500000,1000000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
from pydantic import BaseModel

from syncline.sdk import JsonRecords
from syncline.sdk.env import Env, Problem
from syncline.sdk.protocols import RecordsPage
from syncline.sdk.records import Record
from syncline.sdk.registry import connector
from syncline.sdk.spec import ApplicationSpec, AsSource, EndpointGroup, RateLimit
from syncline.types import Boolean, DateTime, Float, Int, Object, Property, Role, String

STRINGS = ["email", "first_name", "last_name", "company", "title", "city", "country",
           "phone", "plan", "source", "utm_campaign", "language"]  # fmt: skip
INTS = ["score", "visits", "age", "employees", "orders"]
FLOATS = ["revenue", "ltv", "churn_risk"]
BOOLS = ["active", "verified", "newsletter"]
TIMES = ["created_at", "last_seen"]
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
BATCH = 5000  # records per checkpoint (the pipeline's batch_size)


# -- the API server (separate process) --------------------------------------


def record(i: int) -> dict[str, Any]:
    props: dict[str, Any] = {name: f"{name}-{i % 9973}" for name in STRINGS}
    props["email"] = f"user{i}@example.com"
    props.update({name: (i * 7 + k) % 100_000 for k, name in enumerate(INTS)})
    props.update({name: (i % 1000) / 7.0 + k for k, name in enumerate(FLOATS)})
    props.update({name: (i + k) % 2 == 0 for k, name in enumerate(BOOLS)})
    stamp = (EPOCH + timedelta(seconds=i)).isoformat()
    props.update({name: stamp for name in TIMES})
    return {"id": f"u{i}", "updated_at": stamp, "properties": props}


def render(records: int, page_size: int, page: int) -> bytes:
    start = page * page_size
    end = min(records, start + page_size)
    following = str(page + 1) if end < records else None
    return orjson.dumps({"data": [record(i) for i in range(start, end)], "next": following})


class _Http(asyncio.Protocol):
    """Just enough HTTP/1.1 keep-alive for GET /users?after=N&limit=M."""

    def __init__(self, pages: dict[int, list[bytes]] | None, records: int) -> None:
        self.pages = pages
        self.records = records
        self.buffer = b""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            target = head.split(b"\r\n", 1)[0].split(b" ")[1].decode()
            query = parse_qs(urlsplit(target).query)
            page = int(query.get("after", ["0"])[0])
            limit = int(query.get("limit", ["100"])[0])
            if self.pages is not None:
                body = self.pages[limit][page]
            else:
                body = render(self.records, limit, page)
            self.transport.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
                % len(body)
                + body
            )


def serve(records: int, page_sizes: list[int], prerender: bool) -> None:
    pages = None
    if prerender:
        pages = {
            size: [render(records, size, p) for p in range(-(-records // size))]
            for size in page_sizes
        }

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Http(pages, records), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        print(f"http://127.0.0.1:{port}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def start_server(
    records: int, page_sizes: list[int], prerender: bool
) -> tuple[subprocess.Popen[str], str]:
    args = [sys.executable, __file__, "--serve", str(records), "--page-sizes",
            ",".join(map(str, page_sizes))]  # fmt: skip
    if not prerender:
        args.append("--lazy")
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


# -- the source connector ----------------------------------------------------


class BenchSettings(BaseModel):
    base_url: str
    page_size: int = 1000


SCHEMA = Object(
    [Property(n, String(max_length=200)) for n in STRINGS]
    + [Property(n, Int()) for n in INTS]
    + [Property(n, Float()) for n in FLOATS]
    + [Property(n, Boolean()) for n in BOOLS]
    + [Property(n, DateTime()) for n in TIMES]
)


USERS_PAGE = JsonRecords(
    items="data", id="id", attributes="properties", updated_at="updated_at", next="next"
)
"""Where the records are in the API's pages: the engine decodes them (natively when valid)."""


def _spec(code: str, label: str) -> ApplicationSpec:
    return ApplicationSpec(
        code=code,
        label=label,
        as_source=AsSource(targets=("users",)),
        endpoint_groups=(EndpointGroup(("/users",), RateLimit(1_000_000, burst=100_000)),),
        settings=BenchSettings,
    )


@connector(_spec("bench-api", "Benchmark API"))
class BenchApi:
    """The connector as docs/writing-a-connector.md recommends for a JSON API:
    ``RecordsPage.from_json``, so the engine decodes and validates each page."""

    def __init__(self, env: Env[BenchSettings]) -> None:
        self.env = env

    async def check(self) -> list[Problem]:
        return []

    async def record_schema(self, target: str, role: Role) -> Object:
        return SCHEMA

    async def records(
        self, target: str, updated_at: datetime | None, cursor: str | None, schema: Object
    ) -> RecordsPage:
        return RecordsPage.from_json(await self.page(cursor), USERS_PAGE)

    async def page(self, cursor: str | None) -> bytes:
        settings = await self.env.settings.load()
        response = await self.env.http.request(
            "GET",
            f"{settings.base_url}/users",
            params={"after": cursor or "0", "limit": settings.page_size},
        )
        return response.content


@connector(_spec("bench-api-records", "Benchmark API (hand-built records)"))
class BenchApiRecords(BenchApi):
    """The same API read the other way: the connector parses each page and builds
    ``Record`` values itself, and the engine validates them (``--connectors records``)."""

    async def records(
        self, target: str, updated_at: datetime | None, cursor: str | None, schema: Object
    ) -> RecordsPage:
        body = orjson.loads(await self.page(cursor))
        parse = datetime.fromisoformat
        records = [Record(r["id"], r["properties"], parse(r["updated_at"])) for r in body["data"]]
        return RecordsPage(records, body["next"], body["next"] is None)


# -- the measurements --------------------------------------------------------


async def ceiling(url: str, page_size: int) -> int:
    """Fetch and parse every page; return the number of records."""
    count = 0
    async with httpx.AsyncClient() as client:
        cursor = "0"
        while cursor is not None:
            response = await client.get(
                f"{url}/users", params={"after": cursor, "limit": page_size}
            )
            body = orjson.loads(response.content)
            count += len(body["data"])
            cursor = body["next"]
    return count


def _fresh_directory(work: Path) -> None:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)


async def engine(
    url: str,
    page_size: int,
    destination: str,
    work: Path,
    source: str = "bench-api",
    batch_size: int = BATCH,
) -> int:
    """A full import through run_pipeline into a fresh destination; return records written.

    ``source`` is the connector: ``bench-api`` (pages via ``RecordsPage.from_json``)
    or ``bench-api-records`` (records built by the connector).
    """
    import syncline.connectors.files.jsonl
    import syncline.connectors.sqlite  # noqa: F401 - registers sqlite
    from syncline.engine.config.model import PipelineConfig
    from syncline.engine.runs.launch import run_pipeline, tune_gc_for_runs
    from syncline.store import Workspace, open_store

    await asyncio.to_thread(_fresh_directory, work)
    store = await open_store(workspace=Workspace(work / "home"))
    try:
        await store.connections.save(
            "api", connector=source, roles=["source"],
            settings={"base_url": url, "page_size": page_size},
        )  # fmt: skip
        if destination == "sqlite":
            await store.connections.save(
                "out", connector="sqlite", roles=["destination"],
                settings={"path": str(work / "out.db")},
            )  # fmt: skip
            options = {"table": "users", "create_table": True}
        else:
            await store.connections.save(
                "out", connector="jsonl", roles=["destination"],
                settings={"directory": str(work)},
            )  # fmt: skip
            options = {"path": "users.jsonl"}
        source = await store.connections.get("api")
        out = await store.connections.get("out")
        await store.pipelines.save(
            "users", kind="import", target="users",
            source_connection_id=source.id, destination_connection_id=out.id,
            config=PipelineConfig(destination_options=options, batch_size=batch_size).to_json(),
        )  # fmt: skip
        # As `syncline run` does once the connectors are open.
        run = await run_pipeline(
            store, "users", full=True, on_start=lambda _run: tune_gc_for_runs()
        )
        assert run.status == "succeeded", run.error
        assert run.counts["invalid"] == 0, run.error_groups
        return int(run.counts["written"])
    finally:
        await store.close()


SOURCES = {"json": "bench-api", "records": "bench-api-records"}
"""--connectors: how the source connector hands over its pages (see BenchApi)."""


def measure(
    records: int,
    page_sizes: list[int],
    repeat: int,
    destinations: list[str],
    styles: tuple[str, ...] = ("json",),
    batch_size: int = BATCH,
) -> dict[str, Any]:
    """Records/s of the ceiling and of each destination × connector style, interleaved.

    A case is named by its destination, followed by ``/records`` for the
    hand-built connector style (``jsonl``, ``jsonl/records``, ...).
    """
    process, url = start_server(records, page_sizes, prerender=True)
    engines = [
        (d if style == "json" else f"{d}/{style}", d, SOURCES[style])
        for d in destinations
        for style in styles
    ]
    results: dict[str, list[float]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for rep in range(repeat):
                for size in page_sizes:
                    cases: list[tuple[str, str | None, str]] = [("ceiling", None, ""), *engines]
                    # Rotate the order each repetition, so no case always runs first.
                    cases = cases[rep % len(cases) :] + cases[: rep % len(cases)]
                    for name, destination, source in cases:
                        began = time.perf_counter()
                        if destination is None:
                            n = asyncio.run(ceiling(url, size))
                        else:
                            work = Path(tmp) / "w"
                            n = asyncio.run(
                                engine(url, size, destination, work, source, batch_size)
                            )
                        seconds = time.perf_counter() - began
                        assert n == records, (name, n)
                        key = f"{name} page={size}"
                        results.setdefault(key, []).append(records / seconds)
                        print(
                            f"  rep {rep + 1} {key}: {records / seconds:,.0f} records/s", flush=True
                        )
    finally:
        process.kill()
        process.wait()
    medians = {key: statistics.median(values) for key, values in results.items()}
    for size in page_sizes:
        base = medians[f"ceiling page={size}"]
        for name, _, _ in engines:
            key = f"{name} page={size}"
            print(f"{key}: median {medians[key]:,.0f} records/s = {medians[key] / base:.0%} of ceiling "
                  f"({base:,.0f})")  # fmt: skip
    return {"medians": medians, "runs": results}


def breakdown(records: int) -> dict[str, float]:
    """Microseconds per record of each CPU step of an import, page by page.

    Each page of 1,000 records goes through the steps a run applies to it, in
    order — parse, build ``Record`` values, validate in place (as the engine
    does per page), hand them to a destination through ``Records``, encode
    them as JSON Lines — and each step's CPU time (``time.process_time``, so
    other processes on a shared machine do not count) is added up. Only one
    page is alive at a time, as in a run, so each step sees the caches and the
    heap a run gives it; the collector is tuned as runs tune it.
    """
    from syncline.connectors.files._options import FileOptions
    from syncline.connectors.files.jsonl import JsonLines
    from syncline.engine.runs.launch import tune_gc_for_runs
    from syncline.sdk.records import Records
    from syncline.types import Role, as_role, compile

    size = 1000
    pages = [render(records, size, p) for p in range(-(-records // size))]
    validate = compile(SCHEMA)
    # The encoder needs no connection or settings: an instance without an Env.
    _, encode = JsonLines.encoder(
        JsonLines.__new__(JsonLines),
        FileOptions(path="users.jsonl"),
        as_role(SCHEMA, Role.DESTINATION),
    )
    parse = datetime.fromisoformat
    names = [
        "parse JSON (orjson)",
        "build Record values (connector)",
        "validate + normalize in place (compiled)",
        "Records iterator + close (sdk)",
        "encode JSON Lines (jsonl connector)",
    ]
    totals = dict.fromkeys(names, 0.0)
    clock = time.process_time
    tune_gc_for_runs()
    for raw in pages:
        t0 = clock()
        body = orjson.loads(raw)
        t1 = clock()
        page = [Record(r["id"], r["properties"], parse(r["updated_at"])) for r in body["data"]]
        del body
        t2 = clock()
        for r in page:
            r.attributes = validate(r.attributes)
        t3 = clock()
        consumable = Records(page)
        ids: list[str | None] = []
        values: list[dict[str, Any]] = []
        for record in consumable.all():
            ids.append(record.id)
            values.append(record.attributes)
        consumable.close(None)
        t4 = clock()
        encode(ids, values)
        t5 = clock()
        for name, began, ended in zip(
            names, (t0, t1, t2, t3, t4), (t1, t2, t3, t4, t5), strict=True
        ):
            totals[name] += ended - began
    steps = {name: seconds / records * 1e6 for name, seconds in totals.items()}
    steps.update(json_pages(pages, records))
    steps.update(native_reference(pages, records))
    for name, micros in steps.items():
        print(f"{name:<42} {micros:6.2f} µs/record")
    return steps


def json_pages(pages: list[bytes], records: int) -> dict[str, float]:
    """What ``RecordsPage.from_json`` pages cost the engine instead of the first three steps.

    The engine's decoding of each page against the schema (syncline.sdk.json_records):
    parse, build ``Record`` values and validate in one native pass, page by page.
    """
    from syncline.sdk.json_records import JsonPage, decode

    clock = time.process_time
    spent = 0.0
    validated = 0
    for raw in pages:
        t0 = clock()
        page = decode(JsonPage(raw, USERS_PAGE, None, None), SCHEMA)
        spent += clock() - t0
        validated += page.validated
        del page
    assert validated == len(pages), "every page must be decoded natively"
    return {"RecordsPage.from_json: decode + validate natively": spent / records * 1e6}


def native_reference(pages: list[bytes], records: int) -> dict[str, float]:
    """For reference: the same pages checked by pydantic-core, Rust code, not ours.

    The same 25 typed properties as a TypedDict core schema (datetimes parsed,
    strings length-checked): ``validate_python`` on the parsed records (what
    our compiled validator does), and ``validate_json`` on each page's bytes
    (parsing and validating in one native pass). Both still build a Python
    object per value, which is where a record's time goes.
    """
    from pydantic_core import SchemaValidator
    from pydantic_core import core_schema as cs

    def field(name: str) -> Any:
        if name in STRINGS:
            return cs.typed_dict_field(cs.str_schema(max_length=1000))
        if name in INTS:
            return cs.typed_dict_field(cs.int_schema())
        if name in FLOATS:
            return cs.typed_dict_field(cs.float_schema())
        if name in BOOLS:
            return cs.typed_dict_field(cs.bool_schema())
        return cs.typed_dict_field(cs.datetime_schema())

    names = STRINGS + INTS + FLOATS + BOOLS + TIMES
    one = cs.typed_dict_schema({name: field(name) for name in names})
    per_record = SchemaValidator(one)
    item = cs.typed_dict_schema({"properties": cs.typed_dict_field(one)}, extra_behavior="ignore")
    data = cs.typed_dict_field(cs.list_schema(item))
    per_page = SchemaValidator(cs.typed_dict_schema({"data": data}, extra_behavior="ignore"))
    from syncline.types import compile

    validate = compile(SCHEMA)
    parse = datetime.fromisoformat
    clock = time.process_time
    spent = {
        "pydantic-core validate_python": 0.0,
        "pydantic-core validate_json (parse too)": 0.0,
        "pickle.dumps validated records (hand-over)": 0.0,
        "pickle.loads validated records (hand-over)": 0.0,
    }
    for raw in pages:
        body = orjson.loads(raw)
        t0 = clock()
        for r in body["data"]:
            per_record.validate_python(r["properties"])
        t1 = clock()
        per_page.validate_json(raw)
        t2 = clock()
        spent["pydantic-core validate_python"] += t1 - t0
        spent["pydantic-core validate_json (parse too)"] += t2 - t1
        # What handing validated records to another process would cost.
        page = [(r["id"], validate(r["properties"]), parse(r["updated_at"])) for r in body["data"]]
        t3 = clock()
        dumped = pickle.dumps(page, protocol=pickle.HIGHEST_PROTOCOL)
        t4 = clock()
        pickle.loads(dumped)
        t5 = clock()
        spent["pickle.dumps validated records (hand-over)"] += t4 - t3
        spent["pickle.loads validated records (hand-over)"] += t5 - t4
    return {name: seconds / records * 1e6 for name, seconds in spent.items()}


def rss_child(records: int, destination: str, batch_size: int = BATCH) -> None:
    """In a fresh process: import ``records`` records, print the peak RSS in MB."""
    process, url = start_server(records, [1000], prerender=False)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            n = asyncio.run(engine(url, 1000, destination, Path(tmp) / "w", batch_size=batch_size))
            assert n == records
    finally:
        process.kill()
        process.wait()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def rss(counts: list[int], destination: str, batch_size: int = BATCH) -> dict[int, float]:
    peaks = {}
    for count in counts:
        out = subprocess.run(
            [sys.executable, __file__, "--rss-child", str(count), "--destination", destination,
             "--batch-size", str(batch_size)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        peaks[count] = float(out.stdout.strip().splitlines()[-1])
        print(f"{destination} {count:,} records: peak RSS {peaks[count]:.0f} MB", flush=True)
    return peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--page-sizes", default="100,1000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--destinations", default="sqlite,jsonl")
    parser.add_argument(
        "--connectors",
        default="json",
        help="comma-separated: json (RecordsPage.from_json), records (hand-built Record values)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=BATCH,
        help=f"the pipelines' batch_size in the throughput and --rss runs ({BATCH})",
    )
    parser.add_argument("--rss", help="comma-separated record counts for the peak-RSS runs")
    parser.add_argument("--destination", default="sqlite")
    parser.add_argument("--breakdown", action="store_true", help="CPU cost per record of each step")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--lazy", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.page_sizes.split(",")]
    if args.serve:
        serve(args.serve, sizes, prerender=not args.lazy)
        return
    if args.rss_child:
        rss_child(args.rss_child, args.destination, args.batch_size)
        return
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}", flush=True)  # fmt: skip
    if args.breakdown:
        result: Any = breakdown(args.records)
    elif args.rss:
        result = rss([int(c) for c in args.rss.split(",")], args.destination, args.batch_size)
    else:
        styles = tuple(args.connectors.split(","))
        unknown = set(styles) - set(SOURCES)
        if unknown:
            parser.error(f"--connectors: unknown {', '.join(sorted(unknown))}; use json, records")
        result = measure(
            args.records, sizes, args.repeat, args.destinations.split(","), styles, args.batch_size
        )
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
