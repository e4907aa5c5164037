"""Steering strength: how far along the steering move a request goes, and picking it on
validation.

The head returns ``h' = h + alpha * delta`` and a score is a dot product with the item table,
so a task's scores at any alpha are ``base + (alpha / alpha_0) * (dpr - base)`` for scores
``dpr`` computed at ``alpha_0``: one head pass gives the whole curve. ``calibrate`` picks the
served defaults (``DefaultStrength``) on validation cases: positive on DPR's NDCG@10 (a
platform that adds the tag as a filter gets the positive hybrid at the same strength),
negative on DPR's and on the hybrid's.

The soft picks are bounded by ``Adherence``: NDCG@10 alone would trade a list that follows
the prompt for a little accuracy (on ML-1M validation it put GRU4Rec's "no X" at half
strength, where a top 10 still held 0.48 X items on average against 0.05 at 1), and the soft
mode is the server's default for negative prompts. The hybrid pick has no bound: its filter
removes every banned item whatever the strength.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from dpr_plugin.data.split import LeaveOneOutSplit
from dpr_plugin.default_strength import DefaultStrength
from dpr_plugin.errors import ConfigError
from dpr_plugin.evaluation.paired_ratio import ratio_intervals
from dpr_plugin.evaluation.steering_eval import (
    TASKS,
    TaskScores,
    baseline_scores,
    steered_scores,
    task_scores,
)
from dpr_plugin.evaluation.steering_metrics import (
    STEERED_OVER_BASELINES,
    ndcg_per_case,
    task_report,
)
from dpr_plugin.models.backbone import SequentialBackbone
from dpr_plugin.models.prompt_features import PromptFeatures
from dpr_plugin.models.steering_head import SteeringHead

STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0)


def at_strength(task: TaskScores, strength: float) -> TaskScores:
    """``task`` with its steered scores (trained and held-out phrasings) moved to ``strength``."""
    if not np.isfinite(strength) or strength < 0:
        raise ValueError(f"strength: must be a finite number >= 0, got {strength}")
    if task.strength <= 0:
        raise ValueError(f"task.strength: must be > 0 to extrapolate, got {task.strength}")
    scale = strength / task.strength

    def move(steered: np.ndarray) -> np.ndarray:
        return task.base + np.float32(scale) * (steered - task.base)

    return replace(task, dpr=move(task.dpr), heldout=move(task.heldout), strength=strength)


def _report(task: TaskScores, scores: np.ndarray, item_tags: np.ndarray) -> dict[str, float]:
    report = task_report(scores, task.gold, item_tags, task.cases.tags, task.cases.negative)
    return {k: round(v, 4) for k, v in report.items()}


def strength_curve(
    task: TaskScores, item_tags: np.ndarray, strengths: tuple[float, ...] = STRENGTHS
) -> dict[str, object]:
    """The steered methods' figures at each strength, beside the baselines (which do not
    depend on it).

    Returns:
        ``{"baselines": {method: report}, "curve": [{"strength": a, "dpr": report,
        "hybrid": report, "heldout_phrasing": report, "ratio_ci95": intervals}, ...]}``; a
        report is ``task_report``'s, rounded to 4 places (held-out phrasings: DPR with them);
        ``intervals`` are ``paired_ratio.ratio_intervals`` of ``STEERED_OVER_BASELINES``.
    """
    baselines = baseline_scores(task)
    baseline_gains = {m: ndcg_per_case(s, task.gold) for m, s in baselines.items()}
    curve = []
    for strength in strengths:
        moved = at_strength(task, strength)
        steered = steered_scores(moved)
        gains = {m: ndcg_per_case(s, task.gold) for m, s in steered.items()}
        curve.append(
            {
                "strength": strength,
                **{m: _report(task, s, item_tags) for m, s in steered.items()},
                "heldout_phrasing": _report(task, moved.heldout, item_tags),
                "ratio_ci95": ratio_intervals({**gains, **baseline_gains}, STEERED_OVER_BASELINES),
            }
        )
    return {
        "baselines": {m: _report(task, s, item_tags) for m, s in baselines.items()},
        "curve": curve,
    }


@dataclass(frozen=True)
class Adherence:
    """How closely a soft-steered top 10 must follow its prompt, on average over the cases, for
    a strength to be picked.

    Attributes:
        min_tag_hit: "more X": least share of the top 10 carrying X (tag_hit@10).
        max_violation: "no X": largest share of the top 10 carrying X (violation@10).
    """

    min_tag_hit: float = 0.95
    max_violation: float = 0.01

    def __post_init__(self) -> None:
        for name in ("min_tag_hit", "max_violation"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
                raise ConfigError(f"{name}: must be a share in [0, 1], got {value!r}")

    def describe(self) -> str:
        return f"tag_hit@10 >= {self.min_tag_hit}, violation@10 <= {self.max_violation}"


Bound = tuple[str, str, float]  # (metric, ">=" or "<=", value)


def pick_strength(
    curve: list[dict], method: str, metric: str = "ndcg@10", bound: Bound | None = None
) -> float:
    """The strength of ``curve`` where ``method``'s ``metric`` is highest among the points that
    keep ``bound`` (e.g. ``("violation@10", "<=", 0.01)``); when none keeps it (a weak head),
    among the points at least as close to it as the head as trained (the point nearest
    strength 1): a default then follows the prompt no less than strength 1 does, without
    chasing the last bit of adherence whatever it costs in NDCG@10. A tie goes to the
    strength nearest 1."""
    if not curve:
        raise ValueError("curve: is empty")
    if method not in curve[0]:
        raise ValueError(f"method: {method!r} is not in the curve ({', '.join(curve[0])})")
    points = curve
    if bound is not None:
        name, sense, limit = bound
        if sense not in (">=", "<="):
            raise ValueError(f"bound: the sense must be '>=' or '<=', got {sense!r}")
        if name not in curve[0][method]:
            raise ValueError(f"bound: {name!r} is not a figure of {method!r}")
        sign = 1.0 if sense == ">=" else -1.0
        kept = [p for p in curve if sign * (p[method][name] - limit) >= 0]
        if not kept:
            trained = min(curve, key=lambda p: abs(p["strength"] - 1.0))
            kept = [p for p in curve if sign * (p[method][name] - trained[method][name]) >= 0]
        points = kept
    best = max(point[method][metric] for point in points)
    ties = [point["strength"] for point in points if point[method][metric] == best]
    return min(ties, key=lambda strength: abs(strength - 1.0))


def point_at(curve: list[dict], strength: float) -> dict:
    """The curve's point at ``strength``."""
    for point in curve:
        if point["strength"] == strength:
            return point
    raise ValueError(f"strength: {strength} is not on the curve")


