"""Full-ranking evaluation: the seen-items variant removes history from the ranking."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("torch", reason="training extra not installed")

from dpr_plugin.data.dataset import ItemMeta, SequenceDataset
from dpr_plugin.data.split import leave_one_out
from dpr_plugin.evaluation.full_ranking import evaluate_split, history_in_top
from dpr_plugin.models.backbone import BackboneConfig
from dpr_plugin.models.factory import build_backbone


def test_evaluate_counts_seen_target_as_miss_when_seen_excluded() -> None:
    # Every user's test target (item 1) already occurs in their history.
    items = {str(i): ItemMeta(f"t{i}", ("A",)) for i in range(1, 6)}
    pairs = [(str(u), str(i)) for u in range(1, 5) for i in (1, 2, 3, 4, 1)]
    split = leave_one_out(SequenceDataset.from_interactions("toy", pairs, items, "toy"))
    model = build_backbone(BackboneConfig(kind="gru4rec", num_items=5, hidden_dim=8, max_len=6))
    assert evaluate_split(model, split, "test")["recall@10"] == 1.0  # 5 items: always in top 10
    assert evaluate_split(model, split, "test", exclude_seen=True)["recall@10"] == 0.0


def test_history_in_top_counts_history_items_and_the_last_item_first() -> None:
    items = {str(i): ItemMeta(f"t{i}", ("A",)) for i in range(1, 7)}
    # test histories: user 1 -> items 1, 2, 3; user 2 -> items 4, 5, 6
    pairs = [(str(u), str(i)) for u, seq in ((1, (1, 2, 3, 4)), (2, (4, 5, 6, 1))) for i in seq]
    split = leave_one_out(SequenceDataset.from_interactions("toy", pairs, items, "toy"))
    model = build_backbone(BackboneConfig(kind="gru4rec", num_items=6, hidden_dim=8, max_len=6))
    # Every user's scores: item 3 first, then 6, 1, 2, 4, 5.
    fixed = torch.tensor([[4.0, 3.0, 6.0, 2.0, 1.0, 5.0]])
    model.score_all = lambda users: fixed.expand(len(users), -1)  # type: ignore[method-assign]
    figures = history_in_top(model, split, "test", k=2)  # top 2 = items 3 and 6
    assert figures == {"history_share@2": 0.5, "last_item_first": 0.5}
