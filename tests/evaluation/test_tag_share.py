"""Tag share of every user's top K, before and after a prompt."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dpr_plugin.evaluation.tag_share import tag_share_at_k
from dpr_plugin.models.prompt_features import PromptFeatures
from dpr_plugin.models.steering_head import SteeringConfig, SteeringHead

TAGS = ["A", "B", "C"]


def _prompts() -> dict[tuple[int, bool], PromptFeatures]:
    rng = torch.Generator().manual_seed(0)
    return {
        (col, negative): PromptFeatures(
            torch.nn.functional.normalize(torch.randn(2, 384, generator=rng), dim=-1),
            torch.randn(2, 5, 384, generator=rng),
            torch.ones(2, 5, dtype=torch.long),
        )
        for col in range(len(TAGS))
        for negative in (False, True)
    }


def test_an_untrained_head_leaves_every_share_where_it_was() -> None:
    torch.manual_seed(0)
    users, table = torch.randn(40, 16), torch.randn(30, 16)
    item_tags = (np.arange(30)[:, None] % 3 == np.arange(3)[None, :]).astype(np.float32)
    head = SteeringHead(SteeringConfig(hidden_dim=16, num_tags=3))  # experts start at zero
    out = tag_share_at_k(head, users, table, item_tags, TAGS, _prompts(), k=5)
    top = (users @ table.T).topk(5, dim=1).indices.numpy()
    for col, name in enumerate(TAGS):
        row = out["per_tag"][name]
        assert row["catalogue"] == pytest.approx(1 / 3, abs=1e-4)
        assert row["unsteered"] == pytest.approx(float(item_tags[top, col].mean()), abs=1e-4)
        assert row["more"] == row["unsteered"] == row["no"]
    assert out["users"] == 40 and out["k"] == 5
    assert out["mean"]["catalogue"] == pytest.approx(1 / 3, abs=1e-4)
