"""The shared history store for several service replicas: Redis, one list per user.

``append`` is RPUSH + LTRIM in one MULTI/EXEC transaction (atomic, trimmed to the last
``max_length``). Redis drops empty lists, so a known user with no events also gets a marker
key ``<prefix>known:<user>``; ``get`` reads list and marker in one round trip. Connection and
socket timeouts are set, so a dead server is an error within ``timeout_s``, never a hang.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from dpr_plugin.errors import ConfigError
from dpr_plugin.serving.history_store import (
    HistoryUnavailableError,
    check_item_ids,
    check_user_id,
)


class RedisHistoryStore:
    """Bounded per-user histories in Redis lists."""

    def __init__(
        self,
        url: str,
        max_length: int,
        key_prefix: str = "dpr:history:",
        timeout_s: float = 0.5,
        max_connections: int = 32,
    ) -> None:
        if max_length < 1:
            raise ConfigError(f"history_length: must be >= 1, got {max_length}")
        self.url = url
        self.max_length = max_length
        self.prefix = key_prefix
        # a bounded pool that makes callers wait for a connection (up to timeout_s) instead
        # of failing when many requests arrive at once
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout_s,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            decode_responses=True,
        )
        self._client = aioredis.Redis(connection_pool=pool)

    def _keys(self, user_id: str) -> tuple[str, str]:
        return f"{self.prefix}items:{user_id}", f"{self.prefix}known:{user_id}"

    def _unavailable(self, exc: Exception) -> HistoryUnavailableError:
        return HistoryUnavailableError(f"history store {self.url}: {type(exc).__name__}: {exc}")

    async def get(self, user_id: str) -> list[str] | None:
        """The user's ids, oldest first; ``None`` when unknown."""
        items_key, known_key = self._keys(check_user_id(user_id))
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.lrange(items_key, 0, -1)
                pipe.exists(known_key)
                items, known = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return list(items) if known else None

    def _queue(self, pipe: aioredis.client.Pipeline, user_id: str, items: list[str]) -> None:
        items_key, known_key = self._keys(user_id)
        pipe.set(known_key, "1")
        if items:
            pipe.rpush(items_key, *items)
            pipe.ltrim(items_key, -self.max_length, -1)
        pipe.llen(items_key)

    async def append(self, user_id: str, item_ids: Sequence[str]) -> int:
        """Appends atomically (MULTI/EXEC) and trims; returns the stored length."""
        check_user_id(user_id)
        items = check_item_ids(item_ids)
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                self._queue(pipe, user_id, items)
                results = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return int(results[-1])

    async def append_many(self, histories: Mapping[str, Sequence[str]]) -> int:
        """Bulk import in one transaction; returns the number of users written."""
        checked = {check_user_id(u): check_item_ids(items) for u, items in histories.items()}
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                for user_id, items in checked.items():
                    self._queue(pipe, user_id, items)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return len(checked)

    async def close(self) -> None:
        """Closes the connection pool."""
        await self._client.aclose(close_connection_pool=True)
