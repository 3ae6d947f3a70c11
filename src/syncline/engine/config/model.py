"""The shape of a project file, and the configuration a pipeline keeps in the store.

A project file (``syncline.yml``) has three optional top-level sections::

    version: 1
    connections:   {NAME: {connector, roles?, settings?}}
    event_sources: {NAME: {write_key}}
    pipelines:     {NAME: {kind, source?, destination?, target?, ...}}

:class:`PipelineConfig` is what ``Pipeline.config`` holds in the store: the
engine reads a pipeline's filter, mapping, options, schedule and the rest from
it with :meth:`PipelineConfig.of`. Durations are stored in whole seconds.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_OVERLAP_SECONDS",
    "ConnectionDecl",
    "EventSourceDecl",
    "PipelineConfig",
    "PipelineDecl",
    "ProjectFile",
    "Schedule",
    "SideDecl",
    "parse_duration",
]

DEFAULT_BATCH_SIZE = 500
DEFAULT_OVERLAP_SECONDS = 300
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")
_DURATION = re.compile(r"(\d+)\s*(d|h|m|s)")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(value: Any) -> int:
    """Seconds in ``value``: an int (seconds) or text like ``90s``, ``15m``, ``1h30m``, ``2d``."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text like '15m', '1h30m', '2d'")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return value
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        if text.isdigit():
            return int(text)
        parts = _DURATION.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            return sum(int(n) * _UNITS[u] for n, u in parts)
    raise ValueError("a duration is a number of seconds or text like '15m', '1h30m', '2d'")


Duration = Annotated[int, BeforeValidator(parse_duration)]


def _check_name(value: str, what: str) -> str:
    if not _NAME.match(value):
        raise ValueError(
            f"{what} name {value!r} is invalid: use letters, digits, '-', '_' and '.', "
            "starting with a letter or digit (at most 200 characters)"
        )
    return value


class _Strict(BaseModel):
    # Built on first validation, not at import: only `syncline apply` reads
    # project files, and every pipeline run imports this module for PipelineConfig.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class ConnectionDecl(_Strict):
    """``connections.NAME``: the connector, its roles, and its settings."""

    connector: str
    roles: list[Literal["source", "destination"]] | None = None
    """Default: every role the connector can play."""
    settings: dict[str, Any] = Field(default_factory=dict)


class EventSourceDecl(_Strict):
    """``event_sources.NAME``: a source of events and its write key (from the environment)."""

    write_key: str


class SideDecl(_Strict):
    """One end of a pipeline: a connection and the pipeline's options for it."""

    connection: str
    options: dict[str, Any] = Field(default_factory=dict)


def _side(value: Any) -> Any:
    # ``source: crm`` is short for ``source: {connection: crm}``.
    return {"connection": value} if isinstance(value, str) else value


Side = Annotated[SideDecl, BeforeValidator(_side)]


class Schedule(_Strict):
    """When a pipeline runs by itself: ``every`` this many seconds (``every: 15m``)."""

    every: Duration = Field(ge=60)


class PipelineDecl(_Strict):
    """``pipelines.NAME`` as written in the file (kind-specific fields checked later)."""

    kind: Literal["import", "export", "events"]
    source: Side | None = None
    destination: Side | None = None
    target: str | None = None
    filter: str | dict[str, Any] | None = None
    mapping: dict[str, str] | None = None
    batch_size: int | None = Field(default=None, ge=1, le=100_000)
    schedule: Schedule | None = None
    overlap: Duration | None = None
    purge: bool | None = None
    mode: Literal["create", "update", "both"] | None = None
    matching: str | None = None
    event_type: str | None = None
    event_sources: list[str] | None = None
    enabled: bool = True


class ProjectFile(_Strict):
    """A whole project file."""

    version: Literal[1] = 1
    connections: dict[str, ConnectionDecl] = Field(default_factory=dict)
    event_sources: dict[str, EventSourceDecl] = Field(default_factory=dict)
    pipelines: dict[str, PipelineDecl] = Field(default_factory=dict)

    @field_validator("connections", "event_sources", "pipelines", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("connections", "event_sources", "pipelines")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            _check_name(str(name), "a")
        return value


class PipelineConfig(BaseModel):
    """What a pipeline's ``config`` holds in the store (JSON), as the engine reads it.

    * ``source_options`` / ``destination_options`` — the pipeline's options for
      each side, as given (pass them to ``open_connector(options=...)``).
    * ``filter`` — text or structured filter; None lets every record through.
    * ``mapping`` — destination property → expression; None passes attributes
      through unchanged.
    * ``batch_size`` — records written per destination call/checkpoint.
    * ``schedule_seconds`` — run every this many seconds; None: only on demand.
    * ``overlap_seconds`` — (import) re-read this much before the high-water mark.
    * ``purge`` — (import) a full run removes from the destination what the
      source no longer returns.
    * ``mode`` — (export) ``create``, ``update`` or ``both``.
    * ``matching`` — (export) the destination property that identifies an app
      record; source rows are matched on the value the mapping gives it.
    * ``event_type`` — (events) the connector's event type to send as.
    * ``event_sources`` — (events) the event sources routed here; empty: all.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    source_options: dict[str, Any] = Field(default_factory=dict)
    destination_options: dict[str, Any] = Field(default_factory=dict)
    filter: str | dict[str, Any] | None = None
    mapping: dict[str, str] | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    schedule_seconds: int | None = None
    overlap_seconds: int = 0
    purge: bool = False
    mode: Literal["create", "update", "both"] = "both"
    matching: str | None = None
    event_type: str | None = None
    event_sources: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, config: dict[str, Any]) -> PipelineConfig:
        """Parse ``Pipeline.config`` as stored."""
        return cls.model_validate(config)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
