"""Strength curves: the linear extrapolation matches the head, and the pick follows validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dpr_plugin.data.split import leave_one_out
from dpr_plugin.errors import ConfigError
from dpr_plugin.evaluation.steering_eval import method_scores, task_scores
from dpr_plugin.evaluation.strength_sweep import (
    Adherence,
    at_strength,
    calibrate,
    pick_strength,
    point_at,
    report_at,
    strength_curve,
)
from dpr_plugin.models.backbone import BackboneConfig
from dpr_plugin.models.factory import build_backbone
from dpr_plugin.models.prompt_features import PromptFeatures
from dpr_plugin.models.steering_head import SteeringConfig, SteeringHead
from tests.training.test_steering_trainer import make_switching_dataset

PROMPT_DIM = 384


def random_prompts(
    num_tags: int, phrasings: int, seed: int
) -> dict[tuple[int, bool], PromptFeatures]:
    """Encoder-free prompt features: random unit embeddings and token states per (tag, polarity)."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for tag in range(num_tags):
        for negative in (False, True):
            z = torch.randn(phrasings, PROMPT_DIM, generator=gen)
            states = torch.randn(phrasings, 5, PROMPT_DIM, generator=gen)
            out[(tag, negative)] = PromptFeatures(
                z / z.norm(dim=1, keepdim=True), states, torch.ones(phrasings, 5, dtype=torch.int64)
            )
    return out


@pytest.fixture(scope="module")
def untrained():
    """A split with both kinds of case, an untrained backbone and a random head."""
    torch.manual_seed(0)
    split = leave_one_out(make_switching_dataset(users=80))
    backbone = build_backbone(
        BackboneConfig(kind="gru4rec", num_items=split.dataset.num_items, hidden_dim=16, max_len=20)
    ).eval()
    num_tags = len(split.dataset.tag_names)
    head = SteeringHead(
        SteeringConfig(hidden_dim=16, num_tags=num_tags, fusion_dim=16, expert_hidden=16)
    ).eval()
    trained, heldout = random_prompts(num_tags, 3, seed=1), random_prompts(num_tags, 2, seed=2)
    return backbone, head, split, trained, heldout


