"""``syncline sources list|create|rotate|remove|stats``: event sources and their write keys.

Sources can also be declared in a project file (``event_sources:``, applied by
``syncline apply``); both manage the same stored sources. A write key is
printed in full only once, by ``create`` and ``rotate``; afterwards only its
first characters are shown. ``stats`` asks a running ``syncline serve`` for its
counters and recent per-event rejections.

Exit codes: 0 done, 1 the server could not be reached (``stats``), 2 usage error
(unknown source, name taken, events still in the log, store unusable).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

from syncline.cli.connections import run_with_store
from syncline.cli.output import EXIT_FAILED, fail, print_json, print_table

if TYPE_CHECKING:
    from syncline.store import EventSource, Store

__all__ = ["app"]

app = typer.Typer(
    help="Manage event sources and their write keys (also declarable in a project file).",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
NameArgument = Annotated[str, typer.Argument(help="The event source's name.")]


def _source_json(source: EventSource) -> dict[str, Any]:
    return {
        "id": source.id,
        "name": source.name,
        "write_key_prefix": source.write_key_prefix,
        "created_at": source.created_at.isoformat(),
    }


@app.command("list")
def list_sources(json_output: JsonOption = False) -> None:
    """List event sources: name, the first characters of the write key, creation time."""

    async def work(store: Store) -> list[EventSource]:
        return await store.event_sources.list()

    rows = run_with_store(work)
    if json_output:
        print_json({"event_sources": [_source_json(s) for s in rows]})
        return
    if not rows:
        print("No event sources. Create one with `syncline sources create NAME`.")
        return
    from rich.table import Table

    table = Table(title=f"{len(rows)} event sources", title_justify="left")
    for column in ("name", "write key", "created"):
        table.add_column(column)
    for s in rows:
        table.add_row(s.name, f"{s.write_key_prefix}…", s.created_at.strftime("%Y-%m-%d %H:%M"))
    print_table(table)


def _show_key(source: EventSource, key: str, json_output: bool, verb: str) -> None:
    if json_output:
        print_json({**_source_json(source), "write_key": key})
        return
    print(f"event source {source.name!r} {verb}; its write key (shown only now):")
    print(key)


@app.command("create")
def create(
    name: NameArgument,
    write_key_env: Annotated[
        str | None,
        typer.Option(
            "--write-key-env",
            help="Take the write key from this environment variable (to keep a client's "
            "existing key); default: a new random key.",
            show_default=False,
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Create an event source and print its write key (the only time it is shown)."""
    key: str | None = None
    if write_key_env is not None:
        key = os.environ.get(write_key_env)
        if not key:
            fail(f"the environment variable {write_key_env} (--write-key-env) is not set")

    async def work(store: Store) -> tuple[EventSource, str]:
        from syncline.store import NameTaken

        try:
            return await store.event_sources.create(name, write_key=key)
        except (NameTaken, ValueError) as error:
            fail(str(error))

    source, shown = run_with_store(work)
    _show_key(source, shown, json_output, "created")


@app.command("rotate")
def rotate(name: NameArgument, json_output: JsonOption = False) -> None:
    """Replace a source's write key with a new random one and print it (shown only now).

    The old key stops working at once (a running ``syncline serve`` notices
    within a few seconds).
    """

    async def work(store: Store) -> tuple[EventSource, str]:
        from syncline.store import NotFound

        try:
            return await store.event_sources.rotate_write_key(name)
        except NotFound as error:
            fail(str(error))

    source, key = run_with_store(work)
    _show_key(source, key, json_output, "has a new key")


@app.command("remove")
def remove(
    name: NameArgument,
    drop_events: Annotated[
        bool,
        typer.Option(
            "--drop-events",
            help="Also delete the source's events that are still in the event log "
            "(not yet delivered); without it, such a source is not removed.",
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Remove an event source; its write key stops working."""

    async def work(store: Store) -> int:
        from syncline.store import NotFound

        try:
            source = await store.event_sources.get(name)
        except NotFound as error:
            fail(str(error))
        waiting = await store.event_log.count(source.id)
        if waiting and not drop_events:
            fail(
                f"event source {name!r} has {waiting} events in the event log that are not "
                "delivered yet; wait for delivery, or pass --drop-events to delete them"
            )
        dropped = await store.event_log.delete_source(source.id) if waiting else 0
        await store.event_sources.remove(name)
        return dropped

    dropped = run_with_store(work)
    if json_output:
        print_json({"removed": name, "dropped_events": dropped})
    else:
        print(f"removed event source {name!r}" + (f" and {dropped} events" if dropped else ""))


@app.command("stats")
def stats(
    url: Annotated[
        str,
        typer.Option("--url", help="The running `syncline serve` (its address on this machine)."),
    ] = "http://127.0.0.1:8080",
    json_output: JsonOption = False,
) -> None:
    """Show a running collector's counters and its recent per-event rejections."""
    import httpx

    try:
        response = httpx.get(url.rstrip("/") + "/v1/_stats", timeout=10)
        response.raise_for_status()
    except httpx.HTTPError as error:
        print(f"error: cannot read the stats from {url}: {error}; is `syncline serve` running?")
        raise SystemExit(EXIT_FAILED) from None
    data = response.json()
    if json_output:
        print_json(data)
        return
    print(f"backlog: {data['backlog']} events (bound {data['max_backlog']})")
    print("responses: " + (", ".join(f"{k}: {v}" for k, v in data["responses"].items()) or "none"))
    for source, accepted in data["accepted"].items():
        reasons = data["rejected"].get(source, {})
        rejected = ", ".join(f"{r} {n}" for r, n in reasons.items()) or "none rejected"
        print(f"{source}: {accepted} accepted; {rejected}")
    recent = data["recent_rejections"]
    if recent:
        print(f"recent rejections (newest first, {len(recent)}):")
        for r in recent:
            field = f" ({r['field']})" if r["field"] else ""
            print(f"  {r['at']}  {r['source']}  {r['type'] or '-'}  {r['reason']}{field}")
