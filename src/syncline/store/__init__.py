"""Persistence for Syncline: one async interface, SQLite (default) or PostgreSQL.

``open_store()`` opens the workspace's SQLite database (or the database named by
``SYNCLINE_DATABASE_URL``), runs any pending migrations and returns a
:class:`Store`. The store imports nothing of the engine; it speaks plain values
(:mod:`syncline.store.entities`).
"""

from syncline.store.cipher import SettingsCipher
from syncline.store.entities import (
    Checkpoint,
    Connection,
    ErrorGroup,
    EventSource,
    Pipeline,
    PipelineKind,
    Role,
    Run,
    RunStatus,
    VersionedSettings,
)
from syncline.store.errors import (
    ConnectionInUse,
    KeyFileError,
    LeaseLost,
    NameTaken,
    NotFound,
    RunAlreadyLive,
    SecretKeyError,
    SettingsConflict,
    SettingsUnreadable,
    StoreError,
)
from syncline.store.store import DATABASE_URL_ENV, Store, open_store
from syncline.store.workspace import HOME_ENV, SECRET_KEY_ENV, Workspace

__all__ = [
    "DATABASE_URL_ENV",
    "HOME_ENV",
    "SECRET_KEY_ENV",
    "Checkpoint",
    "Connection",
    "ConnectionInUse",
    "ErrorGroup",
    "EventSource",
    "KeyFileError",
    "LeaseLost",
    "NameTaken",
    "NotFound",
    "Pipeline",
    "PipelineKind",
    "Role",
    "Run",
    "RunAlreadyLive",
    "RunStatus",
    "SecretKeyError",
    "SettingsCipher",
    "SettingsConflict",
    "SettingsUnreadable",
    "Store",
    "StoreError",
    "VersionedSettings",
    "Workspace",
    "open_store",
]
