"""Training windows and left-padded batches for next-item prediction at every position."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from dpr_plugin.data.padding import left_pad


def window_bounds(length: int, max_len: int, all_windows: bool) -> list[tuple[int, int]]:
    """(start, end) of the training windows of a sequence of ``length`` items.

    Each window holds at most ``max_len + 1`` items and trains ``end - start - 1`` next-item
    predictions. With ``all_windows`` consecutive windows' targets do not overlap, so every
    interaction is a target once; otherwise only the most recent window is kept (the
    original SASRec recipe).
    """
    bounds = []
    end = length
    while end >= 2:
        bounds.append((max(0, end - max_len - 1), end))
        if not all_windows:
            break
        end -= max_len
    return bounds


def training_windows(
    sequences: list[np.ndarray], max_len: int, all_windows: bool
) -> list[np.ndarray]:
    """The item windows of every sequence (see ``window_bounds``)."""
    return [
        seq[start:end]
        for seq in sequences
        for start, end in window_bounds(len(seq), max_len, all_windows)
    ]


def batches(
    windows: list[np.ndarray], batch_size: int, rng: np.random.Generator, bucket: int = 50
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yields (inputs ``[B, T]``, targets ``[B, T]``) with 0 where there is nothing to predict.

    Windows are shuffled, then sorted by length inside buckets of ``bucket`` batches so that
    little padding is computed; ``T`` is the longest window of the batch minus one.
    """
    order = rng.permutation(len(windows))
    chunk = batch_size * bucket
    groups = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: len(windows[i]))
        groups.extend(part[k : k + batch_size] for k in range(0, len(part), batch_size))
    for g in rng.permutation(len(groups)):
        members = [windows[i] for i in groups[g]]
        t = max(len(w) for w in members) - 1
        inputs = left_pad([w[:-1] for w in members], t)
        targets = left_pad([w[1:] for w in members], t)
        yield inputs, targets
