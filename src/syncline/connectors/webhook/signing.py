"""The webhook signature scheme: HMAC-SHA256 of ``"<timestamp>.<body>"``.

A request carries ``X-Syncline-Timestamp: <unix seconds>`` and
``X-Syncline-Signature: v1=<hex digest>``, where the digest is
HMAC-SHA256 keyed with the signing secret (its UTF-8 bytes) over the ASCII
timestamp, a ``.`` and the exact body bytes. A receiver recomputes it, compares
in constant time, and refuses timestamps older than its tolerance (replays).
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "sign", "verify"]

TIMESTAMP_HEADER = "X-Syncline-Timestamp"
SIGNATURE_HEADER = "X-Syncline-Signature"
_VERSION = "v1="


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Syncline-Signature`` value (``v1=<hex>``) for ``body`` sent at ``timestamp``."""
    message = str(timestamp).encode("ascii") + b"." + body
    return _VERSION + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    now: float,
    tolerance: float = 300.0,
) -> bool:
    """True when ``signature`` is valid for ``body`` and ``timestamp`` is within ``tolerance`` of ``now``.

    Missing headers, a timestamp that is not an integer, another scheme
    version, or a timestamp more than ``tolerance`` seconds away from ``now``
    (either side) all return False.
    """
    if timestamp is None or signature is None or not timestamp.isdigit():
        return False
    if abs(now - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)
