"""Syncline: one import run of the benchmark API into JSONL, in a fresh process.

Run with Syncline's interpreter. Creates, on first use, the connections and the
import pipeline in the workspace ``WORKDIR/home`` (as bench/import.py does), then
runs the ``syncline run users [--full] --json`` command function of
``syncline.cli.run`` in this process. The installed ``syncline`` command cannot
load this connector (it is registered by this script, not by an installed
package), so this script stands in for it; cold start (interpreter, imports,
store open and migrations) is inside the measured time all the same. The setup
runs with the collector off, as the command's own start-up does.

The connector is bench/import.py's, with one addition for incremental reads:
it sends ``updated_since`` (the engine's incremental mark) to the API.
Validation is on, as always in Syncline: the schema is compiled once and every
record is validated and normalized against it.

    python syncline_run.py WORKDIR BASE_URL PAGE_SIZE full|incremental

``full`` reads everything; ``incremental`` reads from the mark of the last
completed run. A run killed mid-way is resumed by the next invocation.
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
    # tuned, once the run is leased (syncline.cli.run). The setup above runs
    # before it in this stand-in, so it runs under the same rule: otherwise the
    # command's start-up imports would happen here, with collections on.
    gc.disable()
    workdir = Path(sys.argv[1])
    (workdir / "out").mkdir(parents=True, exist_ok=True)
    asyncio.run(setup(workdir, sys.argv[2], int(sys.argv[3])))
    run_cli(workdir, sys.argv[4] == "full")
