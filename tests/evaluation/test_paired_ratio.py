"""The paired bootstrap interval of a ratio of two methods' means on the same cases."""

from __future__ import annotations

import numpy as np
import pytest

from dpr_plugin.evaluation.paired_ratio import ratio_interval, ratio_intervals


def _ndcg_like(cases: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two correlated per-case figures in [0, 1] with many zeros, like NDCG@10 gains; the
    second is the first with a fifth of its cases improved."""
    rng = np.random.default_rng(seed)
    base = np.where(rng.random(cases) < 0.5, 0.0, rng.random(cases))
    better = np.where(rng.random(cases) < 0.2, np.minimum(base + 0.5, 1.0), base)
    return better, base


def test_a_constant_ratio_has_a_point_interval() -> None:
    _, base = _ndcg_like(500, seed=0)
    assert ratio_interval(2.0 * base, base) == pytest.approx((2.0, 2.0))
    assert ratio_interval(base, base) == (1.0, 1.0)


def test_interval_holds_the_ratio_and_narrows_with_more_cases() -> None:
    widths = []
    for cases in (400, 6400):
        top, bottom = _ndcg_like(cases, seed=1)
        low, high = ratio_interval(top, bottom)
        assert low < top.mean() / bottom.mean() < high
        widths.append(high - low)
    # 16 times the cases: about a quarter of the width (1 / sqrt(16))
    assert 0.15 < widths[1] / widths[0] < 0.4


def test_interval_is_paired_so_a_shared_case_effect_cancels() -> None:
    """Adding the same large per-case noise to both methods widens an unpaired interval a lot;
    resampling cases (not the two means apart) keeps the ratio's interval tight."""
    rng = np.random.default_rng(2)
    shared = rng.random(2000)
    top = 1.05 * shared + 0.01 * rng.random(2000)
    low, high = ratio_interval(top, shared)
    assert 1.05 < low < high < 1.07
    # the two means resampled apart (what an unpaired interval does)
    apart = [
        top[rng.integers(0, 2000, 2000)].mean() / shared[rng.integers(0, 2000, 2000)].mean()
        for _ in range(500)
    ]
    unpaired_low, unpaired_high = np.quantile(apart, [0.025, 0.975])
    assert unpaired_high - unpaired_low > 10 * (high - low)


def test_same_seed_same_interval_and_reverse_is_reciprocal() -> None:
    top, bottom = _ndcg_like(1000, seed=3)
    assert ratio_interval(top, bottom) == ratio_interval(top, bottom)
    low, high = ratio_interval(top, bottom)
    back_low, back_high = ratio_interval(bottom, top)
    assert back_low == pytest.approx(1.0 / high, rel=2e-3)
    assert back_high == pytest.approx(1.0 / low, rel=2e-3)


def test_no_case_or_a_zero_denominator_gives_no_interval() -> None:
    empty = np.zeros(0)
    assert all(np.isnan(ratio_interval(empty, empty)))
    assert all(np.isnan(ratio_interval(np.ones(5), np.zeros(5))))
    out = ratio_intervals({"dpr": np.ones(5), "filter": np.zeros(5)}, (("dpr", "filter"),))
    assert out == {"dpr/filter": None}  # JSON null, not NaN


def test_bad_arguments_name_the_field() -> None:
    with pytest.raises(ValueError, match=r"^numerator, denominator: "):
        ratio_interval(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match=r"^level: "):
        ratio_interval(np.ones(3), np.ones(3), level=1.0)
    with pytest.raises(ValueError, match=r"^resamples: "):
        ratio_interval(np.ones(3), np.ones(3), resamples=0)
    with pytest.raises(ValueError, match=r"^pairs: 'filter' is not a method"):
        ratio_intervals({"dpr": np.ones(3)}, (("dpr", "filter"),))


def test_intervals_are_keyed_by_pair_and_rounded() -> None:
    top, bottom = _ndcg_like(300, seed=4)
    out = ratio_intervals({"dpr": top, "filter": bottom}, (("dpr", "filter"),), digits=3)
    assert list(out) == ["dpr/filter"]
    assert out["dpr/filter"] == [round(v, 3) for v in ratio_interval(top, bottom)]
