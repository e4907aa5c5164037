"""A tiny end-to-end three-stage run: steering must move retrieval toward the prompted tag."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dpr_plugin.data.dataset import ItemMeta, SequenceDataset
from dpr_plugin.data.split import leave_one_out
from dpr_plugin.evaluation.steering_eval import evaluate_steering
from dpr_plugin.models.backbone import BackboneConfig
from dpr_plugin.models.factory import build_backbone
from dpr_plugin.models.prompt_encoder import PromptEncoder
from dpr_plugin.models.steering_head import SteeringConfig, SteeringHead
from dpr_plugin.training.backbone_trainer import TrainConfig, train_backbone
from dpr_plugin.training.steering_trainer import (
    SteeringTrainConfig,
    encode_prompts,
    train_steering_head,
)

GENRES = ("Action", "Comedy", "Drama", "Horror")


def make_switching_dataset(users: int = 160, per_tag: int = 12, length: int = 70, seed: int = 0):
    """Users stay in a favourite genre and sometimes switch; a switch starts with one of the
    new genre's two "entry" items, a pattern only a prompt about the new genre reveals."""
    rng = np.random.default_rng(seed)
    items = {
        str(g * per_tag + i + 1): ItemMeta(f"{genre} {i}", (genre,))
        for g, genre in enumerate(GENRES)
        for i in range(per_tag)
    }
    pairs = []
    for u in range(users):
        favourite = int(rng.integers(len(GENRES)))
        recent: list[int] = []
        for step in range(length):
            if step > 0 and rng.random() < 0.05:
                favourite = int(rng.choice([g for g in range(len(GENRES)) if g != favourite]))
                item = favourite * per_tag + int(rng.integers(2))  # entry item
            else:
                item = favourite * per_tag + 2 + int(rng.integers(per_tag - 2))
            pairs.append((str(u + 1), str(item + 1)))
            recent.append(favourite)
        # end every user with a switch to the genre least seen lately (a positive test case)
        favourite = int(np.argmin(np.bincount(recent[-50:], minlength=len(GENRES))))
        pairs.append((str(u + 1), str(favourite * per_tag + int(rng.integers(2)) + 1)))
    return SequenceDataset.from_interactions("switching", pairs, items, "synthetic switches")


@pytest.fixture(scope="module")
def steered():
    torch.manual_seed(0)
    split = leave_one_out(make_switching_dataset())
    backbone = build_backbone(
        BackboneConfig(
            kind="gru4rec",
            num_items=split.dataset.num_items,
            hidden_dim=32,
            max_len=50,
            num_layers=1,
        )
    )
    train_backbone(
        backbone,
        split,
        TrainConfig(max_epochs=8, batch_size=16, lr=5e-3, warmup_steps=10, patience=8),
        progress=False,
    )
    encoder = PromptEncoder()
    head = SteeringHead(
        SteeringConfig(hidden_dim=32, num_tags=len(GENRES), fusion_dim=64, expert_hidden=64)
    )
    cfg = SteeringTrainConfig(align_steps=150, epochs=6, batch_size=64, lr=3e-3, max_samples=4000)
    tag_matrix = split.dataset.tag_matrix()
    result = train_steering_head(
        backbone,
        split.train,
        tag_matrix,
        split.dataset.tag_names,
        encoder,
        head,
        cfg,
        progress=False,
    )
    report = evaluate_steering(
        backbone,
        head,
        split,
        encode_prompts(encoder, split.dataset.tag_names, held_out=False),
        encode_prompts(encoder, split.dataset.tag_names, held_out=True),
    )
    return result, report


def test_three_stage_run_reduces_both_losses(steered) -> None:
    result, _ = steered
    assert result.align_loss[-1] < result.align_loss[0] * 0.5
    assert np.mean(result.steer_loss[-10:]) < np.mean(result.steer_loss[:10])


def test_positive_steering_beats_backbone_and_follows_tag(steered) -> None:
    _, report = steered
    positive = report["positive"]
    assert report["cases"]["positive"] >= 100
    # Entry items of the new genre are what the prompt reveals: DPR must rank them far
    # above the unsteered backbone (measured 0.79 vs 0.00) and above the filters, which know
    # the genre but not which of its items a switching user picks (measured 0.67), and move
    # the top 10 toward the genre (measured tag-hit 0.46 vs 0.04).
    assert positive["dpr"]["ndcg@10"] > positive["backbone"]["ndcg@10"] + 0.5
    assert positive["dpr"]["ndcg@10"] > positive["postfilter"]["ndcg@10"]
    assert positive["dpr"]["tag_hit@10"] > positive["backbone"]["tag_hit@10"] + 0.3
    assert positive["heldout_phrasing"]["ndcg@10"] > positive["backbone"]["ndcg@10"] + 0.5


