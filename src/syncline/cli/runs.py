"""``syncline runs [PIPELINE]`` and ``syncline runs show RUN``: the run history.

``syncline runs`` lists the latest runs of every import and export pipeline,
``syncline runs PIPELINE`` those of one pipeline, newest first;
``syncline runs show RUN`` shows one run with its counts per step, errors
grouped by message (with a sample record ID) and timings. ``--json`` prints
the same as JSON. Exit code 2 for an unknown pipeline or run.
"""

from __future__ import annotations

from typing import Any

import typer

from syncline.cli.output import EXIT_USAGE, fail, print_json, print_table

__all__ = ["runs"]


def runs(
    args: list[str] = typer.Argument(  # noqa: B008 - typer's declaration style
        None, metavar="[PIPELINE] | show RUN", help="A pipeline's name, or `show` and a run id."
    ),
    limit: int = typer.Option(20, "--limit", min=1, help="Runs listed per pipeline."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """List runs (of one pipeline), or show one run in detail."""
    import asyncio

    words = list(args or [])
    if words and words[0] == "show":
        if len(words) != 2 or not words[1].isdigit():
            fail("usage: syncline runs show RUN (RUN is a run id, see `syncline runs`)")
        asyncio.run(_show(int(words[1]), as_json))
        return
    if len(words) > 1:
        fail("usage: syncline runs [PIPELINE] | syncline runs show RUN")
    asyncio.run(_list(words[0] if words else None, limit, as_json))


async def _list(name: str | None, limit: int, as_json: bool) -> None:
    from syncline.cli.run import run_summary
    from syncline.store import NotFound, open_store

    store = await open_store()
    try:
        if name is None:
            pipelines = [p for p in await store.pipelines.list() if p.kind != "events"]
        else:
            try:
                pipelines = [await store.pipelines.get(name)]
            except NotFound as error:
                fail(str(error), EXIT_USAGE)
        rows = []
        for pipeline in pipelines:
            for run in await store.runs.list(pipeline.id, limit=limit):
                rows.append(run_summary(run, pipeline.name))
    finally:
        await store.close()
    rows.sort(key=lambda r: (r["started_at"], r["run"]), reverse=True)
    if as_json:
        print_json(rows)
        return
    _table(rows)


def _table(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    if not rows:
        print("no runs yet; start one with `syncline run PIPELINE`")
        return
    table = Table(box=None, pad_edge=False)
    numeric = ("READ", "WRITTEN", "FAILED", "SECONDS")
    for column in ("RUN", "PIPELINE", "STATUS", "KIND", "STARTED", *numeric, "RESUMES"):
        table.add_column(column, justify="right" if column in numeric else "left", no_wrap=True)
    for r in rows:
        counts = r["counts"]
        table.add_row(
            str(r["run"]),
            r["pipeline"],
            r["status"],
            "full" if r["full"] else "incremental",
            r["started_at"][:19].replace("T", " "),
            f"{counts.get('read', 0):,}",
            f"{counts.get('written', 0):,}",
            f"{counts.get('failed', 0) + counts.get('invalid', 0):,}",
            f"{r['timings'].get('total', 0):.1f}",
            str(r["resumed_from"] or ""),
        )
    # Not on a terminal (a pipe, a file): no wrapping at 80 columns.
    print_table(table)


async def _show(run_id: int, as_json: bool) -> None:
    from syncline.cli.run import run_summary
    from syncline.store import NotFound, open_store

    store = await open_store()
    try:
        try:
            run = await store.runs.get(run_id)
        except NotFound as error:
            fail(f"{error}; `syncline runs` lists runs", EXIT_USAGE)
        pipeline = await store.pipelines.get_by_id(run.pipeline_id)
    finally:
        await store.close()
    summary = run_summary(run, pipeline.name)
    if as_json:
        print_json(summary)
        return
    resumed = f" (resumes run {run.resumed_from_run_id})" if run.resumed_from_run_id else ""
    print(f"run {run.id} of {pipeline.name}: {run.status}{resumed}")
    print(f"  {'full' if run.full else 'incremental'} run, started {summary['started_at']}")
    if summary["ended_at"]:
        print(f"  ended {summary['ended_at']}")
    print("  counts:")
    for step, value in summary["counts"].items():
        if value:
            print(f"    {step:<12} {value:>12,}")
    if summary["errors"]:
        print("  errors:")
        for group in summary["errors"]:
            sample = (
                f" (e.g. record {group['sample_record_id']})" if group["sample_record_id"] else ""
            )
            print(f"    {group['count']:>8,} × {group['message']}{sample}")
    print("  timings (s):")
    for step, seconds in summary["timings"].items():
        print(f"    {step:<12} {seconds:>12.3f}")
    if run.error:
        print(f"  error: {run.error}")
