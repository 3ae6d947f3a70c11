"""The pipeline options of a database connector (``env.options``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from syncline.sdk.errors import ConfigError

__all__ = ["DatabaseOptions", "options_of"]


class DatabaseOptions(BaseModel):
    """What one pipeline says about its side of a database connection.

    * ``table`` — the table read or written (``schema.table`` is allowed where
      the database has schemas). A destination needs it.
    * ``query`` — instead of ``table``, a ``SELECT`` to read (source only). It is
      wrapped as a subquery, so it must not end with ``;``, ``ORDER BY`` or
      ``LIMIT`` that the connector's own paging would fight.
    * ``key`` — the column that identifies a row; each record's ``id`` is
      ``str(key)``. A destination merges on it, so it must be the primary key or
      have a unique index.
    * ``updated_at`` — the column of the row's last change. With it, reads are
      incremental (``>=`` the engine's ``updated_at``); without it every read is
      a full read.
    * ``create_table`` — as a destination, create the table when it does not
      exist and add the columns it lacks, from the schema handed to ``upsert``.
    * ``columns`` — property name → column name, for columns whose names differ
      from the properties (or are not valid property names).
    * ``page_size`` — rows per ``records()`` page; ``batch_size`` — records per
      ``upsert()`` call (one transaction).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str | None = None
    query: str | None = None
    key: str = "id"
    updated_at: str | None = None
    create_table: bool = False
    columns: dict[str, str] = Field(default_factory=dict)
    page_size: int = Field(default=1000, ge=1, le=100_000)
    batch_size: int = Field(default=10_000, ge=1, le=100_000)

    @model_validator(mode="after")
    def _one_relation(self) -> DatabaseOptions:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of 'table' or 'query'")
        if self.table is not None and not self.table.strip():
            raise ValueError("'table' is empty; give the table's name")
        if self.query is not None and self.create_table:
            raise ValueError("'create_table' needs 'table': a query cannot be created or written")
        if not self.key:
            raise ValueError("'key' is empty; give the column that identifies a row")
        targets = list(self.columns.values())
        if len(set(targets)) != len(targets):
            raise ValueError("'columns' maps two properties to the same column")
        return self


def options_of(options: object, *, write: bool) -> DatabaseOptions:
    """The pipeline's options as :class:`DatabaseOptions`; ConfigError when absent or unusable."""
    if options is None:
        raise ConfigError(
            "this operation needs pipeline options (a 'table' or 'query' and a 'key'); "
            "it was called outside a pipeline"
        )
    if not isinstance(options, DatabaseOptions):
        try:
            options = DatabaseOptions.model_validate(
                options.model_dump() if isinstance(options, BaseModel) else options
            )
        except ValueError as exc:
            raise ConfigError(f"invalid pipeline options: {exc}") from None
    assert isinstance(options, DatabaseOptions)
    if write and options.table is None:
        raise ConfigError(
            "a database destination writes a table: set the pipeline option 'table' "
            "('query' is for reading only)",
            field="table",
        )
    return options
