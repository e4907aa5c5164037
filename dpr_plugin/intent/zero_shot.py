"""Zero-shot tag reading: a clause's embedding against every tag's embedded texts.

The table holds the frozen encoder's (L2-normalised) embeddings of each tag's description,
synonyms and phrases (``Vocabulary.zero_shot_rows``), computed by ``dpr export``. A clause is
read as the tag whose closest text is closest, when that similarity reaches ``threshold`` and
beats the next tag's by ``margin``; otherwise it is not read (nonsense stays unread).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dpr_plugin.errors import ConfigError

THRESHOLD = 0.55
"""Least cosine similarity of a clause to a tag's closest text."""
MARGIN = 0.05
"""Least lead of the best tag over the second."""


@dataclass(frozen=True)
class ZeroShotReading:
    tag: str
    score: float


class ZeroShotTable:
    """Per tag, the embeddings of its texts.

    Args:
        tags: Tag of each row of ``embeddings``.
        embeddings: float [R, P], L2-normalised rows.
    """

    def __init__(
        self,
        tags: list[str],
        embeddings: np.ndarray,
        threshold: float = THRESHOLD,
        margin: float = MARGIN,
    ) -> None:
        if embeddings.ndim != 2 or embeddings.shape[0] != len(tags):
            raise ConfigError(
                f"vocabulary: {embeddings.shape[0] if embeddings.ndim else 0} embeddings for "
                f"{len(tags)} texts"
            )
        self.names = sorted(set(tags), key=tags.index)
        self._rows = np.array([self.names.index(t) for t in tags])
        self._table = embeddings.astype(np.float32)
        self.threshold = threshold
        self.margin = margin

    def scores(self, embedding: np.ndarray) -> np.ndarray:
        """Per tag (in ``names`` order), the best cosine similarity of any of its texts."""
        vector = np.asarray(embedding, np.float32)
        vector = vector / max(float(np.linalg.norm(vector)), 1e-12)
        sims = self._table @ vector
        best = np.full(len(self.names), -1.0, np.float32)
        np.maximum.at(best, self._rows, sims)
        return best

    def read(self, embedding: np.ndarray) -> ZeroShotReading | None:
        """The tag the clause names, or ``None``."""
        best = self.scores(embedding)
        order = np.argsort(-best)
        top = float(best[order[0]])
        second = float(best[order[1]]) if len(order) > 1 else -1.0
        if top < self.threshold or top - second < self.margin:
            return None
        return ZeroShotReading(self.names[int(order[0])], top)
