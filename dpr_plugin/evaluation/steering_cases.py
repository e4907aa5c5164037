"""Steering cases: which (history, target) pairs test positive or negative steering, and on
which tag — the rules of the evaluation protocol (docs/evaluation.md).

W = the last ``window`` history items; share(g) = fraction of W carrying tag g.
  * Positive ("more g"): g = the target's tag with the lowest share in W (ties: first in tag
    order); a case when share(g) <= ``positive_max_share`` (a real interest shift).
  * Negative ("no g"): g = the tag with the highest share in W that the target lacks (ties:
    first in tag order); a case when share(g) >= ``negative_min_share``.
The same rules select training samples at earlier positions (``training_positions``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WINDOW = 50
POSITIVE_MAX_SHARE = 0.10
NEGATIVE_MIN_SHARE = 0.30


@dataclass(frozen=True)
class CaseRules:
    """Thresholds of the case rules (defaults are the protocol's)."""

    window: int = WINDOW
    positive_max_share: float = POSITIVE_MAX_SHARE
    negative_min_share: float = NEGATIVE_MIN_SHARE


@dataclass(frozen=True)
class SteeringCases:
    """Selected cases of one polarity, aligned arrays.

    Attributes:
        rows: Index of each case in the caller's list of (history, target) pairs.
        tags: Tag column (dataset tag order) each case's prompt names.
        negative: True for "no X" cases.
    """

    rows: np.ndarray
    tags: np.ndarray
    negative: bool

    def __len__(self) -> int:
        return len(self.rows)

    def subset(self, positions: np.ndarray) -> SteeringCases:
        """The cases at ``positions`` (indices into these arrays)."""
        return SteeringCases(self.rows[positions], self.tags[positions], self.negative)


def window_shares(
    history: np.ndarray, tag_matrix: np.ndarray, window: int = WINDOW
) -> np.ndarray | None:
    """``[T]`` share of each tag among the last ``window`` items of ``history`` (None when
    it is empty): what the case rules read."""
    recent = history[-window:]
    if len(recent) == 0:
        return None
    return tag_matrix[recent].mean(axis=0)  # [T]


def positive_tag(shares: np.ndarray, target_tags: np.ndarray, rules: CaseRules) -> int | None:
    """The tag a positive case names, or None when the pair is not a positive case."""
    candidates = np.flatnonzero(target_tags)
    if len(candidates) == 0:
        return None
    g = int(candidates[np.argmin(shares[candidates])])  # argmin: first on ties, tag order
    return g if shares[g] <= rules.positive_max_share else None


def positive_case_items(shares: np.ndarray, tag: int, item_tags: np.ndarray) -> np.ndarray:
    """``[N]`` True for the items that, as the target after a window with ``shares``, would
    make a positive case naming ``tag``: they carry it and no tag of theirs has a lower share
    (ties to the first in tag order, as ``positive_tag``). ``item_tags`` is ``[N, T]`` bool.

    Any other item with ``tag`` would have been asked for by a rarer tag, so this is what the
    case rule itself tells a model about the target, beyond "it carries the tag"."""
    masked = np.where(item_tags, shares[None, :], np.inf)  # [N, T]
    return item_tags[:, tag] & (masked.argmin(axis=1) == tag)


def positive_case_masks(
    histories: list[np.ndarray], tags: np.ndarray, tag_matrix: np.ndarray, window: int = WINDOW
) -> np.ndarray:
    """``[B, N]`` ``positive_case_items`` for each (history, tag) pair of positive cases, the
    shares read from the last ``window`` items; ``tag_matrix`` as in ``select_cases``.

    Raises:
        ValueError: a history is empty (no case has one).
    """
    out = np.zeros((len(histories), tag_matrix.shape[0] - 1), dtype=bool)
    for row, (history, tag) in enumerate(zip(histories, tags, strict=True)):
        shares = window_shares(history, tag_matrix, window)
        if shares is None:
            raise ValueError(f"histories[{row}]: empty, so it is no steering case")
        out[row] = positive_case_items(shares, int(tag), tag_matrix[1:])
    return out


def negative_tag(shares: np.ndarray, target_tags: np.ndarray, rules: CaseRules) -> int | None:
    """The tag a negative case names, or None when the pair is not a negative case."""
    candidates = np.flatnonzero(~target_tags)
    if len(candidates) == 0:
        return None
    g = int(candidates[np.argmax(shares[candidates])])  # argmax: first on ties, tag order
    return g if shares[g] >= rules.negative_min_share else None


def select_cases(
    histories: list[np.ndarray],
    targets: np.ndarray,
    tag_matrix: np.ndarray,
    rules: CaseRules | None = None,
) -> tuple[SteeringCases, SteeringCases]:
    """Positive and negative cases among (history, target) pairs.

    Args:
        histories: Internal item ids before each target, oldest first.
        targets: Internal item id of each target.
        tag_matrix: ``[num_items + 1, T]`` bool, from ``SequenceDataset.tag_matrix()``.
        rules: Thresholds; the protocol's by default.
    """
    rules = rules or CaseRules()
    found: dict[bool, tuple[list[int], list[int]]] = {False: ([], []), True: ([], [])}
    for row, (history, target) in enumerate(zip(histories, targets, strict=True)):
        shares = window_shares(history, tag_matrix, rules.window)
        if shares is None:
            continue
        for negative, pick in ((False, positive_tag), (True, negative_tag)):
            tag = pick(shares, tag_matrix[target], rules)
            if tag is not None:
                found[negative][0].append(row)
                found[negative][1].append(tag)
    return tuple(  # type: ignore[return-value]
        SteeringCases(np.array(r, np.int64), np.array(t, np.int64), negative)
        for negative, (r, t) in sorted(found.items())
    )


def training_positions(
    sequences: list[np.ndarray],
    tag_matrix: np.ndarray,
    rules: CaseRules | None = None,
    min_history: int = 5,
) -> list[tuple[int, int, int, bool]]:
    """Every training position that is a steering case: (user, position, tag, negative).

    Position ``p`` means history ``seq[:p]`` and target ``seq[p]``; positions with fewer than
    ``min_history`` items before them are skipped.
    """
    rules = rules or CaseRules()
    out = []
    for user, seq in enumerate(sequences):
        for position in range(min_history, len(seq)):
            shares = window_shares(seq[:position], tag_matrix, rules.window)
            if shares is None:
                continue
            target_tags = tag_matrix[seq[position]]
            for negative, pick in ((False, positive_tag), (True, negative_tag)):
                tag = pick(shares, target_tags, rules)
                if tag is not None:
                    out.append((user, position, tag, negative))
    return out
