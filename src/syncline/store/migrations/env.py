"""Alembic environment: migrate on the connection the store hands over."""

from __future__ import annotations

from alembic import context

from syncline.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "syncline migrations run through syncline.store.migrations.upgrade(connection), "
        "not the alembic command line"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
