"""Connection settings and pipeline options of the file connectors."""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from syncline.sdk.errors import ConfigError
from syncline.types import Object, from_json

__all__ = ["CsvOptions", "FileOptions", "FileSettings", "declared_schema", "options_of", "resolve"]


class FileSettings(BaseModel):
    """``directory``: where relative pipeline paths point (default: the working directory)."""

    model_config = ConfigDict(extra="forbid")

    directory: str = Field(default="", description="Base directory of relative file paths")


class FileOptions(BaseModel):
    """What one pipeline says about its file.

    * ``path`` — the file (relative to the connection's ``directory``).
    * ``key`` — the field whose value is a record's ID (read), or the field
      the record's ID is written to (write).
    * ``updated_at`` — the field holding a record's last change (read): with
      it, records older than the engine's ``updated_at`` are skipped.
    * ``declared_schema`` — the schema of the records in the Syncline types
      JSON form (``{"kind": "object", "properties": [...]}``); without it the
      schema is inferred from the first ``infer_rows`` records.
    * ``page_size`` — records per ``records()`` page; ``batch_size`` — records
      per ``upsert()`` call.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    key: str = "id"
    updated_at: str | None = None
    declared_schema: dict[str, Any] | None = None
    infer_rows: int = Field(default=1000, ge=1, le=1_000_000)
    page_size: int = Field(default=1000, ge=1, le=100_000)
    batch_size: int = Field(default=10_000, ge=1, le=100_000)

    @field_validator("path")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("give the file's path")
        return value

    @field_validator("declared_schema")
    @classmethod
    def _an_object(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            schema = from_json(value)
            if not isinstance(schema, Object):
                raise ValueError("declared_schema must be an object type (kind 'object')")
        return value


class CsvOptions(FileOptions):
    """CSV options: also the one-character ``delimiter`` (``,`` by default)."""

    delimiter: str = Field(default=",", min_length=1, max_length=1)


def options_of(options: object, model: type[FileOptions]) -> FileOptions:
    """The pipeline's options as ``model``; ConfigError when absent or invalid."""
    if options is None:
        raise ConfigError(
            "this operation needs pipeline options (at least 'path'); it was called "
            "outside a pipeline"
        )
    if isinstance(options, model):
        return options
    try:
        data = options.model_dump() if isinstance(options, BaseModel) else options
        return model.model_validate(data)
    except ValueError as exc:
        raise ConfigError(f"invalid pipeline options: {exc}") from None


def declared_schema(options: FileOptions) -> Object | None:
    if options.declared_schema is None:
        return None
    schema = from_json(options.declared_schema)
    assert isinstance(schema, Object)
    return schema


def resolve(settings: FileSettings, options: FileOptions) -> str:
    """The absolute path of the pipeline's file."""
    path = os.path.expanduser(options.path)
    if not os.path.isabs(path):
        path = os.path.join(os.path.expanduser(settings.directory) or os.getcwd(), path)
    return os.path.abspath(path)
