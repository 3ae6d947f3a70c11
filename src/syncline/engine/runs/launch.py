"""Running a pipeline once: open its connectors, lease a run, execute, finish.

:func:`run_pipeline` is what ``syncline run``, the worker and the benchmark
call. The run's lease is the store's "one running run per pipeline" rule plus a
heartbeat renewed every :data:`HEARTBEAT` seconds:

* a second run of a pipeline whose run is alive fails with :class:`RunBusy`;
* a run whose worker died is taken over — at once when its owner was a
  process on this machine that no longer exists, otherwise once its heartbeat
  is older than :data:`STALE_AFTER` — and the new run resumes its progress
  (``resumed_from_run_id``);
* when the lease is lost (another worker took the run over), this run stops
  without writing anything more to the checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from syncline.engine.runs.base import Progress
from syncline.engine.runs.config import PipelineConfigError, RetrySettings, run_config
from syncline.engine.runs.steps import StepsError
from syncline.engine.runs.tally import Tally, message_of
from syncline.engine.runs.writer import RunStopped
from syncline.engine.tuning import tune_gc_for_runs
from syncline.sdk.errors import ConfigError, ConnectorError
from syncline.store import LeaseLost, Pipeline, Run, RunAlreadyLive, Store

if TYPE_CHECKING:
    from syncline.engine.runs.exporter import ExportRun
    from syncline.engine.runs.importer import ImportRun

__all__ = [
    "HEARTBEAT",
    "STALE_AFTER",
    "RunBusy",
    "RunSetupError",
    "new_owner",
    "run_pipeline",
    "tune_gc_for_runs",
]

log = logging.getLogger("syncline.engine.runs")

HEARTBEAT = 5.0
"""Seconds between two heartbeats of a live run (checkpoints renew it too)."""

STALE_AFTER = timedelta(seconds=60)
"""A run whose heartbeat is older than this is taken to have crashed."""


class RunSetupError(Exception):
    """The pipeline cannot run as set up (unknown, wrong kind, bad config or connection).

    The message says what to fix; ``syncline run`` exits with code 2.
    """


class RunBusy(RunSetupError):
    """Another live run of the pipeline holds its lease."""


@dataclass(frozen=True, slots=True)
class _Owner:
    host: str
    pid: int


def new_owner() -> str:
    """A lease owner name for this process: ``host:pid:token``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _parse_owner(owner: str) -> _Owner | None:
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return _Owner(parts[0], int(parts[1]))


