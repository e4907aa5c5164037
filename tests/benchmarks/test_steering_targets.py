"""The steering issue's targets on a hand-made report."""

from __future__ import annotations

from benchmarks.lib.steering_targets import targets


def _report(with_intervals: bool) -> dict:
    positive = {
        "dpr": {"ndcg@10": 0.45, "tag_hit@10": 0.99},
        "hybrid": {"ndcg@10": 0.45},
        "postfilter": {"ndcg@10": 0.40},
        "filter": {"ndcg@10": 0.44},
        "heldout_phrasing": {"tag_hit@10": 0.9},
    }
    negative = {
        "dpr": {"ndcg@10": 0.150},
        "hybrid": {"ndcg@10": 0.149, "violation@10": 0.0},
        "postfilter": {"ndcg@10": 0.150},
        "filter": {"ndcg@10": 0.150},
    }
    if with_intervals:
        positive["ratio_ci95"] = {"dpr/postfilter": [1.10, 1.15], "hybrid/filter": [1.0, 1.05]}
        negative["ratio_ci95"] = {"dpr/filter": [0.99, 1.01], "hybrid/filter": [0.985, 1.001]}
    return {"positive": positive, "negative": negative}


def test_ratios_flags_and_intervals() -> None:
    out = targets(_report(with_intervals=True))
    assert out["positive_dpr_over_postfilter"] == {
        "value": 1.125, "target": ">= 1.5", "met": False, "ci95": [1.10, 1.15],
        "bar_in_ci95": False,
    }  # fmt: skip
    hybrid = out["negative_hybrid_over_filter"]
    assert (hybrid["value"], hybrid["met"], hybrid["bar_in_ci95"]) == (0.9933, False, True)
    assert out["negative_dpr_over_filter"]["met"] is True
    assert out["negative_dpr_over_filter"]["bar_in_ci95"] is False  # 0.95 is below the interval
    assert out["heldout_over_trained_tag_hit"]["value"] == round(0.9 / 0.99, 4)
    assert "ci95" not in out["heldout_over_trained_tag_hit"]
    assert out["negative_hybrid_violation"] == {"value": 0.0, "target": "= 0", "met": True}


def test_a_report_without_intervals_gives_the_ratios_alone() -> None:
    out = targets(_report(with_intervals=False))
    assert out["positive_hybrid_over_filter"] == {
        "value": round(0.45 / 0.44, 4), "target": ">= 1.1", "met": False,
    }  # fmt: skip
