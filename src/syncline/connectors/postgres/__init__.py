"""PostgreSQL: read a table or query incrementally, merge records into a table.

Source and destination of any target; the pipeline's options
(:class:`~syncline.connectors._sql.options.DatabaseOptions`) name the table or
query, the key column and the updated_at column. See docs/connectors/postgres.md.
"""

from __future__ import annotations

import socket
import urllib.parse
from typing import Any, Literal

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from syncline.connectors._sql.database import Database
from syncline.connectors._sql.options import DatabaseOptions
from syncline.connectors.postgres._connection import PostgresConnection, map_error
from syncline.sdk.env import Problem
from syncline.sdk.errors import AuthError, ConfigError, ConnectorError, RetryableError
from syncline.sdk.registry import connector
from syncline.sdk.spec import (
    ANY_TARGET,
    ApplicationSpec,
    AsDestination,
    AsSource,
    Category,
    SendingMode,
)

__all__ = ["SPEC", "PostgreSQL", "PostgresSettings"]

SslMode = Literal["disable", "prefer", "require", "verify-ca", "verify-full"]


class PostgresSettings(BaseModel):
    """How to reach the database: a ``url``, or host, port, database, user and password.

    ``url`` is ``postgresql://user:password@host:port/database`` (a
    ``postgresql+asyncpg://`` URL is accepted too); it is a secret because it
    may hold the password. When ``url`` is set the other connection fields
    are ignored. ``ssl`` is libpq's ``sslmode``.
    """

    # Validation errors must not echo the input: it may hold the password.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    url: SecretStr | None = Field(default=None, description="postgresql://user:password@host/db")
    host: str = Field(default="localhost", description="Server host name or address")
    port: int = Field(default=5432, ge=1, le=65535)
    database: str | None = Field(default=None, description="Database name")
    user: str | None = Field(default=None, description="User name")
    password: SecretStr | None = Field(default=None, description="Password")
    ssl: SslMode = Field(default="prefer", description="libpq sslmode")
    connect_timeout: float = Field(default=10.0, gt=0, le=300)

    @model_validator(mode="after")
    def _reachable(self) -> PostgresSettings:
        if self.url is None and not self.database:
            raise ValueError("give either 'url' or 'database' (with host, user and password)")
        if self.url is not None:
            scheme = urllib.parse.urlsplit(self.url.get_secret_value()).scheme
            if scheme not in ("postgres", "postgresql", "postgresql+asyncpg"):
                # The URL itself is never echoed: it may hold the password.
                raise ValueError("'url' must start with postgresql:// (or postgres://)")
        return self

    def where(self) -> str:
        """host:port/database for messages (never the password)."""
        if self.url is not None:
            parts = urllib.parse.urlsplit(self.url.get_secret_value())
            return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"
        return f"{self.host}:{self.port}/{self.database}"

    def connect_args(self) -> dict[str, Any]:
        if self.url is not None:
            url = self.url.get_secret_value()
            rest = url.split("://", 1)[1]
            return {"dsn": "postgresql://" + rest}
        args: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "ssl": self.ssl,
        }
        if self.user:
            args["user"] = self.user
        if self.password is not None:
            args["password"] = self.password.get_secret_value()
        return args


SPEC = ApplicationSpec(
    code="postgres",
    label="PostgreSQL",
    categories=(Category.DATABASE,),
    as_source=AsSource(
        targets=(ANY_TARGET,),
        summary="Read a table or query, incrementally by an updated_at column.",
    ),
    as_destination=AsDestination(
        targets=(ANY_TARGET,),
        sending_mode=SendingMode.NONE,
        summary="Merge records into a table on its key column; create the table if asked.",
    ),
    settings=PostgresSettings,
    pipeline_options=DatabaseOptions,
    description="A PostgreSQL database.",
)


@connector(SPEC)
class PostgreSQL(Database[PostgresSettings]):
    """The PostgreSQL connector (see the module docstring and the shared ``Database``).

    One connection per operation: nothing stays open between calls, so an
    instance needs no closing and settings edits take effect at once.
    """

    async def connect(self, settings: PostgresSettings, *, create: bool) -> PostgresConnection:
        return PostgresConnection(await _connect(settings))

    def identity(self, settings: PostgresSettings) -> str:
        return f"{settings.where()}?user={settings.user or ''}"

    async def check(self) -> list[Problem]:
        """Connect and run a query; problems name the setting to fix."""
        settings = await self.env.settings.load()
        try:
            conn = await _connect(settings)
        except AuthError as exc:
            return [Problem(exc.message, "url" if settings.url else "password")]
        except ConfigError as exc:
            return [Problem(exc.message, exc.field or ("url" if settings.url else None))]
        except ConnectorError as exc:
            return [Problem(exc.message, "url" if settings.url else "host")]
        try:
            version = await conn.fetchval("SHOW server_version_num")
        except Exception as exc:
            return [Problem(str(map_error(exc, "running a test query")))]
        finally:
            await conn.close()
        if int(version) < 90500:
            return [Problem("PostgreSQL 9.5 or later is needed (INSERT … ON CONFLICT)")]
        return []


async def _connect(settings: PostgresSettings) -> asyncpg.Connection:
    where = settings.where()
    try:
        conn: asyncpg.Connection = await asyncpg.connect(
            **settings.connect_args(),
            timeout=settings.connect_timeout,
            server_settings={"application_name": "syncline"},
        )
    except socket.gaierror:
        raise ConfigError(
            f"cannot resolve the PostgreSQL host of {where}; check the host name",
            field="url" if settings.url else "host",
        ) from None
    except (ValueError, asyncpg.ClientConfigurationError):
        raise ConfigError(
            "the connection settings are not valid for PostgreSQL; check 'url' (or host, "
            "port and database)",
            field="url" if settings.url else None,
        ) from None
    except (OSError, TimeoutError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise RetryableError(
            f"cannot connect to PostgreSQL at {where} ({reason}); check that the server runs "
            "and the host and port are right"
        ) from None
    except Exception as exc:
        raise map_error(exc, f"connecting to {where}") from None
    return conn
