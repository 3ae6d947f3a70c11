"""Errors raised by the store.

Every error names the input that caused it (a connection or pipeline name, a file,
an environment variable) and says what to do. None carries a secret or a settings
value.
"""

from __future__ import annotations

__all__ = [
    "ConnectionInUse",
    "KeyFileError",
    "LeaseLost",
    "NameTaken",
    "NotFound",
    "RunAlreadyLive",
    "SecretKeyError",
    "SettingsConflict",
    "SettingsUnreadable",
    "StoreError",
]


class StoreError(Exception):
    """Base of every error the store raises on purpose."""


class NotFound(StoreError):
    """The connection, pipeline, run or event source asked for does not exist."""


class NameTaken(StoreError):
    """A name that must be unique (pipeline, event source) is already in use."""


class ConnectionInUse(StoreError):
    """A connection cannot be removed while pipelines read from or write to it."""

    def __init__(self, connection: str, pipelines: list[str]) -> None:
        self.connection = connection
        self.pipelines = pipelines
        super().__init__(
            f"connection {connection!r} is used by pipeline(s) {', '.join(sorted(pipelines))}; "
            "remove those pipelines first"
        )


class SettingsConflict(StoreError):
    """A compare-and-swap settings write lost: the stored version moved on.

    Load the settings again, apply the change to the fresh values and retry (or use
    ``Connections.update_settings``, which does exactly that).
    """


class SettingsUnreadable(StoreError):
    """Stored settings cannot be decrypted with the key in use (wrong or lost key)."""


class RunAlreadyLive(StoreError):
    """The pipeline already has a running run; at most one may be live at a time."""

    def __init__(self, pipeline_id: int, run_id: int | None, owner: str | None) -> None:
        self.pipeline_id = pipeline_id
        self.run_id = run_id
        self.owner = owner
        super().__init__(
            f"pipeline {pipeline_id} already has a running run"
            + (f" (run {run_id}, owner {owner!r})" if run_id is not None else "")
            + "; wait for it to end, or start with a stale-after interval to take over "
            "a run whose worker stopped heartbeating"
        )


class LeaseLost(StoreError):
    """A run's owner tried to write progress for a run it no longer owns.

    The run ended (or was taken over after its heartbeat went stale) and the caller
    must stop working on it: writing more would race the new owner.
    """

    @classmethod
    def unless_owned(
        cls, run_id: int, owner: str, found: tuple[str, str] | None
    ) -> LeaseLost | None:
        """The error when ``owner`` does not hold run ``run_id``, else None.

        ``found`` is the run's ``(status, owner)``, or None when the run or its
        pipeline's checkpoint no longer exists.
        """
        if found is None:
            return cls(f"run {run_id} no longer exists (its pipeline was removed)")
        status, run_owner = found
        if status != "running" or run_owner != owner:
            return cls(
                f"run {run_id} is {status} under owner {run_owner!r}, not running under "
                f"{owner!r}; stop working on it"
            )
        return None

    @classmethod
    def checkpoint_taken(cls, run_id: int) -> LeaseLost:
        """The error when another run's progress is in the pipeline's checkpoint."""
        return cls(f"run {run_id} no longer owns its pipeline's checkpoint")


class SecretKeyError(StoreError):
    """The ``SYNCLINE_SECRET_KEY`` environment variable is not a valid key."""


class KeyFileError(StoreError):
    """The workspace key file is unsafe (readable by others) or malformed."""
