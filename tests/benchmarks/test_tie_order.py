"""Tests of timestamp-tie runs, putting ties in source order, and the order statistics."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.lib.tie_order import (
    order_predictability,
    reorder_ties,
    shuffled,
    tie_runs,
    tie_stats,
    tied_in_order,
)


def test_tie_runs_group_equal_stamps_and_pin_unknowns_only_between_equal_neighbours() -> None:
    stamps = [None, 5, 5, None, 5, 6, None, 7, 7, None]
    runs = tie_runs(stamps)
    # The leading None has no known neighbour before it; None between 5 and 5 joins them;
    # None between 6 and 7 and the trailing None stay alone.
    assert [list(r) for r in runs] == [[0], [1, 2, 3, 4], [5], [6], [7, 8], [9]]


def test_tie_runs_of_an_empty_sequence() -> None:
    assert tie_runs([]) == []


@given(st.lists(st.integers(0, 4), max_size=30), st.randoms(use_true_random=False))
def test_reorder_ties_equals_a_stable_sort_of_the_source(
    stamps: list[int], rng: random.Random
) -> None:
    # The source lists rows in some order; a stable timestamp sort keeps it inside ties.
    source = list(range(len(stamps)))
    rng.shuffle(source)
    rows = [(stamps[i], i) for i in range(len(stamps))]
    position = {row: source[i] for i, row in enumerate(rows)}
    stable = sorted(rows, key=lambda r: (r[0], position[r]))
    # Any chronological order with scrambled ties, as an unstable sort leaves it.
    scrambled = sorted(rows, key=lambda r: (r[0], rng.random()))
    got = reorder_ties(scrambled, [r[0] for r in scrambled], position.__getitem__)
    assert got == stable


def test_reorder_ties_leaves_rows_with_unknown_stamps_in_place() -> None:
    rows = ["a", "b", "c", "d"]
    position = {"a": 3, "b": 2, "c": 1, "d": 0}.__getitem__
    # "b" is pinned between two 9s and sorts with them; "d" after a 9 with nothing known
    # after it stays where it is.
    assert reorder_ties(rows, [9, None, 9, None], position) == ["c", "b", "a", "d"]


def test_reorder_ties_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="rows: 2 rows but 1 timestamps"):
        reorder_ties(["a", "b"], [1], lambda r: 0)


def test_tie_stats_counts_known_pairs_and_tied_last_interactions() -> None:
    stats = tie_stats([[1, 1, 2, None, 3, 3], [4, None], [7, 7]])
    # Pairs with both stamps known: (1,1) (1,2) (3,3) | - | (7,7); 3 of 4 tied.
    assert (stats.known_pairs, stats.tied_pairs) == (4, 3)
    # Last two known: sequences 1 and 3, both tied.
    assert (stats.known_last, stats.tied_last) == (2, 2)
    assert stats.to_dict() == {
        "known_pairs": 4,
        "tied_share": 0.75,
        "known_last": 2,
        "tied_last_share": 1.0,
    }


def test_tied_in_order_counts_only_pairs_with_one_known_stamp() -> None:
    sequences = [([1, 1, 1, 2], [0, 2, 1, 9]), ([None, None, 3, 3], [5, 4, 1, 2])]
    # Tied pairs: rows (0,2) ascending and (2,1) not in the first sequence, (1,2) ascending in
    # the second; pairs with an unknown stamp are not counted.
    assert tied_in_order(sequences) == pytest.approx(2 / 3)
    assert tied_in_order([([1, 2], [1, 0])]) == 1.0


def test_order_predictability_is_one_for_a_global_order_and_near_half_when_shuffled() -> None:
    rng = random.Random(1)
    catalogue = list(range(200))
    assert order_predictability([catalogue] * 5) == 1.0
    lists = [sorted(rng.sample(catalogue, 40)) for _ in range(300)]
    assert order_predictability(lists) > 0.95
    assert order_predictability(shuffled(lists)) == pytest.approx(0.5, abs=0.05)
    assert order_predictability([["only"]]) == 0.5
