"""The strength a request gets when it names none: one per way a prompt can be applied.

``dpr train-steering`` picks each on the validation cases (best NDCG@10 on a grid from 0 to
``MAX_STRENGTH``, the soft ones among the strengths that follow the prompt closely enough,
``dpr_plugin.evaluation.strength_sweep``), the steering checkpoint stores
them, the export copies them into ``manifest.json`` and the service applies them. An export
without them (a head that was never calibrated) serves 1, the strength the head was trained
at.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from dpr_plugin.errors import ConfigError

MAX_STRENGTH = 4.0


@dataclass(frozen=True)
class DefaultStrength:
    """Default strengths by what the prompt was understood as.

    Attributes:
        positive: "more X" (and prompts with no tag understood), soft steering.
        negative: "no X" in the SOFT negative mode (steering only).
        negative_hybrid: "no X" in the HYBRID mode (steered vector + a filter on X).
        source: Where the values come from, e.g. ``"validation NDCG@10 with tag_hit@10 >= 0.95,
            violation@10 <= 0.01"`` or ``"as trained"``.
    """

    positive: float = 1.0
    negative: float = 1.0
    negative_hybrid: float = 1.0
    source: str = "as trained"

    def __post_init__(self) -> None:
        for name in ("positive", "negative", "negative_hybrid"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or not 0.0 <= value <= MAX_STRENGTH
            ):
                raise ConfigError(
                    f"default_strength.{name}: must be in [0, {MAX_STRENGTH}], got {value!r}"
                )
        if not isinstance(self.source, str):
            raise ConfigError(f"default_strength.source: must be a string, got {self.source!r}")

    def for_prompt(self, negative: bool, hybrid: bool) -> float:
        """The default for a prompt understood as negative or not, in the hybrid mode or not."""
        if not negative:
            return self.positive
        return self.negative_hybrid if hybrid else self.negative

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, body: object, where: str) -> DefaultStrength:
        """Parses ``to_json``'s form; ``where`` names the file in errors."""
        if not isinstance(body, dict):
            raise ConfigError(f"{where}: default_strength must be an object, got {body!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(body) - known)
        if unknown:
            raise ConfigError(f"{where}: default_strength has unknown fields {unknown}")
        try:
            return cls(**body)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
