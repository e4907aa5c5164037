"""history_url → the right store, or a ConfigError naming the setting."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dpr_plugin.errors import ConfigError
from dpr_plugin.serving.history.base import redact_url
from dpr_plugin.serving.history.factory import open_history_store, sqlite_path
from dpr_plugin.serving.history.sqlite_store import SqliteHistoryStore
from tests.redis_server import require_redis


@pytest.mark.parametrize("form", ["plain", "sqlite:", "sqlite:///"])
def test_absolute_sqlite_urls(tmp_path: Path, form: str) -> None:
    path = tmp_path / "h.sqlite"
    url = {"plain": str(path), "sqlite:": f"sqlite:{path}", "sqlite:///": f"sqlite://{path}"}[form]
    store = open_history_store(url, 10)
    assert isinstance(store, SqliteHistoryStore)
    assert store.path == path and store.max_length == 10
    asyncio.run(store.close())
    assert path.is_file()


@pytest.mark.parametrize("url", ["sqlite:rel/h.sqlite", "rel/h.sqlite"])
def test_relative_sqlite_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_history_store(url, 10)
    assert isinstance(store, SqliteHistoryStore) and store.path == Path("rel/h.sqlite")
    asyncio.run(store.close())
    assert (tmp_path / "rel" / "h.sqlite").is_file()


def test_sqlite_path_forms() -> None:
    assert sqlite_path("sqlite:///var/lib/h.db") == Path("/var/lib/h.db")
    assert sqlite_path("sqlite:/var/lib/h.db") == Path("/var/lib/h.db")
    assert sqlite_path("sqlite:h.db") == Path("h.db")
    assert sqlite_path("C:/data/h.db") == Path("C:/data/h.db")  # a drive letter, not a scheme


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6399/0", "rediss://h:6380/2", "REDIS://h/0"])
def test_redis_urls_give_the_redis_store(url: str) -> None:
    require_redis()
    from dpr_plugin.serving.history.redis_store import RedisHistoryStore

    store = open_history_store(url, 10)  # connects lazily: no server needed here
    assert isinstance(store, RedisHistoryStore) and store.max_length == 10
    asyncio.run(store.close())


@pytest.mark.parametrize(
    ("url", "length", "message"),
    [
        ("", 10, r"^history_url: must not be empty"),
        ("postgres://db/x", 10, r"^history_url: unsupported scheme 'postgres'"),
        ("file:///tmp/h.db", 10, r"^history_url: unsupported scheme 'file'"),
        ("redis:localhost", 10, r"^history_url: unsupported scheme 'redis'"),
        ("sqlite://host/h.db", 10, r"^history_url: 'sqlite://host/h.db' names a host"),
        ("sqlite:", 10, r"^history_url: 'sqlite:' names no file"),
        ("sqlite:///", 10, r"^history_url: 'sqlite:///' names no file"),
        ("sqlite:///h.db?mode=ro", 10, r"^history_url: query parameters are not supported"),
        ("h.sqlite", 0, r"^history_length: must be an integer >= 1, got 0"),
        ("h.sqlite", -3, r"^history_length: must be an integer >= 1, got -3"),
        ("h.sqlite", True, r"^history_length: must be an integer >= 1, got True"),
    ],
)
def test_bad_settings_name_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, length: int, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=message):
        open_history_store(url, length)
    assert list(tmp_path.iterdir()) == []  # nothing was created


def test_malformed_redis_url_names_the_setting_without_the_password() -> None:
    require_redis()
    with pytest.raises(ConfigError, match=r"^history_url: malformed Redis URL") as info:
        open_history_store("redis://:s3cret@h:notaport/0", 10)
    assert "s3cret" not in str(info.value)


def test_redact_url() -> None:
    assert redact_url("redis://:pw@h:1/0") == "redis://:***@h:1/0"
    assert redact_url("redis://user:pw@h:1/0") == "redis://user:***@h:1/0"
    assert redact_url("redis://user@h:1/0") == "redis://user@h:1/0"
    assert redact_url("redis://h:1/0") == "redis://h:1/0"
