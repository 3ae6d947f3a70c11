"""The workspace directory, the settings key and encryption at rest (SQLite files)."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import platformdirs
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from syncline.store import (
    KeyFileError,
    SecretKeyError,
    SettingsCipher,
    SettingsUnreadable,
    Workspace,
    open_store,
)
from syncline.store.schema import connections

SECRET = "sk_live_51TOPSECRETvalueThatMustNeverBeOnDisk"


def test_layout_and_environment(tmp_path: Path) -> None:
    ws = Workspace.from_environment({"SYNCLINE_HOME": str(tmp_path / "h")})
    assert ws.path == tmp_path / "h"
    assert ws.database_path == tmp_path / "h" / "syncline.db"
    assert ws.key_path == tmp_path / "h" / "key"
    assert ws.database_url == f"sqlite+aiosqlite:///{tmp_path / 'h' / 'syncline.db'}"
    assert Workspace.from_environment({}).path == Path(platformdirs.user_data_dir("syncline"))
    assert not (tmp_path / "h").exists()  # describing a workspace touches nothing


def test_key_file_created_once_with_mode_0600(workspace: Workspace) -> None:
    first = workspace.cipher({})
    mode = stat.S_IMODE(workspace.key_path.stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(workspace.path.stat().st_mode) == 0o700
    assert [p.name for p in workspace.path.iterdir()] == ["key"]  # no temporary left over
    token = first.encrypt(1, {"a": 1})
    assert workspace.cipher({}).decrypt(1, "c", token) == {"a": 1}


def test_concurrent_first_use_agrees_on_one_key(workspace: Workspace) -> None:
    with ThreadPoolExecutor(8) as pool:
        ciphers = list(pool.map(lambda _: workspace.cipher({}), range(16)))
    token = ciphers[0].encrypt(7, {"x": "y"})
    assert all(c.decrypt(7, "c", token) == {"x": "y"} for c in ciphers)
    assert sorted(p.name for p in workspace.path.iterdir()) == ["key"]


def test_key_file_readable_by_others_is_refused(workspace: Workspace) -> None:
    workspace.cipher({})
    os.chmod(workspace.key_path, 0o644)
    with pytest.raises(KeyFileError) as info:
        workspace.cipher({})
    message = str(info.value)
    assert str(workspace.key_path) in message
    assert f"chmod 600 {workspace.key_path}" in message
    assert "0644" in message


def test_malformed_key_file_is_refused(workspace: Workspace) -> None:
    workspace.ensure()
    fd = os.open(workspace.key_path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"not a key at all")
    os.close(fd)
    with pytest.raises(KeyFileError, match=str(workspace.key_path)):
        workspace.cipher({})


def test_key_from_environment(workspace: Workspace) -> None:
    key = Fernet.generate_key().decode()
    cipher = workspace.cipher({"SYNCLINE_SECRET_KEY": key})
    assert not workspace.path.exists()  # no key file when the environment has the key
    assert SettingsCipher(key.encode()).decrypt(3, "c", cipher.encrypt(3, {"k": "v"})) == {"k": "v"}


@pytest.mark.parametrize("bad", ["", "short", "x" * 44, Fernet.generate_key().decode()[:-2]])
def test_malformed_key_in_environment_names_the_variable(workspace: Workspace, bad: str) -> None:
    with pytest.raises(SecretKeyError) as info:
        workspace.cipher({"SYNCLINE_SECRET_KEY": bad})
    assert "SYNCLINE_SECRET_KEY" in str(info.value)
    if bad:
        assert bad not in str(info.value)


async def test_open_store_uses_home_and_database_url_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCLINE_HOME", str(tmp_path / "home"))
    store = await open_store()
    await store.connections.save("c", connector="stripe", roles=["source"])
    await store.close()
    assert (tmp_path / "home" / "syncline.db").exists()
    assert stat.S_IMODE((tmp_path / "home" / "key").stat().st_mode) == 0o600

    other = tmp_path / "elsewhere.db"
    monkeypatch.setenv("SYNCLINE_DATABASE_URL", f"sqlite:///{other}")
    store = await open_store()
    assert await store.connections.list() == []
    await store.close()
    assert other.exists()


async def test_no_secret_in_the_database_files(workspace: Workspace) -> None:
    store = await open_store(workspace=workspace)
    connection = await store.connections.save(
        "billing", connector="stripe", roles=["source"], settings={"api_key": SECRET}
    )
    await store.connections.store_settings(
        connection.id, {"api_key": SECRET, "refresh_token": SECRET[::-1]}
    )
    loaded = await store.connections.load_settings(connection.id)
    assert loaded.values["api_key"] == SECRET
    # Read the raw files while the store is open (the WAL still holds the writes)
    # and again after closing (checkpointed into the main file).
    for phase in ("open", "closed"):
        files = [p for p in workspace.path.iterdir() if p.name.startswith("syncline.db")]
        raw = {path.name: path.read_bytes() for path in files}
        # Control: the scan does see plaintext columns, such as the connection name.
        assert any(b"billing" in data for data in raw.values()), phase
        for name, data in raw.items():
            assert SECRET.encode() not in data, (phase, name)
            assert SECRET[::-1].encode() not in data, (phase, name)
        if phase == "open":
            await store.close()


async def test_settings_under_another_key_or_row_are_unreadable(workspace: Workspace) -> None:
    store = await open_store(workspace=workspace)
    a = await store.connections.save("a", connector="stripe", roles=["source"], settings={"k": 1})
    b = await store.connections.save("b", connector="stripe", roles=["source"], settings={"k": 2})
    # Copy a's ciphertext onto b's row: decryption must refuse it.
    async with store.database.write() as conn:
        token = await conn.scalar(sa.select(connections.c.settings).where(connections.c.id == a.id))
        await conn.execute(
            connections.update().where(connections.c.id == b.id).values(settings=token)
        )
    with pytest.raises(SettingsUnreadable, match="'b'"):
        await store.connections.load_settings(b.id)
    await store.close()

    os.chmod(workspace.key_path, 0o600)
    workspace.key_path.unlink()  # the key is lost: a new one is made, old settings are gone
    store = await open_store(workspace=workspace)
    with pytest.raises(SettingsUnreadable, match="'a'") as info:
        await store.connections.load_settings(a.id)
    assert "key" in str(info.value)
    await store.close()
