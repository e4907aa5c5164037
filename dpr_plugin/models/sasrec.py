"""SASRec: self-attentive sequential recommendation (Kang & McAuley, ICDM 2018, arXiv 1808.09781).

Note: this version differs from the paper in four deliberate ways.
  * Trained with cross-entropy over the whole catalogue instead of binary cross-entropy with
    one sampled negative (as in "gSASRec" and "SASRec+", which both report large gains).
  * Pre-LayerNorm blocks with GELU feed-forward, a common, more stable transformer variant.
  * Positions are counted from the end of the history (the most recent item always gets the
    last position embedding), so batches whose leading columns are all padding may be cut.
  * Attention is written out (one QKV projection + ``scaled_dot_product_attention``) rather
    than ``nn.MultiheadAttention``, so it exports to ONNX with a dynamic batch axis.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812 - the universal torch idiom
from torch import nn

from dpr_plugin.models.backbone import BackboneConfig, SequentialBackbone


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention that never attends to padding keys."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        """x ``[B, T, D]``, allowed ``[B, 1, T, T]`` bool (True = may attend) → ``[B, T, D]``."""
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(  # [B, H, T, D/H]
            q, k, v, attn_mask=allowed, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out(y.transpose(1, 2).reshape(b, t, d))


class TransformerBlock(nn.Module):
    """Pre-LN block: x + Attn(LN(x)), then x + FFN(LN(x))."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = CausalSelfAttention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(
            nn.Linear(dim, dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(dim, dim)
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.norm1(x), allowed))
        return x + self.drop(self.ffn(self.norm2(x)))


class SASRec(SequentialBackbone):
    """Causal transformer over item embeddings; the last position's state is the user vector."""

    def __init__(self, config: BackboneConfig) -> None:
        super().__init__(config)
        d = config.hidden_dim
        self.position = nn.Embedding(config.max_len, d)
        nn.init.normal_(self.position.weight, std=d**-0.5)
        self.emb_drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(d, config.num_heads, config.dropout) for _ in range(config.num_layers)
        )
        self.final_norm = nn.LayerNorm(d)

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        t = history.shape[1]
        real = history > 0  # [B, T]
        offset = self.config.max_len - t
        positions = torch.arange(t, device=history.device) + offset  # [T]
        x = self.embed(history) * math.sqrt(self.config.hidden_dim)  # [B, T, D]
        x = self.emb_drop(x + self.position(positions)) * real.unsqueeze(-1)
        idx = torch.arange(t, device=history.device)
        causal = idx.unsqueeze(1) >= idx.unsqueeze(0)  # [T, T] query i sees key j <= i
        # Padding keys are hidden, but every query sees itself so no row is fully masked.
        # [T, T] diagonal, built by comparison: eye() exports as EyeLike, which ORT lacks for bool
        diagonal = idx.unsqueeze(1) == idx.unsqueeze(0)
        allowed = causal & (real.unsqueeze(1) | diagonal)
        allowed = allowed.unsqueeze(1)  # [B, 1, T, T]
        for block in self.blocks:
            x = block(x, allowed) * real.unsqueeze(-1)
        return self.final_norm(x)  # [B, T, D]
