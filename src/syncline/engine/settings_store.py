"""Connection settings as a connector sees them: decrypted, validated, written atomically.

:class:`StoredSettings` implements :class:`syncline.sdk.env.SettingsStore` over
the store's encrypted settings of one connection. :func:`settings_to_json` and
:func:`settings_errors` are the two conversions every caller needs: a settings
model to the JSON-able dict the store encrypts (secrets revealed — it never
leaves the process unencrypted), and a pydantic ``ValidationError`` to messages
that name the field and never echo the value.

Loads are cheap: connectors and the managed HTTP client call ``load()`` in every
operation and request, and a database read with decryption costs about a
millisecond, so each :class:`StoredSettings` keeps the decrypted settings it last
read or wrote for :data:`FRESH_FOR` seconds. Its own ``store()`` is seen at once;
a change by any other writer (another process, ``syncline apply``, another
holder of the same connection) is seen within :data:`FRESH_FOR` seconds. Models
with an ``oauth`` field are always read fresh: a refresh token rotated by
another process must be seen at once, or the next refresh would spend a revoked
token.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, SecretBytes, SecretStr, ValidationError
from pydantic_core import to_jsonable_python

from syncline.http.oauth import OAUTH_FIELD
from syncline.sdk.errors import ConfigError

if TYPE_CHECKING:
    from syncline.store import Connection, Store

__all__ = [
    "FRESH_FOR",
    "FieldProblem",
    "MemorySettingsStore",
    "StoredSettings",
    "settings_errors",
    "settings_to_json",
    "validate_settings",
]

S = TypeVar("S", bound=BaseModel)

FRESH_FOR = 1.0
"""Seconds a :class:`StoredSettings` serves settings it read without reading again."""


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """A dotted field path (``""`` for the whole model) and what is wrong with it."""

    field: str
    message: str


def settings_errors(error: ValidationError) -> list[FieldProblem]:
    """The problems of a failed validation, one per field, without input values.

    pydantic's own ``str(error)`` repeats the rejected input (``input_value=…``),
    which may be a secret; these messages carry only the field path and pydantic's
    description of the rule (``Field required``, ``Input should be a valid URL``).
    """
    problems: list[FieldProblem] = []
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        path = ".".join(str(part) for part in item["loc"])
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown setting; remove it or check its spelling"
        problems.append(FieldProblem(path, message))
    return problems


def settings_to_json(settings: BaseModel) -> dict[str, Any]:
    """``settings`` as a JSON-able dict with secret values revealed, for encryption.

    ``model_dump(mode="json")`` would write ``**********`` for secrets; this keeps
    the real values so that loading gives back the same model.
    """
    return _reveal(settings.model_dump(mode="python", round_trip=True))  # type: ignore[no-any-return]


def _reveal(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, SecretBytes):
        return value.get_secret_value().decode("utf-8")
    if isinstance(value, dict):
        return {key: _reveal(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_reveal(item) for item in value]
    return to_jsonable_python(value)


def validate_settings(model: type[S], values: dict[str, Any], *, connection: str) -> S:
    """``values`` validated into ``model``; ``ConfigError`` naming the first bad field.

    The message lists every bad field (``settings.base_url: Input should be a
    valid URL``) and never the values.
    """
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = settings_errors(exc)
        listed = "; ".join(
            f"settings.{p.field}: {p.message}" if p.field else p.message for p in problems
        )
        raise ConfigError(
            f"connection {connection!r} has invalid settings: {listed}. Fix them with "
            "`syncline apply` and check them with `syncline connections check`",
            field=problems[0].field if problems else None,
        ) from None


class StoredSettings(Generic[S]):
    """The settings of one stored connection, decrypted and validated into ``model``.

    * ``load()`` returns the stored settings validated into a new model (a
      connector may change it freely), and remembers them as the base of the next
      ``store()``. It reads the store again once its last read or write is
      :data:`FRESH_FOR` seconds old (measured with *clock*), and every time when
      the model has an ``oauth`` field. Invalid stored settings raise
      ``ConfigError`` naming the field.
    * ``store(settings)`` validates ``settings`` through the model, then writes
      only the fields that differ from the last ``load()`` on top of the settings
      stored *now*, in one compare-and-swap loop (``Connections.update_settings``).
      So a concurrent writer that changed other fields keeps its change, and a
      rotated OAuth refresh token written here is never overwritten by a writer
      that loaded the settings before the rotation and changed something else.
      Two writers changing the same field: the later write wins. Without a prior
      ``load()`` on this object, ``store()`` replaces the settings whole. The
      next ``load()`` returns what was written, without a read.
    """

    def __init__(
        self,
        store: Store,
        connection: Connection,
        model: type[S],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._connection = connection
        self._model = model
        self._clock = clock
        self._base: dict[str, Any] | None = None
        self._always_read = OAUTH_FIELD in model.model_fields
        # The last settings read or written, as JSON (parsed anew on every load,
        # so nothing a connector does to a loaded model reaches them), and when.
        self._cached: bytes | None = None
        self._cached_at = 0.0

    @property
    def model(self) -> type[S]:
        return self._model

    async def load(self) -> S:
        cached = self._cached
        if cached is None or self._always_read or self._clock() - self._cached_at >= FRESH_FOR:
            current = await self._store.connections.load_settings(self._connection.id)
            values = current.values
            self._remember(values)
        else:
            values = orjson.loads(cached)
        settings = validate_settings(self._model, values, connection=self._connection.name)
        self._base = dict(values)
        return settings

    async def store(self, settings: S) -> None:
        checked = self._model.model_validate(settings_to_json(settings))
        new = settings_to_json(checked)
        base = self._base
        if base is None:
            result = await self._store.connections.update_settings(
                self._connection.id, lambda _: new
            )
            self._base = new
            self._remember(result.values)
            return
        changed = {key: value for key, value in new.items() if base.get(key) != value}
        removed = [key for key in base if key not in new]

        def merge(current: dict[str, Any]) -> dict[str, Any]:
            merged = {key: value for key, value in current.items() if key not in removed}
            merged.update(changed)
            return merged

        result = await self._store.connections.update_settings(self._connection.id, merge)
        self._base = dict(result.values)
        self._remember(result.values)

    def _remember(self, values: dict[str, Any]) -> None:
        try:
            self._cached = orjson.dumps(values)
        except orjson.JSONEncodeError:
            # Beyond what orjson writes (an int over 64 bits): read every time.
            self._cached = None
            return
        self._cached_at = self._clock()


class MemorySettingsStore(Generic[S]):
    """Settings held in memory: for connections not stored yet (``apply --check-schemas``).

    ``store()`` keeps the new value in memory only; nothing is written anywhere.
    """

    def __init__(self, settings: S) -> None:
        self._settings = settings

    async def load(self) -> S:
        return self._settings.model_copy(deep=True)

    async def store(self, settings: S) -> None:
        self._settings = type(settings).model_validate(settings_to_json(settings))
