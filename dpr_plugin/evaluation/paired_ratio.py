"""How far a ratio of two methods' mean NDCG@10 could move with other cases: a paired bootstrap.

The issue's steering targets are ratios of means over the same cases (DPR ÷ post-filter,
hybrid ÷ filter, ...). Both methods rank the same users, so a resample draws cases, not
figures: one draw of case indices (with replacement) feeds the numerator and the denominator,
and the interval is the percentile interval of the resampled ratios. It measures the spread
that the choice of test users gives, not the spread between training seeds.
"""

from __future__ import annotations

import numpy as np

RESAMPLES = 2000
LEVEL = 0.95
SEED = 0
METHOD = (
    f"paired bootstrap over the cases ({RESAMPLES} resamples, {LEVEL:.0%} percentile interval, "
    f"seed {SEED})"
)
_CHUNK = 250  # resamples drawn at once (memory: _CHUNK x cases indices)


def ratio_interval(
    numerator: np.ndarray,
    denominator: np.ndarray,
    level: float = LEVEL,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> tuple[float, float]:
    """Percentile interval of ``mean(numerator) / mean(denominator)`` over resampled cases.

    Args:
        numerator: ``[B]`` per-case figure of one method (e.g. NDCG@10 gains).
        denominator: ``[B]`` the same cases' figure of the method it is compared with.
        level: Coverage of the interval, in (0, 1).
        resamples: Number of bootstrap draws.
        seed: Seed of the draws (the same seed gives the same interval).

    Returns:
        ``(low, high)``; ``(nan, nan)`` when there is no case or the denominator is 0 in a
        resample.
    """
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    if numerator.shape != denominator.shape or numerator.ndim != 1:
        raise ValueError(
            f"numerator, denominator: must be two [B] arrays of one length, got "
            f"{numerator.shape} and {denominator.shape}"
        )
    if not 0.0 < level < 1.0:
        raise ValueError(f"level: must be in (0, 1), got {level}")
    if resamples < 1:
        raise ValueError(f"resamples: must be >= 1, got {resamples}")
    cases = len(numerator)
    if cases == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    ratios = []
    for start in range(0, resamples, _CHUNK):
        draw = rng.integers(0, cases, size=(min(_CHUNK, resamples - start), cases))
        top, bottom = numerator[draw].sum(axis=1), denominator[draw].sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios.append(np.where(bottom > 0, top / bottom, np.nan))
    values = np.concatenate(ratios)
    if np.isnan(values).any():
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return float(low), float(high)


def ratio_intervals(
    gains: dict[str, np.ndarray], pairs: tuple[tuple[str, str], ...], digits: int = 4
) -> dict[str, list[float] | None]:
    """``{"a/b": [low, high]}`` for each ``(a, b)`` of ``pairs``, rounded to ``digits``;
    ``None`` (JSON null, not NaN) where the interval is undefined (no case, or a resample in
    which b never scores).

    Args:
        gains: Method name → ``[B]`` per-case figure, every method on the same cases.
        pairs: (numerator, denominator) method names.
    """
    out: dict[str, list[float] | None] = {}
    for top, bottom in pairs:
        for name in (top, bottom):
            if name not in gains:
                raise ValueError(f"pairs: {name!r} is not a method of gains ({', '.join(gains)})")
        low, high = ratio_interval(gains[top], gains[bottom])
        defined = not (np.isnan(low) or np.isnan(high))
        out[f"{top}/{bottom}"] = [round(low, digits), round(high, digits)] if defined else None
    return out
