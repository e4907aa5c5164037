"""Filter baselines and adherence metrics on hand-made scores."""

from __future__ import annotations

import numpy as np
import pytest

from dpr_plugin.evaluation.metrics import MISSING, target_ranks
from dpr_plugin.evaluation.steering_metrics import (
    allowed_items,
    hard_filter,
    postfilter,
    task_report,
    top_k,
)

ITEM_TAGS = np.array([[1, 0], [0, 1], [1, 0], [0, 1], [1, 1]], dtype=bool)  # 5 items, 2 tags
SCORES = np.array([[5.0, 4.0, 3.0, 2.0, 1.0]])


def test_hard_filter_keeps_only_tagged_items_when_positive() -> None:
    allowed = allowed_items(ITEM_TAGS, np.array([1]), negative=False)
    filtered = hard_filter(SCORES, allowed)
    assert np.isneginf(filtered[0, [0, 2]]).all()
    assert target_ranks(filtered, np.array([3])).tolist() == [2]  # behind item 1 (score 4)


def test_postfilter_misses_target_outside_backbone_top_depth() -> None:
    allowed = allowed_items(ITEM_TAGS, np.array([1]), negative=False)
    cut = postfilter(SCORES, allowed, depth=2)  # top 2 = items 0, 1; only item 1 has tag 1
    assert target_ranks(cut, np.array([1])).tolist() == [1]
    assert target_ranks(cut, np.array([3]))[0] == MISSING


def test_allowed_items_removes_banned_tag_when_negative() -> None:
    allowed = allowed_items(ITEM_TAGS, np.array([0]), negative=True)
    assert allowed.tolist() == [[False, True, False, True, False]]


def test_top_k_pads_with_minus_one_when_fewer_items_survive() -> None:
    scores = np.array([[1.0, -np.inf, 3.0, -np.inf]])
    assert top_k(scores, 3).tolist() == [[2, 0, -1]]


def test_task_report_measures_tag_hit_and_violation() -> None:
    tags = np.array([0])
    positive = task_report(SCORES, np.array([0]), ITEM_TAGS, tags, negative=False, k=2)
    assert positive["ndcg@10"] == pytest.approx(1.0)
    assert positive["tag_hit@10"] == pytest.approx(0.5)  # top 2 = items 0 (tag 0), 1 (not)
    negative = task_report(SCORES, np.array([1]), ITEM_TAGS, tags, negative=True, k=2)
    assert negative["violation@10"] == pytest.approx(0.5)
