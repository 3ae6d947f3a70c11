"""Finding the write key of a request, and the event source it belongs to.

Clients put the key in one of four places (checked in this order):

1. ``Authorization: Basic base64(KEY:)`` — the key as user name, empty password
   (analytics-node, rudder-sdk-python, old analytics-python);
2. ``Authorization: Bearer KEY``;
3. ``X-Write-Key: KEY``;
4. the body's ``"writeKey"`` (analytics-python 2.3+, analytics.js).

Looking a key up reads the store; the answer (found or not) is cached for
``key_cache_seconds`` so that a busy client costs one read per interval, not per
request. A rotated or removed key therefore stops working within that time.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

from syncline.store import EventSource
from syncline.store.event_sources import EventSources

__all__ = ["SourceKeys", "body_write_key", "header_write_key"]

# Bounds memory when a client tries many wrong keys.
_MAX_CACHED = 10_000


def header_write_key(headers: dict[bytes, bytes]) -> str | None:
    """The key from ``Authorization`` (Basic or Bearer) or ``X-Write-Key``; ``None`` if absent.

    ``headers`` maps lower-case header names to values. A malformed
    ``Authorization`` value counts as no key (the request then needs another).
    """
    authorization = headers.get(b"authorization")
    if authorization:
        scheme, _, credentials = authorization.partition(b" ")
        scheme = scheme.lower()
        credentials = credentials.strip()
        if scheme == b"basic":
            try:
                decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            user = decoded.partition(":")[0]
            if user:
                return user
        elif scheme == b"bearer" and credentials:
            try:
                return credentials.decode("utf-8")
            except UnicodeDecodeError:
                pass
    key = headers.get(b"x-write-key")
    if key:
        try:
            return key.decode("utf-8").strip() or None
        except UnicodeDecodeError:
            return None
    return None


def body_write_key(body: dict[str, Any]) -> str | None:
    """The body's ``writeKey`` when it is a non-empty string."""
    key = body.get("writeKey")
    return key if isinstance(key, str) and key else None


class SourceKeys:
    """Write key → event source, through a short-lived cache (see the module docs)."""

    def __init__(self, sources: EventSources, ttl: float) -> None:
        self._sources = sources
        self._ttl = ttl
        self._cache: dict[str, tuple[float, EventSource | None]] = {}

    async def source(self, write_key: str) -> EventSource | None:
        """The source of ``write_key``, or ``None`` when no source has it."""
        now = time.monotonic()
        cached = self._cache.get(write_key)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = await self._sources.by_write_key(write_key)
        if len(self._cache) >= _MAX_CACHED:
            self._cache.clear()
        self._cache[write_key] = (now + self._ttl, found)
        return found
