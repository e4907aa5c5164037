"""A steering request and its answer as the pipeline sees them (no gRPC types here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from dpr_plugin.intent.clauses import Clause
from dpr_plugin.serving.index.base import Condition, PayloadValue

MAX_TOP_K = 200
MAX_PROMPT_CHARS = 1000
RANK_DEPTH = 100
"""Depth of the unsteered list that rank changes are measured against."""
DEFAULT_PAYLOAD_FIELDS = ("title", "tags")


class NegativeMode(Enum):
    """How a negative prompt is applied (see the proto)."""

    SOFT = "soft"
    HARD = "hard"
    HYBRID = "hybrid"
    AUTO = "auto"
    """SOFT for unwanted tags alone, HYBRID for unwanted tags beside a wish."""


class ServedPath(Enum):
    """Which path produced the items."""

    STEERED = "steered"
    UNSTEERED = "unsteered"
    FALLBACK_UNSTEERED = "fallback_unsteered"
    COLD_START = "cold_start"


class Polarity(Enum):
    """What the prompt asks for."""

    NONE = "none"
    POSITIVE = "positive"
    NEGATIVE = "negative"


@dataclass(frozen=True)
class SteerQuery:
    """A validated request.

    Attributes:
        request_id: Echoed back; never empty here.
        user_id: The platform's user id.
        prompt: The prompt; ``""`` means unsteered.
        top_k: Items to return, 1..MAX_TOP_K.
        history: Inline history (oldest first) replacing the stored one, or ``None``.
        must: Conditions every item satisfies (tags and other payload fields).
        must_not: Conditions no item satisfies.
        exclude_item_ids: Platform ids never returned.
        exclude_seen: Also exclude the history's items.
        strength: Steering strength, 0..``default_strength.MAX_STRENGTH``; ``None``: the
            export's default for what the prompt is understood as (``DefaultStrength``).
        negative_mode: How a negative prompt is applied.
        payload_fields: Payload fields returned with each item.
    """

    request_id: str
    user_id: str
    prompt: str = ""
    top_k: int = 10
    history: tuple[str, ...] | None = None
    must: tuple[Condition, ...] = ()
    must_not: tuple[Condition, ...] = ()
    exclude_item_ids: tuple[str, ...] = ()
    exclude_seen: bool = False
    strength: float | None = None
    negative_mode: NegativeMode = NegativeMode.AUTO
    payload_fields: tuple[str, ...] = DEFAULT_PAYLOAD_FIELDS


@dataclass(frozen=True)
class ScoredItem:
    """One returned item; ``unsteered_rank`` is 0 when deeper than RANK_DEPTH."""

    item_id: str
    score: float
    unsteered_score: float
    unsteered_rank: int
    payload: dict[str, PayloadValue]

    def rank_change(self, rank: int) -> int | None:
        """``unsteered_rank - rank`` (positive = moved up), ``None`` when not in the unsteered
        list's first RANK_DEPTH."""
        return self.unsteered_rank - rank if self.unsteered_rank else None


class Application(Enum):
    """How a clause was applied to the answer."""

    STEERED = "steered"
    """It moved the user vector (a tag through the steering head, or an item reference)."""
    FILTERED = "filtered"
    """It became a search filter (a range, a tag in HARD mode, a negative reference's ids)."""
    STEERED_AND_FILTERED = "steered_and_filtered"
    NOT_APPLIED = "not_applied"
    """Read, but not applied (the steering path failed, or its strength is 0)."""


@dataclass(frozen=True)
class AppliedClause:
    """A clause of the prompt and what was done with it."""

    clause: Clause
    strength: float
    application: Application


@dataclass(frozen=True)
class Understanding:
    """What was read from the prompt and how it was applied.

    ``clauses`` is the full account. The other fields summarise it for older clients:
    ``polarity`` is POSITIVE when any applied clause is a wish, NEGATIVE when all are
    unwanted, NONE when nothing was read; ``tags`` are the tag clauses' tags;
    ``negative_probability`` and ``expert_weights`` are the steering head's on the first tag
    clause; ``strength`` is the largest strength applied (0 when the vector did not move).
    """

    polarity: Polarity = Polarity.NONE
    negative_probability: float = 0.0
    tags: tuple[tuple[str, float], ...] = ()
    expert_weights: tuple[float, ...] = ()
    hard_filtered_tags: tuple[str, ...] = ()
    strength: float = 0.0
    clauses: tuple[AppliedClause, ...] = ()
    unread: tuple[str, ...] = ()


@dataclass(frozen=True)
class SteerResult:
    """The pipeline's answer."""

    request_id: str
    items: list[ScoredItem]
    understood: Understanding
    served_path: ServedPath
    model_version: str
    history_length: int
    unknown_history_items: int
    fallback_reason: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)
    index_generation: str = ""
    """The index generation the items came from (built from ``model_version``'s export)."""
