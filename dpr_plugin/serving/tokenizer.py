"""The service's prompt tokenizer: the fast (Rust) tokenizer of all-MiniLM-L6-v2, fixed length.

The same ``tokenizer.json`` is used at export time and in the service, so the ids the
``prompt_encoder`` model sees are identical in training, export and serving.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dpr_plugin.errors import ConfigError


class PromptTokenizer:
    """Text → (ids, mask) int64 arrays ([CLS] ... [SEP], 0-padded), truncated to ``length``.

    Without ``buckets`` every batch is exactly ``length`` wide (training). With buckets (the
    service) a batch is as wide as the smallest bucket holding its longest prompt: the same
    ids, minus trailing padding the encoder ignores, so short prompts cost less.
    """

    def __init__(
        self, tokenizer_json: Path, length: int, buckets: tuple[int, ...] = ()
    ) -> None:
        from tokenizers import Tokenizer

        if not Path(tokenizer_json).is_file():
            raise ConfigError(f"tokenizer: {tokenizer_json} not found")
        self.length = length
        if any(b < 3 or b > length for b in buckets) or list(buckets) != sorted(set(buckets)):
            raise ConfigError(f"buckets: increasing widths in 3..{length}, got {buckets}")
        self.buckets = buckets
        self._tok = Tokenizer.from_file(str(tokenizer_json))
        self._tok.enable_truncation(max_length=length)
        self._tok.enable_padding(length=length, pad_id=0, pad_token="[PAD]")  # noqa: S106

    def encode_batch(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """``([B, T], [B, T])`` int64 ids and attention mask."""
        encodings = self._tok.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64).reshape(len(texts), self.length)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64).reshape(
            len(texts), self.length
        )
        if self.buckets:
            longest = int(mask.sum(axis=1).max()) if len(texts) else 0
            width = next((b for b in self.buckets if b >= longest), self.length)
            ids, mask = ids[:, :width].copy(), mask[:, :width].copy()
        return ids, mask
