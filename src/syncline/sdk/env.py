"""What a connector instance receives: its settings store, HTTP client and OAuth account."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, SecretBytes, SecretStr

from syncline.sdk.client import HttpClient

__all__ = ["Env", "Problem", "SettingsStore", "secret_field_names", "secret_values"]

S = TypeVar("S", bound=BaseModel)


class SettingsStore(Protocol[S]):
    """Loads and stores one connection's settings (encrypted at rest by the engine).

    Call ``load()`` in every operation and never keep the result on the
    instance: settings change while a connector lives (a rotated OAuth refresh
    token, an edit by the user). ``store()`` replaces the settings atomically.
    """

    async def load(self) -> S: ...

    async def store(self, settings: S) -> None: ...


@dataclass(frozen=True, slots=True)
class Env(Generic[S]):
    """The environment handed to a connector's constructor.

    ``connection`` is the connection's name, for messages; ``oauth_account`` is
    the account the connection authorized, when the app uses OAuth;
    ``options`` holds the pipeline's options for this connector (an instance of
    the spec's ``pipeline_options`` model), None outside a pipeline.
    """

    settings: SettingsStore[S]
    http: HttpClient
    connection: str = ""
    oauth_account: str | None = None
    options: BaseModel | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing ``check()`` found wrong: the setting it concerns (if any) and what to do."""

    message: str
    field: str | None = None

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def secret_field_names(model: type[BaseModel]) -> set[str]:
    """Dotted paths of the fields of ``model`` that hold secrets (``SecretStr``/``SecretBytes``)."""
    names: set[str] = set()
    for name, info in model.model_fields.items():
        annotation = info.annotation
        for kind in _annotation_types(annotation):
            if kind in (SecretStr, SecretBytes):
                names.add(name)
            elif isinstance(kind, type) and issubclass(kind, BaseModel):
                names.update(f"{name}.{sub}" for sub in secret_field_names(kind))
    return names


def secret_values(settings: BaseModel) -> list[str]:
    """Every secret value in ``settings`` as plain text, for redaction."""
    found: list[str] = []
    for value in _walk(settings):
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, SecretBytes):
            found.append(value.get_secret_value().decode("utf-8", "replace"))
    return [v for v in found if v]


def _annotation_types(annotation: Any) -> Iterator[Any]:
    yield annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        yield from _annotation_types(arg)


def _walk(value: Any) -> Iterator[Any]:
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _walk(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list | tuple | set):
        for item in value:
            yield from _walk(item)
    else:
        yield value
