"""A small but really trained export of the bundled data, for the service tests.

Stage 1 (a contract-shaped SASRec, a few epochs), stages 2-3 (a steering head on a capped
number of samples), its default strengths picked on validation, and the export with parity
checks: a couple of minutes on 2 cores, built once per test session.
Steering on it must follow the prompt, so tests can check direction.
"""

from __future__ import annotations

from pathlib import Path

import torch

from dpr_plugin.contract import EMBEDDING_DIM, HISTORY_LENGTH
from dpr_plugin.data.sources import load_split
from dpr_plugin.data.split import LeaveOneOutSplit
from dpr_plugin.evaluation.strength_sweep import calibrate_head
from dpr_plugin.models.backbone import BackboneConfig
from dpr_plugin.models.prompt_encoder import PromptEncoder
from dpr_plugin.models.steering_head import SteeringConfig, SteeringHead
from dpr_plugin.training.backbone_trainer import TrainConfig
from dpr_plugin.training.checkpoint import save_steering
from dpr_plugin.training.run import train_and_save
from dpr_plugin.training.steering_trainer import (
    SteeringTrainConfig,
    encode_prompts,
    train_steering_head,
)


def bundled_split() -> LeaveOneOutSplit:
    """The bundled ml-latest-small data, leave-one-out."""
    return load_split("bundled", 0, 0)


def train_bundled_repository(root: Path) -> Path:
    """Trains, exports and returns ``root/triton_models``."""
    from dpr_plugin.export.run import run_export
    from dpr_plugin.export.triton_config import write as write_configs

    torch.manual_seed(0)
    split = bundled_split()
    backbone, _ = train_and_save(
        split,
        BackboneConfig(
            kind="sasrec",
            num_items=split.dataset.num_items,
            hidden_dim=EMBEDDING_DIM,
            max_len=HISTORY_LENGTH,
        ),
        TrainConfig(max_epochs=3, batch_size=64, lr=5e-3, warmup_steps=20, patience=3),
        root / "backbone",
        {"spec": "bundled"},
        progress=False,
    )
    tags = split.dataset.tag_names
    head = SteeringHead(SteeringConfig(hidden_dim=EMBEDDING_DIM, num_tags=len(tags)))
    encoder = PromptEncoder()
    train_steering_head(
        backbone,
        split.train,
        split.dataset.tag_matrix(),
        tags,
        encoder,
        head,
        SteeringTrainConfig(epochs=4, max_samples=60_000),
        progress=False,
    )
    default, _ = calibrate_head(
        backbone,
        head.eval(),
        split,
        encode_prompts(encoder, tags, held_out=False),
        encode_prompts(encoder, tags, held_out=True),
    )
    save_steering(root / "steering", head, tags, {"default_strength": default.to_json()})
    repository = root / "triton_models"
    write_configs(repository)
    run_export(root / "backbone", root / "steering", repository)
    return repository
