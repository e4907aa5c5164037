"""The shared history store for several service replicas: Redis, one list per user.

Keys (``prefix`` defaults to ``dpr:history:``):

* ``<prefix>items:<user_id>``: a list of item ids, oldest first, at most ``max_length`` long.
* ``<prefix>keys:<user_id>``: the idempotency keys of the user's last IDEMPOTENCY_WINDOW
  keyed appends, oldest first.
* ``<prefix>known:<user_id>``: a marker (``"1"``) set by every append. Redis deletes a list
  when it becomes empty, so without the marker a user appended ``[]`` would be
  indistinguishable from an unknown one. A marker key per user (not one big set) keeps each
  user's state in two small keys that expire or evict independently of other users.

``append`` is SET marker + RPUSH + LTRIM ``-max_length -1`` + LLEN in one MULTI/EXEC
transaction: atomic, and never longer than ``max_length``. With an idempotency key it is one
Lua script instead (atomic too): a key already in the user's key list appends nothing.
``append_many`` queues every user in one MULTI/EXEC pipeline (one round trip).

``get`` is one small Lua script (EVALSHA; atomic, one round trip): nil when the marker is
missing, else the last ``max_length`` list entries encoded by Redis's built-in cjson as one
JSON string. Measured on loopback with 200 ids: p50 ~0.2 ms, against ~0.75 ms for a pipelined
EXISTS + LRANGE, because redis-py's pure-Python RESP parser spends ~3 µs on each of the 200
list entries (with the optional ``hiredis`` parser both take ~0.15 ms). Redis reloads the
script by itself after a SCRIPT FLUSH or a restart (redis-py retries on NOSCRIPT).

Failure: connect and socket timeouts are ``timeout_s``, waiting for a free pooled connection
is bounded by ``timeout_s`` too, and redis-py's retries are off (``append`` is not idempotent,
and a retry would stretch the bound). A refused connection, a timeout or any Redis error is a
HistoryUnavailableError naming the URL (password redacted) within about ``timeout_s``; the
pipeline then degrades instead of hanging. The pool checks a pooled connection before use,
so connections broken by a server restart are replaced rather than failing a call.

Both keys of a user hash to different Redis Cluster slots: this store targets a standalone
Redis (or a primary with replicas), not Redis Cluster.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from dpr_plugin.errors import ConfigError, HistoryUnavailableError
from dpr_plugin.serving.history.base import (
    HISTORY_URL,
    IDEMPOTENCY_WINDOW,
    check_histories,
    check_idempotency_key,
    check_item_ids,
    check_max_length,
    check_user_id,
    redact_url,
)

# KEYS: marker, list; ARGV: max_length. cjson would encode an empty table as "{}".
_GET_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local items = redis.call('LRANGE', KEYS[2], -tonumber(ARGV[1]), -1)
if #items == 0 then return '[]' end
return cjson.encode(items)
"""


_KEYED_APPEND_LUA = """
if redis.call('LPOS', KEYS[3], ARGV[3]) then return redis.call('LLEN', KEYS[1]) end
redis.call('SET', KEYS[2], '1')
if #ARGV > 3 then
  redis.call('RPUSH', KEYS[1], unpack(ARGV, 4))
  redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
end
redis.call('RPUSH', KEYS[3], ARGV[3])
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[2]), -1)
return redis.call('LLEN', KEYS[1])
"""


