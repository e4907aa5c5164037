"""Torch models: sequential backbones (SASRec, GRU4Rec) and, later, the steering head."""

from dpr_plugin.models.backbone import BackboneConfig, SequentialBackbone, build_backbone

__all__ = ["BackboneConfig", "SequentialBackbone", "build_backbone"]
