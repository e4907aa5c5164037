"""What the sentence encoder gives the steering head for a batch of prompts."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class PromptFeatures:
    """A batch of encoded prompts.

    Attributes:
        embedding: ``[B, P]`` L2-normalised mean-pooled sentence embedding z.
        states: ``[B, T, P]`` the encoder's last hidden state per token (padding rows are
            zero), which the polarity reader attends over: negation lives in one or two
            tokens ("no", "not", "skip") that mean pooling dilutes.
        mask: ``[B, T]`` int64, 1 on real tokens ([CLS] ... [SEP]), 0 on padding.
    """

    embedding: torch.Tensor
    states: torch.Tensor
    mask: torch.Tensor

    def __len__(self) -> int:
        return len(self.embedding)

    def take(self, rows: torch.Tensor) -> PromptFeatures:
        """The prompts at ``rows`` (a 1-D index tensor), in that order."""
        return PromptFeatures(self.embedding[rows], self.states[rows], self.mask[rows])

    @staticmethod
    def concat(parts: list[PromptFeatures]) -> PromptFeatures:
        """One batch of several, padded on the token axis to the widest of them."""
        width = max(p.mask.shape[1] for p in parts)

        def pad(x: torch.Tensor) -> torch.Tensor:
            extra = width - x.shape[1]
            if not extra:
                return x
            return torch.cat([x, x.new_zeros((x.shape[0], extra, *x.shape[2:]))], dim=1)

        return PromptFeatures(
            torch.cat([p.embedding for p in parts]),
            torch.cat([pad(p.states) for p in parts]),
            torch.cat([pad(p.mask) for p in parts]),
        )


def prompt_bank(
    prompts: Mapping[K, PromptFeatures],
) -> tuple[PromptFeatures, dict[K, tuple[int, int]]]:
    """Every group's phrasings in one batch, and where each group lies in it: key → (first
    row, count). Lets a caller pick one phrasing per sample with one ``take``."""
    keys = list(prompts)
    starts = np.cumsum([0, *(len(prompts[k]) for k in keys)])
    spans = {k: (int(starts[i]), len(prompts[k])) for i, k in enumerate(keys)}
    return PromptFeatures.concat([prompts[k] for k in keys]), spans
