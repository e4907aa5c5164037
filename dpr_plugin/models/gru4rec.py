"""GRU4Rec: session-based recommendation with recurrent networks (Hidasi et al., ICLR 2016,
arXiv 1511.06939), as used as a sequential backbone in DPR.

Note: differs from the paper in three deliberate ways.
  * Cross-entropy over the whole catalogue (the paper's TOP1/BPR losses use sampled negatives).
  * The GRU has no bias terms: with zero input and zero state it stays exactly zero, so the
    left padding of a history leaves no trace and leading padding columns may be cut. An input
    bias is kept by adding a learned vector to every real item's embedding.
  * A linear projection maps the GRU state into the item embedding space (scores are dot
    products with the same item table that embeds the input, as in SASRec).
"""

from __future__ import annotations

import torch
from torch import nn

from dpr_plugin.models.backbone import BackboneConfig, SequentialBackbone


class GRU4Rec(SequentialBackbone):
    """Stacked bias-free GRU over item embeddings, projected back into the item space."""

    def __init__(self, config: BackboneConfig) -> None:
        super().__init__(config)
        d = config.hidden_dim
        self.input_bias = nn.Parameter(torch.zeros(d))
        self.emb_drop = nn.Dropout(config.dropout)
        self.gru = nn.GRU(
            d,
            d,
            num_layers=config.num_layers,
            bias=False,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.proj = nn.Linear(d, d)
        self.out_drop = nn.Dropout(config.dropout)

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        real = (history > 0).unsqueeze(-1)  # [B, T, 1]
        x = (self.embed(history) + self.input_bias) * real  # [B, T, D]
        states, _ = self.gru(self.emb_drop(x))  # [B, T, D]
        return self.proj(self.out_drop(states))  # [B, T, D]