def _dead_local_process(owner: str | None) -> bool:
    """True when ``owner`` names a process on this machine that no longer exists."""
    parsed = _parse_owner(owner or "")
    if parsed is None or parsed.host != socket.gethostname() or parsed.pid == os.getpid():
        return False
    try:
        os.kill(parsed.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    # A killed process whose parent has not reaped it yet still answers
    # kill(pid, 0); it is a zombie and will never heartbeat again.
    return _is_zombie(parsed.pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state letter follows the command name, which is in parentheses and
    # may itself hold spaces or parentheses.
    state = stat[stat.rfind(")") + 2 : stat.rfind(")") + 3]
    return state in ("Z", "X")


async def _lease(store: Store, pipeline: Pipeline, owner: str, full: bool) -> Run:
    """Start (or take over and resume) a run of ``pipeline``; ``RunBusy`` when it is live."""
    try:
        return await store.runs.start(
            pipeline.id, owner=owner, full=full, resume=True, stale_after=STALE_AFTER
        )
    except RunAlreadyLive as busy:
        live = await store.runs.live(pipeline.id)
        if live is not None and _dead_local_process(live.owner):
            # Take over exactly this dead run: a run started since has a newer
            # heartbeat and is still protected by the threshold.
            age = datetime.now(UTC) - live.heartbeat_at
            with contextlib.suppress(RunAlreadyLive):
                return await store.runs.start(
                    pipeline.id,
                    owner=owner,
                    full=full,
                    resume=True,
                    stale_after=max(age - timedelta(milliseconds=1), timedelta(0)),
                )
        run_id = live.id if live is not None else busy.run_id
        raise RunBusy(
            f"pipeline {pipeline.name!r} is already running (run {run_id}); wait for it to "
            "finish, or see it with `syncline runs show "
            f"{run_id}`. A crashed run is taken over after {int(STALE_AFTER.total_seconds())}s "
            "without heartbeat"
        ) from None


async def _heartbeat(store: Store, run_id: int, owner: str, main: asyncio.Task[Any]) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT)
        try:
            await store.runs.heartbeat(run_id, owner=owner)
        except LeaseLost:
            main.cancel("lease lost")
            return


async def _open(
    store: Store,
    pipeline: Pipeline,
    connection_id: int | None,
    role: Literal["source", "destination"],
    options: dict[str, Any],
) -> Any:
    from syncline.engine.connections import open_connector

    if connection_id is None:
        raise RunSetupError(f"pipeline {pipeline.name!r} has no {role} connection")
    try:
        return await open_connector(store, str(connection_id), options=options, role=role)
    except ConfigError as error:
        raise RunSetupError(f"pipeline {pipeline.name!r}: {error}") from None


def check_runnable(pipeline: Pipeline, config: Any, destination: Any) -> None:
    """Refuse, before a run is recorded, what cannot work whatever the data.

    An import with ``purge`` needs a destination that can delete
    (``delete(target, ids)``); an export that updates needs a ``matching``
    property, and matching needs an app connector that can read the target
    (``records``).
    """
    code = destination.spec.code
    instance = destination.instance
    if (
        pipeline.kind == "import"
        and config.purge
        and not callable(getattr(instance, "delete", None))
    ):
        raise RunSetupError(
            f"pipeline {pipeline.name!r} has purge: true, but the destination connector "
            f"{code!r} cannot delete records; set purge: false"
        )
    if pipeline.kind == "export":
        if not config.matching and config.mode != "create":
            raise RunSetupError(
                f"export pipeline {pipeline.name!r} has no matching property, which mode "
                f"{config.mode!r} needs to find the records to update: set `matching:` to the "
                "app property that identifies a record (e.g. email)"
            )
        if config.matching and not callable(getattr(instance, "records", None)):
            raise RunSetupError(
                f"the destination connector {code!r} cannot read {pipeline.target} records, "
                "which an export needs to match rows to the app's records"
            )


async def run_pipeline(
    store: Store,
    name: str,
    *,
    full: bool = False,
    owner: str | None = None,
    progress: Progress | None = None,
    on_start: Callable[[Run], None] | None = None,
    retry: RetrySettings | None = None,
) -> Run:
    """Run the import or export pipeline ``name`` once and return its finished run.

    * ``full`` reads everything, ignoring the incremental mark (the first run
      of a pipeline is full anyway); a full run can purge.
    * ``progress(tally)`` is called after each checkpoint; ``on_start(run)`` once
      the run is leased (``run.resumed_from_run_id`` tells a resume).
    * Returns the run as stored: ``succeeded`` (per-record failures are counted,
      not fatal) or ``failed`` with ``error`` set (the source failed, the
      destination refused the credentials, a connector broke its contract).
    * Raises :class:`RunSetupError` (:class:`RunBusy`) before any run is
      recorded when the pipeline cannot run. On cancellation the run is
      recorded ``interrupted`` (a later run resumes it) and the cancellation
      propagates.
    """
    from syncline.store import NotFound

    try:
        pipeline = await store.pipelines.get(name)
    except NotFound as error:
        raise RunSetupError(str(error)) from None
    if pipeline.kind not in ("import", "export"):
        raise RunSetupError(
            f"pipeline {name!r} is an {pipeline.kind} pipeline: it delivers events as they "
            "arrive (`syncline serve`), it is not run"
        )
    try:
        config = run_config(pipeline)
    except PipelineConfigError as error:
        raise RunSetupError(str(error)) from None
    source = await _open(
        store, pipeline, pipeline.source_connection_id, "source", config.source_options
    )
    try:
        destination = await _open(
            store,
            pipeline,
            pipeline.destination_connection_id,
            "destination",
            config.destination_options,
        )
    except BaseException:
        await source.aclose()
        raise
    try:
        check_runnable(pipeline, config, destination)
        checkpoint = await store.runs.checkpoint_of(pipeline.id)
        run_owner = owner or new_owner()
        run = await _lease(store, pipeline, run_owner, full or checkpoint.high_water is None)
        if on_start is not None:
            on_start(run)
        return await _execute(
            store, pipeline, config, run, run_owner, source, destination, progress, retry
        )
    finally:
        await destination.aclose()
        await source.aclose()


async def _execute(
    store: Store,
    pipeline: Pipeline,
    config: Any,
    run: Run,
    owner: str,
    source: Any,
    destination: Any,
    progress: Progress | None,
    retry: RetrySettings | None,
) -> Run:
    tally = Tally()
    if run.resumed_from_run_id is not None:
        previous = await store.runs.get(run.resumed_from_run_id)
        tally = Tally.resumed(previous.counts, previous.error_groups, previous.timings)
    kind: type[ImportRun] | type[ExportRun]
    # Each kind's module is loaded only by the runs of that kind.
    if pipeline.kind == "import":
        from syncline.engine.runs.importer import ImportRun as kind
    else:
        from syncline.engine.runs.exporter import ExportRun as kind
    job = kind(
        store,
        pipeline,
        config,
        run,
        owner,
        source,
        destination,
        tally,
        progress=progress,
        retry=retry,
    )
    main = asyncio.current_task()
    assert main is not None
    beat = asyncio.create_task(_heartbeat(store, run.id, owner, main))
    error: str | None = None
    try:
        await job.execute()
    except asyncio.CancelledError:
        beat.cancel()
        with contextlib.suppress(LeaseLost, asyncio.CancelledError):
            await asyncio.shield(
                store.runs.finish(
                    run.id,
                    owner=owner,
                    status="interrupted",
                    counts=tally.counts_now(),
                    error_groups=tally.error_groups(),
                    timings=tally.timings_now(),
                    error="the run was stopped before it finished",
                )
            )
        raise
    except (RunStopped, StepsError) as stopped:
        error = str(stopped)
    except LeaseLost:
        # Another worker took the run over; it is theirs to finish.
        return await store.runs.get(run.id)
    except ConnectorError as failed:
        error = f"a connector failed: {message_of(failed)}"
    except Exception as unexpected:
        # Only the type is kept: the message of an unknown error may hold data.
        log.error(
            "run %s of pipeline %r failed: %s", run.id, pipeline.name, type(unexpected).__name__
        )
        error = message_of(unexpected)
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
    return await store.runs.finish(
        run.id,
        owner=owner,
        status="succeeded" if error is None else "failed",
        counts=tally.counts_now(),
        error_groups=tally.error_groups(),
        timings=tally.timings_now(),
        error=error,
    )
