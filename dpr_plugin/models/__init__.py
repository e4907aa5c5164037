"""Torch models: the sequential backbones (SASRec, GRU4Rec), the frozen prompt encoder and the
steering head."""

from dpr_plugin.models.backbone import BackboneConfig, SequentialBackbone
from dpr_plugin.models.factory import build_backbone

__all__ = ["BackboneConfig", "SequentialBackbone", "build_backbone"]
