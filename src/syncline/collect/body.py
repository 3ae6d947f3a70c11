"""Reading a request body within a byte limit, inflating gzip, parsing JSON.

A body is read chunk by chunk as it arrives; once more than the limit has
arrived the request is refused (413) without reading the rest. A gzip body is
inflated incrementally with an output cap of the same limit, so a small
compressed body that would inflate to gigabytes (a gzip bomb) costs at most the
limit in memory before it is refused.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from typing import Any

import orjson

__all__ = ["BadBody", "BodyTooLarge", "decode_body", "inflate", "read_limited"]

_INFLATE_CHUNK = 64 * 1024


class BodyTooLarge(Exception):
    """The body (raw or inflated) is larger than the request limit: 413."""


class BadBody(Exception):
    """The body cannot be read as a JSON object: 400. The message says why."""


async def read_limited(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """Join the body's chunks; ``BodyTooLarge`` as soon as more than ``limit`` arrived."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        parts.append(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def inflate(data: bytes, limit: int) -> bytes:
    """Inflate a gzip body, never producing more than ``limit`` bytes.

    ``BadBody`` for a stream that is not gzip, is truncated, or has bytes after
    its end; ``BodyTooLarge`` when the inflated body exceeds ``limit``.
    """
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out: list[bytes] = []
    size = 0
    pending = data
    try:
        while not inflater.eof:
            piece = inflater.decompress(pending, min(_INFLATE_CHUNK, limit + 1 - size))
            tail = inflater.unconsumed_tail
            if not piece and len(tail) == len(pending):
                # No input consumed and no output produced: the stream ends early.
                raise BadBody("the gzip body is truncated")
            pending = tail
            size += len(piece)
            if size > limit:
                raise BodyTooLarge
            out.append(piece)
        if inflater.unused_data:
            raise BadBody("the gzip body has bytes after its end")
    except zlib.error:
        raise BadBody("the body is not valid gzip (Content-Encoding: gzip)") from None
    return b"".join(out)


def decode_body(data: bytes) -> dict[str, Any]:
    """Parse the body as a JSON object (whatever the Content-Type said).

    ``BadBody`` for invalid JSON or UTF-8, or a JSON value that is not an object.
    """
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise BadBody("the body is not valid JSON (UTF-8)") from None
    if not isinstance(value, dict):
        raise BadBody(f"the body must be a JSON object, got a JSON {_json_kind(value)}")
    return value


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number"
