"""``python -m export``: checkpoints → ONNX models in a Triton repository, each parity-checked.

    python -m export --backbone runs/main/sasrec --steering runs/main/steering \
        --repository triton_models

Writes ``<repository>/<model>/1/model.onnx`` for seq_backbone, prompt_encoder and
steering_head, the item table beside the backbone (``seq_backbone/1/items.npy`` +
``items.json``, what ``dpr index`` loads), the tokenizer beside the encoder, and
``<repository>/manifest.json``. Exits non-zero, naming model and tensor, if parity fails.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

from dpr_plugin.contract import EMBEDDING_DIM, NUM_EXPERTS, PROMPT_DIM
from dpr_plugin.errors import DprError
from dpr_plugin.models.prompt_encoder import PromptEncoder
from dpr_plugin.models.steering_head import SteeringConfig, SteeringHead
from dpr_plugin.serving.default_strength import DefaultStrength
from dpr_plugin.training.checkpoint import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    file_sha256,
    load_backbone,
    load_steering,
)
from export.onnx_export import (
    ExportRecord,
    export_backbone,
    export_prompt_encoder,
    export_steering_head,
    write_manifest,
)
from export.parity import (
    SPECS,
    backbone_cases,
    check_parity,
    prompt_cases,
    steering_cases,
)
from export.wrappers import BackboneSignature, PromptEncoderSignature, SteeringSignature

log = logging.getLogger("dpr.export")

PARITY_PROMPTS = [
    "",
    "more comedies",
    "no horror tonight please",
    "Ünïcödé — 日本語の映画 🎬",
    "a long prompt that goes on " * 12,
]


def run_export(
    backbone_dir: Path, steering_dir: Path | None, repository: Path, seed: int = 0
) -> dict[str, object]:
    """Exports all three models into ``repository``; returns the manifest body."""
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
        head = SteeringHead(
            SteeringConfig(
                hidden_dim=EMBEDDING_DIM,
                prompt_dim=PROMPT_DIM,
                num_tags=len(tags),
                positive_experts=NUM_EXPERTS // 2,
                negative_experts=NUM_EXPERTS - NUM_EXPERTS // 2,
            )
        ).eval()
        head_source = "untrained"
        default_strength = DefaultStrength(source="untrained head")
    encoder = PromptEncoder()
    backbone_source = file_sha256(backbone_dir / WEIGHTS_FILE)
    version = "1"
    records, reports = [], {}
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
        path = repository / name / version / "model.onnx"
        metadata = {"model_version": version, "source_sha256": source, **meta}
        write(path, metadata)
        report = check_parity(module, str(path), SPECS[name], cases)
        reports[name] = report.max_abs_diff
        log.info(
            "%s: parity ok over %d batches, max |diff| %s",
            name,
            report.cases,
            {k: f"{v:.2e}" for k, v in report.max_abs_diff.items()},
        )
        records.append(ExportRecord(name, str(path.relative_to(repository)), source, metadata))
    version_dir = repository / "seq_backbone" / version
    np.save(
        version_dir / "items.npy", backbone.item_vectors().detach().numpy()[1:].astype(np.float32)
    )
    (version_dir / "items.json").write_text(
        json.dumps(
            {"item_ids": catalogue.item_ids, "titles": catalogue.titles, "tags": catalogue.tags}
        )
    )
    shutil.copy(encoder.model_dir / "tokenizer.json", repository / "prompt_encoder" / version)
    # Triton (NGC container included) loads an ensemble only with an (empty) version folder.
    (repository / "dpr_steer" / version).mkdir(parents=True, exist_ok=True)
    manifest = {
        "tags": tags,
        "backbone": backbone.config.kind,
        "default_strength": default_strength.to_json(),
        "parity_max_abs_diff": reports,
    }
    write_manifest(repository, records, manifest)
    return manifest


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backbone", required=True, type=Path, help="backbone checkpoint dir")
    parser.add_argument("--steering", type=Path, help="steering checkpoint dir (else untrained)")
    parser.add_argument("--repository", type=Path, default=Path("triton_models"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        manifest = run_export(args.backbone, args.steering, args.repository, args.seed)
    except DprError as exc:
        print(f"export: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(manifest["parity_max_abs_diff"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
