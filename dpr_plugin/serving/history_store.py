"""The history store interface: each user's most recent item ids, oldest first.

Two implementations pass the same cases: embedded SQLite (WAL; the default) and Redis (for
several service replicas). Item ids here are the platform's own ids (strings), so a store
outlives a retrained model; the pipeline maps them to the model's internal ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from dpr_plugin.errors import DprError


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
