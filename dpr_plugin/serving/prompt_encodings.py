"""The encoder's outputs for texts the service sends often, kept in the service.

The steering head is given canonical prompts ("more comedies", "no horror": two per tag), and
the zero-shot reader embeds the parts of prompts its rules could not place. Each text is
encoded once by the backend's ``prompt_encoder`` (all missing texts of a request in one call)
and kept; a request then goes to ``dpr_steer_encoded`` with the encodings, and the encoder
does not run again for any of its clauses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dpr_plugin.contract import (
    PROMPT_EMBEDDING,
    PROMPT_ENCODER,
    PROMPT_IDS,
    PROMPT_MASK,
    PROMPT_STATES,
)
from dpr_plugin.serving.inference.base import InferenceBackend
from dpr_plugin.serving.lru import LruCache
from dpr_plugin.tokenizer import PromptTokenizer

ENTRIES = 4096
"""Texts kept: canonical prompts (two per tag) and recent unread prompt parts; ~12 KiB each."""


@dataclass(frozen=True)
class Encoding:
    """One text's embedding [P], token states [W, P] and mask [W]."""

    embedding: np.ndarray
    states: np.ndarray
    mask: np.ndarray


@dataclass(frozen=True)
class EncodedBatch:
    """Rows of encodings, the token axis right-padded with zeros to the widest row."""

    embedding: np.ndarray
    states: np.ndarray
    mask: np.ndarray


class PromptEncodings:
    """Encodings of texts, from the cache or (all missing ones in one call) the backend."""

    def __init__(self, tokenizer: PromptTokenizer, entries: int = ENTRIES) -> None:
        self.tokenizer = tokenizer
        self._cache: LruCache[str, Encoding] = LruCache(entries)

    async def encode(
        self, texts: list[str], backend: InferenceBackend, timeout_s: float | None
    ) -> EncodedBatch:
        """The encodings of ``texts`` (InferenceError / BackendUnavailableError from the
        backend when some had to be computed and could not)."""
        found = {text: self._cache.get(text) for text in texts}
        missing = [text for text, hit in found.items() if hit is None]
        if missing:
            ids, mask = encode_rows(self.tokenizer, missing)
            out = await backend.infer(
                PROMPT_ENCODER.name,
                {PROMPT_IDS.name: ids, PROMPT_MASK.name: mask},
                timeout_s=timeout_s,
            )
            for i, text in enumerate(missing):
                width = int(mask[i].sum())
                encoding = Encoding(
                    out[PROMPT_EMBEDDING.name][i].copy(),
                    out[PROMPT_STATES.name][i, :width].copy(),
                    mask[i, :width].copy(),
                )
                self._cache.put(text, encoding)
                found[text] = encoding
        rows = [found[text] for text in texts]
        width = max(row.mask.shape[0] for row in rows)
        states = np.zeros((len(rows), width, rows[0].states.shape[1]), np.float32)
        mask = np.zeros((len(rows), width), np.int64)
        for i, row in enumerate(rows):
            states[i, : row.mask.shape[0]] = row.states
            mask[i, : row.mask.shape[0]] = row.mask
        embedding = np.stack([row.embedding for row in rows]).astype(np.float32)
        return EncodedBatch(embedding, states, mask)


def encode_rows(tokenizer: PromptTokenizer, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Ids and mask of several prompts, each from the tokenizer's cache, right-padded with 0 to
    the widest."""
    encoded = [tokenizer.encode(text) for text in texts]
    width = max(ids.shape[1] for ids, _ in encoded)
    ids = np.zeros((len(texts), width), np.int64)
    mask = np.zeros((len(texts), width), np.int64)
    for i, (row_ids, row_mask) in enumerate(encoded):
        ids[i, : row_ids.shape[1]] = row_ids[0]
        mask[i, : row_mask.shape[1]] = row_mask[0]
    return ids, mask
