"""What the service needs from an exported model repository besides the models themselves.

The tokenizer (prompts are tokenized in the service; Triton never sees strings), the tag
vocabulary of the steering head, the item id map (platform ids ↔ the model's internal ids),
the default steering strengths and a model version string. The ONNX files may live on a
remote Triton; these few files are read from the same export on the service's side.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from dpr_plugin.contract import PROMPT_BUCKETS, PROMPT_ENCODER, PROMPT_TOKENS, SEQ_BACKBONE
from dpr_plugin.errors import ConfigError
from dpr_plugin.serving.default_strength import DefaultStrength
from dpr_plugin.serving.tokenizer import PromptTokenizer

EXPERT_NAMES = ("positive_1", "positive_2", "negative_1", "negative_2")
"""Names of the steering head's experts, in the order of EXPERT_WEIGHTS."""


def _read_json(path: Path) -> dict[str, object]:
    if not path.is_file():
        raise ConfigError(f"repository: {path} not found (run `python -m export` first)")
    try:
        body = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"repository: {path} is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ConfigError(f"repository: {path} must hold a JSON object")
    return body


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
        repository = Path(repository)
        manifest = _read_json(repository / "manifest.json")
        tags = manifest.get("tags")
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ConfigError(f"repository: {repository / 'manifest.json'} has no tag list")
        items = _read_json(repository / SEQ_BACKBONE.name / "1" / "items.json")
        item_ids = items.get("item_ids")
        if not isinstance(item_ids, list) or not item_ids:
            raise ConfigError(f"repository: items.json of {SEQ_BACKBONE.name} has no item_ids")
        ids = tuple(str(i) for i in item_ids)
        models = manifest.get("models", {})
        default_strength = DefaultStrength()
        versioned: object = models  # what older exports' versions were digests of
        if "default_strength" in manifest:
            default_strength = DefaultStrength.from_json(
                manifest["default_strength"], f"repository: {repository / 'manifest.json'}"
            )
            versioned = {"models": models, "default_strength": default_strength.to_json()}
        digest = hashlib.sha256(json.dumps(versioned, sort_keys=True).encode()).hexdigest()[:12]
        tokenizer = PromptTokenizer(
            repository / PROMPT_ENCODER.name / "1" / "tokenizer.json",
            PROMPT_TOKENS,
            PROMPT_BUCKETS,
        )
        return cls(
            tokenizer=tokenizer,
            tags=tuple(tags),
            item_ids=ids,
            internal_ids={item: i + 1 for i, item in enumerate(ids)},
            model_version=digest,
            default_strength=default_strength,
        )
