"""Syncline: one import run of the benchmark API into JSONL, in a fresh process.

Run with Syncline's interpreter.

    python syncline_run.py WORKDIR BASE_URL PAGE_SIZE setup|full|incremental

``setup`` creates the workspace ``WORKDIR/home`` with the connections and the
import pipeline (what ``syncline apply`` does once; run.py runs it before the
clock starts, as it writes the other contenders' config files before theirs).
``full`` and ``incremental`` run the ``syncline run users [--full] --json``
command function of ``syncline.cli.run`` in this process: the installed
``syncline`` command cannot load this connector (it is registered by this
script, not by an installed package), so this script stands in for it; cold
start (interpreter, imports, opening the store) is inside the measured time
all the same. They set the workspace up first if ``setup`` was not run.
``full`` reads everything; ``incremental`` reads from the mark of the last
completed run. A run killed mid-way is resumed by the next invocation.

The connector is bench/import.py's (``RecordsPage.from_json``), with one
addition for incremental reads: it sends ``updated_since`` (the engine's
incremental mark) to the API. Validation is on, as always in Syncline: every
page is decoded and validated against the schema in one native pass (a page
with an invalid record goes through the compiled validator record by record).
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import sys
from datetime import datetime
from pathlib import Path

from syncline.sdk.env import Env, Problem
from syncline.sdk.protocols import RecordsPage
from syncline.sdk.registry import connector
from syncline.sdk.spec import ApplicationSpec, AsSource, EndpointGroup, RateLimit
from syncline.types import Object, Role

_spec = importlib.util.spec_from_file_location(
    "bench_import", Path(__file__).resolve().parents[2] / "import.py"
)
assert _spec is not None and _spec.loader is not None
_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bench)


@connector(
    ApplicationSpec(
        code="bench-peers-api",
        label="Benchmark API (incremental)",
        as_source=AsSource(targets=("users",)),
        endpoint_groups=(EndpointGroup(("/users",), RateLimit(1_000_000, burst=100_000)),),
        settings=_bench.BenchSettings,
    )
)
class BenchPeersApi:
    def __init__(self, env: Env[_bench.BenchSettings]) -> None:
        self.env = env

    async def check(self) -> list[Problem]:
        return []

    async def record_schema(self, target: str, role: Role) -> Object:
        return _bench.SCHEMA  # type: ignore[no-any-return]

    async def records(
        self, target: str, updated_at: datetime | None, cursor: str | None, schema: Object
    ) -> RecordsPage:
        settings = await self.env.settings.load()
        params: dict[str, str | int] = {"after": cursor or "0", "limit": settings.page_size}
        if updated_at is not None:
            params["updated_since"] = updated_at.isoformat()
        response = await self.env.http.request("GET", f"{settings.base_url}/users", params=params)
        return RecordsPage.from_json(response.content, _bench.USERS_PAGE)


async def setup(workdir: Path, url: str, page_size: int) -> None:
    """Create the connections and the pipeline on first use (as ``syncline apply`` would)."""
    import syncline.connectors.files.jsonl  # noqa: F401 - registers jsonl
    from syncline.engine.config.model import PipelineConfig
    from syncline.store import NotFound, Workspace, open_store

    store = await open_store(workspace=Workspace(workdir / "home"))
    try:
        try:
            await store.pipelines.get("users")
        except NotFound:
            await store.connections.save(
                "api", connector="bench-peers-api", roles=["source"],
                settings={"base_url": url, "page_size": page_size},
            )  # fmt: skip
            await store.connections.save(
                "out", connector="jsonl", roles=["destination"],
                settings={"directory": str(workdir / "out")},
            )  # fmt: skip
            source = await store.connections.get("api")
            out = await store.connections.get("out")
            await store.pipelines.save(
                "users", kind="import", target="users",
                source_connection_id=source.id, destination_connection_id=out.id,
                config=PipelineConfig(
                    destination_options={"path": "users.jsonl"}, batch_size=5000
                ).to_json(),
            )  # fmt: skip
    finally:
        await store.close()


def run_cli(workdir: Path, full: bool) -> None:
    """``syncline run users [--full]``: the CLI's own command function, in this process."""
    import os

    import typer

    from syncline.cli import run as run_cmd

    os.environ["SYNCLINE_HOME"] = str(workdir / "home")
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command("run")(run_cmd.run)
    app.command("noop", hidden=True)(lambda: None)  # keeps "run" a subcommand
    app(["run", "users", "--json", *(["--full"] if full else [])])


if __name__ == "__main__":
    # The command keeps the collector off during its start-up and turns it on,
    # tuned, once the run is leased (syncline.cli.run). Its imports happen here
    # in this stand-in, so they run under the same rule.
    gc.disable()
    workdir = Path(sys.argv[1])
    mode = sys.argv[4]
    if mode == "setup" or not (workdir / "home").exists():
        (workdir / "out").mkdir(parents=True, exist_ok=True)
        asyncio.run(setup(workdir, sys.argv[2], int(sys.argv[3])))
    if mode != "setup":
        run_cli(workdir, mode == "full")
