"""What the service needs from an exported model repository besides the models themselves.

The tokenizer (prompts are tokenized in the service; Triton never sees strings), the tag
vocabulary of the steering head, the item id map (platform ids ↔ the model's internal ids),
the default steering strengths and a model version string. The ONNX files may live on a
remote Triton; these few files are read from the same export on the service's side.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from dpr_plugin.contract import PROMPT_BUCKETS, PROMPT_TOKENS
from dpr_plugin.data.item_fields import COLD_FIELD, FieldKind, ItemField
from dpr_plugin.default_strength import DefaultStrength
from dpr_plugin.errors import ConfigError
from dpr_plugin.intent.amounts import AmountReader, field_words
from dpr_plugin.intent.reader import IntentReader
from dpr_plugin.intent.titles import TitleIndex
from dpr_plugin.intent.vocabulary import (
    Vocabulary,
    default_terms,
    load_vocabulary_json,
)
from dpr_plugin.intent.zero_shot import ZeroShotTable
from dpr_plugin.manifest import (
    Manifest,
    item_meta_path,
    item_table_path,
    read_json_object,
    tokenizer_path,
    vocabulary_embeddings_path,
    vocabulary_path,
)
from dpr_plugin.serving.index.catalogue import export_fields
from dpr_plugin.serving.lru import LruCache
from dpr_plugin.tokenizer import PromptTokenizer

DERIVED_ENTRIES = 4096
"""Results of ``ModelBundle.derived`` kept (10 item ids, or one D-vector, each)."""
T = TypeVar("T")

EXPERT_NAMES = ("positive_1", "positive_2", "negative_1", "negative_2")
"""Names of the steering head's experts, in the order of EXPERT_WEIGHTS."""


