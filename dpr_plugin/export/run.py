"""``dpr export``: checkpoints → ONNX models in a Triton repository, each parity-checked.

    dpr export --backbone runs/main/sasrec --steering runs/main/steering \
        --repository triton_models

Writes ``<repository>/<model>/1/model.onnx`` for seq_backbone, prompt_encoder and
steering_head, the item table beside the backbone (``seq_backbone/1/items.npy`` +
``items.json``, what ``dpr index`` loads), the tokenizer beside the encoder, and
``<repository>/manifest.json``. Exits non-zero, naming model and tensor, if parity fails.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import torch

from dpr_plugin.contract import EMBEDDING_DIM, ENSEMBLES
from dpr_plugin.data.sources import load_items
from dpr_plugin.default_strength import DefaultStrength
from dpr_plugin.errors import DprError
from dpr_plugin.export.cold import with_cold_items
from dpr_plugin.export.onnx_export import (
    export_backbone,
    export_prompt_encoder,
    export_steering_head,
)
from dpr_plugin.export.parity import (
    SPECS,
    backbone_cases,
    check_parity,
    prompt_cases,
    steering_cases,
)
from dpr_plugin.export.wrappers import BackboneSignature, PromptEncoderSignature, SteeringSignature
from dpr_plugin.intent.vocabulary import Vocabulary, resolve_vocabulary
from dpr_plugin.manifest import (
    MODEL_VERSION,
    TOKENIZER_FILE,
    Manifest,
    ModelRecord,
    item_meta_path,
    item_table_path,
    model_path,
    tokenizer_path,
    version_dir,
    vocabulary_embeddings_path,
    vocabulary_path,
)
from dpr_plugin.models.prompt_encoder import PromptEncoder
from dpr_plugin.models.steering_head import SteeringConfig, SteeringHead
from dpr_plugin.training.checkpoint import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    file_sha256,
    load_backbone,
    load_steering,
)

log = logging.getLogger("dpr.export")

PARITY_PROMPTS = [
    "",
    "more comedies",
    "no horror tonight please",
    "Ünïcödé — 日本語の映画 🎬",
    "a long prompt that goes on " * 12,
]


def write_vocabulary(vocabulary: Vocabulary, encoder: PromptEncoder, repository: Path) -> None:
    """``vocabulary.json`` and the encoder's embeddings of its texts (``vocabulary.npy``)."""
    texts = [text for _, text in vocabulary.zero_shot_rows()]
    np.save(vocabulary_embeddings_path(repository), encoder.encode(texts).astype(np.float32))
    vocabulary_path(repository).write_text(json.dumps(vocabulary.to_json(), indent=1) + "\n")
    log.info(
        "vocabulary %r: %d tags, %d texts embedded",
        vocabulary.name,
        len(vocabulary.terms),
        len(texts),
    )


def run_export(
    backbone_dir: Path,
    steering_dir: Path | None,
    repository: Path,
    seed: int = 0,
    vocabulary: str = "auto",
    cold_items: str = "",
) -> Manifest:
    """Exports all three models into ``repository``; returns the manifest it wrote.

    ``vocabulary`` (a TOML path, a bundled name or ``auto``) is resolved against the tags and
    written beside the manifest with the encoder's embeddings of its texts. ``cold_items``
    (a dataset spec, e.g. ``mapping:shop.toml``): the items of its items table that were not
    trained are appended as cold items (``export/cold.py``).
    """
    backbone, catalogue, _ = load_backbone(backbone_dir)
    tags = sorted({t for item_tags in catalogue.tags for t in item_tags})
    if steering_dir is not None:
        head, head_tags, head_config = load_steering(steering_dir)
        if head_tags != tags:
            raise DprError(f"--steering: tag order {head_tags} differs from the backbone's {tags}")
        head_source = file_sha256(steering_dir / WEIGHTS_FILE)
        default_strength = DefaultStrength()
        if "default_strength" in head_config:
            default_strength = DefaultStrength.from_json(
                head_config["default_strength"], f"--steering: {steering_dir / CONFIG_FILE}"
            )
    else:
        log.warning("no --steering checkpoint: exporting an untrained head (identity steering)")
        torch.manual_seed(seed)
        head = SteeringHead(SteeringConfig.for_contract(len(tags))).eval()
        head_source = "untrained"
        default_strength = DefaultStrength(source="untrained head")
    encoder = PromptEncoder()
    backbone_source = file_sha256(backbone_dir / WEIGHTS_FILE)
    records, reports = {}, {}
    jobs = [
        (
            "seq_backbone",
            lambda p, m: export_backbone(backbone, p, m),
            BackboneSignature(backbone),
            backbone_cases(backbone.config.num_items),
            backbone_source,
            {"backbone": backbone.config.kind, "embedding_dim": str(EMBEDDING_DIM)},
        ),
        (
            "prompt_encoder",
            lambda p, m: export_prompt_encoder(encoder.model, p, m),
            PromptEncoderSignature(encoder.model),
            prompt_cases([encoder.tokenizer.encode_batch(PARITY_PROMPTS[:k]) for k in (1, 3, 5)]),
            file_sha256(encoder.model_dir / "model.safetensors"),
            {"encoder": "all-MiniLM-L6-v2"},
        ),
        (
            "steering_head",
            lambda p, m: export_steering_head(head, p, m),
            SteeringSignature(head),
            steering_cases(seed),
            head_source,
            {"tags": json.dumps(tags)},
        ),
    ]
    for name, write, module, cases, source, meta in jobs:
        path = model_path(repository, name)
        metadata = {"model_version": MODEL_VERSION, "source_sha256": source, **meta}
        write(path, metadata)
        report = check_parity(module, str(path), SPECS[name], cases)
        reports[name] = report.max_abs_diff
        log.info(
            "%s: parity ok over %d batches, max |diff| %s",
            name,
            report.cases,
            {k: f"{v:.2e}" for k, v in report.max_abs_diff.items()},
        )
        records[name] = ModelRecord(str(path.relative_to(repository)), source, metadata)
    table = backbone.item_vectors().detach().numpy()[1:].astype(np.float32)
    if cold_items:
        catalogue, table = with_cold_items(backbone, catalogue, table, load_items(cold_items))
    np.save(item_table_path(repository), table)
    item_meta_path(repository).write_text(json.dumps(catalogue.to_json()))
    shutil.copy(encoder.model_dir / TOKENIZER_FILE, tokenizer_path(repository))
    write_vocabulary(resolve_vocabulary(vocabulary, tuple(tags)), encoder, repository)
    # Triton (NGC container included) loads an ensemble only with an (empty) version folder.
    for spec, _ in ENSEMBLES:
        version_dir(repository, spec.name).mkdir(parents=True, exist_ok=True)
    manifest = Manifest(
        tags=tuple(tags),
        backbone=backbone.config.kind,
        models=records,
        default_strength=default_strength,
        parity_max_abs_diff=reports,
    )
    manifest.write(repository)
    return manifest
