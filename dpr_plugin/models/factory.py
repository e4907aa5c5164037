"""The one place a backbone is built from its config's ``kind``."""

from __future__ import annotations

from dpr_plugin.models.backbone import BackboneConfig, SequentialBackbone
from dpr_plugin.models.gru4rec import GRU4Rec
from dpr_plugin.models.sasrec import SASRec

_KINDS: dict[str, type[SequentialBackbone]] = {"sasrec": SASRec, "gru4rec": GRU4Rec}


def build_backbone(config: BackboneConfig) -> SequentialBackbone:
    """Instantiates the backbone named by ``config.kind``."""
    return _KINDS[config.kind](config)
