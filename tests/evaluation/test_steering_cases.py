"""The steering case rules of docs/evaluation.md, checked on hand-made histories."""

from __future__ import annotations

import numpy as np
import pytest

from dpr_plugin.evaluation.steering_cases import (
    CaseRules,
    positive_case_items,
    positive_case_masks,
    positive_tag,
    select_cases,
    training_positions,
    window_shares,
)

# items 1..6 over tags [Action, Comedy, Drama]; row 0 is padding
TAGS = np.array(
    [
        [0, 0, 0],
        [1, 0, 0],  # 1 Action
        [0, 1, 0],  # 2 Comedy
        [0, 0, 1],  # 3 Drama
        [1, 1, 0],  # 4 Action+Comedy
        [0, 1, 1],  # 5 Comedy+Drama
        [0, 0, 0],  # 6 no tag
    ],
    dtype=bool,
)


def test_positive_case_names_targets_rarest_tag_when_share_low() -> None:
    history = np.array([1] * 19 + [4])  # Action 20/20, Comedy 1/20, Drama 0
    positives, _ = select_cases([history], np.array([5]), TAGS)  # target Comedy+Drama
    assert positives.rows.tolist() == [0]
    assert positives.tags.tolist() == [2]  # Drama (share 0) beats Comedy (0.05)


def test_positive_case_absent_when_share_above_threshold() -> None:
    history = np.array([1] * 8 + [2] * 2)  # Comedy share 0.2 > 0.1
    positives, _ = select_cases([history], np.array([2]), TAGS)
    assert len(positives) == 0


def test_positive_ties_break_by_tag_order() -> None:
    history = np.array([6] * 10)  # no tags at all: every share 0
    positives, _ = select_cases([history], np.array([4]), TAGS)  # Action+Comedy
    assert positives.tags.tolist() == [0]


def test_negative_case_names_most_frequent_tag_target_lacks() -> None:
    history = np.array([3] * 6 + [2] * 4)  # Drama 0.6, Comedy 0.4
    _, negatives = select_cases([history], np.array([1]), TAGS)  # target Action only
    assert negatives.tags.tolist() == [2]
    _, none = select_cases([history], np.array([3]), TAGS)  # target Drama: Comedy 0.4 >= 0.3
    assert none.tags.tolist() == [1]


def test_negative_case_absent_when_share_below_threshold() -> None:
    history = np.array([3] * 2 + [1] * 8)  # target has Action; Drama 0.2 < 0.3
    _, negatives = select_cases([history], np.array([1]), TAGS)
    assert len(negatives) == 0


def test_window_counts_only_recent_items() -> None:
    history = np.array([3] * 100 + [1] * 50)  # Drama only outside the last 50
    positives, _ = select_cases([history], np.array([3]), TAGS, CaseRules(window=50))
    assert positives.tags.tolist() == [2]


def test_training_positions_apply_same_rules_to_earlier_positions() -> None:
    seq = np.array([1, 1, 1, 1, 1, 3, 1])
    found = training_positions([seq], TAGS, min_history=5)
    assert (0, 5, 2, False) in found  # Drama after five Action items: positive "more Drama"
    assert (0, 5, 0, True) in found  # and Action (share 1.0) is what the Drama target lacks


def test_positive_case_items_keep_items_whose_rarest_tag_is_the_prompt() -> None:
    history = np.array([1] * 19 + [4])  # Action 1.0, Comedy 0.05, Drama 0
    shares = window_shares(history, TAGS)
    # Comedy: item 2 (Comedy) and 4 (Action+Comedy) qualify; 5 (Comedy+Drama) would be a
    # "more Drama" case, Drama being rarer
    assert np.flatnonzero(positive_case_items(shares, 1, TAGS[1:])).tolist() == [1, 3]
    assert np.flatnonzero(positive_case_items(shares, 2, TAGS[1:])).tolist() == [2, 4]
    masks = positive_case_masks([history, np.array([3, 3, 2])], np.array([1, 0]), TAGS)
    assert masks.shape == (2, 6)
    assert np.flatnonzero(masks[0]).tolist() == [1, 3]
    assert np.flatnonzero(masks[1]).tolist() == [0, 3]  # Action 0: items 1 and 4


def test_positive_case_masks_reject_an_empty_history() -> None:
    with pytest.raises(ValueError, match=r"histories\[1\]"):
        positive_case_masks([np.array([1]), np.array([], np.int64)], np.array([0, 0]), TAGS)


def test_positive_case_items_agree_with_positive_tag() -> None:
    rng = np.random.default_rng(0)
    item_tags = rng.random((40, 5)) < 0.35
    tag_matrix = np.vstack([np.zeros((1, 5), bool), item_tags])
    rules = CaseRules(positive_max_share=1.0)  # every pair is a case: compare tag choice only
    for _ in range(20):
        shares = window_shares(rng.integers(1, 41, size=8), tag_matrix)
        for tag in range(5):
            expected = [positive_tag(shares, row, rules) == tag for row in item_tags]
            assert positive_case_items(shares, tag, item_tags).tolist() == expected
