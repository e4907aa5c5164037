"""The paper's steering tasks on leave-one-out targets: standard, positive, negative.

For every case the same backbone scores feed DPR (soft steering), hybrid (steered vector
searched with the hard tag rule), post-filter (backbone top 100, then the rule) and filter
(the rule over the whole catalogue); held-out phrasings are scored separately. Beside the
tasks, ``tag_share@10`` asks every user for every tag (``tag_share``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dpr_plugin.data.split import LeaveOneOutSplit
from dpr_plugin.evaluation.full_ranking import evaluate_split, user_vectors
from dpr_plugin.evaluation.paired_ratio import ratio_intervals
from dpr_plugin.evaluation.steering_cases import CaseRules, SteeringCases, select_cases
from dpr_plugin.evaluation.steering_metrics import (
    STEERED_OVER_BASELINES,
    allowed_items,
    hard_filter,
    ndcg_per_case,
    postfilter,
    task_report,
)
from dpr_plugin.evaluation.tag_share import tag_share_at_k
from dpr_plugin.models.backbone import SequentialBackbone
from dpr_plugin.models.prompt_features import PromptFeatures, prompt_bank
from dpr_plugin.models.steering_head import SteeringHead

TASKS = ("positive", "negative")


@torch.no_grad()
def _steered_scores(
    head: SteeringHead,
    users: torch.Tensor,
    table: torch.Tensor,
    prompts: dict[tuple[int, bool], PromptFeatures],
    cases: SteeringCases,
    strength: float = 1.0,
) -> np.ndarray:
    bank, spans = prompt_bank(prompts)
    picked = []
    for row, t in enumerate(cases.tags):  # phrasings cycle over the cases
        start, count = spans[(int(t), cases.negative)]
        picked.append(start + row % count)
    z = bank.take(torch.tensor(picked))
    steered = head(users, z, torch.full((len(cases), 1), float(strength))).steered
    return (steered @ table.T).numpy()


@dataclass(frozen=True)
class TaskScores:
    """One task's cases with every score matrix its methods are built from.

    Attributes:
        cases: The task's cases (polarity, tag of each prompt).
        gold: ``[B]`` target column of each case (item id - 1).
        allowed: ``[B, N]`` items that keep each case's tag rule.
        base: ``[B, N]`` backbone scores.
        dpr: ``[B, N]`` scores of the steered vector, trained phrasings, at ``strength``.
        heldout: ``[B, N]`` the same with the held-out phrasings.
        strength: The steering strength ``dpr`` and ``heldout`` were computed at.
    """

    cases: SteeringCases
    gold: np.ndarray
    allowed: np.ndarray
    base: np.ndarray
    dpr: np.ndarray
    heldout: np.ndarray
    strength: float


@torch.no_grad()
def task_scores(
    backbone: SequentialBackbone,
    head: SteeringHead,
    split: LeaveOneOutSplit,
    trained_prompts: dict[tuple[int, bool], PromptFeatures],
    heldout_prompts: dict[tuple[int, bool], PromptFeatures],
    stage: str = "test",
    rules: CaseRules | None = None,
    strength: float = 1.0,
    all_users: torch.Tensor | None = None,
) -> dict[str, TaskScores]:
    """``{"positive": ..., "negative": ...}`` for the cases of ``stage`` (a task with no case
    is left out). ``all_users``: the backbone's vectors of every user of ``stage``, when the
    caller has them already."""
    backbone.eval()
    head.eval()
    item_tags = split.dataset.tag_matrix()[1:]
    histories, targets = split.history(stage), split.target(stage)
    if all_users is None:
        all_users = user_vectors(backbone, histories)  # [U, D]
    table = backbone.item_vectors()[1:]
    out: dict[str, TaskScores] = {}
    for cases in select_cases(histories, targets, split.dataset.tag_matrix(), rules):
        if len(cases) == 0:
            continue
        users = all_users[torch.from_numpy(cases.rows)]  # [B, D]
        out["negative" if cases.negative else "positive"] = TaskScores(
            cases=cases,
            gold=targets[cases.rows] - 1,
            allowed=allowed_items(item_tags, cases.tags, cases.negative),
            base=(users @ table.T).numpy(),
            dpr=_steered_scores(head, users, table, trained_prompts, cases, strength),
            heldout=_steered_scores(head, users, table, heldout_prompts, cases, strength),
            strength=strength,
        )
    return out


def baseline_scores(task: TaskScores) -> dict[str, np.ndarray]:
    """The unsteered methods' ``[B, N]`` scores (``-inf`` = removed) on one task."""
    return {
        "backbone": task.base,
        "postfilter": postfilter(task.base, task.allowed),
        "filter": hard_filter(task.base, task.allowed),
    }