class RedisHistoryStore:
    """Bounded per-user histories in Redis lists; connects lazily on the first call.

    Args:
        url: ``redis://[[user]:password@]host:port/db`` (also ``rediss://``, ``unix://``);
            redis-py URL query options override the keyword settings below.
        max_length: Ids kept per user (the ``history_length`` setting).
        key_prefix: Prefix of every key this store touches.
        timeout_s: Bound on connecting, on each reply, and on waiting for a pooled connection.
        max_connections: Size of the connection pool; callers beyond it wait (up to
            ``timeout_s``) instead of failing.

    Raises:
        ConfigError: ``max_length`` below 1 (``history_length``), ``timeout_s`` not positive,
            or a malformed URL (``history_url``).
    """

    def __init__(
        self,
        url: str,
        max_length: int,
        key_prefix: str = "dpr:history:",
        timeout_s: float = 0.5,
        max_connections: int = 32,
    ) -> None:
        self.max_length = check_max_length(max_length)
        if not timeout_s > 0:
            raise ConfigError(f"timeout_s: must be > 0, got {timeout_s}")
        self.url = url
        self.prefix = key_prefix
        self.timeout_s = timeout_s
        self._where = redact_url(url)
        try:
            pool = aioredis.BlockingConnectionPool.from_url(
                url,
                max_connections=max_connections,
                timeout=timeout_s,
                socket_timeout=timeout_s,
                socket_connect_timeout=timeout_s,
                retry=Retry(NoBackoff(), 0),
                decode_responses=True,
            )
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{HISTORY_URL}: malformed Redis URL {self._where!r}: {exc}") from exc
        self._client: aioredis.Redis | None = aioredis.Redis(connection_pool=pool)
        self._get_script = self._client.register_script(_GET_LUA)
        self._keyed_append = self._client.register_script(_KEYED_APPEND_LUA)

    def _keys(self, user_id: str) -> tuple[str, str]:
        return f"{self.prefix}items:{user_id}", f"{self.prefix}known:{user_id}"

    def _closed(self) -> HistoryUnavailableError:
        return HistoryUnavailableError(f"history store {self._where} is closed")

    def _pipeline(self, transaction: bool) -> aioredis.client.Pipeline:
        if self._client is None:
            raise self._closed()
        return self._client.pipeline(transaction=transaction)

    def _unavailable(self, exc: Exception) -> HistoryUnavailableError:
        return HistoryUnavailableError(f"history store {self._where}: {type(exc).__name__}: {exc}")

    async def get(self, user_id: str) -> list[str] | None:
        """The user's last ``max_length`` ids, oldest first; ``None`` for an unknown user.

        Raises:
            FieldError: A malformed ``user_id``.
            HistoryUnavailableError: Redis refused, timed out or failed (or store closed).
        """
        items_key, known_key = self._keys(check_user_id(user_id))
        if self._client is None:
            raise self._closed()
        try:
            raw = await self._get_script(keys=[known_key, items_key], args=[self.max_length])
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return None if raw is None else json.loads(raw)

    def _queue(self, pipe: aioredis.client.Pipeline, user_id: str, items: list[str]) -> None:
        items_key, known_key = self._keys(user_id)
        pipe.set(known_key, "1")
        if items:
            pipe.rpush(items_key, *items)
            pipe.ltrim(items_key, -self.max_length, -1)
        pipe.llen(items_key)

    async def append(self, user_id: str, item_ids: Sequence[str], idempotency_key: str = "") -> int:
        """Appends ``item_ids`` in order in one MULTI/EXEC, trimming to ``max_length``; with
        an ``idempotency_key`` in one script that appends nothing for a key seen in the
        user's last IDEMPOTENCY_WINDOW keyed appends.

        Returns:
            The stored length after the append.

        Raises:
            FieldError: A malformed ``user_id`` or item id (nothing is sent).
            HistoryUnavailableError: As for ``get``; after a timeout the append may or may
                not have been applied (it is not retried).
        """
        check_user_id(user_id)
        items = check_item_ids(item_ids)
        key = check_idempotency_key(idempotency_key)
        try:
            if key:
                if self._client is None:
                    raise self._closed()
                items_key, known_key = self._keys(user_id)
                keys = [items_key, known_key, f"{self.prefix}keys:{user_id}"]
                args = [self.max_length, IDEMPOTENCY_WINDOW, key, *items]
                return int(await self._keyed_append(keys=keys, args=args))
            async with self._pipeline(transaction=True) as pipe:
                self._queue(pipe, user_id, items)
                results = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return int(results[-1])

    async def append_many(self, histories: Mapping[str, Sequence[str]]) -> int:
        """Appends each user's ids in one MULTI/EXEC pipeline (one round trip), all or none.

        Returns:
            The number of users written.

        Raises:
            FieldError: Naming ``histories[n].…`` (nothing is sent).
            HistoryUnavailableError: As for ``append``.
        """
        checked = check_histories(histories)
        if not checked:
            return 0
        try:
            async with self._pipeline(transaction=True) as pipe:
                for user_id, items in checked.items():
                    self._queue(pipe, user_id, items)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return len(checked)

    async def close(self) -> None:
        """Closes the connection pool; later calls raise HistoryUnavailableError. Idempotent."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose(close_connection_pool=True)
