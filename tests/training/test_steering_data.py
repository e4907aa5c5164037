"""Stage-3 sample drawing: a dataset with no steering case."""

from __future__ import annotations

import numpy as np
import pytest

from dpr_plugin.errors import ConfigError
from dpr_plugin.models.backbone import BackboneConfig
from dpr_plugin.models.factory import build_backbone
from dpr_plugin.training.steering_data import build_samples


def test_no_steering_position_is_a_clear_error() -> None:
    """Every item carries the one tag: no "more X" shift and no "no X" to ask, so stage 3
    would stack an empty list; it names what is missing instead."""
    backbone = build_backbone(BackboneConfig(kind="gru4rec", num_items=4, hidden_dim=8, max_len=5))
    tag_matrix = np.array([[False], [True], [True], [True], [True]])  # row 0 = padding
    sequences = [np.array([1, 2, 3, 4, 1, 2]), np.array([4, 3, 2, 1])]
    with pytest.raises(ConfigError, match=r"sequences: no training position is a steering case"):
        build_samples(backbone, sequences, tag_matrix, max_samples=10)
