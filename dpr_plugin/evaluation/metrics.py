"""Ranking metrics for one held-out target per case (leave-one-out).

A target's rank is 1 + the number of items scored strictly higher; a target that a filter
removed has rank ``MISSING`` and counts as a miss at every cut-off.
"""

from __future__ import annotations

import numpy as np

MISSING = np.iinfo(np.int64).max
"""Rank given to a target that is not in the ranked list at all (e.g. removed by a filter)."""


def target_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1-based rank of each target among its row's scores.

    Args:
        scores: ``[B, N]`` scores; ``-inf`` marks an item that is excluded from the ranking.
        targets: ``[B]`` column index of each case's target.

    Returns:
        ``[B]`` int64 ranks; ``MISSING`` where the target's score is ``-inf``.
    """
    target_scores = scores[np.arange(len(targets)), targets]  # [B]
    ranks = (scores > target_scores[:, None]).sum(axis=1).astype(np.int64) + 1
    ranks[np.isneginf(target_scores)] = MISSING
    return ranks


def ndcg_gains(ranks: np.ndarray, k: int) -> np.ndarray:
    """``[B]`` NDCG@k of each case with one relevant item: 1 / log2(rank + 1) when
    rank <= k, else 0."""
    hit = ranks <= k
    gains = np.zeros(len(ranks), dtype=np.float64)
    gains[hit] = 1.0 / np.log2(ranks[hit].astype(np.float64) + 1.0)
    return gains


def ndcg_at_k(ranks: np.ndarray, k: int) -> float:
    """Mean NDCG@k over the cases (``ndcg_gains``); 0 for no case."""
    if len(ranks) == 0:
        return 0.0
    return float(ndcg_gains(ranks, k).mean())


def recall_at_k(ranks: np.ndarray, k: int) -> float:
    """Mean Recall@k (= hit rate@k with one relevant item)."""
    if len(ranks) == 0:
        return 0.0
    return float((ranks <= k).mean())


def summarize(ranks: np.ndarray, ks: tuple[int, ...] = (10, 20)) -> dict[str, float]:
    """``{"ndcg@k": ..., "recall@k": ...}`` for every k."""
    out: dict[str, float] = {}
    for k in ks:
        out[f"ndcg@{k}"] = ndcg_at_k(ranks, k)
        out[f"recall@{k}"] = recall_at_k(ranks, k)
    return out
