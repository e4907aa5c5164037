"""An exported model repository's layout and its ``manifest.json``, typed.

Export writes these files, the service, ``dpr index`` and the benchmarks read them; every
artifact's file name is spelled here and nowhere else.

```
<repository>/manifest.json                     Manifest (tags, default strengths, versions)
<repository>/seq_backbone/1/model.onnx         the backbone
<repository>/seq_backbone/1/items.npy          item table, float [N, D] (row i-1 = internal id i)
<repository>/seq_backbone/1/items.json         {"item_ids", "titles", "tags"} in table order
<repository>/prompt_encoder/1/model.onnx       the frozen sentence encoder
<repository>/prompt_encoder/1/tokenizer.json   its fast tokenizer (the service tokenizes)
<repository>/steering_head/1/model.onnx        the steering head
<repository>/dpr_steer/1/                      the ensemble's (empty) version folder
<repository>/vocabulary.json                   the catalogue vocabulary the prompt reader uses
<repository>/vocabulary.npy                    the encoder's embeddings of its texts, [R, P]
```
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from dpr_plugin.contract import PROMPT_ENCODER, SEQ_BACKBONE
from dpr_plugin.default_strength import DefaultStrength
from dpr_plugin.errors import ConfigError

MANIFEST_FILE = "manifest.json"
MODEL_VERSION = "1"
"""The Triton version folder every model is exported into."""
MODEL_FILE = "model.onnx"
ITEM_TABLE_FILE = "items.npy"
ITEM_META_FILE = "items.json"
TOKENIZER_FILE = "tokenizer.json"
VOCABULARY_FILE = "vocabulary.json"
VOCABULARY_EMBEDDINGS_FILE = "vocabulary.npy"


def version_dir(repository: Path, model: str) -> Path:
    """``<repository>/<model>/<MODEL_VERSION>``."""
    return Path(repository) / model / MODEL_VERSION


def model_path(repository: Path, model: str) -> Path:
    """The ONNX file of ``model``."""
    return version_dir(repository, model) / MODEL_FILE


def item_table_path(repository: Path) -> Path:
    """The exported item embeddings."""
    return version_dir(repository, SEQ_BACKBONE.name) / ITEM_TABLE_FILE


def item_meta_path(repository: Path) -> Path:
    """The exported item ids, titles and tags."""
    return version_dir(repository, SEQ_BACKBONE.name) / ITEM_META_FILE


def tokenizer_path(repository: Path) -> Path:
    """The prompt tokenizer the service uses."""
    return version_dir(repository, PROMPT_ENCODER.name) / TOKENIZER_FILE


def vocabulary_path(repository: Path) -> Path:
    """The resolved catalogue vocabulary (``Vocabulary.to_json``)."""
    return Path(repository) / VOCABULARY_FILE


def vocabulary_embeddings_path(repository: Path) -> Path:
    """The encoder's embeddings of ``Vocabulary.zero_shot_rows``, row for row."""
    return Path(repository) / VOCABULARY_EMBEDDINGS_FILE


def read_json_object(path: Path, setting: str = "repository") -> dict[str, object]:
    """A JSON object from ``path``; ConfigErrors start with ``setting``."""
    if not path.is_file():
        raise ConfigError(f"{setting}: {path} not found (run `dpr export` first)")
    try:
        body = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{setting}: {path} is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ConfigError(f"{setting}: {path} must hold a JSON object")
    return body


@dataclass(frozen=True)
class ModelRecord:
    """What one exported model was made from.

    Attributes:
        path: The ONNX file, relative to the repository.
        source_sha256: Digest of the checkpoint file it was exported from.
        metadata: The ONNX file's metadata (model version, backbone kind, tags, ...).
    """

    path: str
    source_sha256: str
    metadata: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "source_sha256": self.source_sha256, **self.metadata}


@dataclass(frozen=True)
class Manifest:
    """``manifest.json``: what an export holds.

    Attributes:
        tags: Tag names in the order of the steering head's TAG_SCORES.
        backbone: The backbone kind (``sasrec``, ``gru4rec``).
        models: Per served model, what it was exported from.
        default_strength: The strength of a request that names none (1 everywhere for an
            export without calibrated strengths).
        parity_max_abs_diff: Per model and output, the largest |PyTorch - ONNX Runtime|.
        has_default_strength: Whether the file carries ``default_strength`` (older exports
            do not; their model version is a digest of ``models`` alone).
    """

    tags: tuple[str, ...]
    backbone: str
    models: dict[str, ModelRecord]
    default_strength: DefaultStrength = field(default_factory=DefaultStrength)
    parity_max_abs_diff: dict[str, dict[str, float]] = field(default_factory=dict)
    has_default_strength: bool = True

    @property
    def model_version(self) -> str:
        """Short digest of the exported models' sources and the default strengths."""
        models = {name: record.to_json() for name, record in self.models.items()}
        versioned: object = models
        if self.has_default_strength:
            versioned = {"models": models, "default_strength": self.default_strength.to_json()}
        return hashlib.sha256(json.dumps(versioned, sort_keys=True).encode()).hexdigest()[:12]

    def to_json(self) -> dict[str, object]:
        return {
            "models": {name: record.to_json() for name, record in self.models.items()},
            "tags": list(self.tags),
            "backbone": self.backbone,
            "default_strength": self.default_strength.to_json(),
            "parity_max_abs_diff": self.parity_max_abs_diff,
        }

    def write(self, repository: Path) -> Path:
        """Writes ``<repository>/manifest.json``."""
        path = Path(repository) / MANIFEST_FILE
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, repository: Path) -> Manifest:
        """Reads ``<repository>/manifest.json``.

        Raises:
            ConfigError: starting with ``repository:`` and naming the file and the field.
        """
        path = Path(repository) / MANIFEST_FILE
        where = f"repository: {path}"
        body = read_json_object(path)
        tags = body.get("tags")
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ConfigError(f"{where} has no tag list")
        models = body.get("models", {})
        if not isinstance(models, dict):
            raise ConfigError(f"{where}: models must be an object")
        records = {}
        for name, entry in models.items():
            if not isinstance(entry, dict):
                raise ConfigError(f"{where}: models.{name} must be an object")
            extra = {k: str(v) for k, v in entry.items() if k not in ("path", "source_sha256")}
            records[name] = ModelRecord(
                str(entry.get("path", "")), str(entry.get("source_sha256", "")), extra
            )
        has_default = "default_strength" in body
        default = (
            DefaultStrength.from_json(body["default_strength"], where)
            if has_default
            else DefaultStrength()
        )
        parity = body.get("parity_max_abs_diff", {})
        return cls(
            tags=tuple(tags),
            backbone=str(body.get("backbone", "")),
            models=records,
            default_strength=default,
            parity_max_abs_diff=parity if isinstance(parity, dict) else {},
            has_default_strength=has_default,
        )
