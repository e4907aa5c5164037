"""Steering-head variants on the validation targets (model selection, never the test set).

    .venv/bin/python -m benchmarks.steering_variants --data ../shared/data/ml-1m \\
        --format ml-1m-tsv --backbone runs/ml1m/sasrec

Runs ``dpr train-steering --stage valid`` once per variant (100k stage-3 samples each, ~1 min
on 2 cores), side by side with the filter baselines of the same run, and writes the positive
and negative figures to ``benchmarks/results/steering_variants/steering_variants_valid.json``
(another stem with ``--result-name``). A variant replaces a default only when it is better on
validation by more than the spread between variants that should not matter. ``--smoke`` runs
two variants on an untrained backbone of the synthetic data (``benchmarks.lib.smoke``) with a
few hundred samples, calling ``dpr`` in this process rather than one process per variant.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from benchmarks.common import (
    add_smoke_arguments,
    command_line,
    git_sha,
    parse_args,
    require,
    result_path,
    results_root,
    run_dpr,
    write_result,
)
from benchmarks.lib.smoke import SmokeInputs

EXPERIMENT = "steering_variants"
METHODS = ("dpr", "hybrid", "postfilter", "filter")
VARIANTS: dict[str, list[str]] = {
    "default": [],
    "no_positive_likelihood": ["--positive-weight", "0"],
    "8_epochs_lr_0.003": ["--epochs", "8", "--lr", "0.003"],
    "wide_experts": ["--expert-hidden", "512", "--fusion-dim", "256"],
    "within_tag_1": ["--within-weight", "1.0"],
    "within_tag_3_no_positive_likelihood": [
        "--within-weight", "3.0", "--positive-weight", "0",
    ],
}  # fmt: skip
SMOKE_VARIANTS = ("default", "within_tag_1")
# --smoke: before each variant's own flags (which win), so the run takes seconds.
SMOKE_FLAGS = [
    "--max-samples",
    "512",
    "--epochs",
    "1",
    "--align-steps",
    "20",
    "--reader-batch",
    "32",
]


def summarise(report: dict) -> dict[str, dict[str, float]]:
    """The figures that decide: NDCG@10 of each method and the adherence of the soft path."""
    pos, neg = report["positive"], report["negative"]
    return {
        "positive": {
            **{f"{m}_ndcg@10": pos[m]["ndcg@10"] for m in METHODS},
            "dpr_tag_hit@10": pos["dpr"]["tag_hit@10"],
            "heldout_tag_hit@10": pos["heldout_phrasing"]["tag_hit@10"],
        },
        "negative": {
            **{f"{m}_ndcg@10": neg[m]["ndcg@10"] for m in METHODS},
            "dpr_violation@10": neg["dpr"]["violation@10"],
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="folder of the dataset files (required unless --smoke)")
    parser.add_argument("--format", default="ml-1m-tsv")
    parser.add_argument(
        "--backbone", type=Path, help="backbone checkpoint (required unless --smoke)"
    )
    parser.add_argument("--variants", nargs="*", default=None, choices=list(VARIANTS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--result-name", default="steering_variants_valid", help="stem of the result JSON"
    )
    add_smoke_arguments(parser)
    args = parse_args(parser, argv)
    root = results_root(args)
    if args.smoke:
        inputs = SmokeInputs(root)
        inputs.fill_data(args)
        if args.backbone is None:
            args.backbone = inputs.backbone("sasrec")
        if args.variants is None:
            args.variants = list(SMOKE_VARIANTS)
    require(parser, args, "data", "backbone")
    if args.variants is None:
        args.variants = list(VARIANTS)

    rows: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="dpr-variants-") as tmp:
        for name in args.variants:
            command = [
                "train-steering",
                "--dataset", f"{args.format}:{args.data}",
                "--backbone", str(args.backbone),
                "--out", str(Path(tmp) / name),
                "--stage", "valid", "--quiet", "--threads", str(args.threads),
                *(SMOKE_FLAGS if args.smoke else []),
                *VARIANTS[name],
            ]  # fmt: skip
            report = run_dpr(command, in_process=args.smoke)
            rows[name] = {
                "flags": " ".join(VARIANTS[name]),
                "cases": report["cases"],
                **summarise(report),
            }
            print(name, json.dumps(rows[name]), flush=True)
    body = {
        "stage": "valid",
        "backbone": str(args.backbone),
        "variants": rows,
        "command": command_line("benchmarks.steering_variants"),
        "git_sha": git_sha(),
    }
    out = result_path(EXPERIMENT, args.result_name, root)
    write_result(out, body)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
