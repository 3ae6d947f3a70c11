"""``syncline demo``: the whole product in one command, on local sandboxes.

With no arguments it creates a new workspace in a temporary directory (or
uses ``--home``, which must not hold a workspace yet), runs the demo of
:mod:`syncline.demo` and prints its summary; the workspace is kept so that
the commands printed at the end work. Exit codes: 0 every check passed (the
deliberately flawed events are expected dead letters), 1 a check failed or
the demo broke, 2 the demo cannot start (a workspace in use, a missing
library, bad options).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from syncline.cli.output import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail, print_json, warn

__all__ = ["demo"]


def demo(
    contacts: Annotated[
        int, typer.Option("--contacts", min=1, help="HubSpot contacts to seed and import.")
    ] = 2000,
    events: Annotated[
        int, typer.Option("--events", min=200, help="Events to send with the Segment client.")
    ] = 2000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Import, export and deliver events against local sandboxes, then summarize.

    HubSpot contacts go into SQLite, newsletter customers from there to
    Klaviyo, and a burst of events from the Segment client library through the
    collector to Mixpanel, Klaviyo and GA4 (with a 429 storm and a few
    deliberately invalid events). Needs the demo extra (segment-analytics-python).
    """
    import asyncio

    from syncline.store import HOME_ENV

    given = os.environ.get(HOME_ENV)
    home = (
        Path(given).expanduser().absolute()
        if given
        else Path(tempfile.mkdtemp(prefix="syncline-demo-"))
    )
    # As `--home` does: anything in this process that looks for the workspace finds this one.
    os.environ[HOME_ENV] = str(home)
    if os.environ.get("SYNCLINE_DATABASE_URL"):
        warn(
            "SYNCLINE_DATABASE_URL is set: the demo uses the workspace's own SQLite database; "
            "unset the variable before running the commands it prints"
        )
    if not _has_segment():
        fail(
            "the demo sends events with the Segment client library, which is not installed; "
            "install the demo extra: pip install -e '.[demo]'"
        )
    code = asyncio.run(_demo(home, contacts, events, as_json))
    raise typer.Exit(code)


def _has_segment() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("segment.analytics") is not None
    except ModuleNotFoundError:
        return False


async def _demo(home: Path, contacts: int, events: int, as_json: bool) -> int:
    from syncline.demo import DemoError, DemoOptions, SandboxMissing, run_demo
    from syncline.demo.render import render

    # Progress only for a person watching; logs and pipes get the summary alone.
    steps = _Steps(enabled=sys.stderr.isatty())
    try:
        summary = await run_demo(home, DemoOptions(contacts=contacts, events=events), on_step=steps)
    except (DemoError, SandboxMissing) as error:
        steps.stop()
        fail(str(error), EXIT_USAGE)
    finally:
        steps.stop()
    if as_json:
        print_json(summary.to_json())
    else:
        render(summary, sys.stdout)
    return EXIT_OK if summary.ok else EXIT_FAILED


class _Steps:
    """On a terminal: a spinner on the current step, and each finished step with its time."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._status: Any = None
        self._console: Any = None
        self._line = ""
        self._since = 0.0

    def __call__(self, line: str) -> None:
        if not self.enabled:
            return
        self._finish()
        if self._status is None:
            from rich.console import Console

            self._console = Console(stderr=True)
            self._status = self._console.status(line)
            self._status.start()
        self._status.update(line)
        self._line, self._since = line, time.monotonic()

    def _finish(self) -> None:
        if self._line:
            seconds = time.monotonic() - self._since
            self._console.print(f"[green]✓[/] {self._line} [dim]({seconds:.1f} s)[/]")
            self._line = ""

    def stop(self) -> None:
        if self._status is not None:
            self._finish()
            self._status.stop()
            self._status = None
