"""Histories as fixed-width model input: most recent item last, 0 (padding) on the left."""

from __future__ import annotations

import numpy as np


def left_pad(histories: list[np.ndarray], length: int) -> np.ndarray:
    """``[B, length]`` int64: each history's last ``length`` items, right-aligned, 0 on the left."""
    out = np.zeros((len(histories), length), dtype=np.int64)
    for row, hist in enumerate(histories):
        tail = hist[-length:]
        if len(tail):
            out[row, length - len(tail) :] = tail
    return out
