"""The steering issue's targets, checked on a report shaped like ``evaluate_steering``'s.

Each target is a ratio of two figures on the same cases (or, for the hybrid's violation, a
share that must be 0). A ratio of NDCG@10 also gets the 95 % interval the report carries for
it (``paired_ratio``), and ``bar_in_ci95`` says whether the target lies inside it: then the
test users at hand cannot tell met from not met, whichever side the value fell on.
"""

from __future__ import annotations

NDCG_TARGETS = {
    # name: (task, steered method, baseline, least ratio)
    "positive_dpr_over_postfilter": ("positive", "dpr", "postfilter", 1.5),
    "positive_hybrid_over_filter": ("positive", "hybrid", "filter", 1.1),
    "negative_dpr_over_filter": ("negative", "dpr", "filter", 0.95),
    "negative_hybrid_over_filter": ("negative", "hybrid", "filter", 1.0),
}
HELDOUT_TAG_HIT_SHARE = 0.8
"""Least held-out ÷ trained positive tag_hit@10."""


def _ratio(a: float, b: float) -> float:
    return round(a / b, 4) if b else float("nan")


def _check(value: float, bar: float, interval: list[float] | None = None) -> dict[str, object]:
    entry: dict[str, object] = {"value": value, "target": f">= {bar}", "met": value >= bar}
    if interval is not None:
        entry["ci95"] = interval
        entry["bar_in_ci95"] = interval[0] <= bar <= interval[1]
    return entry


def targets(report: dict) -> dict[str, dict[str, object]]:
    """The issue's targets as ``{name: {"value", "target", "met"[, "ci95", "bar_in_ci95"]}}``.

    Args:
        report: ``{"positive": task, "negative": task}``, each task with a ``{"ndcg@10": ...}``
            per method, ``heldout_phrasing`` and, when given, ``ratio_ci95`` (``"dpr/filter"``
            → ``[low, high]``).
    """
    out: dict[str, dict[str, object]] = {}
    for name, (task, steered, baseline, bar) in NDCG_TARGETS.items():
        figures = report[task]
        value = _ratio(figures[steered]["ndcg@10"], figures[baseline]["ndcg@10"])
        interval = figures.get("ratio_ci95", {}).get(f"{steered}/{baseline}")
        out[name] = _check(value, bar, interval)
    positive = report["positive"]
    out["heldout_over_trained_tag_hit"] = _check(
        _ratio(positive["heldout_phrasing"]["tag_hit@10"], positive["dpr"]["tag_hit@10"]),
        HELDOUT_TAG_HIT_SHARE,
    )
    violation = report["negative"]["hybrid"]["violation@10"]
    out["negative_hybrid_violation"] = {"value": violation, "target": "= 0", "met": violation == 0}
    return out
