"""What the service needs from an exported model repository besides the models themselves.

The tokenizer (prompts are tokenized in the service; Triton never sees strings), the tag
vocabulary of the steering head, the item id map (platform ids ↔ the model's internal ids),
the default steering strengths and a model version string. The ONNX files may live on a
remote Triton; these few files are read from the same export on the service's side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dpr_plugin.contract import PROMPT_BUCKETS, PROMPT_TOKENS
from dpr_plugin.default_strength import DefaultStrength
from dpr_plugin.errors import ConfigError
from dpr_plugin.manifest import Manifest, item_meta_path, read_json_object, tokenizer_path
from dpr_plugin.tokenizer import PromptTokenizer

EXPERT_NAMES = ("positive_1", "positive_2", "negative_1", "negative_2")
"""Names of the steering head's experts, in the order of EXPERT_WEIGHTS."""


@dataclass(frozen=True)
class ModelBundle:
    """Tokenizer, tags, item ids and version of one export.

    Attributes:
        tokenizer: The prompt tokenizer (padded to the PROMPT_BUCKETS width that fits).
        tags: Tag names in the order of the steering head's TAG_SCORES.
        item_ids: Platform item ids; position ``i - 1`` is internal id ``i``.
        internal_ids: The inverse map.
        model_version: Short digest of the exported models' sources (and of the default
            strengths, when the export has them).
        default_strength: The strength of a request that names none (``manifest.json``'s
            ``default_strength``; 1 everywhere for an export without it).
    """

    tokenizer: PromptTokenizer
    tags: tuple[str, ...]
    item_ids: tuple[str, ...]
    internal_ids: dict[str, int]
    model_version: str
    default_strength: DefaultStrength = field(default_factory=DefaultStrength)

    @classmethod
    def load(cls, repository: Path) -> ModelBundle:
        """Reads ``manifest.json``, the item table's ids and the tokenizer of an export."""
        manifest = Manifest.load(repository)
        meta = item_meta_path(repository)
        item_ids = read_json_object(meta).get("item_ids")
        if not isinstance(item_ids, list) or not item_ids:
            raise ConfigError(f"repository: {meta} has no item_ids")
        ids = tuple(str(i) for i in item_ids)
        return cls(
            tokenizer=PromptTokenizer(tokenizer_path(repository), PROMPT_TOKENS, PROMPT_BUCKETS),
            tags=manifest.tags,
            item_ids=ids,
            internal_ids={item: i + 1 for i, item in enumerate(ids)},
            model_version=manifest.model_version,
            default_strength=manifest.default_strength,
        )
