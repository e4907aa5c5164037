"""The item index interface: vector search over item embeddings with payload filters.

Two implementations answer the same cases: the embedded Qdrant engine (``qdrant-edge-py``,
the default) and a Qdrant server or cluster through ``qdrant-client``. Point ids are the
model's internal item ids (1..N; 0 is padding and never indexed); the platform's own item id
travels in the payload field ``item_id``. Scores are dot products, as in training.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from dpr_plugin.errors import IndexQueryError

PayloadValue = str | int | float | list[str] | list[int]
FieldKind = Literal["keyword", "integer", "float"]

#: Payload fields every index built from an exported catalogue carries, and how they are indexed.
#: ``title`` is stored for responses but not indexed.
CATALOGUE_FIELDS: dict[str, FieldKind] = {
    "item_id": "keyword",
    "tags": "keyword",
    "year": "integer",
}


@dataclass(frozen=True)
class IndexedItem:
    """One point to index: internal id, embedding and payload."""

    item_id: int
    vector: np.ndarray
    payload: Mapping[str, PayloadValue]


def validate_item(item: IndexedItem, dim: int, seen: set[int]) -> np.ndarray:
    """Checks one point before it is written (ids >= 1 and unique, finite [dim] vectors);
    adds its id to ``seen`` and returns the vector as float32."""
    where = f"items[id={item.item_id!r}]"
    if not isinstance(item.item_id, int) or isinstance(item.item_id, bool) or item.item_id < 1:
        raise IndexQueryError(f"{where}.item_id: must be an integer >= 1")
    if item.item_id in seen:
        raise IndexQueryError(f"{where}.item_id: duplicate")
    try:
        vector = np.asarray(item.vector, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise IndexQueryError(f"{where}.vector: not a float vector ({exc})") from exc
    if vector.shape != (dim,):
        raise IndexQueryError(f"{where}.vector: expected shape [{dim}], got {list(vector.shape)}")
    if not np.isfinite(vector).all():
        raise IndexQueryError(f"{where}.vector: must be finite (as float32)")
    seen.add(item.item_id)
    return vector


@dataclass(frozen=True)
class Match:
    """``field`` has at least one of ``values`` (for a list field: any element matches)."""

    field: str
    values: tuple[str | int, ...]


@dataclass(frozen=True)
class Range:
    """``gte <= field <= lte`` for a numeric field; a bound of ``None`` is open."""

    field: str
    gte: float | None = None
    lte: float | None = None


Condition = Match | Range


@dataclass(frozen=True)
class SearchFilter:
    """What a hit must satisfy: every ``must`` condition, no ``must_not`` condition, and an id
    outside ``exclude_ids``."""

    must: tuple[Condition, ...] = ()
    must_not: tuple[Condition, ...] = ()
    exclude_ids: frozenset[int] = field(default_factory=frozenset)

    def is_empty(self) -> bool:
        """True when the filter lets every point through."""
        return not (self.must or self.must_not or self.exclude_ids)


def check_filter_fields(where: SearchFilter, fields: Mapping[str, FieldKind]) -> None:
    """Raises IndexQueryError naming the first condition on a field that is not indexed, or
    that does not fit the field's kind (Match: keyword -> str values, integer -> int values;
    Range: integer or float fields), which an engine would otherwise answer with no hits."""
    for group, conditions in (("must", where.must), ("must_not", where.must_not)):
        for i, cond in enumerate(conditions):
            at = f"{group}[{i}]"
            if cond.field not in fields:
                raise IndexQueryError(
                    f"{at}.field: {cond.field!r} is not indexed (indexed: {sorted(fields)})"
                )
            kind = fields[cond.field]
            if isinstance(cond, Match):
                _check_match(at, cond, kind)
            elif kind not in ("integer", "float"):
                raise IndexQueryError(f"{at}: Range on {kind} field {cond.field!r}")
            elif cond.gte is not None and cond.lte is not None and cond.gte > cond.lte:
                raise IndexQueryError(f"{at}: empty range on {cond.field!r} (gte > lte)")


def _check_match(at: str, cond: Match, kind: FieldKind) -> None:
    if not cond.values:
        raise IndexQueryError(f"{at}.values: Match on {cond.field!r} needs at least one value")
    if kind == "float":
        raise IndexQueryError(f"{at}: Match on float field {cond.field!r} (use Range)")
    wanted = str if kind == "keyword" else int
    for j, value in enumerate(cond.values):
        if not isinstance(value, wanted) or isinstance(value, bool):
            raise IndexQueryError(
                f"{at}.values[{j}]: {kind} field {cond.field!r} takes {wanted.__name__} "
                f"values, got {value!r}"
            )


def check_query(vectors: np.ndarray, limit: int, dim: int) -> np.ndarray:
    """The query vectors as float32 [B, dim]; IndexQueryError for a wrong shape, a non-finite
    value (an engine answers NaN with no hits or NaN scores) or a limit below 1."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] < 1 or vectors.shape[1] != dim:
        raise IndexQueryError(f"vector: expected shape [B, {dim}], got {list(vectors.shape)}")
    if not np.isfinite(vectors).all():
        raise IndexQueryError("vector: must be finite")
    if limit < 1:
        raise IndexQueryError(f"limit: must be >= 1, got {limit}")
    return vectors


def to_hits(points: Iterable[ScoredPointLike], with_vectors: bool) -> list[Hit]:
    """Hits from the scored points of either Qdrant API (same attribute names)."""
    return [
        Hit(
            int(p.id),
            float(p.score),
            dict(p.payload or {}),
            np.asarray(p.vector, np.float32) if with_vectors else None,
        )
        for p in points
    ]


class ScoredPointLike(Protocol):
    """What both Qdrant APIs return per hit."""

    id: object
    score: float
    payload: Mapping[str, PayloadValue] | None
    vector: object


@dataclass(frozen=True)
class Hit:
    """One search result. ``vector`` is filled only when asked for."""

    item_id: int
    score: float
    payload: dict[str, PayloadValue]
    vector: np.ndarray | None = None


@dataclass(frozen=True)
class IndexInfo:
    """What is being served: point count, dimension, the build's generation name and the
    indexed payload fields."""

    points: int
    dim: int
    generation: str
    fields: dict[str, FieldKind]


class ItemIndex(Protocol):
    """Vector search over the item catalogue."""

    async def search(
        self,
        vectors: np.ndarray,
        limit: int,
        where: SearchFilter,
        payload_fields: Sequence[str] = (),
        with_vectors: bool = False,
        timeout_s: float | None = None,
    ) -> list[list[Hit]]:
        """Top ``limit`` hits by dot product for each row of ``vectors`` (float32 [B, D]), best
        first, under one filter. Raises IndexQueryError naming the field for a filter on a field
        that is not indexed, IndexUnavailableError when down or past ``timeout_s``."""
        ...

    async def info(self) -> IndexInfo:
        """The generation being served; IndexUnavailableError if none is."""
        ...

    async def close(self) -> None:
        """Releases files or connections."""
        ...


class IndexBuilder(Protocol):
    """Builds a new generation of the index and switches readers to it atomically."""

    async def build(
        self, items: Iterable[IndexedItem], dim: int, fields: Mapping[str, FieldKind]
    ) -> str:
        """Writes every item into a fresh generation with a payload index per field, then makes
        it the served one in one atomic step; returns the generation name. A failed build leaves
        the previous generation served and removes its own partial files."""
        ...
