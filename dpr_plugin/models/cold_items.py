"""Vectors of cold items: items that arrived after the backbone was trained, known only by their
tags (issue #26, "items that arrive between retrains").

A backbone trained with ``tag_embeddings`` scores item ``i`` against the vector
``E[i] + mean(tag_table[t] for t in tags(i))`` (``SequentialBackbone.item_vectors``). A cold item
has no trained own row ``E[i]``; it gets an *own row* chosen here plus the mean of its tags'
learned vectors, and is then indexed beside the trained items (flagged ``cold``) until the next
retrain gives it a row of its own.

Own rows (``OWN_ROWS``):
    ``zero``: no own row, the vector is the tag mean alone.
    ``mean``: the mean of the trained items' own rows (the catalogue's common offset, e.g.
        the part every item shares in a popularity-aware table).
    ``same_tags``: the mean own row of the trained items carrying exactly the same tag set;
        ``mean`` when no trained item carries it.
    ``interaction_mean``: the mean own row of the trained items weighted by their
        interactions in the training data (``Catalogue.interactions``): the own row of the
        item a random interaction is with, i.e. a prior that the new item will be about as
        popular as the items users actually watch.

Measured on ML-1M (``benchmarks/cold_items.py``; ``cold_items/cold_items.json`` and
``cold_items_seed1.json`` under ``benchmarks/results/``: 10 % of the items held out of training,
two draws, SASRec, history removed from the ranking, cold items left out of the histories). Test
NDCG@10 on the users whose test item is cold (532 / 590 users): ``zero`` 0.0064 / 0.0031,
``interaction_mean`` 0.0064 / 0.0046, ``same_tags`` 0.0037 / 0.0069, ``mean`` 0.0006 / 0.0000;
the same items trained normally 0.1505 / 0.1316. No own row is reliably better on NDCG@10 (the
order flips between draws), but ``zero`` and ``interaction_mean`` place cold test items far
higher (median rank 474 / 544 and 459 / 508 of 3,706, against 1,206 / 1,161 for ``same_tags``
and 1,200 / 1,276 for ``mean``). ``mean`` is worst because trained own rows carry popularity:
their plain mean points the way of the many rarely watched items (in the first draw's backbone,
cosine -0.83 with the mean own row of the 300 most watched items). ``DEFAULT_OWN_ROW`` is
``zero``: on NDCG@10 within the spread of the others (mean of the two draws 0.0048, against
0.0053 ``same_tags`` and 0.0055 ``interaction_mean``), among the best on rank, and it needs only
the tag table (no own rows or interaction counts).

Caveats measured there: tag-only vectors recover under 5 % of what the trained vectors give
(NDCG@10 contribution 0.0006 of 0.0133), and indexing them costs the warm items more than that
(overall NDCG@10 0.1352 against 0.1400 with the cold items not indexed). Under tag steering a
cold item is a pure tag direction: with ``zero``, cold items fill 56 % of the "more Sci-Fi" top
10 (the same items trained normally: 11 %); cap cold items per response. Read a cold item in a
history through its vector and the warm test items' NDCG@10 falls to 0.1360 from 0.1476 with it
left out: leave cold items out of histories (the exported backbone does not know their ids
anyway).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dpr_plugin.errors import ConfigError
from dpr_plugin.models.backbone import SequentialBackbone

OWN_ROWS = ("zero", "mean", "same_tags", "interaction_mean")
DEFAULT_OWN_ROW = "zero"
"""The own row ``cold_item_vectors`` uses unless told otherwise (see the module docstring)."""


def tag_order(item_tags: Sequence[Sequence[str]]) -> list[str]:
    """The dataset tag order (sorted names, ``SequenceDataset.tag_names``) recovered from a
    catalogue's per-item tags, e.g. the ``tags`` of a checkpoint's ``items.json``: the rows of
    the backbone's tag table are in this order."""
    return sorted({t for tags in item_tags for t in tags})


