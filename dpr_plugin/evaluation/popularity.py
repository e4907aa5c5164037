"""The popularity baseline: rank every item by its number of training interactions."""

from __future__ import annotations

import numpy as np

from dpr_plugin.data.split import LeaveOneOutSplit
from dpr_plugin.evaluation.metrics import summarize, target_ranks


def popularity_scores(split: LeaveOneOutSplit) -> np.ndarray:
    """``[num_items]`` training-interaction counts (column j = item j + 1), ties broken by id."""
    counts = np.bincount(np.concatenate(split.train), minlength=split.dataset.num_items + 1)[1:]
    # A tiny id-based offset makes the ranking strict, as a real popularity list is.
    return counts.astype(np.float64) - np.arange(len(counts)) * 1e-9


def evaluate_popularity(
    split: LeaveOneOutSplit, stage: str, ks: tuple[int, ...] = (10, 20)
) -> dict[str, float]:
    """Metrics of the same popularity list for every user."""
    scores = popularity_scores(split)
    targets = split.target(stage) - 1
    ranks = target_ranks(np.broadcast_to(scores, (len(targets), len(scores))), targets)
    return summarize(ranks, ks)
