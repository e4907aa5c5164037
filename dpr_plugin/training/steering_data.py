"""Stage-3 training samples: user vectors at training positions that are steering cases,
paired with a prompt of the right polarity and tag and the true next item."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dpr_plugin.data.padding import left_pad
from dpr_plugin.data.prompts import render, template_ids
from dpr_plugin.errors import ConfigError
from dpr_plugin.evaluation.steering_cases import CaseRules, training_positions
from dpr_plugin.models.backbone import SequentialBackbone
from dpr_plugin.training.batches import window_bounds


@dataclass(frozen=True)
class SteeringSamples:
    """Aligned arrays of stage-3 samples.

    Attributes:
        users: ``[S, D]`` backbone user vectors before the target.
        targets: ``[S]`` internal id of the next item.
        tags: ``[S]`` tag column the prompt names.
        negative: ``[S]`` bool polarity.
    """

    users: np.ndarray
    targets: np.ndarray
    tags: np.ndarray
    negative: np.ndarray

    def __len__(self) -> int:
        return len(self.targets)


@torch.no_grad()
def position_states(
    backbone: SequentialBackbone,
    sequences: list[np.ndarray],
    wanted: set[tuple[int, int]],
    batch_size: int = 64,
) -> dict[tuple[int, int], np.ndarray]:
    """User vectors before the ``wanted`` positions: key (user, p) → state after seq[:p].

    One forward pass per training window (the same windows stage 1 trained on), so each
    vector sees at most ``max_len`` items, as at serving time.
    """
    backbone.eval()
    max_len = backbone.config.max_len
    windows: list[tuple[int, int, np.ndarray]] = []  # (user, offset of window start, items)
    for user, seq in enumerate(sequences):
        for start, end in window_bounds(len(seq), max_len, all_windows=True):
            windows.append((user, start, seq[start : end - 1]))
    states: dict[tuple[int, int], np.ndarray] = {}
    for begin in range(0, len(windows), batch_size):
        chunk = windows[begin : begin + batch_size]
        length = max(len(w) for _, _, w in chunk)
        out = backbone(torch.from_numpy(left_pad([w for _, _, w in chunk], length))).numpy()
        for row, (user, start, items) in enumerate(chunk):
            for i in range(len(items)):
                if (user, start + i + 1) in wanted:
                    states[(user, start + i + 1)] = out[row, length - len(items) + i].copy()
    return states


def build_samples(
    backbone: SequentialBackbone,
    sequences: list[np.ndarray],
    tag_matrix: np.ndarray,
    max_samples: int,
    seed: int = 0,
    rules: CaseRules | None = None,
) -> SteeringSamples:
    """Samples at most ``max_samples`` steering positions (balanced by polarity when possible),
    uniformly within a polarity: each tag as often as the case rules produce it."""
    rng = np.random.default_rng(seed)
    found = training_positions(sequences, tag_matrix, rules)
    by_polarity = {flag: [f for f in found if f[3] == flag] for flag in (False, True)}
    chosen = []
    for items in by_polarity.values():
        take = min(len(items), max_samples // 2)
        if take:
            chosen += [items[i] for i in rng.choice(len(items), size=take, replace=False)]
    if not chosen:
        raise ConfigError(
            "sequences: no training position is a steering case (the next item's tag rare in "
            "the history window, or a tag frequent there that it lacks), so stage 3 has "
            "nothing to train on"
        )
    states = position_states(backbone, sequences, {(u, p) for u, p, _, _ in chosen})
    return SteeringSamples(
        users=np.stack([states[(u, p)] for u, p, _, _ in chosen]).astype(np.float32),
        targets=np.array([sequences[u][p] for u, p, _, _ in chosen], dtype=np.int64),
        tags=np.array([t for _, _, t, _ in chosen], dtype=np.int64),
        negative=np.array([n for _, _, _, n in chosen], dtype=bool),
    )


def prompt_table(tag_names: list[str], held_out: bool) -> dict[tuple[int, bool], list[str]]:
    """(tag column, negative) → the trained (or held-out) phrasings for it."""
    return {
        (col, negative): [render(tag, negative, i).text for i in template_ids(negative, held_out)]
        for col, tag in enumerate(tag_names)
        for negative in (False, True)
    }
