"""Parity of every export: the same inputs through PyTorch and ONNX Runtime must agree.

Tolerance: ``ATOL`` absolute + ``RTOL`` relative per element. Both sides compute in float32;
ONNX Runtime fuses and reorders sums (attention, LayerNorm, GRU gates), which moves results by
~1e-6 measured here. 1e-4 leaves two orders of margin while still catching any real
difference (a wrong mask or a dropped padding rule moves outputs by 1e-2 or more).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from dpr_plugin.contract import (
    EMBEDDING_DIM,
    HISTORY_LENGTH,
    PROMPT_BUCKETS,
    PROMPT_DIM,
    PROMPT_ENCODER,
    PROMPT_TOKENS,
    SEQ_BACKBONE,
    STEERING_HEAD,
    ModelSpec,
)
from dpr_plugin.errors import ParityError

ATOL = 1e-4
RTOL = 1e-4
BATCH_SIZES = (1, 3, 8)


@dataclass(frozen=True)
class ParityReport:
    """Largest absolute difference per output over all checked cases."""

    model: str
    cases: int
    max_abs_diff: dict[str, float]


def _compare(
    module: nn.Module,
    session: ort.InferenceSession,
    spec: ModelSpec,
    feeds: list[tuple[np.ndarray, ...]],
) -> ParityReport:
    module.eval()
    worst = {t.name: 0.0 for t in spec.outputs}
    for inputs in feeds:
        with torch.no_grad():
            expected = module(*(torch.from_numpy(x) for x in inputs))
        if isinstance(expected, torch.Tensor):
            expected = (expected,)
        got = session.run(None, dict(zip([t.name for t in spec.inputs], inputs, strict=True)))
        for tensor, want, have in zip(spec.outputs, expected, got, strict=True):
            want = want.numpy()
            if want.shape != have.shape:
                raise ParityError(
                    f"{spec.name}.{tensor.name}: ONNX shape {have.shape} != torch {want.shape}"
                )
            diff = float(np.max(np.abs(want - have))) if want.size else 0.0
            worst[tensor.name] = max(worst[tensor.name], diff)
            if not np.allclose(have, want, atol=ATOL, rtol=RTOL):
                raise ParityError(
                    f"{spec.name}.{tensor.name}: max |torch - onnx| = {diff:.3g} exceeds "
                    f"atol {ATOL} + rtol {RTOL} at batch {len(inputs[0])}"
                )
    return ParityReport(spec.name, len(feeds), worst)


def backbone_cases(num_items: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Histories at several batch sizes and lengths: empty (all padding), 1, 50, full."""
    rng = np.random.default_rng(seed)
    cases = []
    for batch in BATCH_SIZES:
        ids = rng.integers(1, num_items + 1, size=(batch, HISTORY_LENGTH), dtype=np.int64)
        lengths = rng.choice([0, 1, 50, HISTORY_LENGTH], size=(batch, 1)).astype(np.int64)
        lengths[0, 0] = HISTORY_LENGTH
        if batch > 1:
            lengths[1, 0] = 0
        ids[np.arange(HISTORY_LENGTH)[None, :] < HISTORY_LENGTH - lengths] = 0  # left padding
        cases.append((ids, lengths))
    return cases


def prompt_cases(tokenized: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, ...]]:
    """Tokenized prompt batches at the contract's full width, plus each cut to every narrower
    bucket width (the token axis is dynamic; the service pads to the smallest bucket)."""
    cases = []
    for ids, mask in tokenized:
        if ids.shape[1] != PROMPT_TOKENS:
            raise ParityError(f"prompt batch has {ids.shape[1]} tokens, contract {PROMPT_TOKENS}")
        cases += [(ids[:, :width], mask[:, :width]) for width in PROMPT_BUCKETS]
    return cases


def steering_cases(seed: int = 0) -> list[tuple[np.ndarray, ...]]:
    """Random user vectors, unit prompt embeddings, token states at every bucket width with
    1 to all tokens real (zero beyond), strengths 0, 0.5, 1 and 2."""
    rng = np.random.default_rng(seed)
    cases = []
    for batch in BATCH_SIZES:
        for width in PROMPT_BUCKETS:
            user = rng.normal(size=(batch, EMBEDDING_DIM)).astype(np.float32)
            prompt = rng.normal(size=(batch, PROMPT_DIM)).astype(np.float32)
            prompt /= np.linalg.norm(prompt, axis=1, keepdims=True)
            real = rng.integers(1, width + 1, size=(batch, 1))
            mask = (np.arange(width)[None, :] < real).astype(np.int64)
            states = rng.normal(size=(batch, width, PROMPT_DIM)).astype(np.float32)
            states *= mask[:, :, None]
            strength = rng.choice([0.0, 0.5, 1.0, 2.0], size=(batch, 1)).astype(np.float32)
            cases.append((user, prompt, states, mask, strength))
    return cases


def check_parity(
    module: nn.Module, onnx_path: str, spec: ModelSpec, feeds: list[tuple[np.ndarray, ...]]
) -> ParityReport:
    """Runs every case through both; raises ParityError naming model and tensor on a mismatch."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    return _compare(module, session, spec, feeds)


SPECS = {
    "seq_backbone": SEQ_BACKBONE,
    "prompt_encoder": PROMPT_ENCODER,
    "steering_head": STEERING_HEAD,
}
