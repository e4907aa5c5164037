"""The one place a history store is chosen from the ``history_url`` setting: Redis for
``redis://`` (and ``rediss://``, ``unix://``), else an embedded SQLite file."""

from __future__ import annotations

import re
from pathlib import Path

from dpr_plugin.errors import ConfigError
from dpr_plugin.serving.history.base import (
    HISTORY_URL,
    HistoryStore,
    check_max_length,
    redact_url,
)

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
_REDIS_SCHEMES = ("redis", "rediss", "unix")


def sqlite_path(url: str) -> Path:
    """The database file a SQLite ``history_url`` names.

    Accepted forms: ``sqlite:///abs/path.db`` (absolute), ``sqlite:relative.db`` or
    ``sqlite:/abs/path.db`` (as written), or a plain filesystem path.

    Raises:
        ConfigError: Naming ``history_url`` for any other scheme, a host part
            (``sqlite://host/x.db``), query parameters, or an empty path.
    """
    if url.startswith("sqlite:"):
        rest = url.removeprefix("sqlite:")
        if rest.startswith("//"):
            if not rest.startswith("///"):
                raise ConfigError(
                    f"{HISTORY_URL}: {url!r} names a host; write sqlite:///abs/path.db "
                    "or sqlite:relative.db"
                )
            rest = rest.removeprefix("//")
        if "?" in rest:
            raise ConfigError(f"{HISTORY_URL}: query parameters are not supported in {url!r}")
        if not rest.strip("/"):
            raise ConfigError(f"{HISTORY_URL}: {url!r} names no file")
        return Path(rest)
    scheme = _SCHEME.match(url)
    if scheme or "://" in url:
        name = scheme.group(1) if scheme else url.split("://", 1)[0]
        raise ConfigError(
            f"{HISTORY_URL}: unsupported scheme {name!r} in {redact_url(url)!r} "
            "(a SQLite path, sqlite:..., or redis://host:port/db)"
        )
    return Path(url)


def open_history_store(url: str, max_length: int) -> HistoryStore:
    """The store ``url`` names; nothing is contacted yet for Redis (the first call connects).

    Args:
        url: The ``history_url`` setting: ``redis://host:port/db`` (also ``rediss://``,
            ``unix://``) for Redis; ``sqlite:///abs/path.db``, ``sqlite:relative.db`` or a
            plain filesystem path for SQLite (the file is created if missing).
        max_length: The ``history_length`` setting: ids kept per user.

    Returns:
        A RedisHistoryStore or a SqliteHistoryStore.

    Raises:
        ConfigError: Naming ``history_url`` (empty, unsupported or malformed, or Redis
            without the ``redis`` extra) or ``history_length`` (below 1).
        HistoryUnavailableError: The SQLite file cannot be opened or created.
    """
    check_max_length(max_length)
    if not isinstance(url, str) or not url:
        raise ConfigError(f"{HISTORY_URL}: must not be empty")
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in _REDIS_SCHEMES:
        try:
            from dpr_plugin.serving.history.redis_store import RedisHistoryStore
        except ImportError as exc:
            raise ConfigError(
                f"{HISTORY_URL}: {scheme}:// needs the redis extra "
                f"(pip install 'dpr-plugin[redis]'): {exc}"
            ) from exc
        return RedisHistoryStore(url, max_length)
    path = sqlite_path(url)
    from dpr_plugin.serving.history.sqlite_store import SqliteHistoryStore

    return SqliteHistoryStore(path, max_length)
