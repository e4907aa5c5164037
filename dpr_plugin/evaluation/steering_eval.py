"""The paper's steering tasks on leave-one-out targets: standard, positive, negative.

For every case the same backbone scores feed DPR (soft steering), hybrid (steered vector
searched with the hard tag rule), post-filter (backbone top 100, then the rule) and filter
(the rule over the whole catalogue); held-out phrasings are scored separately. Beside the
tasks, ``tag_share@10`` asks every user for every tag (``tag_share``).
"""

from __future__ import annotations

import numpy as np
import torch

from dpr_plugin.data.split import LeaveOneOutSplit
from dpr_plugin.evaluation.full_ranking import evaluate_split, user_vectors
from dpr_plugin.evaluation.steering_cases import CaseRules, SteeringCases, select_cases
from dpr_plugin.evaluation.steering_metrics import (
    allowed_items,
    hard_filter,
    postfilter,
    task_report,
)
from dpr_plugin.evaluation.tag_share import tag_share_at_k
from dpr_plugin.models.backbone import SequentialBackbone
from dpr_plugin.models.prompt_features import PromptFeatures, prompt_bank
from dpr_plugin.models.steering_head import SteeringHead


@torch.no_grad()
def _steered_scores(
    head: SteeringHead,
    users: torch.Tensor,
    table: torch.Tensor,
    prompts: dict[tuple[int, bool], PromptFeatures],
    cases: SteeringCases,
) -> np.ndarray:
    bank, spans = prompt_bank(prompts)
    picked = []
    for row, t in enumerate(cases.tags):  # phrasings cycle over the cases
        start, count = spans[(int(t), cases.negative)]
        picked.append(start + row % count)
    z = bank.take(torch.tensor(picked))
    steered = head(users, z, torch.ones(len(cases), 1)).steered
    return (steered @ table.T).numpy()


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
) -> dict[str, object]:
    """Report in the shape of ``benchmarks/results/steering_ml1m.json`` for one backbone;
    with ``per_tag``, also ``report[task]["per_tag"][tag]``: the same figures on each tag's
    cases (for the per-tag plot). ``report["tag_share@10"]``: every user asked for every tag
    with the first trained phrasing."""
    backbone.eval()
    head.eval()
    tag_matrix = split.dataset.tag_matrix()
    item_tags = tag_matrix[1:]
    histories, targets = split.history(stage), split.target(stage)
    positives, negatives = select_cases(histories, targets, tag_matrix, rules)
    table = backbone.item_vectors()[1:]
    standard = evaluate_split(backbone, split, stage)
    # One backbone pass for every user; each task takes its cases' rows from it.
    all_users = user_vectors(backbone, histories)  # [U, D]
    report: dict[str, object] = {
        "standard": {
            "backbone_ndcg@10": round(standard["ndcg@10"], 4),
            "dpr_ndcg@10": round(standard["ndcg@10"], 4),
            "note": "an empty prompt bypasses the head: DPR == backbone exactly",
        },
        "cases": {"positive": len(positives), "negative": len(negatives)},
        "tag_share@10": tag_share_at_k(
            head, all_users, table, item_tags, split.dataset.tag_names, trained_prompts
        ),
    }
    for cases in (positives, negatives):
        name = "negative" if cases.negative else "positive"
        if len(cases) == 0:
            report[name] = {}
            continue
        users = all_users[torch.from_numpy(cases.rows)]  # [B, D]
        base = (users @ table.T).numpy()  # [B, N]
        gold = targets[cases.rows] - 1
        allowed = allowed_items(item_tags, cases.tags, cases.negative)
        dpr = _steered_scores(head, users, table, trained_prompts, cases)
        held = _steered_scores(head, users, table, heldout_prompts, cases)

        def score(
            scores: np.ndarray, c: SteeringCases = cases, g: np.ndarray = gold
        ) -> dict[str, float]:
            return _round(task_report(scores, g, item_tags, c.tags, c.negative))

        adherence = "violation@10" if cases.negative else "tag_hit@10"
        held_report = score(held)
        methods = {
            "backbone": base,
            "dpr": dpr,
            "hybrid": hard_filter(dpr, allowed),
            "postfilter": postfilter(base, allowed),
            "filter": hard_filter(base, allowed),
        }
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
        report[name] = {
            "backbone": score(base),
            "dpr": score(dpr),
            "hybrid": score(hard_filter(dpr, allowed)),
            "postfilter": score(postfilter(base, allowed)),
            "filter": score(hard_filter(base, allowed)),
            "heldout_phrasing": {
                "ndcg@10": held_report["ndcg@10"],
                adherence: held_report[adherence],
            },
            **({"per_tag": breakdown} if per_tag else {}),
        }
    return report
