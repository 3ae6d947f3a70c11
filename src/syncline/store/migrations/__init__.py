"""Versioned schema migrations (Alembic, driven from code; no ``alembic.ini``).

``Store`` runs :func:`upgrade` every time it opens a database, so users never run
a migration command. The scripts live in ``versions/``; revision ids are
four-digit sequence numbers (``0001``, ``0002``, …) so their order is obvious.

Alembic is imported only when there is migrating to do. The revision a database
is at is read straight from Alembic's version table, and the chain of revisions
the scripts define is read from the scripts' ``revision``/``down_revision``
assignments without executing them; when the database is at the head,
:func:`upgrade` returns without importing Alembic (about 10 MB and 150 modules
that a process would otherwise keep for its whole life). A database with no
table at all is created at the head directly from :mod:`syncline.store.schema`
and stamped with the head revision, also without Alembic (about 0.1 s of a
first start); a test proves the result identical to running every script.

Adding a table or column (for example the event queue):

1. Change :mod:`syncline.store.schema` (the metadata is the target the
   migrations must reach).
2. Add ``versions/NNNN_<what>.py`` with ``revision = "NNNN"`` and
   ``down_revision`` set to the previous head (plain string literals, one
   assignment each), written with ``op.create_table`` / ``op.add_column`` /
   ``op.create_index`` in plain SQLAlchemy types (do not import the live
   tables: a migration is a frozen snapshot). On SQLite, column changes other
   than adding need ``with op.batch_alter_table(...)``. :func:`autogenerate`
   prints a draft from the difference between the metadata and a database at
   the current head, a good starting point::

       python -m syncline.store.migrations "add event queue"

3. Run ``tests/store/test_store_migrations.py``: it upgrades an empty SQLite and an
   empty PostgreSQL database to head and fails when the result differs from the
   metadata, so a table without a migration (or the reverse) cannot land; it
   fails too when a database created from the metadata differs in anything
   from one the scripts built (names of constraints included); it also checks
   that the chain read here is the one Alembic reads.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from syncline.store.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "VERSION_TABLE",
    "alembic_config",
    "autogenerate",
    "current_revision",
    "downgrade",
    "head_revision",
    "revisions",
    "upgrade",
]

SCRIPT_LOCATION = Path(__file__).parent
VERSIONS = SCRIPT_LOCATION / "versions"

# Alembic's default version table: one row, one column, the current revision.
VERSION_TABLE = "alembic_version"


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An in-memory Alembic config pointing at this package's scripts.

    ``connection`` (a sync connection, typically inside ``AsyncConnection.run_sync``)
    is handed to ``env.py``, which migrates on it inside the caller's transaction.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["connection"] = connection
    return config


@functools.cache
def revisions() -> tuple[str, ...]:
    """Every revision id the scripts define, oldest first (the last is the head).

    Read from each ``versions/*.py`` file's module-level ``revision`` and
    ``down_revision`` string assignments, without importing the scripts.
    ``RuntimeError`` when a script lacks them or the scripts do not form one
    unbranched chain from a single base: a packaging or authoring mistake
    that no database can be migrated through.
    """
    parents: dict[str, str | None] = {}
    for script in sorted(VERSIONS.glob("*.py")):
        if script.name == "__init__.py":
            continue
        revision, down = _declared_revisions(script)
        if revision in parents:
            raise RuntimeError(f"migration {script} repeats revision {revision!r}")
        parents[revision] = down
    children: dict[str | None, str] = {}
    for revision, down in parents.items():
        if down in children:
            raise RuntimeError(
                f"migrations {children[down]!r} and {revision!r} both revise {down!r}; "
                "renumber one so the revisions form a single chain"
            )
        children[down] = revision
    chain: list[str] = []
    at = children.get(None)
    while at is not None:
        chain.append(at)
        at = children.get(at)
    if not chain or len(chain) != len(parents):
        raise RuntimeError(
            f"the migrations in {VERSIONS} do not form one chain from a base "
            f"(revisions {sorted(parents)!r}); fix their down_revision values"
        )
    return tuple(chain)


def _declared_revisions(script: Path) -> tuple[str, str | None]:
    values: dict[str, object] = {}
    for node in ast.parse(script.read_bytes(), filename=str(script)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            # Anything but a literal (a tuple of parents, a name) is refused below.
            values[target.id] = value.value if isinstance(value, ast.Constant) else value
    revision = values.get("revision")
    down = values.get("down_revision")
    if (
        not isinstance(revision, str)
        or "down_revision" not in values
        or not (down is None or isinstance(down, str))
    ):
        raise RuntimeError(
            f'migration {script} must assign `revision = "NNNN"` and '
            '`down_revision = "NNNN"` (or None for the first) as plain string literals'
        )
    return revision, down


def head_revision() -> str:
    """The newest revision id among the scripts."""
    return revisions()[-1]


def current_revision(connection: sa.Connection) -> str | None:
    """The revision the database is at, or ``None`` for an empty database.

    ``StoreError`` when the version table holds more than one row: this
    code never writes that (its migrations form one chain), so the database
    was changed by something else.
    """
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    if not rows:
        return None
    if len(rows) > 1:
        found = ", ".join(sorted(repr(row[0]) for row in rows))
        raise StoreError(
            f"the database's {VERSION_TABLE} table holds several revisions ({found}); "
            "Syncline's migrations form one chain, so something else changed it. "
            f"Keep the one row of revision {head_revision()!r} or older that matches the schema"
        )
    return str(rows[0][0])


def upgrade(connection: sa.Connection, revision: str = "head") -> None:
    """Upgrade the database on ``connection`` to ``revision`` (idempotent).

    A database already at the head is left alone without importing Alembic; an
    empty one (no table at all) brought to the head is created from the metadata
    and stamped, also without Alembic. Any other goes through the scripts.
    ``StoreError`` when the database is at a revision these scripts do not know:
    a newer Syncline migrated it, and this version must not touch it.
    """
    current = current_revision(connection)
    if current is not None and current not in revisions():
        raise StoreError(
            f"the database schema is at revision {current!r}, newer than this Syncline "
            f"knows (newest {head_revision()!r}); upgrade Syncline to use this database"
        )
    if current == head_revision() and revision in ("head", current):
        return
    if current is None and revision in ("head", head_revision()) and _is_empty(connection):
        _create_at_head(connection)
        return
    from alembic import command

    command.upgrade(alembic_config(connection), revision)


# Alembic's own definition of its version table (``DefaultImpl.version_table_impl``),
# so a database created by :func:`_create_at_head` is the one Alembic would leave.
_VERSION = sa.Table(
    VERSION_TABLE,
    sa.MetaData(),
    sa.Column("version_num", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("version_num", name=f"{VERSION_TABLE}_pkc"),
)


def _is_empty(connection: sa.Connection) -> bool:
    """True when the database (its default schema) holds no table at all."""
    return not sa.inspect(connection).get_table_names()


def _create_at_head(connection: sa.Connection) -> None:
    """Create an empty database's schema from the metadata and record the head revision.

    The result is the schema the migration scripts build, without importing
    Alembic or running them one by one (about 0.1 s of every first start):
    ``tests/store/test_store_migrations.py`` reflects a database built each way,
    on SQLite and PostgreSQL, and fails when they differ in any table, column,
    type, default, key, index or constraint. Used only for a database with no
    table at all; any other database goes through the scripts.
    """
    from syncline.store.schema import metadata, runs

    if connection.dialect.name == "postgresql":
        # The metadata leaves the PostgreSQL WHERE of this partial index out (see
        # syncline.store.schema: stating it loads that dialect in every process);
        # migration 0001 creates it partial, so the created index must be too.
        for index in runs.indexes:
            if index.name == "uq_runs_one_running_per_pipeline":
                index.dialect_kwargs["postgresql_where"] = sa.text("status = 'running'")
    _VERSION.create(connection)
    metadata.create_all(connection, checkfirst=False)
    connection.execute(_VERSION.insert().values(version_num=head_revision()))


def downgrade(connection: sa.Connection, revision: str) -> None:
    """Downgrade the database on ``connection`` to ``revision`` (``"base"`` empties it)."""
    from alembic import command

    command.downgrade(alembic_config(connection), revision)


def autogenerate(message: str) -> Path:
    """Write a draft migration for what ``schema.metadata`` has and the head lacks.

    Upgrades a scratch SQLite database to the current head, compares it with the
    metadata and writes ``versions/NNNN_<message>.py`` (the next number). Review
    the draft: it is generated from SQLite and may need PostgreSQL-only options.
    Returns the new file's path.
    """
    import tempfile

    from alembic import command

    next_id = f"{int(head_revision()) + 1:04d}"
    with tempfile.TemporaryDirectory() as scratch:
        engine = sa.create_engine(f"sqlite:///{scratch}/scratch.db")
        try:
            with engine.begin() as connection:
                command.upgrade(alembic_config(connection), "head")
                script = command.revision(
                    alembic_config(connection), message=message, autogenerate=True, rev_id=next_id
                )
        finally:
            engine.dispose()
    assert script is not None and not isinstance(script, list)
    return Path(script.path)
