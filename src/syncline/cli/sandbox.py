"""``syncline sandbox CODE``: serve a connector's sandbox (a local fake of the vendor API).

Sandboxes are found through the ``syncline.sandboxes`` entry-point group, by
connector code. The command prints the URL and the connection settings that
work against it, then serves until Ctrl-C (exit 130 from ``main``).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from syncline.cli.output import EXIT_USAGE, fail, print_json

ENTRY_POINT_GROUP = "syncline.sandboxes"


def find_sandbox(code: str) -> type[Any]:
    """The sandbox class registered for connector ``code``; exits 2 with the known codes if none."""
    from importlib.metadata import entry_points

    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    entry = found.get(code)
    if entry is None:
        known = ", ".join(sorted(found)) or "none installed"
        fail(
            f"no sandbox for connector {code!r} (sandboxes: {known}); a connector package "
            f"registers one under the {ENTRY_POINT_GROUP!r} entry-point group",
            EXIT_USAGE,
        )
    try:
        loaded: Any = entry.load()
    except Exception as error:  # a broken plugin must not hide behind a traceback
        fail(
            f"the sandbox entry point {entry.value!r} failed to load: {type(error).__name__}: {error}"
        )
    return loaded  # type: ignore[no-any-return]


def sandbox(
    code: Annotated[str, typer.Argument(help="Connector code, e.g. hubspot.")],
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0: any free port).")] = 0,
    records: Annotated[int, typer.Option("--records", help="Size of the seeded data set.")] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the data set.")] = 0,
    faults: Annotated[
        str,
        typer.Option(
            "--faults",
            help="Fault modes, comma-separated, each NAME or NAME:SHARE: "
            "429-storm, 5xx-burst, slow, reset, truncate.",
        ),
    ] = "",
    no_limits: Annotated[
        bool, typer.Option("--no-limits", help="Do not enforce the vendor's rate limits.")
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the URL and settings as JSON.")
    ] = False,
) -> None:
    """Serve a connector's sandbox on 127.0.0.1 until Ctrl-C."""
    import asyncio
    import contextlib

    from syncline.sdk.testing.sandbox import Fault

    cls = find_sandbox(code)
    try:
        parsed = [Fault.parse(f) for f in faults.split(",") if f.strip()]
        box = cls(records=records, seed=seed, faults=parsed, limits=not no_limits, port=port)
    except ValueError as error:
        fail(str(error))

    async def serve() -> None:
        try:
            await box.start()
        except OSError as error:
            fail(f"cannot listen on 127.0.0.1:{port}: {error.strerror}; choose another --port")
        settings = box.settings()
        if json_output:
            print_json({"url": box.url, "settings": settings})
        else:
            print(f"{code} sandbox on {box.url} ({records} records per target", end="")
            print(f"; faults: {faults or 'none'}; limits: {'off' if no_limits else 'on'})")
            print("connection settings:")
            for name, value in settings.items():
                print(f"  {name}: {value}")
            print("Ctrl-C to stop", flush=True)
        sys.stdout.flush()
        try:
            await asyncio.Event().wait()
        finally:
            with contextlib.suppress(Exception):
                await box.stop()

    asyncio.run(serve())
