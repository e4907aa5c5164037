"""Steering strength on ML-1M: the tasks' figures from strength 0 to 4, the strength picked on
validation, and the issue's targets at that strength on test.

    .venv/bin/python -m benchmarks.steering_strength --data ../shared/data/ml-1m \\
        --format ml-1m-tsv --heads runs/headline/steering-sasrec runs/headline/steering-gru4rec

(the heads behind ``steering_ml1m/steering_ml1m.json``; ``--heads
runs/plain_rerun/steering-sasrec runs/plain_rerun/steering-gru4rec --result-name
steering_strength_plain`` for the plain ones).

Each head is a checkpoint that ``benchmarks.steering_ml1m`` trained; its config names the
backbone it steers. Nothing is trained here. The default strengths are picked on the
validation cases as ``dpr train-steering`` picks them (``strength_sweep.calibrate``); the
validation and test figures at those strengths are set beside the filter baselines, which
strength does not change (validation's are what a choice between heads is made on).
Strength 0 is the unsteered backbone, so hybrid at 0 is exactly the filter. Writes
``benchmarks/results/steering_strength/steering_strength_ml1m.json`` and ``..._curves.png``.
``--smoke`` sweeps two untrained heads on the synthetic data (``benchmarks.lib.smoke``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from benchmarks.common import parse_args, prompt_encoder, result_path, write_plotted_result
from benchmarks.lib.steering_heads import add_head_arguments, head_inputs, load_head
from benchmarks.lib.steering_targets import targets
from dpr_plugin.default_strength import DefaultStrength
from dpr_plugin.evaluation.paired_ratio import METHOD as INTERVAL_METHOD
from dpr_plugin.evaluation.steering_eval import TASKS, task_scores
from dpr_plugin.evaluation.strength_sweep import (
    STRENGTHS,
    Adherence,
    calibrate,
    report_at,
    strength_curve,
)
from dpr_plugin.models.prompt_encoder import PromptEncoder
from dpr_plugin.settings import add_arguments, build
from dpr_plugin.training.steering_trainer import encode_prompts

EXPERIMENT = "steering_strength"
STAGES = ("valid", "test")


def run_one(args: argparse.Namespace, head_dir: Path, encoder: PromptEncoder) -> tuple[str, dict]:
    loaded = load_head(head_dir, args.data, args.format)
    head, tags, head_config = loaded.head, loaded.tags, loaded.head_config
    backbone, split, checkpoint = loaded.backbone, loaded.split, loaded.checkpoint
    kind = backbone.config.kind
    trained, heldout = encode_prompts(encoder, tags, False), encode_prompts(encoder, tags, True)
    item_tags = split.dataset.tag_matrix()[1:]
    curves: dict[str, dict] = {}
    for stage in STAGES:
        started = time.perf_counter()
        tasks = task_scores(backbone, head, split, trained, heldout, stage)
        if stage == "valid":
            default, curves[stage] = calibrate(tasks, item_tags, adherence=args.adherence)
        else:
            curves[stage] = {task: strength_curve(tasks[task], item_tags) for task in tasks}
        for task in tasks:
            curves[stage][task]["cases"] = len(tasks[task].cases)
        print(f"{kind} {stage}: {time.perf_counter() - started:.1f} s", flush=True)
    valid_at_default = report_at(curves["valid"], default)
    test_at_default = report_at(curves["test"], default)
    return kind, {
        "head": str(head_dir),
        "backbone_checkpoint": str(checkpoint),
        "default_strength": default.to_json(),
        "default_strength_in_checkpoint": head_config.get("default_strength"),
        "valid_at_default": valid_at_default,
        "targets_valid_at_default": targets(valid_at_default),
        "test_at_default": test_at_default,
        "targets_at_default": targets(test_at_default),
        "targets_at_1": targets(report_at(curves["test"], DefaultStrength())),
        "curves": curves,
    }


def plot(per_backbone: dict[str, dict], path: Path) -> None:
    """NDCG@10 against strength (test, solid; validation, dotted) beside the filter lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = list(per_backbone)
    fig, axes = plt.subplots(len(TASKS), len(kinds), figsize=(7 * len(kinds), 8), squeeze=False)
    for col, kind in enumerate(kinds):
        for row, task in enumerate(TASKS):
            ax = axes[row][col]
            for stage, style in (("test", "-"), ("valid", ":")):
                block = per_backbone[kind]["curves"][stage][task]
                xs = [p["strength"] for p in block["curve"]]
                for method, colour in (("dpr", "C0"), ("hybrid", "C1")):
                    ys = [p[method]["ndcg@10"] for p in block["curve"]]
                    ax.plot(xs, ys, style, color=colour, marker="o", ms=3,
                            label=f"{method} ({stage})")  # fmt: skip
                for base, colour in (("filter", "C2"), ("postfilter", "C3")):
                    ax.axhline(block["baselines"][base]["ndcg@10"], ls=style, color=colour,
                               lw=1, label=f"{base} ({stage})")  # fmt: skip
            ax.set_title(f"{kind}: {task} steering, NDCG@10 against strength")
            ax.set_xlabel("strength")
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_head_arguments(parser, "steering_strength_ml1m")
    add_arguments(parser, Adherence, "adherence")
    args = parse_args(parser, argv)
    root = head_inputs(parser, args)
    args.adherence = build(Adherence, args, "adherence")
    if args.threads:
        torch.set_num_threads(args.threads)
    encoder = prompt_encoder()
    per_backbone: dict[str, dict] = {}
    for head_dir in args.heads:
        kind, report = run_one(args, head_dir, encoder)
        per_backbone[kind] = report
        summary = {"default_strength": report["default_strength"], **report["targets_at_default"]}
        print(json.dumps({kind: summary}, indent=2), flush=True)
    png = result_path(EXPERIMENT, args.result_name, root, suffix="_curves.png")
    png.parent.mkdir(parents=True, exist_ok=True)
    plot(per_backbone, png)
    body = {
        **per_backbone,
        "strengths": list(STRENGTHS),
        "interval_method": (
            f"ratio_ci95 and each target's ci95: {INTERVAL_METHOD}; bar_in_ci95 = the target "
            "lies inside it, so these cases cannot tell met from not met"
        ),
        "note": (
            "Scores at strength a are base + a * (dpr_1 - base): the steered vector is "
            "h + a * delta. default_strength is what dpr_plugin.evaluation.strength_sweep."
            "calibrate picks on validation NDCG@10 (positive on DPR, also used for the positive "
            "hybrid; negative on DPR and on the hybrid separately; the soft picks only among "
            "strengths that keep the Adherence bounds in its source), as the service serves it; "
            "targets_valid_at_default / targets_at_default are the validation / test figures "
            "there, targets_at_1 the test figures of the head as trained."
        ),
    }
    write_plotted_result(
        result_path(EXPERIMENT, args.result_name, root),
        body,
        png,
        "curves_png",
        "benchmarks.steering_strength",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
