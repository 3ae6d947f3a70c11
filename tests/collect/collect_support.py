"""A real collector on 127.0.0.1 for the collector tests (the fixtures are in conftest.py).

``collector`` starts ``syncline.collect.serve`` (uvicorn, the group commit, a
real SQLite store in the test's directory) in a background thread with its own
event loop, with one event source ``web`` whose write key is ``WRITE_KEY``. The
test talks to it over HTTP like any client and reads the event log through a
store of its own.
"""

from __future__ import annotations

import asyncio
import threading
from contextlib import closing
from typing import Any

import httpx
import orjson

from syncline.collect import Collector, CollectorSettings, bind, serve
from syncline.store import Workspace, open_store
from syncline.store.event_log import LoggedEvent

WRITE_KEY = "test-write-key-0123456789"
OTHER_KEY = "other-write-key-0123456789"


class RunningCollector:
    """A collector serving in a thread; ``url`` is its base URL."""

    def __init__(self, database_url: str, workspace: Workspace, settings: CollectorSettings):
        self.database_url = database_url
        self.workspace = workspace
        self.settings = settings
        self.url = ""
        self.collector: Collector | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:
            self._error = error
            self._ready.set()

    async def _main(self) -> None:
        store = await open_store(self.database_url, workspace=self.workspace)
        try:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self.collector = Collector(store, self.settings)
            sock = bind("127.0.0.1", 0)

            def announce(line: str) -> None:
                self.url = line.removeprefix("listening on ")
                self._ready.set()

            with sock:
                await serve(
                    self.collector,
                    sock,
                    announce=announce,
                    stop=self._stop,
                    backlog_refresh_seconds=0.2,
                )
        finally:
            await store.close()

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(30), "the collector did not start"
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        assert not self._thread.is_alive(), "the collector did not stop"
        if self._error is not None:
            raise self._error

    def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        if body is not None:
            kwargs["content"] = body if isinstance(body, bytes) else orjson.dumps(body)
        return httpx.post(self.url + path, timeout=30, **kwargs)

    def events(self) -> list[LoggedEvent]:
        return read_log(self.database_url, self.workspace)

    def messages(self) -> list[dict[str, Any]]:
        return [orjson.loads(e.payload) for e in self.events()]

    def payloads_after(self, after_id: int) -> list[tuple[int, dict[str, Any]]]:
        """(id, message) of the logged events after ``after_id``, read with plain sqlite3."""
        import sqlite3

        assert self.database_url.startswith("sqlite"), "payloads_after reads SQLite only"
        path = self.database_url.split("///", 1)[1]
        with closing(sqlite3.connect(path)) as conn:
            rows = conn.execute(
                "SELECT id, payload FROM event_log WHERE id > ? ORDER BY id", (after_id,)
            ).fetchall()
        return [(row[0], orjson.loads(row[1])) for row in rows]

    def stats(self) -> dict[str, Any]:
        response = httpx.get(self.url + "/v1/_stats", timeout=10)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data


def read_log(database_url: str, workspace: Workspace) -> list[LoggedEvent]:
    async def main() -> list[LoggedEvent]:
        store = await open_store(database_url, workspace=workspace)
        try:
            return await store.event_log.read_after(0, 1_000_000)
        finally:
            await store.close()

    return asyncio.run(main())


def create_sources(database_url: str, workspace: Workspace) -> None:
    async def main() -> None:
        store = await open_store(database_url, workspace=workspace)
        try:
            await store.event_sources.create("web", write_key=WRITE_KEY)
            await store.event_sources.create("backend", write_key=OTHER_KEY)
        finally:
            await store.close()

    asyncio.run(main())
