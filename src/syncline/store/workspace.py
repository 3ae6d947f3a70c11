"""The workspace: the directory holding the default database and the settings key.

Layout of ``SYNCLINE_HOME`` (default ``platformdirs.user_data_dir("syncline")``)::

    syncline.db      the SQLite database (plus -wal and -shm files while open)
    key              the Fernet key encrypting connection settings, mode 0600

The key comes from ``SYNCLINE_SECRET_KEY`` when that variable is set (a Fernet key:
32 random bytes, URL-safe base64); otherwise from the key file, which is created
on first use. Losing the key makes every stored connection's settings unreadable.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from syncline.store.cipher import SettingsCipher, parse_key
from syncline.store.errors import KeyFileError, SecretKeyError

__all__ = ["HOME_ENV", "SECRET_KEY_ENV", "Workspace"]

HOME_ENV = "SYNCLINE_HOME"
SECRET_KEY_ENV = "SYNCLINE_SECRET_KEY"


@dataclass(frozen=True, slots=True)
class Workspace:
    """A workspace directory. Creating the object touches nothing on disk."""

    path: Path

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Workspace:
        """The workspace named by ``SYNCLINE_HOME``, or the per-user default."""
        env = os.environ if environ is None else environ
        home = env.get(HOME_ENV)
        if home:
            return cls(Path(home).expanduser())
        import platformdirs

        return cls(Path(platformdirs.user_data_dir("syncline")))

    @property
    def database_path(self) -> Path:
        return self.path / "syncline.db"

    @property
    def key_path(self) -> Path:
        return self.path / "key"

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL of the workspace's SQLite database."""
        return f"sqlite+aiosqlite:///{self.database_path}"

    def ensure(self) -> None:
        """Create the directory (mode 0700 when new) if it does not exist."""
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)

    def cipher(self, environ: Mapping[str, str] | None = None) -> SettingsCipher:
        """The settings cipher: from ``SYNCLINE_SECRET_KEY`` if set, else the key file.

        Raises ``SecretKeyError`` when the variable holds no valid key and
        ``KeyFileError`` when the key file is readable by group or others, or
        malformed. Creates the key file (and the directory) when neither exists.
        Blocking file I/O: call it from a thread in async code.
        """
        env = os.environ if environ is None else environ
        raw = env.get(SECRET_KEY_ENV)
        if raw is not None:
            key = parse_key(raw.encode("ascii", errors="replace"))
            if key is None:
                raise SecretKeyError(
                    f"{SECRET_KEY_ENV} is not a valid key: it must be 32 random bytes in "
                    "URL-safe base64 (44 characters), as printed by "
                    "`python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'`"
                )
            return SettingsCipher(key)
        return SettingsCipher(self._load_or_create_key())

    def _load_or_create_key(self) -> bytes:
        path = self.key_path
        if not path.exists():
            self.ensure()
            self._create_key_file()
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise KeyFileError(
                f"key file {path} is readable or writable by group or others "
                f"(mode {mode:04o}); restrict it with `chmod 600 {path}`"
            )
        key = parse_key(path.read_bytes())
        if key is None:
            raise KeyFileError(
                f"key file {path} does not hold a valid key (32 random bytes in URL-safe "
                "base64); restore it from your backup. Replacing it makes the stored "
                "connection settings unreadable"
            )
        return key

    def _create_key_file(self) -> None:
        """Write a new key so that no reader ever sees a partial file.

        The key is written and fsynced to a private temporary file (O_CREAT|O_EXCL,
        mode 0600) and then hard-linked to its final name; the link fails if another
        process published a key first, in which case that key wins.
        """
        path = self.key_path
        tmp = path.with_name(f".key.{os.getpid()}.{secrets.token_hex(8)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, SettingsCipher.generate_key() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        dir_fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
