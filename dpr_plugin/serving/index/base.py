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

from dpr_plugin.errors import ConfigError, IndexQueryError, IndexUnavailableError

PayloadValue = str | int | float | list[str] | list[int]
FieldKind = Literal["keyword", "integer", "float"]

#: Payload fields every index built from an exported catalogue carries, and how they are
#: indexed; an export adds its declared fields (``catalogue.stream_catalogue``). ``title`` is
#: stored for responses but not indexed.
BASE_FIELDS: dict[str, FieldKind] = {"item_id": "keyword", "tags": "keyword"}
#: The payload indexes of a MovieLens-shaped export (the presets declare ``year``).
CATALOGUE_FIELDS: dict[str, FieldKind] = {**BASE_FIELDS, "year": "integer"}


ANN_MODES = ("auto", "exact", "hnsw")


@dataclass(frozen=True)
class AnnSettings:
    """How ``dpr index`` builds a generation (flags ``--<field>``, env ``DPR_INDEX_<FIELD>``).

    Attributes:
        ann: ``exact`` (one plain segment: every query scores every point that passes the
            filter), ``hnsw`` (an HNSW graph with payload-aware links, searched approximately)
            or ``auto``: HNSW from ``exact_below`` points on.
        exact_below: Catalogue size from which ``auto`` builds HNSW (measured in
            ``benchmarks.index_scale``: below it exact search is as fast).
        hnsw_m: Graph links per node (also the payload links of each indexed field value).
        hnsw_ef_construct: Candidates kept while building the graph.
        hnsw_ef: Candidates kept while searching it (recorded with the generation, used by
            every reader). 256: at 10⁶ items recall@10 >= 0.956 under every filter at p50 <=
            1.7 ms; 128 fell to 0.917 under a common-tag filter (``benchmarks.index_scale``).
        full_scan_kb: A filter the engine estimates to pass fewer points than this many KB of
            vectors is answered by scoring exactly those points (through the payload index)
            instead of walking the graph.
        quantization: Also store int8 scalar-quantized vectors; searches score with them and
            rescore the best with the full vectors.
        shards: Qdrant server only: shards of the collection.
        replication_factor: Qdrant server only: copies of each shard.
        on_disk: Qdrant server only: keep the original vectors on disk (memory-mapped).
    """

    ann: str = "auto"
    exact_below: int = 20_000
    hnsw_m: int = 16
    hnsw_ef_construct: int = 100
    hnsw_ef: int = 256
    full_scan_kb: int = 1_000
    quantization: bool = False
    shards: int = 1
    replication_factor: int = 1
    on_disk: bool = False

    def __post_init__(self) -> None:
        if self.ann not in ANN_MODES:
            raise ConfigError(f"ann: one of {ANN_MODES}, got {self.ann!r}")
        for name in (
            "exact_below", "hnsw_m", "hnsw_ef_construct", "hnsw_ef", "full_scan_kb", "shards",
            "replication_factor",
        ):  # fmt: skip
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be >= 1, got {getattr(self, name)}")

    def uses_hnsw(self, points: int) -> bool:
        """Whether a generation of ``points`` points gets a graph."""
        return self.ann == "hnsw" or (self.ann == "auto" and points >= self.exact_below)


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
    """What is being served: point count, dimension, the build's generation name, the
    indexed payload fields and the model version of the export it was built from (``""`` for
    a generation built before versions were recorded)."""

    points: int
    dim: int
    generation: str
    fields: dict[str, FieldKind]
    model_version: str = ""


def check_model_version(info: IndexInfo, expected: str, where: str) -> None:
    """IndexUnavailableError when ``info``'s generation was built from another model than
    ``expected`` (both known): its item vectors do not belong to the served models."""
    if expected and info.model_version and info.model_version != expected:
        raise IndexUnavailableError(
            f"{where}: generation {info.generation} was built from model {info.model_version}, "
            f"the service serves model {expected}"
        )


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
        self,
        items: Iterable[IndexedItem],
        dim: int,
        fields: Mapping[str, FieldKind],
        model_version: str = "",
    ) -> str:
        """Writes every item into a fresh generation with a payload index per field, then makes
        it the served one in one atomic step; returns the generation name. A failed build leaves
        the previous generation served and removes its own partial files. ``model_version``
        (the export's) is recorded with the generation."""
        ...
