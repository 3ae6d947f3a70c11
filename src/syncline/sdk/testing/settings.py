"""A settings store that keeps settings in memory, for connector unit tests."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel

S = TypeVar("S", bound=BaseModel)

__all__ = ["MemorySettings"]


class MemorySettings(Generic[S]):
    """Implements :class:`~syncline.sdk.env.SettingsStore` over one in-memory value.

    ``store()`` validates a copy through the model, as the engine's store does,
    and ``stored`` counts the writes so a test can assert a token was rotated.
    """

    def __init__(self, settings: S) -> None:
        self._settings = settings
        self.stored = 0

    async def load(self) -> S:
        return self._settings.model_copy(deep=True)

    async def store(self, settings: S) -> None:
        self._settings = type(settings).model_validate(settings.model_dump())
        self.stored += 1
