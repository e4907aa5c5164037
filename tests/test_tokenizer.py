"""The service tokenizer must give the ids the exported prompt encoder was traced with."""

from __future__ import annotations

import pytest

transformers = pytest.importorskip("transformers", reason="training extra not installed")

from dpr_plugin.models.prompt_encoder import MAX_TOKENS, minilm_dir  # noqa: E402
from dpr_plugin.tokenizer import PromptTokenizer  # noqa: E402

PROMPTS = [
    "",
    "more comedies please",
    "NO HORROR tonight!!!",
    "Ünïcödé prompts: 日本語の映画 🎬 and émigré films",
    "a very long prompt " * 40,
    "   leading and trailing spaces   ",
]


def test_tokenizer_matches_reference_tokenizer_on_edge_prompts() -> None:
    reference = transformers.AutoTokenizer.from_pretrained(str(minilm_dir()))
    ours = PromptTokenizer(minilm_dir() / "tokenizer.json", MAX_TOKENS)
    ids, mask = ours.encode_batch(PROMPTS)
    for row, text in enumerate(PROMPTS):
        expected = reference(text, padding="max_length", truncation=True, max_length=MAX_TOKENS)
        assert ids[row].tolist() == expected["input_ids"], text
        assert mask[row].tolist() == expected["attention_mask"], text


def test_buckets_trim_only_padding() -> None:
    from dpr_plugin.contract import PROMPT_BUCKETS, PROMPT_TOKENS

    full = PromptTokenizer(minilm_dir() / "tokenizer.json", PROMPT_TOKENS)
    bucketed = PromptTokenizer(minilm_dir() / "tokenizer.json", PROMPT_TOKENS, PROMPT_BUCKETS)
    for texts, width in (
        (["more comedies"], 8),
        (["more comedies", "show me something funny and light for tonight"], 16),
        (["a very long prompt " * 40], 32),
    ):
        ids, mask = bucketed.encode_batch(texts)
        want_ids, want_mask = full.encode_batch(texts)
        assert ids.shape == (len(texts), width)
        assert (ids == want_ids[:, :width]).all() and (want_ids[:, width:] == 0).all()
        assert (mask == want_mask[:, :width]).all()


def test_encode_cache_gives_the_batch_encoding_and_stays_bounded() -> None:
    from dpr_plugin.contract import PROMPT_BUCKETS, PROMPT_TOKENS

    tok = PromptTokenizer(
        minilm_dir() / "tokenizer.json", PROMPT_TOKENS, PROMPT_BUCKETS, cache_entries=2
    )
    for text in PROMPTS:
        want_ids, want_mask = tok.encode_batch([text])
        for _ in range(2):  # a miss, then a hit
            ids, mask = tok.encode(text)
            assert (ids == want_ids).all() and (mask == want_mask).all()
            assert ids.shape == want_ids.shape
    ids, _ = tok.encode(PROMPTS[1])
    ids[:] = -1  # a caller's change must not reach the cache
    assert (tok.encode(PROMPTS[1])[0] == tok.encode_batch([PROMPTS[1]])[0]).all()
    assert len(tok._cache) == 2
