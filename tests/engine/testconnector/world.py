"""Helpers shared by the engine run tests: a workspace, the crm app, pipelines, the CLI.

``Workspace`` is one temporary Syncline home: its store, its environment for
CLI subprocesses, and helpers to create connections and pipelines the way
``syncline apply`` stores them (``Pipeline.config`` as ``PipelineConfig`` JSON).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from syncline.engine.config.model import PipelineConfig
from syncline.store import Store, open_store

CLI = Path(__file__).with_name("syncline_cli.py")


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return orjson.loads(self.stdout)


class Workspace:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {**os.environ, "SYNCLINE_HOME": str(home)}
        self.env.pop("SYNCLINE_DATABASE_URL", None)
        self.env.pop("SYNCLINE_SECRET_KEY", None)

    async def store(self) -> Store:
        old = os.environ.get("SYNCLINE_HOME")
        os.environ["SYNCLINE_HOME"] = str(self.home)
        try:
            return await open_store()
        finally:
            if old is None:
                os.environ.pop("SYNCLINE_HOME", None)
            else:
                os.environ["SYNCLINE_HOME"] = old

    async def crm(self, store: Store, base_url: str, name: str = "crm", **settings: Any) -> None:
        await store.connections.save(
            name,
            connector="crm-test",
            roles=["source", "destination"],
            settings={"base_url": base_url, **settings},
        )

    async def sqlite(self, store: Store, path: Path, name: str = "db") -> None:
        await store.connections.save(
            name, connector="sqlite", roles=["source", "destination"], settings={"path": str(path)}
        )

    async def pipeline(
        self,
        store: Store,
        name: str,
        *,
        kind: str,
        source: str,
        destination: str,
        target: str = "users",
        **config: Any,
    ) -> None:
        source_id = (await store.connections.get(source)).id
        destination_id = (await store.connections.get(destination)).id
        await store.pipelines.save(
            name,
            kind=kind,  # type: ignore[arg-type]
            target=target,
            source_connection_id=source_id,
            destination_connection_id=destination_id,
            config=PipelineConfig(**config).to_json(),
        )

    async def cli(self, *args: str, seconds: float = 120) -> CliResult:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(CLI),
            *args,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), seconds)
        assert process.returncode is not None
        return CliResult(process.returncode, out.decode(), err.decode())

    async def start_cli(self, *args: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            str(CLI),
            *args,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )


def table_rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    """Every row of ``table`` in the SQLite file ``path`` (ordered by id)."""
    with sqlite3.connect(path) as db:
        return list(db.execute(f'SELECT * FROM "{table}" ORDER BY id'))


def table_ids(path: Path, table: str) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute(f'SELECT id FROM "{table}"')]


@dataclass
class World:
    """A workspace with the crm app served over HTTP and a SQLite file for the tests."""

    ws: Workspace
    app: Any
    server: Any
    db: Path

    async def store(self) -> Store:
        return await self.ws.store()


async def import_world(tmp: Path, records: int, **config: Any) -> World:
    """The crm app seeded with ``records`` contacts and an import pipeline ``contacts``.

    The caller owns ``world.server`` (``await world.server.stop()``).
    """
    from syncline.sdk.testing.server import FaultServer
    from testconnector.app import CrmApp

    app = CrmApp()
    app.seed(records)
    server = FaultServer()
    await server.start()
    app.install(server)
    ws = Workspace(tmp / "home")
    world = World(ws, app, server, tmp / "dest.db")
    store = await ws.store()
    try:
        await ws.crm(store, server.url, page_size=config.pop("page_size", 500))
        await ws.sqlite(store, world.db)
        config.setdefault("batch_size", 1000)
        config.setdefault("destination_options", {"table": "contacts", "create_table": True})
        await ws.pipeline(
            store, "contacts", kind="import", source="crm", destination="db", **config
        )
    finally:
        await store.close()
    return world


def write_people(path: Path, rows: list[tuple[int, str, str, str, str]]) -> None:
    """Insert or replace ``(id, email, name, plan, updated_at)`` rows of table ``people``."""
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS people (id INTEGER PRIMARY KEY, email TEXT, "
            "name TEXT, plan TEXT, updated_at TEXT)"
        )
        db.executemany("INSERT OR REPLACE INTO people VALUES (?, ?, ?, ?, ?)", rows)


def person(
    i: int, *, name: str | None = None, stamp: str | None = None
) -> tuple[int, str, str, str, str]:
    """Row ``i`` of ``people``; its updated_at is i seconds after 2026-02-01 unless given."""
    if stamp is None:
        stamp = (datetime(2026, 2, 1, tzinfo=UTC) + timedelta(seconds=i)).isoformat()
    return (i, f"person{i}@example.com", name or f"Person {i}", ("free", "pro")[i % 2], stamp)


async def export_world(tmp: Path, rows: int, **config: Any) -> World:
    """``rows`` people in a SQLite table and an export pipeline ``people`` into the crm app."""
    from syncline.sdk.testing.server import FaultServer
    from testconnector.app import CrmApp

    app = CrmApp()
    server = FaultServer()
    await server.start()
    app.install(server)
    ws = Workspace(tmp / "home")
    world = World(ws, app, server, tmp / "source.db")
    write_people(world.db, [person(i) for i in range(1, rows + 1)])
    store = await ws.store()
    try:
        await ws.crm(store, server.url, batch_limit=config.pop("batch_limit", 100))
        await ws.sqlite(store, world.db)
        config.setdefault("batch_size", 500)
        config.setdefault(
            "source_options", {"table": "people", "key": "id", "updated_at": "updated_at"}
        )
        config.setdefault("mapping", {"email": "email", "name": "name", "plan": "plan"})
        config.setdefault("matching", "email")
        await ws.pipeline(store, "people", kind="export", source="db", destination="crm", **config)
    finally:
        await store.close()
    return world


async def kill_after_batches(world: World, args: list[str], records: int) -> tuple[int, int]:
    """Start ``syncline run``, SIGKILL it once ``records`` read records are checkpointed.

    Returns (run id, records read as of the last checkpoint before the kill).
    """
    store = await world.store()
    try:
        process = await world.ws.start_cli(*args)
        pipeline = await store.pipelines.get(args[1])
        deadline = asyncio.get_running_loop().time() + 60
        while True:
            live = await store.runs.live(pipeline.id)
            if live is not None and live.counts.get("read", 0) >= records:
                break
            assert process.returncode is None, "the run ended before it could be killed"
            assert asyncio.get_running_loop().time() < deadline, "no progress within 60 s"
            await asyncio.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        await process.wait()
        assert process.returncode == -signal.SIGKILL
        killed = await store.runs.get(live.id)
        assert killed.status == "running"  # nobody could record the crash
        return killed.id, killed.counts["read"]
    finally:
        await store.close()
