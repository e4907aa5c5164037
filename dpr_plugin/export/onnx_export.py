"""Writes the three ONNX models of the contract into a Triton model repository.

Exporter: torch's TorchScript-based ``torch.onnx.export(dynamo=False)``, opset 17, with
explicit input/output names and a named dynamic batch axis (``batch``) on every tensor. The
history length, prompt length and widths are fixed by ``dpr_plugin.contract``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from dpr_plugin import __version__
from dpr_plugin.contract import (
    EMBEDDING_DIM,
    HISTORY_LENGTH,
    NUM_EXPERTS,
    PROMPT_DIM,
    PROMPT_ENCODER,
    PROMPT_IDS,
    PROMPT_MASK,
    PROMPT_STATES,
    PROMPT_TOKENS,
    SEQ_BACKBONE,
    STEERING_HEAD,
    ModelSpec,
)
from dpr_plugin.errors import ConfigError
from dpr_plugin.export.wrappers import BackboneSignature, PromptEncoderSignature, SteeringSignature
from dpr_plugin.models.backbone import SequentialBackbone
from dpr_plugin.models.prompt_encoder import MeanPooledEncoder
from dpr_plugin.models.steering_head import SteeringHead

OPSET = 17


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


TOKEN_AXIS = (PROMPT_IDS.name, PROMPT_MASK.name, PROMPT_STATES.name)
"""Tensors whose second axis is the prompt's token count (dynamic, at most PROMPT_TOKENS)."""


def _export(
    module: nn.Module,
    spec: ModelSpec,
    example: tuple[torch.Tensor, ...],
    path: Path,
    metadata: dict[str, str],
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [t.name for t in (*spec.inputs, *spec.outputs)]
    module.eval()
    with warnings.catch_warnings():
        # The tracer warns about Python ints taken from shapes; the shapes it fixes are the
        # contract's fixed dims, and the parity check proves the batch axis stays dynamic.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            example,
            str(path),
            dynamo=False,
            input_names=[t.name for t in spec.inputs],
            output_names=[t.name for t in spec.outputs],
            dynamic_axes={
                name: {0: "batch", **({1: "tokens"} if name in TOKEN_AXIS else {})}
                for name in names
            },
            opset_version=OPSET,
        )
    model = onnx.load(str(path))
    for key, value in {"dpr_plugin_version": __version__, **metadata}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


def export_backbone(backbone: SequentialBackbone, path: Path, metadata: dict[str, str]) -> None:
    """seq_backbone: left-padded history of exactly ``HISTORY_LENGTH`` ids → user vector."""
    c = backbone.config
    _check(
        c.max_len == HISTORY_LENGTH, f"backbone max_len {c.max_len} != contract {HISTORY_LENGTH}"
    )
    _check(
        c.hidden_dim == EMBEDDING_DIM,
        f"backbone hidden_dim {c.hidden_dim} != contract {EMBEDDING_DIM}",
    )
    ids = torch.randint(1, c.num_items + 1, (2, HISTORY_LENGTH))
    lengths = torch.tensor([[HISTORY_LENGTH], [7]])
    _export(BackboneSignature(backbone), SEQ_BACKBONE, (ids, lengths), path, metadata)


def export_prompt_encoder(encoder: MeanPooledEncoder, path: Path, metadata: dict[str, str]) -> None:
    """prompt_encoder: token ids + mask of at most ``PROMPT_TOKENS`` → normalised embedding."""
    ids = torch.zeros((2, PROMPT_TOKENS), dtype=torch.long)
    ids[:, 0], ids[:, 1], ids[:, 2] = 101, 2062, 102
    mask = (ids > 0).long()
    _export(PromptEncoderSignature(encoder), PROMPT_ENCODER, (ids, mask), path, metadata)


def export_steering_head(head: SteeringHead, path: Path, metadata: dict[str, str]) -> None:
    """steering_head: user vector + prompt embedding, token states and mask + strength →
    steered vector and readings."""
    c = head.config
    _check(c.hidden_dim == EMBEDDING_DIM, f"head hidden_dim {c.hidden_dim} != {EMBEDDING_DIM}")
    _check(c.prompt_dim == PROMPT_DIM, f"head prompt_dim {c.prompt_dim} != {PROMPT_DIM}")
    _check(
        c.num_experts == NUM_EXPERTS, f"head has {c.num_experts} experts, contract {NUM_EXPERTS}"
    )
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])
    example = (
        torch.randn(2, EMBEDDING_DIM),
        torch.randn(2, PROMPT_DIM),
        torch.randn(2, 4, PROMPT_DIM) * mask.unsqueeze(-1),
        mask,
        torch.ones(2, 1),
    )
    _export(SteeringSignature(head), STEERING_HEAD, example, path, metadata)
