"""One set of cases for both history stores: SQLite (embedded) and Redis (a real server)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dpr_plugin.serving.history_store import (
    HistoryInputError,
    HistoryStore,
    HistoryUnavailableError,
)
from tests.redis_server import RedisServer


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "redis"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path):
    """A factory: each call opens a store on the same database (for reopen cases)."""
    if request.param == "sqlite":
        from dpr_plugin.serving.sqlite_history import SqliteHistoryStore

        return lambda length=50: SqliteHistoryStore(tmp_path / "h.sqlite", length)
    server = request.getfixturevalue("redis_server")
    from dpr_plugin.serving.redis_history import RedisHistoryStore

    prefix = f"test:{request.node.name}:{time.monotonic_ns()}:"
    return lambda length=50: RedisHistoryStore(server.url, length, key_prefix=prefix)


def run(factory, scenario, length: int = 50):
    async def go():
        store: HistoryStore = factory(length)
        try:
            return await scenario(store)
        finally:
            await store.close()

    return asyncio.run(go())


def test_unknown_known_empty_and_order(make_store) -> None:
    async def scenario(store: HistoryStore):
        assert await store.get("u1") is None
        assert await store.append("u1", ["a", "b"]) == 2
        assert await store.append("u1", ["c"]) == 3
        assert await store.append("empty", []) == 0
        return await store.get("u1"), await store.get("empty")

    assert run(make_store, scenario) == (["a", "b", "c"], [])


def test_bounded_to_max_length(make_store) -> None:
    async def scenario(store: HistoryStore):
        ids = [str(i) for i in range(1000)]
        assert await store.append("u", ids) == 50
        assert await store.append("u", ["x"]) == 50
        return await store.get("u")

    assert run(make_store, scenario) == [str(i) for i in range(951, 1000)] + ["x"]


def test_append_many_and_persistence(make_store) -> None:
    async def write(store: HistoryStore):
        return await store.append_many({"a": ["1", "2"], "b": ["3"], "c": []})

    async def read(store: HistoryStore):
        return [await store.get(u) for u in ("a", "b", "c", "d")]

    assert run(make_store, write) == 3
    assert run(make_store, read) == [["1", "2"], ["3"], [], None]


def test_concurrent_appends_lose_nothing(make_store) -> None:
    async def scenario(store: HistoryStore):
        await asyncio.gather(*(store.append("busy", [f"i{k}"]) for k in range(200)))
        return await store.get("busy")

    got = run(make_store, scenario, length=500)
    assert sorted(got) == sorted(f"i{k}" for k in range(200))


@pytest.mark.parametrize(
    ("user", "items", "field"),
    [
        ("", ["a"], "user_id"),
        ("x" * 257, ["a"], "user_id"),
        ("bad\nuser", ["a"], "user_id"),
        ("u", ["a", ""], "item_ids[1]"),
        ("u", ["a", "b" * 129], "item_ids[1]"),
        ("u", ["\x00"], "item_ids[0]"),
    ],
)
def test_bad_ids_name_the_field(make_store, user: str, items: list[str], field: str) -> None:
    async def scenario(store: HistoryStore):
        with pytest.raises(HistoryInputError) as info:
            await store.append(user, items)
        assert str(info.value).startswith(f"{field}:")
        assert info.value.field == field
        return await store.get("u")

    assert run(make_store, scenario) is None


def test_redis_down_is_unavailable_quickly() -> None:
    from dpr_plugin.serving.redis_history import RedisHistoryStore
    from tests.redis_server import redis_server_binary

    redis_server_binary()  # the dev extra is what makes this meaningful

    async def scenario():
        store = RedisHistoryStore("redis://127.0.0.1:1/0", 10, timeout_s=0.5)
        try:
            await store.get("u")
        finally:
            await store.close()

    started = time.perf_counter()
    with pytest.raises(HistoryUnavailableError, match=r"redis://127\.0\.0\.1:1/0"):
        asyncio.run(scenario())
    assert time.perf_counter() - started < 2.0


def test_two_sqlite_stores_share_one_file(tmp_path: Path) -> None:
    from dpr_plugin.serving.sqlite_history import SqliteHistoryStore

    async def scenario():
        one = SqliteHistoryStore(tmp_path / "h.sqlite", 100)
        two = SqliteHistoryStore(tmp_path / "h.sqlite", 100)
        try:
            await asyncio.gather(
                *(s.append("u", [f"{k}"]) for k in range(40) for s in (one, two))
            )
            return await one.get("u"), await two.get("u")
        finally:
            await one.close()
            await two.close()

    first, second = asyncio.run(scenario())
    assert first == second and len(first) == 80
