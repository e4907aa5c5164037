"""Metric values checked against hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dpr_plugin.evaluation.metrics import MISSING, ndcg_at_k, recall_at_k, summarize, target_ranks


def test_target_ranks_counts_strictly_higher_scores() -> None:
    scores = np.array([[0.1, 0.9, 0.5, 0.3], [4.0, 3.0, 2.0, 1.0]])
    assert list(target_ranks(scores, np.array([2, 3]))) == [2, 4]


def test_target_ranks_is_missing_when_target_filtered_out() -> None:
    scores = np.array([[0.1, -np.inf, 0.5]])
    assert target_ranks(scores, np.array([1]))[0] == MISSING


def test_ndcg_at_k_matches_hand_computation() -> None:
    ranks = np.array([1, 3, 11, MISSING])
    # (1/log2(2) + 1/log2(4) + 0 + 0) / 4 = (1 + 0.5) / 4
    assert ndcg_at_k(ranks, 10) == pytest.approx(0.375)
    assert ndcg_at_k(ranks, 20) == pytest.approx((1 + 0.5 + 1 / math.log2(12)) / 4)


def test_recall_at_k_matches_hand_computation() -> None:
    ranks = np.array([1, 3, 11, MISSING])
    assert recall_at_k(ranks, 10) == pytest.approx(0.5)
    assert recall_at_k(ranks, 20) == pytest.approx(0.75)


def test_metrics_are_zero_when_no_cases() -> None:
    empty = np.zeros(0, dtype=np.int64)
    assert summarize(empty) == {"ndcg@10": 0.0, "recall@10": 0.0, "ndcg@20": 0.0, "recall@20": 0.0}
