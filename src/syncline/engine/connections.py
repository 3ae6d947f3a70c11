"""Opening a connector instance for a stored connection.

:func:`open_connector` is the one way the engine, the CLI and the server get a
live connector: it finds the connection, the registered connector, validates the
pipeline's options for that side, builds the managed HTTP client and the
settings store, and constructs the instance with its :class:`~syncline.sdk.env.Env`.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ValidationError

from syncline.engine.settings_store import StoredSettings, settings_errors
from syncline.sdk import registry
from syncline.sdk.env import Env
from syncline.sdk.errors import ConfigError
from syncline.types import Role

if TYPE_CHECKING:
    from syncline.http import Client
    from syncline.sdk.env import SettingsStore
    from syncline.sdk.spec import ApplicationSpec
    from syncline.store import Connection, Store

__all__ = [
    "OpenConnector",
    "build_http_client",
    "find_connection",
    "open_connector",
    "validate_options",
]

RoleLike = Role | Literal["source", "destination"]


@dataclass(slots=True)
class OpenConnector:
    """A live connector instance and what it was built from.

    ``instance`` is the connector object; ``registered`` its registry entry
    (``.spec``, ``.cls``); ``connection`` the store row; ``http`` the managed
    client the instance uses; ``settings`` the settings store it was given.
    Close it (``await oc.aclose()`` or ``async with``) to close the HTTP client;
    closing twice is harmless.
    """

    instance: Any
    registered: registry.Registered
    connection: Connection
    http: Client
    settings: SettingsStore[Any]
    options: BaseModel | None

    @property
    def spec(self) -> ApplicationSpec:
        return self.registered.spec

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> OpenConnector:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


async def find_connection(store: Store, name_or_id: str) -> Connection:
    """The connection named ``name_or_id``, else (when it is all digits) the one with that id.

    ``syncline.store.NotFound`` when there is neither.
    """
    from syncline.store import NotFound

    try:
        return await store.connections.get(name_or_id)
    except NotFound:
        if name_or_id.isdigit():
            return await store.connections.get_by_id(int(name_or_id))
        raise


def validate_options(
    spec: ApplicationSpec, options: dict[str, Any] | None, *, connection: str
) -> BaseModel | None:
    """``options`` validated against ``spec.pipeline_options``.

    Returns None when the connector takes no options and none were given.
    ``ConfigError`` (its ``field`` is ``options.<name>``) when an option is
    invalid, missing, unknown, or given to a connector that takes none.
    """
    model = spec.pipeline_options
    if model is None:
        if options:
            names = ", ".join(sorted(options))
            raise ConfigError(
                f"connector {spec.code!r} (connection {connection!r}) takes no pipeline "
                f"options, but got: {names}; remove them",
                field=f"options.{sorted(options)[0]}",
            )
        return None
    try:
        return model.model_validate(options or {})
    except ValidationError as exc:
        problems = settings_errors(exc)
        listed = "; ".join(
            f"option {p.field!r}: {p.message}" if p.field else p.message for p in problems
        )
        raise ConfigError(
            f"invalid pipeline options for connection {connection!r} (connector "
            f"{spec.code!r}): {listed}",
            field=f"options.{problems[0].field}" if problems and problems[0].field else "options",
        ) from None


def build_http_client(
    spec: ApplicationSpec, settings: SettingsStore[Any] | None, *, key: str
) -> Client:
    """The managed HTTP client for a connection of ``spec``.

    ``key`` identifies the connection: it keys the rate-limit budget (clients of
    the same connection in one process share one) and the OAuth refresh lock.
    """
    from syncline.http import Client

    return Client(spec, settings, credential=key, account=key)


def connector_entry(connection: Connection) -> registry.Registered:
    """The registered connector of ``connection``; ``ConfigError`` when it is not installed."""
    try:
        return registry.get(connection.connector)
    except KeyError as exc:
        raise ConfigError(
            f"connection {connection.name!r} uses connector {connection.connector!r}, which is "
            f"not installed: {exc.args[0]}"
        ) from None


async def open_connector(
    store: Store,
    connection_name_or_id: str,
    *,
    options: dict[str, Any] | None = None,
    role: RoleLike | None = None,
) -> OpenConnector:
    """Open the connector of a stored connection.

    * ``connection_name_or_id`` — a connection name, or its id as a string.
    * ``options`` — the pipeline's options for this side (``{}`` when it has
      none), validated against the connector's ``spec.pipeline_options`` and
      handed over as ``env.options``. ``None`` means "outside a pipeline"
      (``connections check``): nothing is validated and ``env.options`` is None.
    * ``role`` — the side the caller uses the connection for; refused when the
      connection was not configured for it or the connector cannot play it.

    The settings are loaded once here, to teach the HTTP client the secret
    values it redacts (previews, logs, errors); the instance loads them again in
    each operation (``env.settings.load()``). Stored settings that no longer
    validate raise ``ConfigError`` naming the field.

    Raises ``syncline.store.NotFound`` for an unknown connection and
    ``ConfigError`` for a connector that is not installed, a role the connection
    does not have, or invalid options (``field`` is ``options.<name>``).
    """
    connection = await find_connection(store, connection_name_or_id)
    entry = connector_entry(connection)
    spec = entry.spec
    if role is not None:
        wanted = Role(role)
        offers = spec.as_source if wanted is Role.SOURCE else spec.as_destination
        if offers is None:
            raise ConfigError(
                f"connection {connection.name!r} uses connector {spec.code!r}, which cannot be "
                f"a {wanted.value}"
            )
        if wanted.value not in connection.roles:
            raise ConfigError(
                f"connection {connection.name!r} is not configured as a {wanted.value} (its "
                f"roles: {', '.join(sorted(connection.roles))}); add the role in its "
                "`roles:` and run `syncline apply`"
            )
    validated = (
        None if options is None else validate_options(spec, options, connection=connection.name)
    )
    return await instantiate(entry, connection, store, validated)


async def instantiate(
    entry: registry.Registered,
    connection: Connection,
    store: Store,
    options: BaseModel | None,
) -> OpenConnector:
    """Build the instance of ``entry`` for the stored ``connection``."""
    settings: SettingsStore[Any] = StoredSettings(store, connection, _settings_model(entry.spec))
    http = build_http_client(
        entry.spec,
        settings if entry.spec.settings is not None else None,
        key=f"connection:{connection.id}",
    )
    env: Env[Any] = Env(
        settings=settings,
        http=http,
        connection=connection.name,
        oauth_account=connection.oauth_account,
        options=options,
    )
    try:
        # Learn the secret values now, so that previews made before the first
        # request are redacted too; invalid stored settings fail here.
        await http.load_secrets()
        instance = entry.cls(env)
    except BaseException:
        # The client may hold a connection pool already; do not leak it.
        await http.aclose()
        raise
    return OpenConnector(
        instance=instance,
        registered=entry,
        connection=connection,
        http=http,
        settings=settings,
        options=options,
    )


class _NoSettings(BaseModel):
    """The settings model of connectors that have none: always empty."""


def _settings_model(spec: ApplicationSpec) -> type[BaseModel]:
    return spec.settings if spec.settings is not None else _NoSettings