def test_hybrid_never_violates_and_standard_is_identity(steered) -> None:
    _, report = steered
    negative = report["negative"]
    assert report["cases"]["negative"] >= 100
    assert negative["dpr"]["violation@10"] < negative["backbone"]["violation@10"] / 2
    assert negative["hybrid"]["violation@10"] == 0.0 == negative["filter"]["violation@10"]
    assert negative["hybrid"]["ndcg@10"] >= negative["filter"]["ndcg@10"]
    assert report["standard"]["dpr_ndcg@10"] == report["standard"]["backbone_ndcg@10"]


def test_every_user_asking_for_a_genre_gets_more_of_it(steered) -> None:
    _, report = steered
    share = report["tag_share@10"]
    assert share["users"] == 160
    for genre in GENRES:
        row = share["per_tag"][genre]
        assert row["more"] > row["unsteered"] + 0.2, (genre, row)
        assert row["no"] < row["unsteered"] / 2, (genre, row)


def test_steering_train_config_names_field_when_invalid() -> None:
    from dpr_plugin.errors import ConfigError

    with pytest.raises(ConfigError, match="max_samples: must be >= 1"):
        SteeringTrainConfig(max_samples=0)
    with pytest.raises(ConfigError, match="tau: must be > 0"):
        SteeringTrainConfig(tau=0.0)


def test_within_tag_loss_ranks_the_target_among_allowed_items_only() -> None:
    import math

    from dpr_plugin.training.steering_trainer import _within_tag_loss

    logits = torch.tensor([[2.0, 1.0, 0.0, 5.0], [2.0, 1.0, 0.0, 5.0], [0.0, 0.0, 0.0, 0.0]])
    named = torch.tensor([[1, 1, 0, 0], [1, 1, 0, 0], [1, 0, 0, 0]])  # items with the tag
    negative = torch.tensor([False, True, False])
    targets = torch.tensor([1, 2, 3])  # row 3: target lacks the asked-for tag -> skipped
    got = _within_tag_loss(logits, named, negative, targets)
    # row 1: among items {0, 1}; row 2 ("no tag"): among items {2, 3}
    row1 = -(1.0 - math.log(math.exp(2.0) + math.exp(1.0)))
    row2 = -(0.0 - math.log(math.exp(0.0) + math.exp(5.0)))
    assert float(got) == pytest.approx((row1 + row2) / 2, rel=1e-6)
    none = _within_tag_loss(logits[2:], named[2:], negative[2:], targets[2:])
    assert float(none) == 0.0


ML_GENRES = (
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
    "War", "Western",
)  # fmt: skip


@pytest.fixture(scope="module")
def aligned():
    """Stage 2 alone, on the MovieLens genres, with the default settings."""
    from dpr_plugin.training.steering_trainer import SteeringTrainResult, align

    torch.manual_seed(0)
    encoder = PromptEncoder()
    head = SteeringHead(SteeringConfig(hidden_dim=16, num_tags=len(ML_GENRES))).eval()
    centroids = torch.randn(len(ML_GENRES), 16)
    align(
        head,
        centroids,
        encode_prompts(encoder, list(ML_GENRES), held_out=False),
        SteeringTrainConfig(),
        SteeringTrainResult(),
    )
    return head.eval(), encode_prompts(encoder, list(ML_GENRES), held_out=True)


def test_align_reads_polarity_of_held_out_phrasings(aligned) -> None:
    head, held = aligned
    with torch.no_grad():
        accuracy = {
            negative: np.mean(
                [
                    float(((head.polarity(f.states, f.mask) > 0) == negative).float().mean())
                    for (_, n), f in held.items()
                    if n == negative
                ]
            )
            for negative in (False, True)
        }
    # Three held-out phrasings per polarity; the linear reader on the mean-pooled embedding
    # this replaced read 0.59 of the negative ones right ("X? not today" never); the token
    # reader measured 0.93-1.00 over three seeds.
    assert accuracy[False] >= 0.9
    assert accuracy[True] >= 0.8


def test_align_reads_tag_of_held_out_phrasings(aligned) -> None:
    head, held = aligned
    with torch.no_grad():
        hits = [
            float((head.tags(f.embedding).argmax(-1) == tag).float().mean())
            for (tag, _), f in held.items()
        ]
    assert np.mean(hits) >= 0.95


def test_load_steering_names_weights_when_they_do_not_fit(tmp_path) -> None:
    from dpr_plugin.errors import CheckpointError
    from dpr_plugin.training.checkpoint import WEIGHTS_FILE, load_steering, save_steering

    save_steering(tmp_path, SteeringHead(SteeringConfig(hidden_dim=8, num_tags=3)), list("abc"), {})
    weights = torch.load(tmp_path / WEIGHTS_FILE, weights_only=True)
    weights["polarity.weight"] = weights.pop("polarity.out.weight")  # an older head's layout
    torch.save(weights, tmp_path / WEIGHTS_FILE)
    with pytest.raises(CheckpointError, match=r"weights.pt: does not fit SteeringHead .*polarity"):
        load_steering(tmp_path)
