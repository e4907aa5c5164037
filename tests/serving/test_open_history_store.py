"""history_url → the right store, or a ConfigError naming the setting."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dpr_plugin.errors import ConfigError
from dpr_plugin.serving.history_store import open_history_store
from dpr_plugin.serving.sqlite_history import SqliteHistoryStore


@pytest.mark.parametrize("form", ["plain", "sqlite:", "sqlite:///"])
def test_sqlite_urls(tmp_path: Path, form: str) -> None:
    path = tmp_path / "h.sqlite"
    url = {"plain": str(path), "sqlite:": f"sqlite:{path}", "sqlite:///": f"sqlite://{path}"}[form]
    store = open_history_store(url, 10)
    assert isinstance(store, SqliteHistoryStore) and store.path == path
    asyncio.run(store.close())


def test_redis_url_gives_the_redis_store() -> None:
    pytest.importorskip("redis", reason="the redis extra is not installed")
    from dpr_plugin.serving.redis_history import RedisHistoryStore

    store = open_history_store("redis://127.0.0.1:6399/0", 10)
    assert isinstance(store, RedisHistoryStore)
    asyncio.run(store.close())


@pytest.mark.parametrize(
    ("url", "length", "message"),
    [
        ("", 10, "history_url"),
        ("postgres://db/x", 10, "history_url: unsupported scheme"),
        ("h.sqlite", 0, "history_length"),
    ],
)
def test_bad_settings_name_the_setting(url: str, length: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_history_store(url, length)
