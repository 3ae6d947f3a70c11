"""``syncline run PIPELINE``: run an import or export pipeline once.

Exit codes: 0 the run succeeded (records that failed are counted in the
summary, they do not fail the run), 1 the run failed, 2 the pipeline cannot run
(unknown, misconfigured, or already running).
"""

from __future__ import annotations

import sys
from typing import Any

import typer

from syncline.cli.output import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail, print_json

__all__ = ["run", "run_summary"]


def run_summary(run: Any, pipeline: str) -> dict[str, Any]:
    """The JSON form of a stored run (``syncline run --json``, ``syncline runs show --json``)."""
    total = float(run.timings.get("total", 0.0) or 0.0)
    read = int(run.counts.get("read", 0))
    return {
        "run": run.id,
        "pipeline": pipeline,
        "status": run.status,
        "full": run.full,
        "resumed_from": run.resumed_from_run_id,
        "started_at": run.started_at.isoformat(),
        "ended_at": run.ended_at.isoformat() if run.ended_at else None,
        "counts": dict(run.counts),
        "errors": [g.to_json() for g in run.error_groups],
        "timings": dict(run.timings),
        "records_per_second": round(read / total, 1) if total > 0 else None,
        "error": run.error,
    }


def run(
    pipeline: str = typer.Argument(..., help="Name of the import or export pipeline."),
    full: bool = typer.Option(
        False, "--full", help="Read everything, ignoring the incremental mark (allows purge)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    """Run an import or export pipeline once, resuming an interrupted run."""
    import asyncio
    import gc

    # Start-up creates hundreds of thousands of objects that live as long as
    # the process (modules, tables, models); automatic collections would walk
    # them again and again while they are created (about 10% of the start-up).
    # Collection resumes, tuned for runs, once the run is leased (see _run).
    gc.disable()
    try:
        code = asyncio.run(_run(pipeline, full, as_json))
    finally:
        gc.enable()
    raise typer.Exit(code)


async def _run(name: str, full: bool, as_json: bool) -> int:
    import gc

    from syncline.engine.runs.launch import RunSetupError, run_pipeline, tune_gc_for_runs
    from syncline.store import StoreError, open_store

    try:
        store = await open_store()
    except (StoreError, ValueError) as error:
        fail(f"cannot open the store: {error}")
    progress = _Progress(enabled=not as_json and sys.stderr.isatty())

    def started(run: Any) -> None:
        # Connectors are loaded now: freeze them out of the collector's way,
        # then let it collect what the run leaves behind.
        tune_gc_for_runs()
        gc.enable()
        progress.start(run)

    try:
        try:
            run = await run_pipeline(
                store, name, full=full, progress=progress.update, on_start=started
            )
        except RunSetupError as error:
            progress.stop()
            fail(str(error), EXIT_USAGE)
        finally:
            progress.stop()
    finally:
        await store.close()
    if as_json:
        print_json(run_summary(run, name))
    else:
        _print_summary(run, name)
    return EXIT_OK if run.status == "succeeded" else EXIT_FAILED


class _Progress:
    """A rich progress line on a terminal (records read, records/s); silent otherwise."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    def start(self, run: Any) -> None:
        if not self.enabled:
            return
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("[bold]run {task.fields[run]}[/]"),
            TextColumn("{task.completed:,.0f} read"),
            TextColumn("{task.fields[written]:,} written"),
            TextColumn("{task.fields[failed]:,} failed"),
            TextColumn("{task.fields[rate]:,.0f} records/s"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._bar.start()
        label = (
            f"{run.id} (resumes {run.resumed_from_run_id})" if run.resumed_from_run_id else run.id
        )
        self._task = self._bar.add_task("run", total=None, run=label, written=0, failed=0, rate=0.0)

    def update(self, tally: Any) -> None:
        if self._bar is None:
            return
        counts = tally.counts
        seconds = max(tally.timings_now()["total"], 1e-9)
        self._bar.update(
            self._task,
            completed=counts["read"],
            written=counts["written"],
            failed=counts["failed"] + counts["invalid"],
            rate=counts["read"] / seconds,
        )

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def _print_summary(run: Any, name: str) -> None:
    summary = run_summary(run, name)
    counts = summary["counts"]
    resumed = f", resumed run {run.resumed_from_run_id}" if run.resumed_from_run_id else ""
    rate = summary["records_per_second"]
    print(
        f"run {run.id} of {name}: {run.status}{resumed} in "
        f"{summary['timings'].get('total', 0):.1f}s" + (f" ({rate:,.0f} records/s)" if rate else "")
    )
    shown = [f"{step} {counts[step]:,}" for step in counts if counts[step]]
    print("  " + (", ".join(shown) if shown else "nothing to do"))
    for group in summary["errors"][:10]:
        sample = f" (e.g. record {group['sample_record_id']})" if group["sample_record_id"] else ""
        print(f"  {group['count']:,} × {group['message']}{sample}")
    if run.error:
        print(f"error: {run.error}", file=sys.stderr)
