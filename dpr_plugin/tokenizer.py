"""The service's prompt tokenizer: the fast (Rust) tokenizer of all-MiniLM-L6-v2, fixed length.

The same ``tokenizer.json`` is used at export time and in the service, so the ids the
``prompt_encoder`` model sees are identical in training, export and serving.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from dpr_plugin.errors import ConfigError


class PromptTokenizer:
    """Text → (ids, mask) int64 arrays ([CLS] ... [SEP], 0-padded), truncated to ``length``.

    Without ``buckets`` every batch is exactly ``length`` wide (training). With buckets (the
    service) a batch is as wide as the smallest bucket holding its longest prompt: the same
    ids, minus trailing padding the encoder ignores, so short prompts cost less.

    ``encode`` (one prompt, as the service asks) keeps the last ``cache_entries`` prompts'
    encodings: a repeated prompt ("more comedies" from a UI chip) skips the tokenizer.
    """

    def __init__(
        self,
        tokenizer_json: Path,
        length: int,
        buckets: tuple[int, ...] = (),
        cache_entries: int = 4096,
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
        self._cache: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._cache_entries = cache_entries
        self._cache_lock = threading.Lock()

    def encode(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """``encode_batch([text])``, from the cache when ``text`` was seen recently.

        The arrays are fresh copies; the caller may change them.
        """
        with self._cache_lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
        if hit is None:
            hit = self.encode_batch([text])
            with self._cache_lock:
                self._cache[text] = hit
                if len(self._cache) > self._cache_entries:
                    self._cache.popitem(last=False)
        return hit[0].copy(), hit[1].copy()

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