def steered_scores(task: TaskScores) -> dict[str, np.ndarray]:
    """The steered methods' ``[B, N]`` scores at ``task.strength`` (``-inf`` = removed)."""
    return {"dpr": task.dpr, "hybrid": hard_filter(task.dpr, task.allowed)}


def method_scores(task: TaskScores) -> dict[str, np.ndarray]:
    """Each method's ``[B, N]`` scores on one task, in report order."""
    base, steered = baseline_scores(task), steered_scores(task)
    return {
        "backbone": base["backbone"],
        **steered,
        **{k: base[k] for k in ("postfilter", "filter")},
    }


def _round(report: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in report.items()}


@torch.no_grad()
def evaluate_steering(
    backbone: SequentialBackbone,
    head: SteeringHead,
    split: LeaveOneOutSplit,
    trained_prompts: dict[tuple[int, bool], PromptFeatures],
    heldout_prompts: dict[tuple[int, bool], PromptFeatures],
    stage: str = "test",
    rules: CaseRules | None = None,
    per_tag: bool = False,
    strength: float = 1.0,
) -> dict[str, object]:
    """Report in the shape of ``benchmarks/results/steering_ml1m/steering_ml1m.json`` for one
    backbone; with ``per_tag``, also ``report[task]["per_tag"][tag]``: the same figures on each
    tag's cases (for the per-tag plot). ``report["tag_share@10"]``: every user asked for every tag
    with the first trained phrasing. ``strength``: the steering strength of DPR, hybrid and the
    held-out phrasings (1 = as trained). ``report[task]["ratio_ci95"]["dpr/filter"]``: the
    95 % interval of that NDCG@10 ratio over resampled cases (``paired_ratio``), likewise for
    every pair of ``STEERED_OVER_BASELINES``."""
    item_tags = split.dataset.tag_matrix()[1:]
    standard = evaluate_split(backbone, split, stage)
    # One backbone pass for every user; each task takes its cases' rows from it.
    backbone.eval()
    all_users = user_vectors(backbone, split.history(stage))  # [U, D]
    tasks = task_scores(
        backbone, head, split, trained_prompts, heldout_prompts, stage, rules, strength, all_users
    )
    report: dict[str, object] = {
        "standard": {
            "backbone_ndcg@10": round(standard["ndcg@10"], 4),
            "dpr_ndcg@10": round(standard["ndcg@10"], 4),
            "note": "an empty prompt bypasses the head: DPR == backbone exactly",
        },
        "cases": {name: len(tasks[name].cases) if name in tasks else 0 for name in TASKS},
        "tag_share@10": tag_share_at_k(
            head,
            all_users,
            backbone.item_vectors()[1:],
            item_tags,
            split.dataset.tag_names,
            trained_prompts,
        ),
    }
    for name in TASKS:
        if name not in tasks:
            report[name] = {}
            continue
        task = tasks[name]
        cases, gold = task.cases, task.gold

        def score(
            scores: np.ndarray, c: SteeringCases = cases, g: np.ndarray = gold
        ) -> dict[str, float]:
            return _round(task_report(scores, g, item_tags, c.tags, c.negative))

        adherence = "violation@10" if cases.negative else "tag_hit@10"
        held_report = score(task.heldout)
        methods = method_scores(task)
        breakdown: dict[str, object] = {}
        if per_tag:
            for col in np.unique(cases.tags):
                rows = np.flatnonzero(cases.tags == col)
                sub = cases.subset(rows)
                breakdown[split.dataset.tag_names[int(col)]] = {
                    "cases": len(rows),
                    **{
                        method: score(scores[rows], sub, gold[rows])
                        for method, scores in methods.items()
                    },
                }
        gains = {method: ndcg_per_case(scores, gold) for method, scores in methods.items()}
        report[name] = {
            **{method: score(scores) for method, scores in methods.items()},
            "heldout_phrasing": {
                "ndcg@10": held_report["ndcg@10"],
                adherence: held_report[adherence],
            },
            "ratio_ci95": ratio_intervals(gains, STEERED_OVER_BASELINES),
            **({"per_tag": breakdown} if per_tag else {}),
        }
    return report
