"""Migrations: empty → head on both backends, head matches the table metadata."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from syncline.store import Store, StoreError, Workspace, migrations, open_store
from syncline.store.database import Database
from syncline.store.schema import metadata

TABLES = {
    "connections",
    "event_sources",
    "identities",
    "pipeline_checkpoints",
    "pipeline_records",
    "pipelines",
    "runs",
}


def _differences(connection: sa.Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, metadata))


def _tables(connection: sa.Connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names())


def _run_scripts(connection: sa.Connection) -> None:
    """Upgrade through Alembic and every script, as a database with tables would be."""
    from alembic import command

    command.upgrade(migrations.alembic_config(connection), "head")


def _drop_everything(connection: sa.Connection) -> None:
    reflected = sa.MetaData()
    reflected.reflect(connection)
    reflected.drop_all(connection)


def _structure(connection: sa.Connection) -> dict[str, Any]:
    """Everything reflection reports about every table, in a comparable form."""
    inspector = sa.inspect(connection)
    found: dict[str, Any] = {}
    for name in sorted(inspector.get_table_names()):
        columns = [
            {**c, "type": str(c["type"].compile(dialect=connection.dialect))}
            for c in inspector.get_columns(name)
        ]
        found[name] = {
            "columns": columns,
            "primary_key": inspector.get_pk_constraint(name),
            "foreign_keys": sorted(inspector.get_foreign_keys(name), key=repr),
            "indexes": sorted(
                (
                    {**i, "dialect_options": {k: str(v) for k, v in i["dialect_options"].items()}}
                    for i in inspector.get_indexes(name)
                ),
                key=lambda i: str(i["name"]),
            ),
            "unique": sorted(inspector.get_unique_constraints(name), key=repr),
            "checks": sorted(inspector.get_check_constraints(name), key=repr),
            "options": inspector.get_table_options(name),
        }
    if connection.dialect.name == "sqlite":
        # The CREATE statements SQLite stores: the schema down to the text.
        rows = connection.execute(
            sa.text("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
        )
        found["sqlite_master"] = [tuple(row) for row in rows]
    else:
        found["sequences"] = sorted(inspector.get_sequence_names())
    found["version"] = connection.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    return found


async def test_head_matches_table_metadata(store: Store) -> None:
    async with store.database.write() as conn:
        await conn.run_sync(_drop_everything)
        await conn.run_sync(_run_scripts)
    async with store.database.read() as conn:
        differences = await conn.run_sync(_differences)
    assert differences == [], (
        "the migrations and syncline.store.schema disagree; add a migration "
        "(see syncline.store.migrations)"
    )


async def test_a_new_database_gets_exactly_the_schema_the_scripts_build(store: Store) -> None:
    # open_store creates an empty database's schema from the metadata, without
    # Alembic; the result must be indistinguishable from running every script.
    async with store.database.read() as conn:
        created = await conn.run_sync(_structure)
    async with store.database.write() as conn:
        await conn.run_sync(_drop_everything)
        assert await conn.run_sync(_tables) == set()
        await conn.run_sync(_run_scripts)
    async with store.database.read() as conn:
        migrated = await conn.run_sync(_structure)
    assert set(created) >= TABLES | {"alembic_version"}
    assert created == migrated, (
        "a database created from syncline.store.schema differs from one the migration "
        "scripts built; make the metadata state exactly what the scripts create "
        "(constraint names as Alembic renders them, constraint order)"
    )


async def test_a_new_database_is_created_without_alembic(
    database_url: str, workspace: Workspace
) -> None:
    import subprocess
    import sys

    workspace.ensure()
    # A fresh interpreter: this one has imported Alembic already.
    code = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from syncline.store import Workspace, migrations, open_store\n"
        "async def main():\n"
        "    store = await open_store(sys.argv[1], workspace=Workspace(Path(sys.argv[2])))\n"
        "    assert await store.revision() == migrations.head_revision()\n"
        "    await store.close()\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))\n"
    )
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", code, database_url, str(workspace.path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


async def test_a_database_with_foreign_tables_goes_through_the_scripts(
    database_url: str, workspace: Workspace
) -> None:
    # Not empty, so not created from the metadata: the scripts add Syncline's
    # tables next to the foreign one, as they always did.
    database = Database(database_url)
    await database.prepare()
    async with database.write() as conn:
        await conn.execute(sa.text("CREATE TABLE foreign_things (id INTEGER PRIMARY KEY)"))
    await database.dispose()
    store = await open_store(database_url, workspace=workspace)
    try:
        assert await store.revision() == migrations.head_revision()
        async with store.database.read() as conn:
            assert await conn.run_sync(_tables) >= TABLES | {"foreign_things"}
            differences = await conn.run_sync(_differences)
        assert [d for d in differences if d[0] != "remove_table"] == []
    finally:
        await store.close()


async def test_unique_live_run_index_is_partial_on_the_backend(store: Store) -> None:
    def indexes(connection: sa.Connection) -> dict[str, Any]:
        return {str(i["name"]): i for i in sa.inspect(connection).get_indexes("runs")}

    async with store.database.read() as conn:
        found = await conn.run_sync(indexes)
    index = found["uq_runs_one_running_per_pipeline"]
    assert index["unique"]
    where = index.get("dialect_options", {})
    assert any("running" in str(v) for k, v in where.items() if k.endswith("_where")), index


async def test_empty_to_head_down_to_base_and_up_again(store: Store) -> None:
    assert await store.revision() == migrations.head_revision()
    async with store.database.read() as conn:
        assert await conn.run_sync(_tables) >= TABLES
    async with store.database.write() as conn:
        await conn.run_sync(migrations.downgrade, "base")
    async with store.database.read() as conn:
        assert await conn.run_sync(_tables) & TABLES == set()
    assert await store.revision() is None
    await store.migrate()
    assert await store.revision() == migrations.head_revision()
    async with store.database.read() as conn:
        assert await conn.run_sync(_differences) == []


async def test_reopen_is_idempotent_and_keeps_data(database_url: str, workspace: Workspace) -> None:
    first = await open_store(database_url, workspace=workspace)
    connection = await first.connections.save(
        "c", connector="stripe", roles=["source"], settings={"k": "v"}
    )
    await first.close()
    for _ in range(2):
        again = await open_store(database_url, workspace=workspace)
        assert await again.revision() == migrations.head_revision()
        assert (await again.connections.load_settings(connection.id)).values == {"k": "v"}
        await again.close()


async def test_concurrent_first_opens_migrate_once(database_url: str, workspace: Workspace) -> None:
    workspace.cipher({})  # create the key up front; the test is about the schema
    stores = await asyncio.gather(
        *(open_store(database_url, workspace=workspace) for _ in range(4))
    )
    try:
        for s in stores:
            assert await s.revision() == migrations.head_revision()
    finally:
        for s in stores:
            await s.close()


async def test_database_from_a_newer_version_is_refused(
    store: Store, database_url: str, workspace: Workspace
) -> None:
    async with store.database.write() as conn:
        await conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match=r"'9999'.*upgrade Syncline"):
        await open_store(database_url, workspace=workspace)


def test_revision_chain_read_from_the_scripts_is_alembics() -> None:
    from alembic.script import ScriptDirectory

    walked = ScriptDirectory.from_config(migrations.alembic_config()).walk_revisions()
    assert migrations.revisions() == tuple(reversed([s.revision for s in walked]))
    assert migrations.head_revision() == migrations.revisions()[-1]


@pytest.mark.parametrize(
    ("scripts", "problem"),
    [
        ({"0001_a": ("0001", None), "0002_b": ("0002", "0001"), "0002_c": ("0003", "0001")},
         "both revise '0001'"),
        ({"0001_a": ("0001", None), "0002_b": ("0002", "0009")}, "do not form one chain"),
        ({"0001_a": ("0001", None), "0001_b": ("0001", None)}, "repeats revision '0001'"),
    ],
)  # fmt: skip
def test_scripts_that_do_not_form_one_chain_are_refused(
    scripts: dict[str, tuple[str, str | None]],
    problem: str,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, (revision, down) in scripts.items():
        (tmp_path / f"{name}.py").write_text(f"revision = {revision!r}\ndown_revision = {down!r}\n")
    monkeypatch.setattr(migrations, "VERSIONS", tmp_path)
    migrations.revisions.cache_clear()
    try:
        with pytest.raises(RuntimeError, match=problem):
            migrations.revisions()
    finally:
        migrations.revisions.cache_clear()


async def test_version_table_with_two_rows_is_refused(
    store: Store, database_url: str, workspace: Workspace
) -> None:
    async with store.database.write() as conn:
        await conn.execute(sa.text("INSERT INTO alembic_version (version_num) VALUES ('0001')"))
    with pytest.raises(StoreError, match=r"several revisions \('0001', '\d{4}'\)"):
        await open_store(database_url, workspace=workspace)


async def test_an_up_to_date_sqlite_store_opens_while_another_process_writes(
    workspace: Workspace,
) -> None:
    import sqlite3

    workspace.ensure()
    await (await open_store(workspace.database_url, workspace=workspace)).close()
    writer = sqlite3.connect(workspace.database_path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        # Looking at the schema under the write lock would wait out the busy
        # timeout and fail; an up-to-date schema is recognised without it.
        again = await open_store(workspace.database_url, workspace=workspace)
        try:
            assert await again.revision() == migrations.head_revision()
        finally:
            await again.close()
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_revisions_are_read_from_plain_or_annotated_assignments(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "0001_a.py").write_text(
        '"""First."""\nrevision: str = "0001"\ndown_revision = None\n'
    )
    (tmp_path / "0002_b.py").write_text('revision = "0002"\ndown_revision: str | None = "0001"\n')
    (tmp_path / "__init__.py").write_text("")
    monkeypatch.setattr(migrations, "VERSIONS", tmp_path)
    migrations.revisions.cache_clear()
    try:
        assert migrations.revisions() == ("0001", "0002")
        (tmp_path / "0003_c.py").write_text('revision = "0003"\ndown_revision = ("0001", "0002")\n')
        migrations.revisions.cache_clear()
        with pytest.raises(RuntimeError, match=r"0003_c\.py must assign .*plain string literals"):
            migrations.revisions()
    finally:
        migrations.revisions.cache_clear()
