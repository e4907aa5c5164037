"""Stage-3 sample drawing: how evenly the tags come out, and a dataset with no case."""

from __future__ import annotations

import numpy as np
import pytest

from dpr_plugin.errors import ConfigError
from dpr_plugin.models.backbone import BackboneConfig, build_backbone
from dpr_plugin.training.steering_data import _weighted_sample, build_samples

# 900 positions name tag 0 (a common genre), 100 name tag 1.
SKEWED = np.array([0] * 900 + [1] * 100)


def _share_of_rare_tag(balance: float, seed: int) -> float:
    # a small draw, so that drawing without replacement hardly depletes the rare tag
    picked = _weighted_sample(SKEWED, 20, balance, np.random.default_rng(seed))
    assert len(np.unique(picked)) == 20  # without replacement
    return float((SKEWED[picked] == 1).mean())


def test_no_balance_draws_tags_as_often_as_they_occur() -> None:
    shares = [_share_of_rare_tag(0.0, seed) for seed in range(100)]
    assert np.mean(shares) == pytest.approx(0.1, abs=0.02)


def test_full_balance_draws_every_tag_equally_often() -> None:
    shares = [_share_of_rare_tag(1.0, seed) for seed in range(100)]
    assert np.mean(shares) == pytest.approx(0.5, abs=0.04)


def test_half_balance_lies_between() -> None:
    # per position 900**-0.5 : 100**-0.5 = 1 : 3, so tag 1 carries 300 / (900 + 300) = 0.25
    shares = [_share_of_rare_tag(0.5, seed) for seed in range(100)]
    assert np.mean(shares) == pytest.approx(0.25, abs=0.04)


def test_taking_everything_returns_every_index_once() -> None:
    picked = _weighted_sample(SKEWED, len(SKEWED), 1.0, np.random.default_rng(0))
    assert sorted(picked.tolist()) == list(range(len(SKEWED)))


def test_no_steering_position_is_a_clear_error() -> None:
    """Every item carries the one tag: no "more X" shift and no "no X" to ask, so stage 3
    would stack an empty list; it names what is missing instead."""
    backbone = build_backbone(BackboneConfig(kind="gru4rec", num_items=4, hidden_dim=8, max_len=5))
    tag_matrix = np.array([[False], [True], [True], [True], [True]])  # row 0 = padding
    sequences = [np.array([1, 2, 3, 4, 1, 2]), np.array([4, 3, 2, 1])]
    with pytest.raises(ConfigError, match=r"sequences: no training position is a steering case"):
        build_samples(backbone, sequences, tag_matrix, max_samples=10)
