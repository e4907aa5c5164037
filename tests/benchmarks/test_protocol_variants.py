from __future__ import annotations

import numpy as np
import pytest

from benchmarks.lib.protocol_variants import remove_seen, seen_mask, variant_report


def test_seen_mask_marks_each_case_history_columns() -> None:
    histories = [np.array([1, 3]), np.array([2]), np.array([], dtype=np.int64)]
    mask = seen_mask(histories, np.array([1, 0, 2]), num_items=4)
    assert mask.tolist() == [
        [False, True, False, False],
        [True, False, True, False],
        [False, False, False, False],
    ]


def test_seen_mask_names_the_history_with_an_item_outside_the_catalogue() -> None:
    with pytest.raises(ValueError, match=r"histories\[0\]: item ids must lie in 1..2"):
        seen_mask([np.array([3])], np.array([0]), num_items=2)


def test_remove_seen_removes_only_history_items_and_checks_shapes() -> None:
    scores = np.array([[1.0, 2.0, 3.0]])
    out = remove_seen(scores, np.array([[False, True, False]]))
    assert out.tolist() == [[1.0, -np.inf, 3.0]]
    with pytest.raises(ValueError, match="seen: shape"):
        remove_seen(scores, np.zeros((1, 2), dtype=bool))


def test_variant_report_by_hand() -> None:
    # 6 items, items 0-2 carry the tag; two positive cases.
    allowed = np.array([[True, True, True, False, False, False]] * 2)
    base = np.array(
        [
            [0.1, 0.2, 0.9, 0.8, 0.7, 0.6],  # target 0: last of the tag, 6th overall
            [0.85, 0.1, 0.2, 0.9, 0.8, 0.7],  # target 0: first of the tag, 2nd overall
        ]
    )
    steered = np.array(
        [
            [0.9, 0.1, 0.2, 0.3, 0.4, 0.5],  # target first
            [0.9, 0.1, 0.2, 0.3, 0.4, 0.5],
        ]
    )
    gold = np.array([0, 0])
    report = variant_report(base, steered, allowed, gold, depths=(3, 6))
    ndcg = report["ndcg@10"]
    assert report["cases"] == 2
    assert ndcg["dpr"] == 1.0 and ndcg["hybrid"] == 1.0
    # filter: ranks 3 and 1 -> (1/log2(4) + 1) / 2
    assert ndcg["filter"] == pytest.approx(round((0.5 + 1.0) / 2, 4))
    # depth 3 keeps items {2, 3, 4} / {3, 0, 4}: case 1 loses its target, case 2 ranks it 1st
    assert ndcg["postfilter@3"] == 0.5
    # depth 6 is the whole catalogue: the same as the filter
    assert ndcg["postfilter@6"] == ndcg["filter"]
    assert report["ratios"]["dpr/postfilter@3"] == 2.0
    assert report["ratios"]["dpr/filter"] == pytest.approx(round(1 / 0.75, 4))
    low, high = report["ratio_ci95"]["dpr/filter"]
    assert low <= report["ratios"]["dpr/filter"] <= high


def test_variant_report_ratio_is_none_when_the_baseline_never_scores() -> None:
    allowed = np.array([[True, False, False]])
    base = np.array([[0.0, 1.0, 2.0]])
    report = variant_report(base, base, allowed, np.array([1]), depths=(1,))
    assert report["ratios"]["dpr/filter"] is None
    assert report["ratio_ci95"]["dpr/filter"] is None


def test_variant_report_rejects_mismatched_shapes_and_no_depth() -> None:
    base = np.zeros((1, 3))
    with pytest.raises(ValueError, match="steered: shape"):
        variant_report(base, np.zeros((1, 2)), np.ones((1, 3), bool), np.array([0]))
    with pytest.raises(ValueError, match="depths"):
        variant_report(base, base, np.ones((1, 3), bool), np.array([0]), depths=())
