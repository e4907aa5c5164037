"""The backbone interface: a left-padded item-id history → a user vector in the item space.

Every backbone owns the item embedding table ``E`` (``[num_items + 1, D]``, row 0 = padding)
and scores item ``i`` for a user as the dot product ``<h, E[i]>``. That table is what goes into
the vector index, and ``h`` is what the steering head moves.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
from torch import nn

from dpr_plugin.errors import ConfigError, require_positive, require_rate

BACKBONES = ("sasrec", "gru4rec")
RETIRED_OPTIONS: dict[str, object] = {
    "init_std": 0.0,
    "output_table": "tied",
    "subtract_input": False,
}
"""Options measured and retired (none ever changed a default; their results and the commits
that ran them are listed in benchmarks/README.md), with the value every checkpoint that
predates their removal loads with."""


@dataclass(frozen=True)
class BackboneConfig:
    """Hyperparameters of a backbone; stored as JSON next to the weights.

    Attributes:
        kind: ``sasrec`` or ``gru4rec``.
        num_items: Number of real items; the embedding table has ``num_items + 1`` rows.
        hidden_dim: D, the width of item embeddings and of the user vector.
        max_len: L, the fixed history length; longer histories keep their last L items.
        num_layers: Transformer blocks (SASRec) or stacked GRU layers (GRU4Rec).
        num_heads: Attention heads (SASRec only); must divide ``hidden_dim``.
        dropout: Dropout rate on embeddings and inside blocks.
        tag_embeddings: Each item's vector is its own row plus the mean of a learned vector
            per tag it carries, in the table the history is read from and the one items are
            scored against: items that share a tag share a direction, so a user vector moved
            along it lifts the tag's items together (what steering does), and an item seen
            a handful of times is placed by its tags. Off by default. Bundled data (the main
            job turns it on): the tag's share of a steered top 10, "more X" 0.58 -> 0.90,
            "no X" 0.08 -> 0.03 (``tag_embeddings_bundled/tag_embeddings_bundled.json`` under
            ``benchmarks/results/``); ML-1M: backbones within seed noise, GRU4Rec's negative
            steering 0.95x -> 1.03x the filter
            (``steering_ml1m/steering_ml1m_tag_embeddings_gru4rec.json``).
        num_tags: T, the number of tags (dataset tag order); needed with ``tag_embeddings``.
    """

    kind: str
    num_items: int
    hidden_dim: int = 64
    max_len: int = 200
    num_layers: int = 2
    num_heads: int = 1
    dropout: float = 0.2
    tag_embeddings: bool = False
    num_tags: int = 0

    def __post_init__(self) -> None:
        if self.kind not in BACKBONES:
            raise ConfigError(f"kind: expected one of {', '.join(BACKBONES)}, got {self.kind!r}")
        require_positive(self, "num_items", "hidden_dim", "max_len", "num_layers", "num_heads")
        require_rate(self, "dropout")
        if self.num_tags < 0 or (self.tag_embeddings and self.num_tags < 1):
            raise ConfigError(f"num_tags: tag_embeddings needs at least 1 tag, got {self.num_tags}")
        if self.hidden_dim % self.num_heads:
            raise ConfigError(
                f"num_heads: {self.num_heads} does not divide hidden_dim {self.hidden_dim}"
            )

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> BackboneConfig:
        """Inverse of ``to_dict``; unknown keys are a ConfigError naming them. A retired
        option at its old default is dropped; at any other value the checkpoint cannot be
        rebuilt by this version, and the error says which option."""
        data = dict(data)
        for name, default in RETIRED_OPTIONS.items():
            if name in data and data.pop(name) != default:
                raise ConfigError(
                    f"backbone config: {name} was retired; this checkpoint was trained with a "
                    f"non-default {name} and needs an older dpr_plugin"
                )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"backbone config: unknown field(s) {', '.join(unknown)}")
        return cls(**data)  # type: ignore[arg-type]


class SequentialBackbone(nn.Module, ABC):
    """Common base of the backbones: owns the item table, defines scoring."""

    def __init__(self, config: BackboneConfig) -> None:
        super().__init__()
        self.config = config
        self.item_embedding = self._table(config)
        self.tag_table: nn.Parameter | None = None
        if config.tag_embeddings:
            # [N + 1, T] each item's share of each of its tags (rows sum to 1, or 0 for an
            # item without tags and for padding); filled by set_item_tags or a checkpoint
            self.register_buffer("item_tags", torch.zeros(config.num_items + 1, config.num_tags))
            self.tag_table = nn.Parameter(
                torch.randn(config.num_tags, config.hidden_dim) * config.hidden_dim**-0.5
            )

    @staticmethod
    def _table(config: BackboneConfig) -> nn.Embedding:
        table = nn.Embedding(config.num_items + 1, config.hidden_dim, padding_idx=0)
        nn.init.normal_(table.weight, std=config.hidden_dim**-0.5)
        with torch.no_grad():
            table.weight[0].zero_()
        return table

    @abstractmethod
    def forward(self, history: torch.Tensor) -> torch.Tensor:
        """Hidden state after each position of a left-padded history.

        Args:
            history: ``[B, T]`` int64 item ids, 0 = padding on the left, ``T <= max_len``.
                Leading all-padding columns may be cut off: the result at real positions
                does not depend on them.

        Returns:
            ``[B, T, D]``; row ``t`` is the user vector after seeing items ``0..t``.
        """

    def set_item_tags(self, tag_matrix: np.ndarray) -> None:
        """Fills the item → tag shares from a ``[num_items + 1, T]`` bool matrix
        (``SequenceDataset.tag_matrix()``, row 0 = padding); needs ``tag_embeddings``."""
        if self.tag_table is None:
            raise ConfigError("tag_embeddings: the backbone was built without tag embeddings")
        want = (self.config.num_items + 1, self.config.num_tags)
        if tuple(tag_matrix.shape) != want:
            raise ConfigError(f"tag_matrix: expected shape {want}, got {tuple(tag_matrix.shape)}")
        tags = torch.from_numpy(np.asarray(tag_matrix, dtype=np.float32)).clone()
        tags[0] = 0.0
        shares = tags / tags.sum(dim=1, keepdim=True).clamp(min=1.0)
        with torch.no_grad():
            self.item_tags.copy_(shares)

    def embed(self, history: torch.Tensor) -> torch.Tensor:
        """``[B, T, D]`` the input vectors of a history (padding reads the zero row)."""
        x = self.item_embedding(history)
        if self.tag_table is not None:
            x = x + self.item_tags[history] @ self.tag_table
        return x

    def user_vector(self, history: torch.Tensor) -> torch.Tensor:
        """User vector ``[B, D]``: the state after the most recent (right-most) item."""
        return self.forward(history)[:, -1]

    def item_vectors(self) -> torch.Tensor:
        """The item table ``[num_items + 1, D]`` users are scored against (the one the history
        is read from, plus the tag part); row 0 is the padding row (never recommended)."""
        table = self.item_embedding.weight
        if self.tag_table is None:
            return table
        return table + self.item_tags @ self.tag_table

    def item_vectors_of(self, ids: torch.Tensor) -> torch.Tensor:
        """Rows ``ids`` of ``item_vectors()`` without building the whole table (a sampled
        loss over a 10⁶-item catalogue needs a few thousand rows per step)."""
        rows = self.item_embedding(ids)
        if self.tag_table is None:
            return rows
        return rows + self.item_tags[ids] @ self.tag_table

    def score_all(self, user: torch.Tensor) -> torch.Tensor:
        """Scores ``[B, num_items]`` of every real item (column j = item j + 1)."""
        return user @ self.item_vectors()[1:].T
