"""Entry point of the ``syncline`` command.

Each command group lives in its own module and is registered here. Modules
import their heavy dependencies inside the command functions, so that
``syncline --help`` starts fast.

Exit codes: 0 success, 1 the work ran and failed (a run, a check), 2 usage or
configuration error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from syncline.cli import apply as apply_cmd
from syncline.cli import connections as connections_cmd
from syncline.cli import connectors as connectors_cmd
from syncline.cli import demo as demo_cmd
from syncline.cli import events as events_cmd
from syncline.cli import new as new_cmd
from syncline.cli import run as run_cmd
from syncline.cli import runs as runs_cmd
from syncline.cli import sandbox as sandbox_cmd
from syncline.cli import serve as serve_cmd
from syncline.cli import sources as sources_cmd
from syncline.cli import worker as worker_cmd

app = typer.Typer(
    name="syncline",
    help="Move customer data between apps, databases and files; deliver events.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def workspace(
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help=(
                "The workspace directory (database and settings key); default: "
                "$SYNCLINE_HOME, else the per-user data directory. "
                "SYNCLINE_DATABASE_URL selects a PostgreSQL database instead."
            ),
            show_default=False,
        ),
    ] = None,
) -> None:
    """Move customer data between apps, databases and files; deliver events."""
    if home is not None:
        # The store reads the workspace from the environment; setting it here
        # makes --home win for this process and the workers it starts.
        os.environ["SYNCLINE_HOME"] = str(home.expanduser())


app.command("connectors")(connectors_cmd.connectors)
app.command("apply")(apply_cmd.apply)
app.add_typer(connections_cmd.app, name="connections")
app.command("sandbox")(sandbox_cmd.sandbox)
app.command("run")(run_cmd.run)
app.command("runs")(runs_cmd.runs)
app.command("worker")(worker_cmd.worker)
app.command("serve")(serve_cmd.serve)
app.command("demo")(demo_cmd.demo)
app.add_typer(sources_cmd.app, name="sources")
app.add_typer(events_cmd.app, name="events")
app.add_typer(new_cmd.app, name="new")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
