"""Full-ranking leave-one-out evaluation of a backbone: every item is a candidate."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from dpr_plugin.data.padding import left_pad
from dpr_plugin.data.split import LeaveOneOutSplit
from dpr_plugin.evaluation.metrics import summarize, target_ranks
from dpr_plugin.models.backbone import SequentialBackbone


@torch.no_grad()
def user_vectors(
    model: SequentialBackbone, histories: list[np.ndarray], batch_size: int = 512
) -> torch.Tensor:
    """User vectors ``[U, D]`` for the given histories (last ``max_len`` items each)."""
    model.eval()
    device = model.item_embedding.weight.device
    out = []
    for start in range(0, len(histories), batch_size):
        batch = left_pad(histories[start : start + batch_size], model.config.max_len)
        out.append(model.user_vector(torch.from_numpy(batch).to(device)).float())
    return torch.cat(out)


@torch.no_grad()
def scored_batches(
    model: SequentialBackbone, split: LeaveOneOutSplit, stage: str, batch_size: int = 512
) -> Iterator[tuple[int, np.ndarray, list[np.ndarray]]]:
    """Every user's full-catalogue scores for ``stage``, in user order, a batch at a time:
    ``(first user index, scores [B, N] (column j = item j + 1), the batch's histories)``."""
    histories = split.history(stage)
    users = user_vectors(model, histories, batch_size)  # [U, D]
    for start in range(0, len(users), batch_size):
        scores = model.score_all(users[start : start + batch_size]).float().cpu().numpy()
        yield start, scores, histories[start : start + batch_size]


@torch.no_grad()
def split_ranks(
    model: SequentialBackbone,
    split: LeaveOneOutSplit,
    stage: str,
    batch_size: int = 512,
    exclude_seen: bool = False,
) -> np.ndarray:
    """Each user's 1-based rank of their ``stage`` target under full ranking, in user order.

    By default history items stay in the ranking (docs/evaluation.md);
    ``exclude_seen`` removes them (a target the user saw before then counts as a miss),
    the variant many papers report.
    """
    targets = split.target(stage) - 1  # column index
    ranks = []
    for start, scores, histories in scored_batches(model, split, stage, batch_size):
        if exclude_seen:
            for row, history in enumerate(histories):
                scores[row, history - 1] = -np.inf
        ranks.append(target_ranks(scores, targets[start : start + len(scores)]))
    return np.concatenate(ranks)


def evaluate_split(
    model: SequentialBackbone,
    split: LeaveOneOutSplit,
    stage: str,
    ks: tuple[int, ...] = (10, 20),
    batch_size: int = 512,
    exclude_seen: bool = False,
) -> dict[str, float]:
    """NDCG@k and Recall@k of every user's ``stage`` target (``split_ranks``'s protocol)."""
    return summarize(split_ranks(model, split, stage, batch_size, exclude_seen), ks)


@torch.no_grad()
def history_in_top(
    model: SequentialBackbone, split: LeaveOneOutSplit, stage: str, k: int = 10
) -> dict[str, float]:
    """How much of each user's top ``k`` (history kept) is items the user already has.

    Returns:
        ``history_share@k``: mean share of the top ``k`` that is in the history;
        ``last_item_first``: share of users whose most recent item is ranked first.
    """
    shares, first = [], []
    for _, scores, histories in scored_batches(model, split, stage):
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k] + 1  # item ids, unordered
        best = scores.argmax(axis=1) + 1
        for row, history in enumerate(histories):
            shares.append(np.isin(top[row], history).mean())
            first.append(len(history) > 0 and best[row] == history[-1])
    return {f"history_share@{k}": float(np.mean(shares)), "last_item_first": float(np.mean(first))}
