"""Smoke tests: each backbone trains on a tiny dataset and beats a popularity ranking."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from dpr_plugin.data.padding import left_pad
from dpr_plugin.data.split import LeaveOneOutSplit
from dpr_plugin.errors import CheckpointError, ConfigError
from dpr_plugin.evaluation.full_ranking import evaluate_split
from dpr_plugin.evaluation.popularity import evaluate_popularity
from dpr_plugin.models.backbone import BACKBONES, BackboneConfig
from dpr_plugin.models.factory import build_backbone
from dpr_plugin.training.backbone_trainer import (
    SAMPLED_ABOVE,
    TrainConfig,
    next_item_loss,
    resolve_device,
    sampled_cross_entropy,
    step_candidates,
    train_backbone,
)
from dpr_plugin.training.batches import batches, training_windows
from dpr_plugin.training.checkpoint import Catalogue, load_backbone, save_backbone

FAST = TrainConfig(max_epochs=25, batch_size=16, lr=5e-3, warmup_steps=10, patience=25, seed=1)


@pytest.fixture(scope="module", params=BACKBONES)
def trained(request: pytest.FixtureRequest, sequential_split: LeaveOneOutSplit):
    torch.manual_seed(0)
    config = BackboneConfig(
        kind=request.param,
        num_items=sequential_split.dataset.num_items,
        hidden_dim=32,
        max_len=20,
        num_layers=1,
        dropout=0.1,
    )
    model = build_backbone(config)
    result = train_backbone(model, sequential_split, FAST, progress=False)
    return model, result


def test_backbone_beats_popularity_when_trained_on_sequential_data(
    trained, sequential_split: LeaveOneOutSplit
) -> None:
    model, result = trained
    test = evaluate_split(model, sequential_split, "test")
    popularity = evaluate_popularity(sequential_split, "test")
    # The walk continues with p = 0.9 and items are equally popular (~0.25 recall@10 for 40
    # items): a model that learned the walk must be far above popularity.
    assert test["ndcg@10"] > popularity["ndcg@10"] + 0.3
    assert result.best_epoch > 0 and result.curve


def test_trainer_records_stop_reason_when_patience_runs_out(
    sequential_split: LeaveOneOutSplit,
) -> None:
    config = BackboneConfig(
        kind="gru4rec", num_items=sequential_split.dataset.num_items, hidden_dim=8, max_len=10
    )
    cfg = TrainConfig(max_epochs=6, batch_size=32, lr=1e-9, warmup_steps=1, patience=1)
    result = train_backbone(build_backbone(config), sequential_split, cfg, progress=False)
    assert result.epochs < 6
    assert "no better validation" in result.stopped_because


def test_sampled_loss_trains_sasrec(sequential_split: LeaveOneOutSplit) -> None:
    torch.manual_seed(0)
    config = BackboneConfig(
        kind="sasrec",
        num_items=sequential_split.dataset.num_items,
        hidden_dim=32,
        max_len=20,
        num_layers=1,
    )
    cfg = TrainConfig(
        max_epochs=15, batch_size=16, lr=5e-3, warmup_steps=10, loss="sampled", negatives=8
    )
    model = build_backbone(config)
    train_backbone(model, sequential_split, cfg, progress=False)
    assert (
        evaluate_split(model, sequential_split, "test")["ndcg@10"]
        > evaluate_popularity(sequential_split, "test")["ndcg@10"] + 0.3
    )


def test_auto_loss_is_the_full_softmax_up_to_the_threshold() -> None:
    auto = TrainConfig()
    assert auto.loss == "auto"
    assert not auto.sampled_for(SAMPLED_ABOVE) and auto.sampled_for(SAMPLED_ABOVE + 1)
    assert TrainConfig(loss="sampled").sampled_for(10)
    assert not TrainConfig(loss="full").sampled_for(10**7)


def test_step_candidates_are_the_step_targets_then_uniform_items_without_replacement() -> None:
    gold = torch.tensor([1, 1, 3, 3, 3])  # this step's targets: items 1 and 3
    for seed in range(20):
        candidates, log_q = step_candidates(gold, 10, 4, torch.Generator().manual_seed(seed))
        assert candidates[:2].tolist() == [1, 3] and log_q[:2].tolist() == [0.0, 0.0]
        uniform = candidates[2:]
        assert len(uniform) == 4 and len(set(uniform.tolist())) == 4  # no duplicates
        assert not set(uniform.tolist()) & {1, 3} and all(1 <= i <= 10 for i in uniform.tolist())
        # each of the 8 other items is drawn with probability 4 / 8
        assert log_q[2:] == pytest.approx([math.log(4 / 8)] * 4)
    # each non-target item is drawn about as often as its probability says
    generator, counts = torch.Generator().manual_seed(0), torch.zeros(11)
    for _ in range(2000):
        counts[step_candidates(gold, 10, 4, generator)[0]] += 1
    assert counts[[1, 3]].tolist() == [2000, 2000]
    assert (counts[[2, 4, 5, 6, 7, 8, 9, 10]] / 2000).tolist() == pytest.approx([0.5] * 8, abs=0.04)
    # fewer items left than asked for: every item once, no correction
    candidates, log_q = step_candidates(gold, 5, 10, torch.Generator().manual_seed(0))
    assert sorted(candidates.tolist()) == [1, 2, 3, 4, 5] and log_q.abs().max() == 0


def test_the_corrected_candidates_estimate_the_full_denominator_without_bias() -> None:
    torch.manual_seed(0)
    scores = torch.randn(31)  # score of items 1..30 (index 0 unused)
    gold = torch.tensor([2, 2, 7, 9])
    generator, total, draws = torch.Generator().manual_seed(1), 0.0, 2000
    for _ in range(draws):
        candidates, log_q = step_candidates(gold, 30, 5, generator)
        total += torch.exp(scores[candidates] - log_q).sum().item()
    assert total / draws == pytest.approx(torch.exp(scores[1:]).sum().item(), rel=0.02)


def test_the_sampled_loss_is_the_full_softmax_when_every_item_is_drawn() -> None:
    torch.manual_seed(0)
    config = BackboneConfig(kind="sasrec", num_items=12, hidden_dim=8, max_len=6, num_layers=1)
    model = build_backbone(config).eval()
    inputs, targets = torch.randint(1, 13, (3, 6)), torch.randint(1, 13, (3, 6))
    cfg = TrainConfig(loss="sampled", negatives=12)  # more than the items outside the targets
    generator = torch.Generator().manual_seed(0)
    sampled = next_item_loss(model, inputs, targets, cfg, generator, sampled=True)
    full = next_item_loss(model, inputs, targets, cfg, generator, sampled=False)
    assert sampled.item() == pytest.approx(full.item(), rel=1e-5)


def test_the_sampled_loss_is_the_full_softmax_when_every_item_is_a_candidate() -> None:
    torch.manual_seed(0)
    table = torch.randn(7, 5)  # row 0: padding
    h, gold = torch.randn(6, 5), torch.tensor([1, 3, 3, 6, 2, 5])
    every_item = torch.arange(1, 7)
    # a constant correction cancels in the softmax
    sampled = sampled_cross_entropy(
        h, gold, every_item, lambda ids: table[ids], torch.full((6,), 0.7), torch.full((6,), 0.7)
    )
    full = torch.nn.functional.cross_entropy(h @ table[1:].T, gold - 1)
    assert sampled.item() == pytest.approx(full.item(), rel=1e-6)


def test_the_sampled_loss_corrects_each_logit_by_log_q_and_masks_the_gold_item() -> None:
    table = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    h, gold = torch.tensor([[2.0, 1.0]]), torch.tensor([1])
    candidates = torch.tensor([1, 2, 3, 3])  # the gold item drawn too: masked
    q = torch.tensor([1.0, 2.0, 1.0, 4.0])  # the correction's argument, by item id
    loss = sampled_cross_entropy(
        h, gold, candidates, lambda ids: table[ids], torch.log(q[gold]), torch.log(q[candidates])
    )
    # by hand: gold 2 - log 2; item 2: 1 - log 1; item 3 (twice): 3 - log 4
    logits = [2 - math.log(2), 1 - 0.0, 3 - math.log(4), 3 - math.log(4)]
    by_hand = -logits[0] + math.log(sum(math.exp(x) for x in logits))
    assert loss.item() == pytest.approx(by_hand, rel=1e-6)


def test_the_step_targets_are_uncorrected_and_the_uniform_items_corrected_by_hand() -> None:
    table = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]])
    h, gold = torch.tensor([[2.0, 1.0], [0.0, 1.0]]), torch.tensor([1, 3])
    # the step's targets 1 and 3 (certain), then 1 of the 2 other items, here item 4: p = 1/2
    candidates, log_q = torch.tensor([1, 3, 4]), torch.log(torch.tensor([1.0, 1.0, 0.5]))
    loss = sampled_cross_entropy(h, gold, candidates, lambda ids: table[ids], torch.zeros(2), log_q)
    # row 1: gold item 1 (2), item 3 (3), item 4 (-2 + log 2); row 2: gold 3 (1), item 1 (0),
    # item 4 (0 + log 2); each row's own target masked among the candidates
    rows = [[2, 3, -2 + math.log(2)], [1, 0, math.log(2)]]
    by_hand = sum(-r[0] + math.log(sum(math.exp(x) for x in r)) for r in rows) / 2
    assert loss.item() == pytest.approx(by_hand, rel=1e-6)


def test_the_sampled_loss_never_builds_the_whole_item_table(
    sequential_split: LeaveOneOutSplit, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = BackboneConfig(
        kind="sasrec", num_items=sequential_split.dataset.num_items, hidden_dim=16, max_len=10
    )
    model = build_backbone(config)

    def whole_table() -> torch.Tensor:
        raise AssertionError("item_vectors() built the [N + 1, D] table")

    monkeypatch.setattr(model, "item_vectors", whole_table)
    cfg = TrainConfig(loss="sampled", negatives=8)
    windows = training_windows(sequential_split.train, 10, True)
    inputs, targets = next(batches(windows, 4, np.random.default_rng(0)))
    loss = next_item_loss(
        model,
        torch.from_numpy(inputs),
        torch.from_numpy(targets),
        cfg,
        torch.Generator().manual_seed(0),
        sampled=True,
    )
    loss.backward()
    assert torch.isfinite(loss) and model.item_embedding.weight.grad is not None


def test_train_config_names_field_when_invalid() -> None:
    with pytest.raises(ConfigError, match="loss"):
        TrainConfig(loss="bpr")
    with pytest.raises(ConfigError, match="batch_size"):
        TrainConfig(batch_size=0)


def test_train_config_names_device_when_unknown_or_missing() -> None:
    with pytest.raises(ConfigError, match="device"):
        TrainConfig(device="gpu")
    if torch.cuda.is_available():
        assert resolve_device("cuda").type == "cuda"
    else:
        with pytest.raises(ConfigError, match="device: 'cuda' asked for"):
            resolve_device("cuda")


def test_selection_on_history_removed_validation_keeps_that_metric(
    sequential_split: LeaveOneOutSplit,
) -> None:
    torch.manual_seed(0)
    config = BackboneConfig(
        kind="gru4rec", num_items=sequential_split.dataset.num_items, hidden_dim=8, max_len=10
    )
    cfg = TrainConfig(max_epochs=3, batch_size=32, warmup_steps=1, select_exclude_seen=True)
    model = build_backbone(config)
    result = train_backbone(model, sequential_split, cfg, progress=False)
    assert model.item_embedding.weight.device.type == "cpu"
    unseen = evaluate_split(model, sequential_split, "valid", exclude_seen=True)
    assert result.best_valid == pytest.approx(unseen)
    kept = evaluate_split(model, sequential_split, "valid")
    assert result.best_valid["ndcg@10"] != pytest.approx(kept["ndcg@10"])


def test_training_windows_cover_every_target_once_when_all_windows() -> None:
    seq = np.arange(1, 26)
    windows = training_windows([seq], max_len=10, all_windows=True)
    targets = np.concatenate([w[1:] for w in windows])
    assert sorted(targets.tolist()) == list(range(2, 26))
    assert all(len(w) <= 11 for w in windows)
    assert len(training_windows([seq], max_len=10, all_windows=False)) == 1


def test_batches_are_left_padded_with_aligned_targets() -> None:
    windows = [np.array([1, 2, 3, 4]), np.array([5, 6])]
    ((x, y),) = list(batches(windows, 4, np.random.default_rng(0)))
    rows = sorted(zip(x.tolist(), y.tolist(), strict=True))
    assert rows == [([0, 0, 5], [0, 0, 6]), ([1, 2, 3], [2, 3, 4])]
    assert left_pad([np.array([7, 8, 9])], 2).tolist() == [[8, 9]]


def test_checkpoint_round_trip_gives_same_scores(
    trained, sequential_split: LeaveOneOutSplit, tmp_path: Path
) -> None:
    model, _ = trained
    out = save_backbone(
        tmp_path / "ckpt", model, Catalogue.of(sequential_split.dataset), {"note": 1}
    )
    loaded, catalogue, config = load_backbone(out)
    assert catalogue.item_ids == sequential_split.dataset.item_ids
    assert config["note"] == 1
    history = torch.from_numpy(left_pad(sequential_split.history("test")[:8], model.config.max_len))
    model.eval()
    torch.testing.assert_close(loaded.user_vector(history), model.user_vector(history))


def test_load_backbone_names_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"config.json: missing"):
        load_backbone(tmp_path)
