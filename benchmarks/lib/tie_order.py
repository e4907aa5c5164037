"""Interactions that share a timestamp: how common they are, and the order a sort leaves them in.

MovieLens timestamps have one-second resolution, and a user often rates many movies within
the same second, so a chronological sort does not fix the order of those ratings. A stable
sort keeps the source file's order (Python's ``sorted``, our ``ml-1m`` loader, SASRec's own
preprocessing); an unstable one scrambles it (pandas' default quicksort on one column, which
the BERT4Rec-VAE preprocessing behind the shared ML-1M reconstruction used). When the source
file lists each user's rows in an order that follows the items rather than time, the order
inside ties becomes a pattern a sequential model can learn. ``order_predictability`` measures
that, and ``reorder_ties`` puts tied rows back in a source file's order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TypeVar

import numpy as np

Row = TypeVar("Row")


def tie_runs(timestamps: Sequence[int | None]) -> list[range]:
    """Splits a chronological sequence into maximal runs of positions with one timestamp.

    An unknown timestamp (``None``) joins a run only when the nearest known timestamps before
    and after it are equal (the sort order then pins it to that second); otherwise it is a run
    of its own. Every position is in exactly one run, in order.
    """
    n = len(timestamps)
    before: list[int | None] = [None] * n
    after: list[int | None] = [None] * n
    last: int | None = None
    for i, stamp in enumerate(timestamps):
        last = stamp if stamp is not None else last
        before[i] = last
    last = None
    for i in range(n - 1, -1, -1):
        last = timestamps[i] if timestamps[i] is not None else last
        after[i] = last
    keys: list[tuple[str, int]] = []
    for i, stamp in enumerate(timestamps):
        pinned = stamp if stamp is not None else before[i] if before[i] == after[i] else None
        keys.append(("known", pinned) if pinned is not None else ("alone", i))
    runs: list[range] = []
    start = 0
    for i in range(1, n + 1):
        if i == n or keys[i] != keys[start]:
            runs.append(range(start, i))
            start = i
    return runs


def reorder_ties(
    rows: Sequence[Row], timestamps: Sequence[int | None], position: Callable[[Row], int]
) -> list[Row]:
    """Returns ``rows`` with each run of ``tie_runs`` sorted by ``position`` (a source row
    number), i.e. the order a stable timestamp sort of that source would give."""
    if len(rows) != len(timestamps):
        raise ValueError(f"rows: {len(rows)} rows but {len(timestamps)} timestamps")
    ordered: list[Row] = []
    for run in tie_runs(timestamps):
        ordered.extend(sorted((rows[i] for i in run), key=position))
    return ordered


@dataclass(frozen=True)
class TieStats:
    """How often consecutive interactions share a timestamp, over sequences' known timestamps.

    Attributes:
        known_pairs: Consecutive pairs whose two timestamps are both known.
        tied_pairs: Of those, pairs with equal timestamps.
        known_last: Sequences whose last two timestamps are known.
        tied_last: Of those, sequences whose last interaction ties with the one before it
            (the leave-one-out test target shares its second with the last history item).
    """

    known_pairs: int
    tied_pairs: int
    known_last: int
    tied_last: int

    def to_dict(self) -> dict[str, float | int]:
        """The counts and the two shares, rounded for a result file."""
        return {
            "known_pairs": self.known_pairs,
            "tied_share": round(self.tied_pairs / max(self.known_pairs, 1), 4),
            "known_last": self.known_last,
            "tied_last_share": round(self.tied_last / max(self.known_last, 1), 4),
        }


def tie_stats(sequences: Iterable[Sequence[int | None]]) -> TieStats:
    """Counts ties between consecutive known timestamps of each sequence."""
    known = tied = known_last = tied_last = 0
    for stamps in sequences:
        for a, b in pairwise(stamps):
            if a is not None and b is not None:
                known += 1
                tied += a == b
        if len(stamps) >= 2 and stamps[-1] is not None and stamps[-2] is not None:
            known_last += 1
            tied_last += stamps[-1] == stamps[-2]
    return TieStats(known, tied, known_last, tied_last)


def tied_in_order(sequences: Iterable[tuple[Sequence[int | None], Sequence[int]]]) -> float:
    """Share of consecutive pairs with one known timestamp whose source rows (the second
    element of each (timestamps, source row numbers) pair) are in ascending order: 1.0 after
    a stable sort of that source, about 0.5 after an unstable one."""
    tied = in_order = 0
    for stamps, rows in sequences:
        for (a, row_a), (b, row_b) in pairwise(zip(stamps, rows, strict=True)):
            if a is not None and a == b:
                tied += 1
                in_order += row_a < row_b
    return in_order / tied if tied else 1.0


def order_predictability(lists: Iterable[Sequence[Hashable]], pairs_per_list: int = 200) -> float:
    """How far the lists follow one global item order: the share of random position pairs
    i < j of each list (``pairs_per_list`` of them, fixed seed) in which the item at i has the
    lower mean relative position over all lists. 0.5 when each list's order is unrelated to
    its items, 1.0 when every list follows one global item order. Lists shorter than 2 are
    ignored."""
    kept = [list(seq) for seq in lists if len(seq) >= 2]
    total: dict[Hashable, float] = defaultdict(float)
    count: dict[Hashable, int] = defaultdict(int)
    for seq in kept:
        last = len(seq) - 1
        for i, item in enumerate(seq):
            total[item] += i / last
            count[item] += 1
    rng = np.random.default_rng(0)
    agree = pairs = 0
    for seq in kept:
        mean = np.array([total[item] / count[item] for item in seq])
        first, second = rng.integers(0, len(seq), size=(2, pairs_per_list))
        distinct = first != second
        low, high = np.minimum(first, second)[distinct], np.maximum(first, second)[distinct]
        pairs += len(low)
        agree += int(np.sum(mean[low] < mean[high]))
    return agree / pairs if pairs else 0.5


def shuffled(lists: Iterable[Sequence[Hashable]], seed: int = 0) -> list[list[Hashable]]:
    """Each list in a random order (fixed seed): the control for ``order_predictability``."""
    rng = np.random.default_rng(seed)
    return [[seq[i] for i in rng.permutation(len(seq))] for seq in lists]
