"""Versioned schema migrations (Alembic, driven from code; no ``alembic.ini``).

``Store`` runs :func:`upgrade` every time it opens a database, so users never run
a migration command. The scripts live in ``versions/``; revision ids are
four-digit sequence numbers (``0001``, ``0002``, …) so their order is obvious.

Adding a table or column (for example the event queue):

1. Change :mod:`syncline.store.schema` (the metadata is the target the
   migrations must reach).
2. Add ``versions/NNNN_<what>.py`` with ``revision = "NNNN"`` and
   ``down_revision`` set to the previous head, written with ``op.create_table``
   / ``op.add_column`` / ``op.create_index`` in plain SQLAlchemy types (do not
   import the live tables: a migration is a frozen snapshot). On SQLite, column
   changes other than adding need ``with op.batch_alter_table(...)``.
   :func:`autogenerate` prints a draft from the difference between the
   metadata and a database at the current head, a good starting point::

       python -m syncline.store.migrations "add event queue"

3. Run ``tests/store/test_store_migrations.py``: it upgrades an empty SQLite and an
   empty PostgreSQL database to head and fails when the result differs from the
   metadata, so a table without a migration (or the reverse) cannot land.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from syncline.store.errors import StoreError

__all__ = [
    "alembic_config",
    "autogenerate",
    "current_revision",
    "downgrade",
    "head_revision",
    "upgrade",
]

SCRIPT_LOCATION = Path(__file__).parent


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An in-memory Alembic config pointing at this package's scripts.

    ``connection`` (a sync connection, typically inside ``AsyncConnection.run_sync``)
    is handed to ``env.py``, which migrates on it inside the caller's transaction.
    """
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision id among the scripts."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: sa.Connection) -> str | None:
    """The revision the database is at, or ``None`` for an empty database."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: sa.Connection, revision: str = "head") -> None:
    """Upgrade the database on ``connection`` to ``revision`` (idempotent).

    ``StoreError`` when the database is at a revision these scripts do not know:
    a newer Syncline migrated it, and this version must not touch it.
    """
    config = alembic_config(connection)
    current = current_revision(connection)
    if current is not None:
        try:
            ScriptDirectory.from_config(config).get_revision(current)
        except CommandError:
            raise StoreError(
                f"the database schema is at revision {current!r}, newer than this Syncline "
                f"knows (newest {head_revision()!r}); upgrade Syncline to use this database"
            ) from None
    command.upgrade(config, revision)


def downgrade(connection: sa.Connection, revision: str) -> None:
    """Downgrade the database on ``connection`` to ``revision`` (``"base"`` empties it)."""
    command.downgrade(alembic_config(connection), revision)


def autogenerate(message: str) -> Path:
    """Write a draft migration for what ``schema.metadata`` has and the head lacks.

    Upgrades a scratch SQLite database to the current head, compares it with the
    metadata and writes ``versions/NNNN_<message>.py`` (the next number). Review
    the draft: it is generated from SQLite and may need PostgreSQL-only options.
    Returns the new file's path.
    """
    import tempfile

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
