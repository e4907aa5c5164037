"""The DPR steering head: moves a backbone user vector inside the item space, as a prompt asks.

DPR (Decoupled Promptable Sequential Recommendation, arXiv 2602.18929) names a Fusion module,
a Mixture-of-Experts that separates positive and negative steering, and a three-stage training.
The paper's equations were not available; this is our reconstruction (docs/architecture.md,
"The model"):

    p      = Projection(z)                     prompt embedding z [P] → item space [D]
    q      = sigmoid(PolarityReader(s, m))     probability that the prompt is negative,
                                               read from the token states s [T, P] (mask m)
    f      = Fusion(h, p)                      gated mix of user and prompt  [F]
    g_pos  = (1 - q) · softmax(gate_pos(f))    weights of the positive experts
    g_neg  = q · softmax(gate_neg(f))          weights of the negative experts
    h'     = h + alpha · Σ_k g_k · expert_k(f)     alpha = strength

Properties the serving layer relies on: alpha = 0 returns ``h`` exactly; the experts' last
layers start at zero, so an untrained head is the identity too. An empty prompt never
reaches the head (the service serves the backbone alone). ``tag_logits`` reads which tags the
prompt names, ``q`` its polarity; both are reported and compile hard filters.

Note: the paper's polarity mechanism is not known. A linear reader on the mean-pooled z read
the held-out phrasing "X? not today" as a wish for X in every case (benchmarks.prompt_reading):
in a mean over six tokens the one "not" is diluted, and "today" pulls toward the trained "I feel
like X today". The reader attends over the tokens instead.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from dpr_plugin.contract import EMBEDDING_DIM, NUM_EXPERTS, PROMPT_DIM
from dpr_plugin.errors import require_positive, require_rate
from dpr_plugin.models.prompt_features import PromptFeatures


@dataclass(frozen=True)
class SteeringConfig:
    """Hyperparameters of the steering head.

    Attributes:
        hidden_dim: D, the backbone's user/item vector width.
        prompt_dim: P, the sentence encoder's embedding width (384 for all-MiniLM-L6-v2).
        num_tags: Number of tags the tag reader distinguishes (dataset tag order).
        fusion_dim: F, width of the fused user+prompt representation.
        expert_hidden: Hidden width of each expert MLP.
        reader_hidden: Width of the polarity reader's per-token features.
        positive_experts: Experts reserved for positive prompts.
        negative_experts: Experts reserved for negative prompts.
        dropout: Dropout inside fusion and experts during training.
    """

    hidden_dim: int
    prompt_dim: int = 384
    num_tags: int = 18
    fusion_dim: int = 128
    expert_hidden: int = 256
    reader_hidden: int = 64
    positive_experts: int = 2
    negative_experts: int = 2
    dropout: float = 0.1

    @classmethod
    def for_contract(cls, num_tags: int) -> SteeringConfig:
        """A head with the export contract's widths (``EMBEDDING_DIM``, ``PROMPT_DIM``,
        ``NUM_EXPERTS`` split evenly between the polarities) for ``num_tags`` tags."""
        return cls(
            hidden_dim=EMBEDDING_DIM,
            prompt_dim=PROMPT_DIM,
            num_tags=num_tags,
            positive_experts=NUM_EXPERTS // 2,
            negative_experts=NUM_EXPERTS - NUM_EXPERTS // 2,
        )

    def __post_init__(self) -> None:
        require_positive(
            self,
            "hidden_dim",
            "prompt_dim",
            "num_tags",
            "fusion_dim",
            "expert_hidden",
            "reader_hidden",
            "positive_experts",
            "negative_experts",
        )
        require_rate(self, "dropout")

    @property
    def num_experts(self) -> int:
        """Positive experts first, then negative ones (the EXPERT_WEIGHTS order)."""
        return self.positive_experts + self.negative_experts

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return asdict(self)


@dataclass
class SteeringOutput:
    """Everything the head computes for a batch.

    Attributes:
        steered: ``[B, D]`` the moved user vector h'.
        expert_weights: ``[B, K]`` gate weights, positive experts first; rows sum to 1.
        tag_logits: ``[B, T]`` how strongly the prompt names each tag.
        negative_prob: ``[B]`` probability that the prompt asks to avoid its tags.
        projected: ``[B, D]`` the prompt projected into the item space (stage 2's output).
    """

    steered: torch.Tensor
    expert_weights: torch.Tensor
    tag_logits: torch.Tensor
    negative_prob: torch.Tensor
    projected: torch.Tensor


class Projection(nn.Module):
    """Prompt embedding [P] → item space [D] (trained in stage 2 against tag centroids)."""

    def __init__(self, prompt_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(prompt_dim, 2 * hidden_dim),
            nn.GELU(),
            nn.LayerNorm(2 * hidden_dim),
            nn.Linear(2 * hidden_dim, hidden_dim),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)  # [B, D]


class PolarityReader(nn.Module):
    """Token states ``[B, T, P]`` + mask ``[B, T]`` → logit ``[B, 1]`` that the prompt is negative.

    Attention pooling: each token gets a weight (softmax over real tokens) and a feature
    (tanh of a projection); the weighted feature sum is read by a linear layer. Padding tokens
    get no weight, so the reading does not depend on how wide the prompt was padded.
    """

    def __init__(self, prompt_dim: int, hidden: int) -> None:
        super().__init__()
        self.attend = nn.Linear(prompt_dim, 1)
        self.value = nn.Linear(prompt_dim, hidden)
        self.out = nn.Linear(hidden, 1)

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = self.attend(states).squeeze(-1).masked_fill(mask == 0, -1e4)  # [B, T]
        weights = torch.softmax(scores, dim=-1).unsqueeze(-1)  # [B, T, 1]
        pooled = (weights * torch.tanh(self.value(states))).sum(dim=1)  # [B, H]
        return self.out(pooled)  # [B, 1]


class Fusion(nn.Module):
    """Gated fusion of the collaborative (h) and semantic (p) signals into one vector [F]."""

    def __init__(self, hidden_dim: int, fusion_dim: int, dropout: float) -> None:
        super().__init__()
        self.norm_h = nn.LayerNorm(hidden_dim)
        self.norm_p = nn.LayerNorm(hidden_dim)
        self.value = nn.Linear(3 * hidden_dim, fusion_dim)
        self.gate = nn.Linear(3 * hidden_dim, fusion_dim)
        self.drop = nn.Dropout(dropout)
        self.out_norm = nn.LayerNorm(fusion_dim)

    def forward(self, h: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        hn, pn = self.norm_h(h), self.norm_p(p)
        x = torch.cat([hn, pn, hn * pn], dim=-1)  # [B, 3D]
        fused = torch.sigmoid(self.gate(x)) * torch.nn.functional.gelu(self.value(x))
        return self.out_norm(self.drop(fused))  # [B, F]


class Expert(nn.Module):
    """One expert: fused vector [F] → displacement in the item space [D]; starts at zero."""

    def __init__(self, fusion_dim: int, hidden: int, out_dim: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(fusion_dim, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, out_dim),
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.net(f)  # [B, D]


class SteeringHead(nn.Module):
    """Projection + polarity/tag readers + fusion + mixture of positive and negative experts."""

    def __init__(self, config: SteeringConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.projection = Projection(c.prompt_dim, c.hidden_dim)
        self.polarity = PolarityReader(c.prompt_dim, c.reader_hidden)
        self.tags = nn.Linear(c.prompt_dim, c.num_tags)
        self.fusion = Fusion(c.hidden_dim, c.fusion_dim, c.dropout)
        self.gate_pos = nn.Linear(c.fusion_dim, c.positive_experts)
        self.gate_neg = nn.Linear(c.fusion_dim, c.negative_experts)
        self.experts = nn.ModuleList(
            Expert(c.fusion_dim, c.expert_hidden, c.hidden_dim, c.dropout)
            for _ in range(c.num_experts)
        )

    def forward(
        self, user: torch.Tensor, prompt: PromptFeatures, strength: torch.Tensor
    ) -> SteeringOutput:
        """Steers a batch.

        Args:
            user: ``[B, D]`` backbone user vectors h.
            prompt: the sentence encoder's embeddings z and token states of the prompts.
            strength: ``[B, 1]`` alpha; 0 returns ``user`` unchanged.
        """
        projected = self.projection(prompt.embedding)  # [B, D]
        negative = torch.sigmoid(self.polarity(prompt.states, prompt.mask))  # [B, 1]
        fused = self.fusion(user, projected)  # [B, F]
        weights = torch.cat(
            [
                (1 - negative) * torch.softmax(self.gate_pos(fused), dim=-1),
                negative * torch.softmax(self.gate_neg(fused), dim=-1),
            ],
            dim=-1,
        )  # [B, K]
        moves = torch.stack([expert(fused) for expert in self.experts], dim=1)  # [B, K, D]
        delta = (weights.unsqueeze(-1) * moves).sum(dim=1)  # [B, D]
        return SteeringOutput(
            steered=user + strength * delta,
            expert_weights=weights,
            tag_logits=self.tags(prompt.embedding),
            negative_prob=negative.squeeze(-1),
            projected=projected,
        )
