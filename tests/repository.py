"""Builds small, contract-shaped checkpoints and an exported model repository for tests."""

from __future__ import annotations

from pathlib import Path

import torch

from dpr_plugin.contract import EMBEDDING_DIM, HISTORY_LENGTH
from dpr_plugin.data.dataset import SequenceDataset
from dpr_plugin.models.backbone import BackboneConfig
from dpr_plugin.models.factory import build_backbone
from dpr_plugin.models.steering_head import SteeringConfig, SteeringHead
from dpr_plugin.training.checkpoint import Catalogue, save_backbone, save_steering


def contract_backbone(
    dataset: SequenceDataset,
    kind: str,
    out: Path,
    seed: int = 0,
    tag_embeddings: bool = False,
) -> Path:
    """An untrained backbone with the contract's dims, saved as a checkpoint (with
    ``tag_embeddings`` it carries the dataset's tags)."""
    torch.manual_seed(seed)
    config = BackboneConfig(
        kind=kind,
        num_items=dataset.num_items,
        hidden_dim=EMBEDDING_DIM,
        max_len=HISTORY_LENGTH,
        tag_embeddings=tag_embeddings,
        num_tags=len(dataset.tag_names),
    )
    model = build_backbone(config).eval()
    if tag_embeddings:
        model.set_item_tags(dataset.tag_matrix())
    return save_backbone(out, model, Catalogue.of(dataset), {})


TEST_DEFAULTS = {"positive": 1.5, "negative": 0.75, "negative_hybrid": 0.5, "source": "test"}
"""Default strengths the moving head's checkpoint carries (the export copies them)."""


def moving_head(dataset: SequenceDataset, out: Path, seed: int = 0) -> Path:
    """A steering head whose experts really move the vector (random last layers), saved with
    ``TEST_DEFAULTS`` as its default strengths."""
    torch.manual_seed(seed)
    head = SteeringHead(SteeringConfig.for_contract(len(dataset.tag_names)))
    for expert in head.experts:
        torch.nn.init.normal_(expert.net[-1].weight, std=0.05)
    return save_steering(out, head.eval(), dataset.tag_names, {"default_strength": TEST_DEFAULTS})


def pytorch_reference(backbone_dir: Path, steering_dir: Path, request: dict) -> dict:
    """What PyTorch computes for a dpr_steer request: USER_EMBEDDING and STEERED_EMBEDDING."""
    from dpr_plugin.export.wrappers import BackboneSignature
    from dpr_plugin.models.prompt_encoder import PromptEncoder
    from dpr_plugin.models.prompt_features import PromptFeatures
    from dpr_plugin.training.checkpoint import load_backbone, load_steering

    backbone, _, _ = load_backbone(backbone_dir)
    head, _, _ = load_steering(steering_dir)
    tensors = {k: torch.from_numpy(v) for k, v in request.items()}
    with torch.no_grad():
        user = BackboneSignature(backbone)(tensors["HISTORY_IDS"], tensors["HISTORY_LEN"])
        mask = tensors["PROMPT_MASK"]
        prompt, states = PromptEncoder().model(tensors["PROMPT_IDS"], mask)
        steered = head(user, PromptFeatures(prompt, states, mask), tensors["STRENGTH"]).steered
    return {"USER_EMBEDDING": user.numpy(), "STEERED_EMBEDDING": steered.numpy()}
