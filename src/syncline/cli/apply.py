"""``syncline apply FILE``: create or update connections, event sources and pipelines from a project file."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from syncline.cli.output import EXIT_FAILED, EXIT_USAGE, print_json

if TYPE_CHECKING:
    from syncline.engine.config import Plan
    from syncline.store import Store


def apply(
    file: Annotated[Path, typer.Argument(help="The project file (YAML).", show_default=False)],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; write nothing.")
    ] = False,
    prune: Annotated[
        bool, typer.Option("--prune", help="Remove stored pipelines the file no longer declares.")
    ] = False,
    check_schemas: Annotated[
        bool | None,
        typer.Option(
            "--check-schemas/--no-check-schemas",
            help=(
                "Check property names in filters and mappings against every connector's "
                "schema, app APIs included (--check-schemas), or against none. Default: "
                "databases and files only."
            ),
            show_default=False,
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Apply a project file: create or update what it declares, idempotently.

    Everything is checked before anything is written; a file with any problem
    changes nothing and exits with code 2, listing each problem with its line.
    """
    from syncline.cli.connections import run_with_store
    from syncline.engine.config import ConfigFileError, SchemaCheck, apply_project
    from syncline.store import StoreError

    schemas = (
        SchemaCheck.AUTO
        if check_schemas is None
        else (SchemaCheck.ALWAYS if check_schemas else SchemaCheck.NEVER)
    )

    async def work(store: Store) -> Plan | ConfigFileError | StoreError:
        try:
            return await apply_project(
                store, file, os.environ, schemas=schemas, prune=prune, dry_run=dry_run
            )
        except (ConfigFileError, StoreError) as exc:
            return exc

    result = run_with_store(work)
    if isinstance(result, ConfigFileError):
        if json_output:
            print_json({"ok": False, "errors": [i.to_json() for i in result.issues]})
        else:
            for issue in result.issues:
                print(f"error: {issue}", file=sys.stderr)
            print(
                f"{file}: {len(result.issues)} problem(s); nothing was written",
                file=sys.stderr,
            )
        raise typer.Exit(EXIT_USAGE)
    if isinstance(result, StoreError):
        print(f"error: {result}", file=sys.stderr)
        raise typer.Exit(EXIT_FAILED)
    _report(result, dry_run=dry_run, json_output=json_output)


_VERBS = {"create": "created", "update": "updated", "remove": "removed"}


def _report(plan: Plan, *, dry_run: bool, json_output: bool) -> None:
    for warning in plan.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if json_output:
        print_json({"ok": True, "dry_run": dry_run, **plan.to_json()})
        return
    if dry_run:
        print(f"Plan for {plan.project.file} (dry run: nothing written):")
    for change in plan.changes:
        action = change.action if dry_run else _VERBS.get(change.action, change.action)
        detail = f" ({', '.join(change.fields)})" if change.fields else ""
        hint = ""
        if change.action == "not in file" and change.kind == "pipeline":
            hint = " — pass --prune to remove it"
        print(f"  {action:<11} {change.kind} {change.name}{detail}{hint}")
    counts: dict[str, int] = {}
    for change in plan.changes:
        action = change.action if dry_run else _VERBS.get(change.action, change.action)
        counts[action] = counts.get(action, 0) + 1
    summary = ", ".join(f"{n} {a}" for a, n in counts.items()) or "nothing declared"
    print(("plan: " if dry_run else "applied: ") + summary)
