"""A prompt's structured intent: clauses, each with a polarity and one target."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Source(Enum):
    """What found a clause's target."""

    LEXICON = "lexicon"
    """A synonym of the catalogue vocabulary."""
    ZERO_SHOT = "zero_shot"
    """The encoder's similarity to the vocabulary's descriptions and phrases."""
    ERA = "era"
    """An era expression."""
    AMOUNT = "amount"
    """A comparison over a declared numeric field ("under $30", "rating of at least 4")."""
    TITLE = "title"
    """A catalogue title after "like", "similar to", ..."""


@dataclass(frozen=True)
class TagTarget:
    """Catalogue tags: all of them (one clause per tag), or any of them (a disjunction)."""

    tags: tuple[tuple[str, float], ...]
    any_of: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(tag for tag, _ in self.tags)


@dataclass(frozen=True)
class RangeTarget:
    """``gte <= field <= lte`` on a numeric payload field (``None``: open)."""

    field: str
    gte: float | None
    lte: float | None


@dataclass(frozen=True)
class ItemTarget:
    """A catalogue item, by internal id, its title and the platform's id for it."""

    item_id: int
    title: str
    platform_id: str = ""


Target = TagTarget | RangeTarget | ItemTarget


@dataclass(frozen=True)
class Clause:
    """One wish of the prompt.

    Attributes:
        text: The words of the prompt it was read from.
        start, end: Its character span in the prompt.
        negative: True for "no X", "nothing like X", "not from the 80s".
        target: What it is about.
        source: What found the target.
    """

    text: str
    start: int
    end: int
    negative: bool
    target: Target
    source: Source


@dataclass(frozen=True)
class Intent:
    """The clauses of one prompt, in prompt order; none when nothing was understood."""

    clauses: tuple[Clause, ...] = ()
    unread: tuple[str, ...] = field(default=())
    """Segments with words but no target (what the zero-shot reader could not place either)."""

    @property
    def understood(self) -> bool:
        return bool(self.clauses)
