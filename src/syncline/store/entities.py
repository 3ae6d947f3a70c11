"""Plain, immutable values the store returns.

They hold JSON-able data, ``datetime`` (always timezone-aware, UTC) and ``bytes``
only, so that every layer above can use them without importing anything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "Checkpoint",
    "Connection",
    "ErrorGroup",
    "EventSource",
    "Pipeline",
    "PipelineKind",
    "Role",
    "Run",
    "RunStatus",
    "VersionedSettings",
]

Role = Literal["source", "destination"]
PipelineKind = Literal["import", "export", "events"]
RunStatus = Literal["running", "succeeded", "failed", "interrupted"]


@dataclass(frozen=True, slots=True)
class Connection:
    """A configured instance of a connector. Settings are loaded separately."""

    id: int
    name: str
    connector: str
    roles: frozenset[Role]
    oauth_account: str | None
    settings_version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class VersionedSettings:
    """Decrypted settings plus the version to pass back for a compare-and-swap write."""

    values: dict[str, Any]
    version: int


@dataclass(frozen=True, slots=True)
class Pipeline:
    """A source → destination flow for one target.

    ``config`` is the pipeline's JSON configuration (filter, mapping, schedule,
    batch size, overlap, …); the store keeps it as given and does not interpret it.
    """

    id: int
    name: str
    kind: PipelineKind
    source_connection_id: int | None
    destination_connection_id: int | None
    target: str
    config: dict[str, Any]
    enabled: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ErrorGroup:
    """Per-record failures of a run that share one (fixed, data-free) message."""

    message: str
    count: int
    sample_record_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "count": self.count,
            "sample_record_id": self.sample_record_id,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> ErrorGroup:
        return cls(value["message"], int(value["count"]), value.get("sample_record_id"))


@dataclass(frozen=True, slots=True)
class Run:
    """One execution of a pipeline.

    ``counts`` maps step names to item counts and ``timings`` step names to
    seconds, both as last written by the run's owner. ``owner`` identifies the
    worker holding the run's lease; ``heartbeat_at`` is when it last proved alive.
    """

    id: int
    pipeline_id: int
    status: RunStatus
    full: bool
    started_at: datetime
    ended_at: datetime | None
    counts: dict[str, int]
    error_groups: tuple[ErrorGroup, ...]
    timings: dict[str, float]
    error: str | None
    resumed_from_run_id: int | None
    owner: str
    heartbeat_at: datetime


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A pipeline's durable progress.

    * ``run_id`` — the run whose progress ``cursor`` and ``run_high_water`` hold,
      or ``None`` when no run left progress behind (never ran, or the last run
      succeeded). A new run that resumes takes this progress over.
    * ``cursor`` — the connector's opaque cursor after the last checkpointed batch.
    * ``run_high_water`` — the greatest ``updated_at`` checkpointed by that run.
    * ``high_water`` — where the next incremental run starts: promoted from
      ``run_high_water`` only when a run succeeds.
    * ``generation`` — the number of the current (or last) full run; record IDs
      seen by it carry this number (see ``Runs.unseen_record_ids``).
    * ``identities_high_water`` — how far the export identity map has been
      refreshed (app records' ``updated_at``).
    """

    pipeline_id: int
    run_id: int | None
    cursor: str | None
    run_high_water: datetime | None
    high_water: datetime | None
    generation: int
    identities_high_water: datetime | None
    updated_at: datetime | None = field(default=None)


@dataclass(frozen=True, slots=True)
class EventSource:
    """A source of events, authenticated by a write key (only its hash is stored)."""

    id: int
    name: str
    write_key_prefix: str
    created_at: datetime
