"""``syncline new connector NAME``: scaffold a connector package that passes its own tests.

The project (``syncline-NAME/``, in the current directory or ``--dir``) holds the
spec, the class, the settings model, a working sandbox, the acceptance test and
a docs page; ``pip install -e`` registers the connector and its sandbox.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from syncline.cli.output import fail

app = typer.Typer(no_args_is_help=True)


@app.callback()
def new() -> None:
    """Generate new projects (a connector package)."""
    # A callback keeps ``new`` a command group even with a single subcommand.


@app.command("connector")
def connector(
    name: Annotated[str, typer.Argument(help="Connector code in kebab-case, e.g. acme-crm.")],
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to create syncline-NAME/ (default: here).")
    ] = Path("."),
) -> None:
    """Scaffold a connector package: spec, class, settings, sandbox, acceptance test, docs."""
    from syncline.scaffold import ScaffoldError, scaffold_connector

    try:
        root, written = scaffold_connector(name, directory)
    except ScaffoldError as error:
        fail(str(error))
    except OSError as error:
        fail(f"cannot write the project into {directory}: {error.strerror}")
    print(f"created {root} ({len(written)} files):")
    for path in written:
        print(f"  {path.relative_to(root)}")
    print("next:")
    print(f"  cd {root}")
    print("  pip install -e .        # registers the connector and its sandbox")
    print("  python -m pytest        # runs the acceptance suite against the sandbox")
