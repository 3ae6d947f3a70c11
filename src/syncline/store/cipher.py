"""Encryption of connection settings at rest.

Settings are encrypted with Fernet (``cryptography.fernet``): AES-128-CBC with an
HMAC-SHA256 over a versioned token, so a token that was altered or made with
another key is rejected rather than decrypted to garbage. Fernet was chosen over
raw AES-GCM because it leaves nothing to get wrong (nonce generation, token
layout, authentication) and its tokens are self-describing; settings are small and
written rarely, so its size and speed costs do not matter.

The plaintext binds the settings to their connection: it is
``{"connection": <id>, "settings": {...}}`` and decryption checks the id, so a
ciphertext copied onto another connection's row is refused instead of silently
handing one connection's credentials to another.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

import orjson

from syncline.store.errors import SettingsUnreadable

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

__all__ = ["SettingsCipher", "parse_key"]


def parse_key(raw: bytes) -> bytes | None:
    """Return ``raw`` stripped when it is a valid Fernet key, else ``None``.

    A Fernet key is 32 random bytes in URL-safe base64 (44 characters).
    """
    key = raw.strip()
    try:
        decoded = base64.urlsafe_b64decode(key)
    except (binascii.Error, ValueError):
        return None
    if len(decoded) != 32 or len(key) != 44:
        return None
    return key


class SettingsCipher:
    """Encrypts and decrypts one connection's settings dict with one key.

    ``cryptography`` is imported on the first :meth:`encrypt` or
    :meth:`decrypt`, not when the cipher is made: every store open makes one,
    and most processes that open a store (listing runs, tailing delivery)
    never read a connection's settings.
    """

    def __init__(self, key: bytes) -> None:
        """``key`` is a Fernet key (see :func:`parse_key`); anything else raises ``ValueError``."""
        parsed = parse_key(key)
        if parsed is None:
            raise ValueError("not a Fernet key (32 bytes, URL-safe base64)")
        self._key = parsed
        self._fernet_instance: Fernet | None = None

    @property
    def _fernet(self) -> Fernet:
        if self._fernet_instance is None:
            from cryptography.fernet import Fernet

            self._fernet_instance = Fernet(self._key)
        return self._fernet_instance

    @staticmethod
    def generate_key() -> bytes:
        """A new random key."""
        from cryptography.fernet import Fernet

        return Fernet.generate_key()

    def encrypt(self, connection_id: int, settings: dict[str, Any]) -> bytes:
        """Encrypt ``settings`` (a JSON-able dict) for connection ``connection_id``."""
        plaintext = orjson.dumps({"connection": connection_id, "settings": settings})
        return self._fernet.encrypt(plaintext)

    def decrypt(self, connection_id: int, connection_name: str, token: bytes) -> dict[str, Any]:
        """Decrypt a token made by :meth:`encrypt` for the same connection.

        Raises ``SettingsUnreadable`` when the key differs from the one that
        encrypted the settings, the token was altered, or it belongs to another
        connection.
        """
        from cryptography.fernet import InvalidToken

        try:
            plaintext = self._fernet.decrypt(token)
        except InvalidToken:
            raise SettingsUnreadable(
                f"the settings of connection {connection_name!r} cannot be decrypted with "
                "the current key; use the key file or SYNCLINE_SECRET_KEY they were saved "
                "with, or store the connection's settings again"
            ) from None
        payload = orjson.loads(plaintext)
        if payload.get("connection") != connection_id:
            raise SettingsUnreadable(
                f"the stored settings of connection {connection_name!r} belong to another "
                "connection; store the connection's settings again"
            )
        settings = payload["settings"]
        assert isinstance(settings, dict)
        return settings
