"""Torch modules with exactly the contract's signatures, traced into the ONNX files."""

from __future__ import annotations

import torch
from torch import nn

from dpr_plugin.models.backbone import SequentialBackbone
from dpr_plugin.models.prompt_encoder import MeanPooledEncoder
from dpr_plugin.models.prompt_features import PromptFeatures
from dpr_plugin.models.steering_head import SteeringHead


class BackboneSignature(nn.Module):
    """HISTORY_IDS ``[B, L]``, HISTORY_LEN ``[B, 1]`` → USER_EMBEDDING ``[B, D]``.

    Only the last ``HISTORY_LEN`` entries of each row count; anything left of them is treated
    as padding, whatever the caller put there (a length of 0 gives the empty-history vector).
    """

    def __init__(self, backbone: SequentialBackbone) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, history_ids: torch.Tensor, history_len: torch.Tensor) -> torch.Tensor:
        length = history_ids.shape[1]
        positions = torch.arange(length, device=history_ids.device).unsqueeze(0)  # [1, L]
        real = positions >= (length - history_len)  # [B, L]
        return self.backbone.user_vector(history_ids * real)


class PromptEncoderSignature(nn.Module):
    """PROMPT_IDS, PROMPT_MASK ``[B, T]`` → PROMPT_EMBEDDING ``[B, P]`` (L2-normalised),
    PROMPT_STATES ``[B, T, P]`` (zero on padding)."""

    def __init__(self, encoder: MeanPooledEncoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(
        self, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(prompt_ids, prompt_mask)


class SteeringSignature(nn.Module):
    """USER_EMBEDDING, PROMPT_EMBEDDING, PROMPT_STATES, PROMPT_MASK, STRENGTH →
    STEERED_EMBEDDING, EXPERT_WEIGHTS, TAG_SCORES (sigmoid of the tag reader),
    NEGATIVE_PROB ``[B, 1]``."""

    def __init__(self, head: SteeringHead) -> None:
        super().__init__()
        self.head = head

    def forward(
        self,
        user: torch.Tensor,
        prompt: torch.Tensor,
        states: torch.Tensor,
        mask: torch.Tensor,
        strength: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.head(user, PromptFeatures(prompt, states, mask), strength)
        return (
            out.steered,
            out.expert_weights,
            torch.sigmoid(out.tag_logits),
            out.negative_prob.unsqueeze(-1),
        )
