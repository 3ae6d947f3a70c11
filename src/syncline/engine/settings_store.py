"""Connection settings as a connector sees them: decrypted, validated, written atomically.

:class:`StoredSettings` implements :class:`syncline.sdk.env.SettingsStore` over
the store's encrypted settings of one connection. :func:`settings_to_json` and
:func:`settings_errors` are the two conversions every caller needs: a settings
model to the JSON-able dict the store encrypts (secrets revealed — it never
leaves the process unencrypted), and a pydantic ``ValidationError`` to messages
that name the field and never echo the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, SecretBytes, SecretStr, ValidationError
from pydantic_core import to_jsonable_python

from syncline.sdk.errors import ConfigError

if TYPE_CHECKING:
    from syncline.store import Connection, Store

__all__ = [
    "FieldProblem",
    "MemorySettingsStore",
    "StoredSettings",
    "settings_errors",
    "settings_to_json",
    "validate_settings",
]

S = TypeVar("S", bound=BaseModel)


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

    * ``load()`` reads the newest settings from the store every time (never a
      cache), validates them, and remembers them as the base of the next
      ``store()``. Invalid stored settings raise ``ConfigError`` naming the field.
    * ``store(settings)`` validates ``settings`` through the model, then writes
      only the fields that differ from the last ``load()`` on top of the settings
      stored *now*, in one compare-and-swap loop (``Connections.update_settings``).
      So a concurrent writer that changed other fields keeps its change, and a
      rotated OAuth refresh token written here is never overwritten by a writer
      that loaded the settings before the rotation and changed something else.
      Two writers changing the same field: the later write wins. Without a prior
      ``load()`` on this object, ``store()`` replaces the settings whole.
    """

    def __init__(self, store: Store, connection: Connection, model: type[S]) -> None:
        self._store = store
        self._connection = connection
        self._model = model
        self._base: dict[str, Any] | None = None

    @property
    def model(self) -> type[S]:
        return self._model

    async def load(self) -> S:
        current = await self._store.connections.load_settings(self._connection.id)
        settings = validate_settings(self._model, current.values, connection=self._connection.name)
        self._base = dict(current.values)
        return settings

    async def store(self, settings: S) -> None:
        checked = self._model.model_validate(settings_to_json(settings))
        new = settings_to_json(checked)
        base = self._base
        if base is None:
            await self._store.connections.update_settings(self._connection.id, lambda _: new)
            self._base = new
            return
        changed = {key: value for key, value in new.items() if base.get(key) != value}
        removed = [key for key in base if key not in new]

        def merge(current: dict[str, Any]) -> dict[str, Any]:
            merged = {key: value for key, value in current.items() if key not in removed}
            merged.update(changed)
            return merged

        result = await self._store.connections.update_settings(self._connection.id, merge)
        self._base = dict(result.values)


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