@dataclass(frozen=True)
class ColdItemTables:
    """What a cold item's vector is built from, read off a trained backbone.

    Attributes:
        tag_table: ``[T, D]`` float32, the learned vector of each tag.
        tag_names: Name of each row of ``tag_table`` (dataset tag order).
        own_rows: ``[N, D]`` float32, the trained items' own rows (internal id ``i`` at
            ``i - 1``; the padding row is not included).
        item_tags: Tags of each trained item, aligned with ``own_rows``.
        interactions: Each trained item's interactions in the training data, aligned with
            ``own_rows``; empty when unknown (older checkpoints).
    """

    tag_table: np.ndarray
    tag_names: list[str]
    own_rows: np.ndarray
    item_tags: list[tuple[str, ...]]
    interactions: np.ndarray

    @classmethod
    def of(
        cls,
        model: SequentialBackbone,
        item_tags: Sequence[Sequence[str]],
        interactions: Sequence[int] = (),
    ) -> ColdItemTables:
        """The tables of a trained backbone and its catalogue (``load_backbone``'s model,
        ``Catalogue.tags`` and ``Catalogue.interactions``).

        Raises:
            ConfigError: the backbone has no tag embeddings, or the catalogue's tags or
                interaction counts do not match it.
        """
        if model.tag_table is None:
            raise ConfigError(
                "tag_embeddings: the backbone was trained without tag embeddings; a cold item "
                "needs a tag table (train with --tag-embeddings true)"
            )
        if len(item_tags) != model.config.num_items:
            raise ConfigError(
                f"item_tags: the catalogue lists {len(item_tags)} items, the backbone has "
                f"{model.config.num_items}"
            )
        names = tag_order(item_tags)
        if len(names) != model.config.num_tags:
            raise ConfigError(
                f"item_tags: the catalogue names {len(names)} tags, the backbone's tag table "
                f"has {model.config.num_tags} rows"
            )
        if len(interactions) not in (0, len(item_tags)):
            raise ConfigError(
                f"interactions: {len(interactions)} counts for {len(item_tags)} items"
            )
        return cls(
            tag_table=model.tag_table.detach().cpu().float().numpy().copy(),
            tag_names=names,
            own_rows=model.item_embedding.weight[1:].detach().cpu().float().numpy().copy(),
            item_tags=[tuple(t) for t in item_tags],
            interactions=np.asarray(interactions, dtype=np.float64),
        )

    @property
    def dim(self) -> int:
        """D, the width of the item vectors."""
        return int(self.tag_table.shape[1])

    def tag_mean(self, tags: Sequence[str], item: str = "") -> np.ndarray:
        """``[D]`` the mean learned vector of ``tags`` (each distinct tag counted once, as the
        backbone's tag shares do).

        Raises:
            ConfigError: ``tags`` is empty or names a tag the table lacks (the message names
                ``item`` and the tag).
        """
        who = f"cold item {item!r}" if item else "cold item"
        distinct = list(dict.fromkeys(tags))
        if not distinct:
            raise ConfigError(f"{who}: has no tags; a cold item is placed by its tags alone")
        index = {name: row for row, name in enumerate(self.tag_names)}
        unknown = [t for t in distinct if t not in index]
        if unknown:
            raise ConfigError(
                f"{who}: unknown tag(s) {', '.join(repr(t) for t in unknown)}; the backbone "
                f"knows {', '.join(self.tag_names)}"
            )
        return self.tag_table[[index[t] for t in distinct]].mean(axis=0)

    def own_row(self, kind: str, tags: Sequence[str] = ()) -> np.ndarray:
        """``[D]`` the own row a cold item with ``tags`` gets (``OWN_ROWS``)."""
        if kind == "zero":
            return np.zeros(self.dim, dtype=np.float32)
        if kind == "mean":
            return self.own_rows.mean(axis=0)
        if kind == "same_tags":
            wanted = frozenset(tags)
            same = [i for i, t in enumerate(self.item_tags) if frozenset(t) == wanted]
            return self.own_rows[same].mean(axis=0) if same else self.own_rows.mean(axis=0)
        if kind == "interaction_mean":
            if len(self.interactions) == 0 or self.interactions.sum() <= 0:
                raise ConfigError(
                    "own_row: interaction_mean needs the catalogue's interaction counts "
                    "(items.json 'interactions', written by newer checkpoints)"
                )
            weights = self.interactions / self.interactions.sum()
            return (weights @ self.own_rows.astype(np.float64)).astype(np.float32)
        raise ConfigError(f"own_row: expected one of {', '.join(OWN_ROWS)}, got {kind!r}")


def cold_item_vector(
    tables: ColdItemTables, tags: Sequence[str], own_row: str = DEFAULT_OWN_ROW, item: str = ""
) -> np.ndarray:
    """``[D]`` float32 vector of one cold item: its own row (``own_row``) plus the mean of its
    tags' learned vectors, the formula of ``SequentialBackbone.item_vectors``.

    Raises:
        ConfigError: no tags, an unknown tag (naming ``item`` and the tag) or an unknown
            ``own_row``.
    """
    part = tables.tag_mean(tags, item)
    return (tables.own_row(own_row, tags) + part).astype(np.float32)


def cold_item_vectors(
    tables: ColdItemTables,
    items: Sequence[Sequence[str]],
    own_row: str = DEFAULT_OWN_ROW,
    item_ids: Sequence[str] | None = None,
) -> np.ndarray:
    """``[n, D]`` float32 vectors of a batch of cold items given their tags.

    Args:
        tables: ``ColdItemTables.of`` a trained backbone.
        items: Each cold item's tags.
        own_row: One of ``OWN_ROWS``.
        item_ids: External ids of the items, for the error messages (default: their position).

    Raises:
        ConfigError: an item without tags or with a tag the backbone does not know (the
            message names the item and the tag), or an unknown ``own_row``.
    """
    if own_row not in OWN_ROWS:
        raise ConfigError(f"own_row: expected one of {', '.join(OWN_ROWS)}, got {own_row!r}")
    if item_ids is not None and len(item_ids) != len(items):
        raise ConfigError(f"item_ids: {len(item_ids)} ids for {len(items)} items")
    out = np.zeros((len(items), tables.dim), dtype=np.float32)
    for row, tags in enumerate(items):
        name = str(item_ids[row]) if item_ids is not None else f"#{row}"
        out[row] = cold_item_vector(tables, tags, own_row, name)
    return out
