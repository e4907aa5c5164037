"""One backbone training run end to end: build, train, test, save checkpoint and curve."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from dpr_plugin.data.split import LeaveOneOutSplit
from dpr_plugin.evaluation.full_ranking import evaluate_split
from dpr_plugin.models.backbone import BackboneConfig, SequentialBackbone
from dpr_plugin.models.factory import build_backbone
from dpr_plugin.training.backbone_trainer import TrainConfig, train_backbone
from dpr_plugin.training.checkpoint import Catalogue, save_backbone
from dpr_plugin.training.curves import plot_curve


def train_and_save(
    split: LeaveOneOutSplit,
    model_cfg: BackboneConfig,
    train_cfg: TrainConfig,
    out: Path,
    data_record: dict[str, object],
    progress: bool = True,
) -> tuple[SequentialBackbone, dict[str, object]]:
    """Trains a backbone, evaluates it on the test targets, writes checkpoint + ``curve.png``.

    The test figures are given twice: with history items kept in the ranking (docs/evaluation.md's
    protocol) and with them removed (``test_exclude_seen``, what most papers report).

    Returns:
        The trained model and a summary (epochs, seconds, best validation and test metrics).
    """
    torch.manual_seed(train_cfg.seed)  # the initial weights too, not only the batches
    model = build_backbone(model_cfg)
    if model_cfg.tag_embeddings:
        model.set_item_tags(split.dataset.tag_matrix())
    result = train_backbone(model, split, train_cfg, progress=progress)
    test = evaluate_split(model, split, "test")
    test_unseen = evaluate_split(model, split, "test", exclude_seen=True)
    record = {
        "dataset": {**data_record, **split.dataset.stats()},
        "train": asdict(train_cfg),
        "result": {**result.to_dict(), "test": test, "test_exclude_seen": test_unseen},
    }
    out = save_backbone(Path(out), model, Catalogue.of(split.dataset), record)
    plot_curve(result.curve, f"{model_cfg.kind} on {split.dataset.name}", out / "curve.png")
    summary = {
        "checkpoint": str(out),
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "train_seconds": round(result.train_seconds, 1),
        "valid": result.best_valid,
        "test": test,
        "test_exclude_seen": test_unseen,
        "stopped_because": result.stopped_because,
    }
    return model, summary