@dataclass(frozen=True)
class ModelBundle:
    """Tokenizer, tags, item ids and version of one export.

    Attributes:
        tokenizer: The prompt tokenizer (padded to the PROMPT_BUCKETS width that fits).
        tags: Tag names in the order of the steering head's TAG_SCORES.
        item_ids: Platform item ids; position ``i - 1`` is internal id ``i``.
        internal_ids: The inverse map.
        model_version: Short digest of the exported models' sources (and of the default
            strengths, when the export has them).
        default_strength: The strength of a request that names none (``manifest.json``'s
            ``default_strength``; 1 everywhere for an export without it).
        reader: Reads prompts into clauses (the export's vocabulary, titles and years).
        item_vectors: The item table, float [N, D] (row ``i - 1`` is internal id ``i``),
            memory-mapped: item references steer along it.
        item_years: Each item's ``year`` field (NaN where it has none), for soft eras;
            ``None`` when the catalogue declares no numeric ``year``.
        fields: The catalogue's declared fields and their kinds (``items.json``).
        model_items: How many items (internal ids 1..model_items) the backbone was trained
            on; the rest are cold items (``export --cold-items``): indexed and returned, but
            not read in a history.
    """

    tokenizer: PromptTokenizer
    tags: tuple[str, ...]
    item_ids: tuple[str, ...]
    internal_ids: dict[str, int]
    model_version: str
    default_strength: DefaultStrength = field(default_factory=DefaultStrength)
    reader: IntentReader | None = None
    item_vectors: np.ndarray | None = None
    item_years: np.ndarray | None = None
    fields: dict[str, FieldKind] = field(default_factory=dict)
    model_items: int = 0
    _derived: LruCache[Hashable, tuple[Any]] = field(
        default_factory=lambda: LruCache(DERIVED_ENTRIES), compare=False, repr=False
    )

    def __post_init__(self) -> None:
        if not self.model_items:  # built without it: every item is the model's
            object.__setattr__(self, "model_items", len(self.item_ids))

    @property
    def intent_reader(self) -> IntentReader:
        """The reader; for a bundle built without one, a reader of the tags' own names."""
        if self.reader is None:
            vocabulary = Vocabulary("tag-names", tuple(default_terms(t) for t in self.tags))
            object.__setattr__(self, "reader", IntentReader(vocabulary))
        assert self.reader is not None
        return self.reader

    def surface(self, tag: str) -> str:
        """How ``tag`` reads in the canonical prompt given to the steering head."""
        terms = self.intent_reader.vocabulary.by_tag
        return terms[tag].surface if tag in terms else default_terms(tag).surface

    def derived(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, kept under ``key`` (the last DERIVED_ENTRIES): work over the item
        table that depends on the export alone (an item's nearest items, an era's centroid),
        done once rather than on every request that needs it."""
        hit = self._derived.get(key)
        if hit is None:
            hit = (compute(),)
            self._derived.put(key, hit)
        return hit[0]

    @classmethod
    def load(cls, repository: Path) -> ModelBundle:
        """Reads ``manifest.json``, the item table's ids and the tokenizer of an export."""
        manifest = Manifest.load(repository)
        meta = item_meta_path(repository)
        body = read_json_object(meta)
        item_ids = body.get("item_ids")
        if not isinstance(item_ids, list) or not item_ids:
            raise ConfigError(f"repository: {meta} has no item_ids")
        ids = tuple(str(i) for i in item_ids)
        titles = body.get("titles")
        titles = [str(t) for t in titles] if isinstance(titles, list) else []
        counts = body.get("interactions")
        popularity = (
            np.asarray(counts, np.float64)
            if isinstance(counts, list) and len(counts) == len(ids)
            else None
        )
        vectors = _item_vectors(repository, len(ids))
        declared = export_fields(body, len(ids), meta)
        years = _years(declared.get("year"))
        return cls(
            tokenizer=PromptTokenizer(tokenizer_path(repository), PROMPT_TOKENS, PROMPT_BUCKETS),
            tags=manifest.tags,
            item_ids=ids,
            internal_ids={item: i + 1 for i, item in enumerate(ids)},
            model_version=manifest.model_version,
            default_strength=manifest.default_strength,
            reader=_reader(
                repository,
                manifest.tags,
                (titles, ids),
                vectors,
                popularity,
                years,
                tuple(n for n, f in declared.items() if f.kind in ("integer", "float")),
            ),
            item_vectors=vectors,
            item_years=years,
            fields={name: f.kind for name, f in declared.items()},
            model_items=_trained_rows(declared.get(COLD_FIELD), len(ids)),
        )


def _trained_rows(cold: ItemField | None, rows: int) -> int:
    """Rows before the first cold one (an export appends cold items after the trained)."""
    if cold is None:
        return rows
    return next((i for i, flag in enumerate(cold.values) if flag), rows)


def _years(year: ItemField | None) -> np.ndarray | None:
    """The ``year`` field as floats (NaN where missing), when it is numeric."""
    if year is None or year.kind not in ("integer", "float"):
        return None
    return np.array([np.nan if y is None else y for y in year.values], np.float64)


def _item_vectors(repository: Path, rows: int) -> np.ndarray | None:
    path = item_table_path(repository)
    if not path.is_file():
        return None
    table = np.load(path, mmap_mode="r")
    if table.ndim != 2 or table.shape[0] != rows:
        raise ConfigError(f"repository: {path} has shape {list(table.shape)}, expected {rows} rows")
    return table


def _reader(
    repository: Path,
    tags: tuple[str, ...],
    catalogue: tuple[list[str], tuple[str, ...]],
    vectors: np.ndarray | None,
    popularity: np.ndarray | None,
    years: np.ndarray | None,
    numeric_fields: tuple[str, ...],
) -> IntentReader:
    """The export's vocabulary (tags' own names when it has none), zero-shot table, titles
    (a name matching several goes to the most interacted-with one; for an export without the
    counts, to the largest item vector), newest year and the numeric fields amounts are read
    over (``year`` is read as eras)."""
    titles, ids = catalogue
    vocabulary = Vocabulary("tag-names", tuple(default_terms(t) for t in tags))
    zero_shot = None
    if vocabulary_path(repository).is_file():
        vocabulary = load_vocabulary_json(vocabulary_path(repository))
        if vocabulary.tags != tags:
            raise ConfigError(
                f"repository: {vocabulary_path(repository)} describes tags {list(vocabulary.tags)}"
                f", the export has {list(tags)}"
            )
        table = np.load(vocabulary_embeddings_path(repository))
        zero_shot = ZeroShotTable([tag for tag, _ in vocabulary.zero_shot_rows()], table)
    prior = popularity
    if prior is None and vectors is not None:
        prior = np.linalg.norm(np.asarray(vectors), axis=1)
    newest = None
    if years is not None and not np.isnan(years).all():
        newest = int(np.nanmax(years))
    amount_fields = tuple(name for name in numeric_fields if name != "year")
    return IntentReader(
        vocabulary,
        TitleIndex(titles, prior, ids) if titles else None,
        newest,
        zero_shot,
        amounts=AmountReader(field_words(amount_fields)) if amount_fields else None,
    )
