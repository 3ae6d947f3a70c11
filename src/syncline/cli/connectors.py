"""``syncline connectors``: list every registered connector."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from syncline.cli.output import print_json, print_table, warn


def connectors(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List every registered connector: what it reads, what it writes, events or not."""
    from syncline.sdk import registry
    from syncline.sdk.spec import EVENTS

    failures = registry.discover()
    rows: list[dict[str, Any]] = []
    for entry in registry.registered():
        spec = entry.spec
        writes = [t for t in spec.destination_targets() if t != EVENTS]
        rows.append(
            {
                "code": spec.code,
                "label": spec.label,
                "categories": [str(c) for c in spec.categories],
                "reads": list(spec.source_targets()),
                "writes": writes,
                "events": EVENTS in spec.destination_targets(),
                "oauth": spec.oauth is not None,
                "origin": entry.origin,
            }
        )
    if json_output:
        print_json(
            {
                "connectors": rows,
                "load_failures": [
                    {"entry_point": f.entry_point, "error": f.error} for f in failures
                ],
            }
        )
    else:
        from rich.table import Table

        table = Table(title=f"{len(rows)} connectors", title_justify="left")
        for column in ("code", "label", "reads", "writes", "events"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                row["code"],
                row["label"],
                _targets(row["reads"]),
                _targets(row["writes"]),
                "yes" if row["events"] else "-",
            )
        print_table(table)
    for failure in failures:
        warn(f"connector entry point {failure.entry_point} failed to load: {failure.error}")


def _targets(targets: list[str]) -> str:
    # Databases and files declare "*": they take any target, placed by the pipeline's options.
    return ", ".join("any" if t == "*" else t for t in targets) or "-"
