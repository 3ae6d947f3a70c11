"""``syncline connections list|show|check|remove``: inspect and manage stored connections.

Also home of :func:`run_with_store`, which every store-backed command uses to
open the workspace's store, run its work and turn the store's setup errors into
exit code 2 with a message that says what to do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from syncline.cli.output import EXIT_FAILED, EXIT_OK, fail, print_json, print_table, warn

if TYPE_CHECKING:
    from syncline.store import Connection, Store

__all__ = ["app", "run_with_store"]

T = TypeVar("T")
REDACTED = "[REDACTED]"

app = typer.Typer(
    help="Inspect, check and remove connections (create and update them with `syncline apply`).",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
NameArgument = Annotated[str, typer.Argument(help="The connection's name (or id).")]


def run_with_store(work: Callable[[Store], Awaitable[T]]) -> T:
    """Open the store (``--home``/``SYNCLINE_HOME``, ``SYNCLINE_DATABASE_URL``), run ``work``, close it.

    A store that cannot be opened (bad key, bad URL, newer schema, database
    unreachable) exits with code 2 and a message naming the cause.
    """

    import asyncio

    async def main() -> T:
        from syncline.store import StoreError, open_store

        try:
            store = await open_store()
        except (StoreError, ValueError) as exc:
            fail(f"cannot open the store: {exc}")
        except OSError as exc:
            fail(f"cannot open the store: {exc}; check SYNCLINE_HOME and SYNCLINE_DATABASE_URL")
        async with store:
            return await work(store)

    return asyncio.run(main())


def _connection_json(connection: Connection) -> dict[str, Any]:
    return {
        "id": connection.id,
        "name": connection.name,
        "connector": connection.connector,
        "roles": sorted(connection.roles),
        "oauth_account": connection.oauth_account,
        "created_at": connection.created_at.isoformat(),
        "updated_at": connection.updated_at.isoformat(),
    }


async def _find(store: Store, name: str) -> Connection:
    from syncline.engine.connections import find_connection
    from syncline.store import NotFound

    try:
        return await find_connection(store, name)
    except NotFound as exc:
        fail(str(exc))


@app.command("list")
def list_connections(json_output: JsonOption = False) -> None:
    """List connections: name, connector, roles, and when each was created."""

    async def work(store: Store) -> list[Connection]:
        return await store.connections.list()

    rows = run_with_store(work)
    if json_output:
        print_json({"connections": [_connection_json(c) for c in rows]})
        return
    if not rows:
        print("No connections. Declare them in a project file and run `syncline apply FILE`.")
        return
    from rich.table import Table

    table = Table(title=f"{len(rows)} connections", title_justify="left")
    for column in ("name", "connector", "roles", "created"):
        table.add_column(column)
    for c in rows:
        table.add_row(
            c.name, c.connector, ", ".join(sorted(c.roles)), c.created_at.strftime("%Y-%m-%d %H:%M")
        )
    print_table(table)


def redacted_settings(connector: str, values: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """``values`` with every secret replaced by ``[REDACTED]``; and whether the model was known.

    Secret fields are those the connector's settings model declares as
    ``SecretStr``/``SecretBytes``. When the connector is not installed its
    secrets are unknown, so every value is redacted.
    """
    from syncline.sdk import registry
    from syncline.sdk.env import secret_field_names

    try:
        model = registry.get(connector).spec.settings
    except KeyError:
        return {key: REDACTED for key in values}, False
    secrets = secret_field_names(model) if model is not None else set()
    return _redact(values, secrets, ""), True


def _redact(values: dict[str, Any], secrets: set[str], prefix: str) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if path in secrets:
            shown[key] = REDACTED if value not in (None, "") else value
        elif isinstance(value, dict):
            shown[key] = _redact(value, secrets, f"{path}.")
        else:
            shown[key] = value
    return shown


@app.command("show")
def show(name: NameArgument, json_output: JsonOption = False) -> None:
    """Show a connection and its settings, with every secret shown as [REDACTED]."""

    async def work(store: Store) -> tuple[Connection, dict[str, Any], list[str]]:
        connection = await _find(store, name)
        values = (await store.connections.load_settings(connection.id)).values
        pipelines = await store.pipelines.list(connection_id=connection.id)
        return connection, values, [p.name for p in pipelines]

    connection, values, pipelines = run_with_store(work)
    settings, known = redacted_settings(connection.connector, values)
    if not known:
        warn(
            f"connector {connection.connector!r} is not installed, so its secret fields are "
            "unknown: every setting is shown as [REDACTED]"
        )
    if json_output:
        print_json({**_connection_json(connection), "settings": settings, "pipelines": pipelines})
        return
    print(f"name:          {connection.name}")
    print(f"id:            {connection.id}")
    print(f"connector:     {connection.connector}")
    print(f"roles:         {', '.join(sorted(connection.roles))}")
    print(f"oauth account: {connection.oauth_account or '-'}")
    print(f"created:       {connection.created_at.isoformat()}")
    print(f"updated:       {connection.updated_at.isoformat()}")
    print(f"pipelines:     {', '.join(pipelines) or '-'}")
    print("settings:")
    if not settings:
        print("  (none)")
    for line in _settings_lines(settings, "  "):
        print(line)


def _settings_lines(values: dict[str, Any], indent: str) -> list[str]:
    import orjson

    lines: list[str] = []
    for key, value in values.items():
        if isinstance(value, dict) and value:
            lines.append(f"{indent}{key}:")
            lines.extend(_settings_lines(value, indent + "  "))
        elif isinstance(value, str):
            lines.append(f"{indent}{key}: {value}")
        else:
            lines.append(f"{indent}{key}: {orjson.dumps(value).decode()}")
    return lines


@app.command("check")
def check(name: NameArgument, json_output: JsonOption = False) -> None:
    """Test a connection's live settings with its connector's check().

    Exit code 0 when the connection works, 1 when problems were found, 2 for an
    unknown connection or a connector that is not installed.
    """
    from syncline.sdk.env import Problem

    async def work(store: Store) -> tuple[Connection, list[Problem]]:
        connection = await _find(store, name)
        return connection, await _check(store, connection)

    connection, problems = run_with_store(work)
    if json_output:
        print_json(
            {
                "connection": connection.name,
                "connector": connection.connector,
                "ok": not problems,
                "problems": [{"field": p.field, "message": p.message} for p in problems],
            }
        )
    elif problems:
        print(f"connection {connection.name!r}: {len(problems)} problem(s)")
        for problem in problems:
            where = f"setting {problem.field!r}: " if problem.field else ""
            print(f"  - {where}{problem.message}")
    else:
        print(f"connection {connection.name!r}: ok")
    raise typer.Exit(EXIT_FAILED if problems else EXIT_OK)


async def _check(store: Store, connection: Connection) -> list[Any]:
    """The problems ``check()`` finds; setup failures of the instance become problems too."""
    from syncline.engine.connections import connector_entry, open_connector
    from syncline.sdk.env import Problem
    from syncline.sdk.errors import ConfigError, ConnectorError

    try:
        connector_entry(connection)
    except ConfigError as exc:
        fail(str(exc))
    try:
        opened = await open_connector(store, str(connection.name))
    except ConfigError as exc:
        return [Problem(exc.message, exc.field)]
    async with opened:
        method = getattr(opened.instance, "check", None)
        if method is None:
            return []
        try:
            problems = list(await method())
        except ConfigError as exc:
            problems = [Problem(exc.message, exc.field)]
        except ConnectorError as exc:
            problems = [Problem(f"the check failed: {exc}")]
        except Exception as exc:  # a connector bug must still be reported, redacted
            problems = [Problem(f"the check raised {type(exc).__name__}: {exc}")]
        redactor = opened.http.redactor
        return [Problem(redactor.text(p.message), p.field) for p in problems]


@app.command("remove")
def remove(
    name: NameArgument,
    force: Annotated[
        bool, typer.Option("--force", help="Also remove the pipelines that use the connection.")
    ] = False,
) -> None:
    """Remove a connection. Refused while pipelines use it, unless --force removes them too."""

    async def work(store: Store) -> list[str]:
        connection = await _find(store, name)
        users = [p.name for p in await store.pipelines.list(connection_id=connection.id)]
        if users and not force:
            fail(
                f"connection {connection.name!r} is used by pipeline(s) {', '.join(users)}; "
                "remove them from your project file and run `syncline apply --prune`, or "
                "pass --force to remove them with the connection"
            )
        for pipeline in users:
            await store.pipelines.remove(pipeline)
        await store.connections.remove(connection.name)
        return users

    removed = run_with_store(work)
    for pipeline in removed:
        print(f"removed pipeline {pipeline!r}")
    print(f"removed connection {name!r}")
