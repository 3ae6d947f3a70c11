"""The demo's summary as rich tables, for people (``--json`` prints :meth:`DemoSummary.to_json`).

Sections, in order: the verdict and elapsed time; what moved where (the two
runs and the events sent); event delivery per pipeline; per destination, its
pace and what was retried; dead letters grouped by message; the checks; the
commands to look deeper. Off a terminal, tables are not wrapped at 80 columns and carry
no colour, so the output reads the same in a log file.
"""

from __future__ import annotations

from typing import IO, Any

from rich.console import Console
from rich.table import Table

from syncline.demo.summary import DemoSummary

__all__ = ["render"]

_ROUTES = {
    "contacts-from-hubspot": "HubSpot contacts → SQLite",
    "customers-to-klaviyo": "SQLite → Klaviyo profiles",
}


def render(summary: DemoSummary, file: IO[str]) -> None:
    """Print ``summary`` as tables to ``file``."""
    tty = file.isatty()
    console = Console(file=file, width=None if tty else 200, no_color=not tty, highlight=False)
    verdict = (
        "[green]everything behaved as designed[/]"
        if summary.ok
        else "[red]something did not behave as designed (see Checks)[/]"
    )
    console.print(
        f"[bold]syncline demo[/]: finished in {summary.elapsed_seconds:.1f} s "
        f"(load average {summary.load_average:.2f}); {verdict}"
    )
    console.print(f"workspace: {summary.workspace}")
    events = summary.events
    rate = events["events_per_second"]
    sections: list[tuple[str, Any]] = [
        ("What moved where", _moves(summary)),
        (
            f"Event delivery: {events['delivered']:,} events delivered in "
            f"{events['deliver_seconds']:.1f} s"
            + (f" ({rate:,.0f} events/s)" if rate else "")
            + ", from the first event sent to the last one delivered",
            _delivery(summary),
        ),
        ("Destinations: how fast, and what was retried", _destinations(summary)),
        ("Dead letters (the demo sends a few deliberately flawed events)", _dead(summary)),
        ("Checks", _checks(summary)),
    ]
    for title, body in sections:
        console.print()
        console.print(f"[bold]{title}[/]", soft_wrap=True)
        console.print(body)
    console.print()
    console.print("[bold]Look deeper[/]")
    for command in summary.commands:
        console.print(f"  {command}", soft_wrap=True)


_WHOLE = frozenset({"PIPELINE", "DESTINATION", "COUNT", "STEP"})
"""Columns never wrapped: names a reader copies into commands."""


def _table(*columns: str, right: tuple[str, ...] = ()) -> Table:
    # On a narrow terminal, cells wrap ("fold") rather than lose text to an ellipsis.
    table = Table(box=None, pad_edge=False)
    for column in columns:
        table.add_column(
            column,
            justify="right" if column in right else "left",
            overflow="fold",
            no_wrap=column in _WHOLE,
        )
    return table


def _moves(summary: DemoSummary) -> Table:
    numbers = ("IN", "OUT", "FAILED", "TIME", "PER SECOND")
    table = _table("STEP", "FROM → TO", *numbers, right=numbers)
    for run in summary.runs:
        counts: dict[str, int] = run["counts"]
        written = counts.get("written", 0)
        out = f"{written:,}"
        if run.get("kind") == "export":
            created, updated = counts.get("created", 0), counts.get("updated", 0)
            out = f"{created:,} created" + (f", {updated:,} updated" if updated else "")
        status = "" if run["status"] == "succeeded" else f" [red]{run['status']}[/]"
        rate = run.get("written_per_second")
        table.add_row(
            f"{run.get('kind', run['pipeline'])}, run {run['run']}{status}",
            _ROUTES.get(run["pipeline"], run["pipeline"]),
            f"{counts.get('read', 0):,}",
            out,
            f"{counts.get('failed', 0) + counts.get('invalid', 0):,}",
            f"{run.get('seconds', 0.0):.1f} s",
            f"{rate:,.0f}" if rate else "-",
        )
    events = summary.events
    seconds = events["send_seconds"]
    table.add_row(
        "events",
        "Segment client → collector",
        f"{events['sent']:,}",
        f"{events['accepted']:,} accepted",
        f"{len(events['client_errors']):,}",
        f"{seconds:.1f} s",
        f"{events['sent'] / seconds:,.0f}" if seconds > 0 else "-",
    )
    return table


def _delivery(summary: DemoSummary) -> Table:
    steps = ("received", "filtered", "delivered", "retried", "dead", "pending")
    table = _table(
        "PIPELINE",
        "DESTINATION",
        *(s.upper() for s in steps),
        right=tuple(s.upper() for s in steps),
    )
    for row in summary.pipelines:
        table.add_row(row["pipeline"], row["destination"], *(f"{row[s]:,}" for s in steps))
    return table


def _destinations(summary: DemoSummary) -> Table:
    numbers = ("REQUESTS", "ANSWERED 429", "RETRIED", "EVENTS HELD", "LAST AFTER", "PER SECOND")
    table = _table("DESTINATION", *numbers, right=numbers)
    for row in summary.destinations:
        done, rate = row["done_after_seconds"], row["events_per_second"]
        table.add_row(
            row["destination"],
            f"{row['event_requests']:,}",
            f"{row['http_429']:,}",
            f"{row['retried']:,}",
            f"{row['events']:,}",
            f"{done:.1f} s" if done is not None else "-",
            f"{rate:,.0f}" if rate else "-",
        )
    return table


def _dead(summary: DemoSummary) -> Any:
    if not summary.dead_letters:
        return "none"
    table = _table(
        "COUNT",
        "PIPELINE",
        "WHY",
        right=("COUNT",),
    )
    for row in summary.dead_letters:
        table.add_row(f"{row['count']:,}", row["pipeline"], row["message"])
    return table


def _checks(summary: DemoSummary) -> Table:
    table = _table("", "CHECK", "FIGURES")
    for check in summary.checks:
        table.add_row("[green]ok[/]" if check.ok else "[red]FAILED[/]", check.name, check.detail)
    return table
