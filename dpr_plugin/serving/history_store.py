"""The history store interface: each user's most recent item ids, oldest first.

Two implementations pass the same cases: embedded SQLite (WAL; the default) and Redis (for
several service replicas). Item ids here are the platform's own ids (strings), so a store
outlives a retrained model; the pipeline maps them to the model's internal ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from dpr_plugin.errors import ConfigError, DprError


class HistoryUnavailableError(DprError):
    """The store cannot be reached or did not answer in time."""


class HistoryStore(Protocol):
    """Bounded per-user histories: each user keeps at most ``max_length`` most recent ids."""

    max_length: int

    async def get(self, user_id: str) -> list[str] | None:
        """The user's last ``max_length`` item ids, oldest first; ``None`` for an unknown user
        (a known user with no events is ``[]``, which only ``append`` with no ids creates)."""
        ...

    async def append(self, user_id: str, item_ids: Sequence[str]) -> int:
        """Appends events in order (atomically: all or none), trims to ``max_length``;
        returns the stored length."""
        ...

    async def append_many(self, histories: Mapping[str, Sequence[str]]) -> int:
        """Bulk import (one transaction or pipeline); returns the number of users written."""
        ...

    async def close(self) -> None:
        """Releases the connection."""
        ...


MAX_USER_ID_CHARS = 256
MAX_ITEM_ID_CHARS = 128


class HistoryInputError(DprError):
    """A user id or item id the store cannot accept; the message starts with the field.

    Attributes:
        field: ``user_id`` or ``item_ids[i]``.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


def _printable(text: str) -> bool:
    return text.isprintable()


def check_user_id(user_id: str) -> str:
    """A user id: non-empty, at most MAX_USER_ID_CHARS, printable."""
    if not isinstance(user_id, str) or not user_id:
        raise HistoryInputError("user_id", "must be a non-empty string")
    if len(user_id) > MAX_USER_ID_CHARS or not _printable(user_id):
        raise HistoryInputError(
            "user_id", f"at most {MAX_USER_ID_CHARS} printable characters"
        )
    return user_id


def check_item_ids(item_ids: Sequence[str]) -> list[str]:
    """Item ids: each non-empty, at most MAX_ITEM_ID_CHARS, printable."""
    checked = []
    for i, item in enumerate(item_ids):
        if not isinstance(item, str) or not item:
            raise HistoryInputError(f"item_ids[{i}]", "must be a non-empty string")
        if len(item) > MAX_ITEM_ID_CHARS or not _printable(item):
            raise HistoryInputError(
                f"item_ids[{i}]", f"at most {MAX_ITEM_ID_CHARS} printable characters"
            )
        checked.append(item)
    return checked


def open_history_store(url: str, max_length: int) -> HistoryStore:
    """The store named by ``url``: ``redis://host:port/db`` for Redis; ``sqlite:///abs.db``,
    ``sqlite:rel.db`` or a plain path for SQLite."""
    if max_length < 1:
        raise ConfigError(f"history_length: must be >= 1, got {max_length}")
    if not url:
        raise ConfigError("history_url: must not be empty")
    if url.startswith(("redis://", "rediss://", "unix://")):
        from dpr_plugin.serving.redis_history import RedisHistoryStore

        return RedisHistoryStore(url, max_length)
    if "://" in url and not url.startswith("sqlite://"):
        raise ConfigError(f"history_url: unsupported scheme in {url!r} (sqlite path or redis://)")
    path = url.removeprefix("sqlite://").removeprefix("sqlite:")
    if url.startswith("sqlite:///"):
        path = "/" + url.removeprefix("sqlite:///")
    from dpr_plugin.serving.sqlite_history import SqliteHistoryStore

    return SqliteHistoryStore(Path(path), max_length)