def test_scores_at_any_strength_are_the_linear_move_of_one_head_pass(untrained) -> None:
    at_one = task_scores(*untrained, stage="test")
    assert set(at_one) == {"positive", "negative"}
    for strength in (0.0, 0.5, 2.5):
        direct = task_scores(*untrained, stage="test", strength=strength)
        for task, scores in at_one.items():
            moved = at_strength(scores, strength)
            assert moved.strength == strength
            np.testing.assert_allclose(moved.dpr, direct[task].dpr, rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(moved.heldout, direct[task].heldout, rtol=1e-4, atol=1e-4)


def test_strength_zero_is_the_backbone_and_hybrid_there_is_the_filter(untrained) -> None:
    task = task_scores(*untrained, stage="test")["negative"]
    item_tags = untrained[2].dataset.tag_matrix()[1:]
    zero = at_strength(task, 0.0)
    np.testing.assert_array_equal(zero.dpr, task.base)
    report = strength_curve(task, item_tags, strengths=(0.0, 1.0))
    assert point_at(report["curve"], 0.0)["hybrid"] == report["baselines"]["filter"]
    assert point_at(report["curve"], 0.0)["dpr"] == report["baselines"]["backbone"]
    assert report["baselines"]["filter"]["violation@10"] == 0.0
    assert point_at(report["curve"], 1.0)["hybrid"]["violation@10"] == 0.0
    assert method_scores(task)["dpr"] is task.dpr


def _point(strength: float, ndcg: float, violation: float = 0.0) -> dict:
    return {
        "strength": strength,
        "dpr": {"ndcg@10": ndcg, "violation@10": violation},
        "hybrid": {"ndcg@10": 1 - ndcg},
    }


def test_pick_strength_takes_the_best_and_breaks_ties_toward_one() -> None:
    curve = [_point(0.0, 0.30), _point(0.5, 0.41), _point(1.0, 0.40), _point(2.0, 0.41)]
    assert pick_strength(curve, "dpr") == 0.5  # 0.5 and 2.0 tie; 0.5 is nearer 1
    assert pick_strength(curve, "hybrid") == 0.0
    assert pick_strength([_point(0.0, 0.2), _point(1.0, 0.2)], "dpr") == 1.0


def test_pick_strength_keeps_the_bound_and_falls_back_to_the_trained_adherence() -> None:
    curve = [
        _point(0.5, 0.45, 0.05),
        _point(1.0, 0.40, 0.01),
        _point(1.5, 0.38, 0.008),
        _point(2.0, 0.30, 0.002),
    ]
    assert pick_strength(curve, "dpr") == 0.5
    assert pick_strength(curve, "dpr", bound=("violation@10", "<=", 0.01)) == 1.0
    assert pick_strength(curve, "dpr", bound=("violation@10", "<=", 0.005)) == 2.0
    # none keeps it: the best NDCG among the points at least as adherent as strength 1
    assert pick_strength(curve, "dpr", bound=("violation@10", "<=", 0.001)) == 1.0
    weak = [_point(0.75, 0.042, 0.21), _point(1.0, 0.040, 0.175), _point(1.25, 0.041, 0.15),
            _point(4.0, 0.019, 0.085)]  # fmt: skip
    assert pick_strength(weak, "dpr", bound=("violation@10", "<=", 0.01)) == 1.25
    assert pick_strength(curve, "dpr", bound=("ndcg@10", ">=", 0.41)) == 0.5
    assert pick_strength(curve, "dpr", bound=("ndcg@10", ">=", 0.9)) == 0.5


def test_bad_arguments_name_their_field(untrained) -> None:
    task = task_scores(*untrained, stage="test")["positive"]
    with pytest.raises(ValueError, match=r"^strength: "):
        at_strength(task, -1.0)
    with pytest.raises(ValueError, match=r"^strength: "):
        at_strength(task, float("nan"))
    with pytest.raises(ValueError, match=r"^task.strength: "):
        at_strength(at_strength(task, 0.0), 1.0)
    with pytest.raises(ValueError, match=r"^method: "):
        pick_strength([_point(1.0, 0.1)], "filter")
    with pytest.raises(ValueError, match=r"^curve: "):
        pick_strength([], "dpr")
    with pytest.raises(ValueError, match=r"^strength: "):
        point_at([_point(1.0, 0.1)], 0.5)
    with pytest.raises(ValueError, match=r"^bound: .*'violation@10' is not a figure of 'hybrid'"):
        pick_strength([_point(1.0, 0.1)], "hybrid", bound=("violation@10", "<=", 0.01))
    with pytest.raises(ValueError, match=r"^bound: the sense"):
        pick_strength([_point(1.0, 0.1)], "dpr", bound=("violation@10", "<", 0.01))
    for field, value in (("max_violation", 1.5), ("min_tag_hit", -0.1), ("min_tag_hit", "x")):
        with pytest.raises(ConfigError, match=rf"^{field}: must be a share in \[0, 1\]"):
            Adherence(**{field: value})


def test_calibrate_picks_each_default_from_its_own_curve(untrained) -> None:
    tasks = task_scores(*untrained, stage="valid")
    item_tags = untrained[2].dataset.tag_matrix()[1:]
    adherence = Adherence(min_tag_hit=0.3, max_violation=0.2)
    default, curves = calibrate(tasks, item_tags, adherence=adherence)
    assert default.source == ("validation NDCG@10 with tag_hit@10 >= 0.3, violation@10 <= 0.2")
    positive, negative = curves["positive"]["curve"], curves["negative"]["curve"]
    assert default.positive == pick_strength(positive, "dpr", bound=("tag_hit@10", ">=", 0.3))
    assert default.negative == pick_strength(negative, "dpr", bound=("violation@10", "<=", 0.2))
    assert default.negative_hybrid == pick_strength(negative, "hybrid")
    report = report_at(curves, default)
    best = max(p["hybrid"]["ndcg@10"] for p in negative)
    assert report["negative"]["hybrid"]["ndcg@10"] == best
    assert report["negative"]["hybrid"]["ndcg@10"] >= report["negative"]["filter"]["ndcg@10"]
    assert report["positive"]["dpr"] == point_at(positive, default.positive)["dpr"]
    # each ratio's interval is the one at its steered method's pick
    hybrid_point = point_at(negative, default.negative_hybrid)
    dpr_point = point_at(negative, default.negative)
    assert report["negative"]["ratio_ci95"] == {
        "dpr/postfilter": dpr_point["ratio_ci95"]["dpr/postfilter"],
        "dpr/filter": dpr_point["ratio_ci95"]["dpr/filter"],
        "hybrid/postfilter": hybrid_point["ratio_ci95"]["hybrid/postfilter"],
        "hybrid/filter": hybrid_point["ratio_ci95"]["hybrid/filter"],
    }
    empty = calibrate({}, item_tags)[0]
    assert (empty.positive, empty.negative, empty.negative_hybrid) == (1.0, 1.0, 1.0)


def test_the_soft_picks_keep_the_adherence_bounds_where_a_strength_does(untrained) -> None:
    tasks = task_scores(*untrained, stage="valid")
    item_tags = untrained[2].dataset.tag_matrix()[1:]
    default, curves = calibrate(tasks, item_tags)
    assert default.source.endswith("tag_hit@10 >= 0.95, violation@10 <= 0.01")
    unbounded, _ = calibrate(tasks, item_tags, adherence=Adherence(0.0, 1.0))
    assert unbounded.negative_hybrid == default.negative_hybrid
    for task, metric, keeps in (
        ("positive", "tag_hit@10", lambda v: v >= 0.95),
        ("negative", "violation@10", lambda v: v <= 0.01),
    ):
        curve = curves[task]["curve"]
        picked = point_at(curve, default.for_prompt(task == "negative", hybrid=False))["dpr"]
        if any(keeps(p["dpr"][metric]) for p in curve):
            assert keeps(picked[metric])
        else:  # the untrained head may keep neither: then at least strength 1's adherence
            trained = point_at(curve, 1.0)["dpr"][metric]
            at_least = (
                picked[metric] >= trained if task == "positive" else picked[metric] <= trained
            )
            assert at_least, (task, picked[metric], trained)
