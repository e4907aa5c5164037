"""The same steered and unsteered scores under other evaluation protocols.

The paper's positive-steering figure (NDCG@10 0.5748, +71.84 % over its filter baseline) comes
from a protocol whose details are not known. Three choices move the figures most and are
cheap to vary on scores a run already has:

  * **history in the ranking**: our protocol (docs/evaluation.md) keeps the user's history
    items in the ranking; most papers (RecBole's full sort) remove them (``remove_seen``).
    Removal applies to every method, so the post-filter's top ``depth`` is then the top of the
    unseen items, as a platform that sets ``exclude_seen`` would see it;
  * **post-filter depth**: how many backbone items the rule is applied to (``postfilter``'s
    ``depth``; the issue's baseline uses 100). A shallow recall stage loses every target it
    did not retrieve, which makes the baseline weaker and every ratio over it larger;
  * **which cases**: a subset of the cases (e.g. positive cases whose tag is absent from the
    recent window, a "new interest" reading of the positive rule).

``variant_report`` gives, for one task on one choice of these, each method's NDCG@10 and the
NDCG@10 ratios of DPR and hybrid over every baseline with their paired-bootstrap intervals.
"""

from __future__ import annotations

import numpy as np

from dpr_plugin.evaluation.paired_ratio import ratio_intervals
from dpr_plugin.evaluation.steering_metrics import hard_filter, ndcg_per_case, postfilter

DEPTHS = (10, 20, 50, 100, 200, 500)
"""Post-filter depths reported (100 is the issue's baseline)."""


def seen_mask(histories: list[np.ndarray], rows: np.ndarray, num_items: int) -> np.ndarray:
    """``[B, N]`` bool: column j (item j + 1) is in the history of case ``rows[b]``.

    Args:
        histories: Internal item ids (1-based) before each target, one array per user.
        rows: Index into ``histories`` of each case.
        num_items: Catalogue size N (columns).
    """
    seen = np.zeros((len(rows), num_items), dtype=bool)
    for b, row in enumerate(rows):
        items = np.asarray(histories[int(row)], dtype=np.int64)
        if len(items) and (items.min() < 1 or items.max() > num_items):
            raise ValueError(
                f"histories[{int(row)}]: item ids must lie in 1..{num_items}, got "
                f"{int(items.min())}..{int(items.max())}"
            )
        seen[b, items - 1] = True
    return seen


def remove_seen(scores: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Scores with every history item removed (``-inf``), as RecBole's full sort does."""
    if scores.shape != seen.shape:
        raise ValueError(f"seen: shape {seen.shape} differs from scores {scores.shape}")
    return np.where(seen, -np.inf, scores)


def variant_report(
    base: np.ndarray,
    steered: np.ndarray,
    allowed: np.ndarray,
    gold: np.ndarray,
    depths: tuple[int, ...] = DEPTHS,
    digits: int = 4,
) -> dict[str, object]:
    """NDCG@10 of every method and the steered-over-baseline ratios on one set of cases.

    Args:
        base: ``[B, N]`` backbone scores (already with history removed, if the variant does).
        steered: ``[B, N]`` the steered vector's scores, same removal.
        allowed: ``[B, N]`` items that keep each case's tag rule.
        gold: ``[B]`` target column of each case.
        depths: Post-filter depths; each gives a method ``postfilter@<depth>``.

    Returns:
        ``{"cases", "ndcg@10": {method: value}, "ratios": {"dpr/postfilter@100": value, ...},
        "ratio_ci95": {same keys: [low, high] or None}}``, methods ``backbone``, ``dpr``,
        ``hybrid``, ``filter`` and ``postfilter@<depth>``.
    """
    if not depths:
        raise ValueError("depths: needs at least one post-filter depth")
    for name, matrix in (("steered", steered), ("allowed", allowed)):
        if matrix.shape != base.shape:
            raise ValueError(f"{name}: shape {matrix.shape} differs from base {base.shape}")
    methods = {
        "backbone": base,
        "dpr": steered,
        "hybrid": hard_filter(steered, allowed),
        "filter": hard_filter(base, allowed),
        **{f"postfilter@{d}": postfilter(base, allowed, d) for d in depths},
    }
    gains = {name: ndcg_per_case(scores, gold) for name, scores in methods.items()}
    baselines = ["filter", *(f"postfilter@{d}" for d in depths)]
    pairs = tuple((top, bottom) for top in ("dpr", "hybrid") for bottom in baselines)
    ratios: dict[str, float | None] = {}
    for top, bottom in pairs:
        denominator = float(gains[bottom].mean()) if len(gold) else 0.0
        ratios[f"{top}/{bottom}"] = (
            round(float(gains[top].mean()) / denominator, digits) if denominator > 0 else None
        )
    return {
        "cases": len(gold),
        "ndcg@10": {
            name: round(float(g.mean()), digits) if len(g) else 0.0 for name, g in gains.items()
        },
        "ratios": ratios,
        "ratio_ci95": ratio_intervals(gains, pairs, digits),
    }