def calibrate(
    tasks: dict[str, TaskScores],
    item_tags: np.ndarray,
    strengths: tuple[float, ...] = STRENGTHS,
    adherence: Adherence = Adherence(),
) -> tuple[DefaultStrength, dict[str, dict]]:
    """The defaults picked on ``tasks`` (validation cases) and the curves they come from; a
    polarity without cases keeps 1."""
    curves = {name: strength_curve(task, item_tags, strengths) for name, task in tasks.items()}
    picks: dict[str, float] = {}
    if "positive" in curves:
        picks["positive"] = pick_strength(
            curves["positive"]["curve"], "dpr", bound=("tag_hit@10", ">=", adherence.min_tag_hit)
        )
    if "negative" in curves:
        negative = curves["negative"]["curve"]
        picks["negative"] = pick_strength(
            negative, "dpr", bound=("violation@10", "<=", adherence.max_violation)
        )
        picks["negative_hybrid"] = pick_strength(negative, "hybrid")
    source = f"validation NDCG@10 with {adherence.describe()}"
    return DefaultStrength(**picks, source=source), curves


def calibrate_head(
    backbone: SequentialBackbone,
    head: SteeringHead,
    split: LeaveOneOutSplit,
    trained_prompts: dict[tuple[int, bool], PromptFeatures],
    heldout_prompts: dict[tuple[int, bool], PromptFeatures],
    adherence: Adherence = Adherence(),
) -> tuple[DefaultStrength, dict[str, dict]]:
    """``calibrate`` on the validation cases of ``split``."""
    tasks = task_scores(backbone, head, split, trained_prompts, heldout_prompts, stage="valid")
    return calibrate(tasks, split.dataset.tag_matrix()[1:], adherence=adherence)


def report_at(curves: dict[str, dict], default: DefaultStrength) -> dict[str, dict]:
    """Figures shaped like ``evaluate_steering``'s tasks with every steered method at its
    default (held-out phrasings at DPR's, each ratio interval at its steered method's) and
    the baselines as they are."""
    report: dict[str, dict] = {}
    for task in TASKS:
        if task not in curves:
            continue
        negative = task == "negative"
        curve = curves[task]["curve"]
        dpr = point_at(curve, default.for_prompt(negative, hybrid=False))
        hybrid = point_at(curve, default.for_prompt(negative, hybrid=True))
        picked = {"dpr": dpr, "hybrid": hybrid}
        report[task] = {
            **curves[task]["baselines"],
            "dpr": dpr["dpr"],
            "hybrid": hybrid["hybrid"],
            "heldout_phrasing": dpr["heldout_phrasing"],
        }
        report[task]["ratio_ci95"] = {
            f"{steered}/{base}": picked[steered]["ratio_ci95"][f"{steered}/{base}"]
            for steered, base in STEERED_OVER_BASELINES
        }
    return report
