"""Tag embeddings on the bundled data, side by side: the main job's recipe with and without.

    .venv/bin/python -m benchmarks.tag_embeddings_bundled

Runs ``dpr train`` and ``dpr train-steering`` exactly as ``scripts/main.sh`` does (bundled
ml-latest-small, seeded), once with ``--tag-embeddings false`` and once with ``true``, and
sets side by side what each printed: the backbone's test NDCG@10 (history kept / removed),
the steering tasks (NDCG@10 and adherence of DPR, hybrid and both filters), ``tag_share@10``
("more X" / "no X" averaged over the tags, and the demo's Comedy / Drama) and the default
strengths picked on validation. ~5 min on 2 cores. Writes
``benchmarks/results/tag_embeddings_bundled/tag_embeddings_bundled.json``. ``--smoke`` runs the
same four commands in this process on the synthetic data (``benchmarks.lib.smoke``), the
models shrunk and trained for one epoch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import (
    add_smoke_arguments,
    command_line,
    git_sha,
    parse_args,
    result_path,
    results_root,
    run_dpr,
    write_result,
)
from benchmarks.lib.smoke import SmokeInputs

EXPERIMENT = "tag_embeddings_bundled"
# scripts/main.sh's recipe
BACKBONE_FLAGS = [
    *("--backbone", "sasrec", "--quiet", "--max-epochs", "8"),
    *("--batch-size", "16", "--lr", "0.005", "--dropout", "0.2", "--patience", "3"),
]
STEERING_FLAGS = ["--quiet", "--max-samples", "60000", "--epochs", "4"]
# --smoke: after the recipe's flags (these win), so each command takes a second or two.
SMOKE_BACKBONE_FLAGS = ["--max-epochs", "1", "--batch-size", "64", "--hidden-dim", "16"]
SMOKE_STEERING_FLAGS = ["--max-samples", "512", "--epochs", "1", "--align-steps", "20"]
METHODS = ("backbone", "dpr", "hybrid", "postfilter", "filter")


def steering_summary(report: dict) -> dict[str, object]:
    """The figures of a ``dpr train-steering`` report this comparison is about."""
    per_tag = report["tag_share@10"]["per_tag"]
    out: dict[str, object] = {
        "tag_share@10": {
            "unsteered": round(float(np.mean([v["unsteered"] for v in per_tag.values()])), 3),
            "more": round(float(np.mean([v["more"] for v in per_tag.values()])), 3),
            "no": round(float(np.mean([v["no"] for v in per_tag.values()])), 3),
            "Comedy_more": per_tag["Comedy"]["more"],
            "Drama_no": per_tag["Drama"]["no"],
        },
        "default_strength": report["default_strength"],
    }
    for task, adherence in (("positive", "tag_hit@10"), ("negative", "violation@10")):
        out[task] = {
            m: {"ndcg@10": report[task][m]["ndcg@10"], adherence: report[task][m][adherence]}
            for m in METHODS
        }
    out["cases"] = report["cases"]
    return out


def run_variant(
    runs: Path, tag_embeddings: bool, dataset: str, smoke: bool = False
) -> dict[str, object]:
    name = "tags" if tag_embeddings else "plain"
    started = time.perf_counter()
    backbone = run_dpr(
        [
            "train",
            "--dataset",
            dataset,
            *BACKBONE_FLAGS,
            *(SMOKE_BACKBONE_FLAGS if smoke else []),
            "--out",
            str(runs / name / "sasrec"),
            "--tag-embeddings",
            str(tag_embeddings).lower(),
        ],
        in_process=smoke,
    )
    steering = run_dpr(
        [
            "train-steering",
            "--backbone",
            str(runs / name / "sasrec"),
            "--out",
            str(runs / name / "steering"),
            *STEERING_FLAGS,
            *(SMOKE_STEERING_FLAGS if smoke else []),
        ],
        in_process=smoke,
    )
    return {
        "backbone": {
            "valid_ndcg@10": round(backbone["valid"]["ndcg@10"], 4),
            "test_ndcg@10": round(backbone["test"]["ndcg@10"], 4),
            "test_ndcg@10_seen_excluded": round(backbone["test_exclude_seen"]["ndcg@10"], 4),
            "epochs": backbone["epochs"],
        },
        "steering": steering_summary(steering),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--runs", type=Path, default=None, help="default runs/tag_embeddings_bundled"
    )
    parser.add_argument(
        "--dataset", default=None, help="dpr's --dataset (default: bundled, as the main job)"
    )
    parser.add_argument(
        "--result-name", default="tag_embeddings_bundled", help="stem of the result JSON"
    )
    add_smoke_arguments(parser)
    args = parse_args(parser, argv)
    root = results_root(args)
    if args.smoke:
        if args.dataset is None:
            args.dataset = SmokeInputs(root).spec
        if args.runs is None:
            args.runs = root / "_runs" / EXPERIMENT
    args.dataset = args.dataset or "bundled"
    args.runs = args.runs or Path("runs/tag_embeddings_bundled")
    body: dict[str, object] = {}
    for tag_embeddings in (False, True):
        key = "tag_embeddings" if tag_embeddings else "plain"
        body[key] = run_variant(args.runs, tag_embeddings, args.dataset, args.smoke)
        print(json.dumps({key: body[key]}, indent=1), flush=True)
    body["recipe"] = {
        "dpr train": " ".join(["--dataset", args.dataset, *BACKBONE_FLAGS]),
        "dpr train-steering": " ".join(STEERING_FLAGS),
    }
    body["command"] = command_line("benchmarks.tag_embeddings_bundled")
    body["git_sha"] = git_sha()
    out = result_path(EXPERIMENT, args.result_name, root)
    write_result(out, body)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
