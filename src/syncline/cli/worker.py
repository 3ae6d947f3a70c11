"""``syncline worker``: run scheduled pipelines when they are due, until stopped.

``--once`` starts the runs due now, waits for them and exits (for cron or a
test); otherwise the worker polls every ``--poll`` seconds until Ctrl-C or
SIGTERM; runs in progress then stop and are recorded as interrupted (the next
run of each pipeline resumes it from its last checkpoint). Exit code 2 when the
store cannot be opened.
"""

from __future__ import annotations

import typer

from syncline.cli.output import fail

__all__ = ["worker"]


def worker(
    once: bool = typer.Option(False, "--once", help="Run what is due now, then exit."),
    poll: float = typer.Option(
        5.0, "--poll", min=0.1, help="Seconds between two looks for due pipelines."
    ),
    concurrency: int = typer.Option(
        4, "--concurrency", min=1, help="Pipelines run at the same time."
    ),
) -> None:
    """Run scheduled import and export pipelines when they are due."""
    import asyncio

    asyncio.run(_serve(once, poll, concurrency))


async def _serve(once: bool, poll: float, concurrency: int) -> None:
    import asyncio
    import signal

    from syncline.engine.runs.launch import tune_gc_for_runs
    from syncline.engine.worker import Worker
    from syncline.store import StoreError, open_store

    tune_gc_for_runs()
    try:
        store = await open_store()
    except (StoreError, ValueError) as error:
        fail(f"cannot open the store: {error}")

    def report(pipeline: object, run: object) -> None:
        name = getattr(pipeline, "name", "?")
        print(
            f"{name}: run {getattr(run, 'id', '?')} {getattr(run, 'status', '?')}",
            flush=True,
        )

    try:
        work = Worker(store, concurrency=concurrency, poll=poll, on_finish=report)
        if once:
            tasks = await work.tick()
            if tasks:
                await asyncio.gather(*tasks)
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(f"worker {work.owner} started; polling every {poll:g}s", flush=True)
        await work.serve(stop)
    finally:
        await store.close()
