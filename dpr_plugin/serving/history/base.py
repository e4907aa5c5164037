"""The history store interface: each user's most recent item ids, oldest first.

Two implementations pass the same cases: embedded SQLite (WAL; the default) and Redis (for
several service replicas). Item ids here are the platform's own ids (strings), so a store
outlives a retrained model; the pipeline maps them to the model's internal ids.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Protocol

from dpr_plugin.errors import ConfigError, FieldError


class HistoryStore(Protocol):
    """Bounded per-user histories: each user keeps at most ``max_length`` most recent ids."""

    max_length: int

    async def get(self, user_id: str) -> list[str] | None:
        """The user's last ``max_length`` item ids, oldest first; ``None`` for an unknown user
        (a known user with no events is ``[]``, which only ``append`` with no ids creates)."""
        ...

    async def append(self, user_id: str, item_ids: Sequence[str], idempotency_key: str = "") -> int:
        """Appends events in order (atomically: all or none), trims to ``max_length``;
        returns the stored length. With an ``idempotency_key`` the user's last
        IDEMPOTENCY_WINDOW keys are remembered in the same transaction, and a key seen
        before appends nothing (a retry after a lost answer never duplicates events)."""
        ...

    async def append_many(self, histories: Mapping[str, Sequence[str]]) -> int:
        """Bulk import (one transaction or pipeline); returns the number of users written."""
        ...

    async def close(self) -> None:
        """Releases the connection."""
        ...


MAX_USER_ID_CHARS = 256
"""Longest accepted user id."""
MAX_ITEM_ID_CHARS = 128
"""Longest accepted item id (and idempotency key)."""
IDEMPOTENCY_WINDOW = 256
"""Idempotency keys remembered per user: a retry arrives long before 256 later batches."""
HISTORY_URL = "history_url"
"""The setting that names the store; ConfigErrors about the URL start with it."""
HISTORY_LENGTH = "history_length"
"""The setting behind ``max_length``."""


def _control_char(text: str) -> int | None:
    """Index of the first control character (Cc) or lone surrogate (Cs), else ``None``."""
    if text.isprintable():  # fast path (C): printable text has neither
        return None
    for i, ch in enumerate(text):
        if unicodedata.category(ch) in ("Cc", "Cs"):
            return i
    return None


def _check_id(field: str, value: object, max_chars: int) -> str:
    if not isinstance(value, str):
        raise FieldError(field, f"must be a string, got {type(value).__name__}")
    if not value:
        raise FieldError(field, "must not be empty")
    if len(value) > max_chars:
        raise FieldError(field, f"must be at most {max_chars} characters, got {len(value)}")
    bad = _control_char(value)
    if bad is not None:
        raise FieldError(
            field, f"must not contain control characters (U+{ord(value[bad]):04X} at {bad})"
        )
    return value


def check_user_id(user_id: str, field: str = "user_id") -> str:
    """Validates a user id: a non-empty string of at most MAX_USER_ID_CHARS characters,
    none of them a control character (or a lone surrogate, which no store can encode).

    Args:
        user_id: The id to check.
        field: The name errors carry.

    Returns:
        ``user_id`` unchanged.

    Raises:
        FieldError: Naming ``field``.
    """
    return _check_id(field, user_id, MAX_USER_ID_CHARS)


def check_item_ids(item_ids: Sequence[str], field: str = "item_ids") -> list[str]:
    """Validates item ids: each a non-empty string of at most MAX_ITEM_ID_CHARS characters
    without control characters. A bare string is refused (it would append one id per char).

    Args:
        item_ids: The ids, oldest first; may be empty.
        field: The name errors carry; an entry is ``field[i]``.

    Returns:
        The ids as a new list.

    Raises:
        FieldError: Naming ``field`` or ``field[i]``.
    """
    if isinstance(item_ids, str | bytes):
        raise FieldError(field, "must be a sequence of ids, not a single string")
    return [_check_id(f"{field}[{i}]", item, MAX_ITEM_ID_CHARS) for i, item in enumerate(item_ids)]


def check_idempotency_key(key: str, field: str = "idempotency_key") -> str:
    """An idempotency key: empty (none), or printable and at most MAX_ITEM_ID_CHARS long."""
    if key == "":
        return key
    return _check_id(field, key, MAX_ITEM_ID_CHARS)


def check_histories(histories: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Validates the argument of ``append_many``; fields are ``histories[n].…``.

    Returns:
        A new dict of checked ids, in the mapping's order.

    Raises:
        FieldError: Naming ``histories[n].user_id`` or ``histories[n].item_ids[i]``.
    """
    return {
        check_user_id(user, f"histories[{n}].user_id"): check_item_ids(
            items, f"histories[{n}].item_ids"
        )
        for n, (user, items) in enumerate(histories.items())
    }


def check_max_length(max_length: int) -> int:
    """Validates a store's bound; it comes from the ``history_length`` setting.

    Raises:
        ConfigError: Naming ``history_length`` unless ``max_length`` is an int >= 1. A
            configuration problem, not a request's, hence not a FieldError.
    """
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        raise ConfigError(f"{HISTORY_LENGTH}: must be an integer >= 1, got {max_length!r}")
    return max_length


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, for messages and logs."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/@]*?:)[^/@]*@", r"\1***@", url)
