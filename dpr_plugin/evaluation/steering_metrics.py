"""Scoring a steering task: target ranks plus tag adherence, for DPR and the filter baselines.

All functions take full score matrices ``[B, N]`` (column j = item j + 1) and each case's tag
column; ``-inf`` marks an item a method removed, and a removed target counts as a miss.
  * ``postfilter``: the backbone's own top ``depth`` items, then the tag rule (what a filter
    or re-ranker after the recall stage sees);
  * ``hard_filter``: the tag rule over the whole catalogue (a Qdrant payload filter).
"""

from __future__ import annotations

import numpy as np

from dpr_plugin.evaluation.metrics import ndcg_gains, summarize, target_ranks

POSTFILTER_DEPTH = 100
STEERED_OVER_BASELINES = (
    ("dpr", "postfilter"),
    ("dpr", "filter"),
    ("hybrid", "postfilter"),
    ("hybrid", "filter"),
)
"""The (steered, baseline) method pairs whose NDCG@10 ratio a report gives an interval for."""


def allowed_items(item_tags: np.ndarray, tags: np.ndarray, negative: bool) -> np.ndarray:
    """``[B, N]`` bool: items that satisfy each case's rule (have the tag / lack it).

    Args:
        item_tags: ``[N, T]`` bool tags of the real items (tag matrix without its padding row).
        tags: ``[B]`` tag column of each case.
        negative: True for "no X" cases.
    """
    has = item_tags[:, tags].T  # [B, N]
    return ~has if negative else has


def hard_filter(scores: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Scores with every item that breaks the rule removed."""
    return np.where(allowed, scores, -np.inf)


def postfilter(
    scores: np.ndarray, allowed: np.ndarray, depth: int = POSTFILTER_DEPTH
) -> np.ndarray:
    """Scores of the backbone's top ``depth`` items that keep the rule; the rest removed."""
    depth = min(depth, scores.shape[1])
    top = np.argpartition(-scores, depth - 1, axis=1)[:, :depth]  # [B, depth]
    in_top = np.zeros_like(allowed)
    np.put_along_axis(in_top, top, True, axis=1)
    return np.where(in_top & allowed, scores, -np.inf)


def top_k(scores: np.ndarray, k: int = 10) -> np.ndarray:
    """``[B, k]`` column indices of the k best finite scores, best first (-1 pads short lists)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1)
    best = np.take_along_axis(part, order, axis=1)
    finite = np.isfinite(np.take_along_axis(scores, best, axis=1))
    return np.where(finite, best, -1)


def ndcg_per_case(scores: np.ndarray, targets: np.ndarray, k: int = 10) -> np.ndarray:
    """``[B]`` NDCG@k of each case's target under a method's scores (``-inf`` = removed)."""
    return ndcg_gains(target_ranks(scores, targets), k)


def task_report(
    scores: np.ndarray,
    targets: np.ndarray,
    item_tags: np.ndarray,
    tags: np.ndarray,
    negative: bool,
    k: int = 10,
) -> dict[str, float]:
    """NDCG/Recall @10/@20 on the targets plus ``tag_hit@k`` (positive: share of the top k
    carrying the tag) or ``violation@k`` (negative: share carrying the banned tag).

    Args:
        scores: ``[B, N]`` a method's scores (``-inf`` = removed).
        targets: ``[B]`` target column indices.
        item_tags: ``[N, T]`` tags of the real items.
        tags: ``[B]`` tag column named by each case's prompt.
        negative: Polarity of the cases.
    """
    report = summarize(target_ranks(scores, targets))
    best = top_k(scores, k)  # [B, k]
    carries = item_tags[np.maximum(best, 0), tags[:, None]] & (best >= 0)  # [B, k]
    shown = np.maximum((best >= 0).sum(axis=1), 1)
    share = float((carries.sum(axis=1) / shown).mean()) if len(best) else 0.0
    report["violation@10" if negative else "tag_hit@10"] = share
    return report
