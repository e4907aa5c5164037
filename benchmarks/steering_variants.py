"""Steering-head variants on the validation targets (model selection, never the test set).

    .venv/bin/python -m benchmarks.steering_variants --data ../shared/data/ml-1m \\
        --format ml-1m-tsv --backbone runs/ml1m/sasrec

Runs ``dpr train-steering --stage valid`` once per variant (100k stage-3 samples each, ~1 min
on 2 cores), side by side with the filter baselines of the same run, and writes the positive
and negative figures to ``benchmarks/results/steering_variants_valid.json``. A variant replaces
a default only when it is better on validation by more than the spread between variants that
should not matter.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import command_line, git_sha, write_result

RESULT = Path(__file__).parent / "results" / "steering_variants_valid.json"
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--format", default="ml-1m-tsv")
    parser.add_argument("--backbone", type=Path, required=True)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()

    dpr = str(Path(sys.executable).with_name("dpr"))
    rows: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="dpr-variants-") as tmp:
        for name in args.variants:
            command = [
                dpr, "train-steering",
                "--dataset", f"{args.format}:{args.data}",
                "--backbone", str(args.backbone),
                "--out", str(Path(tmp) / name),
                "--stage", "valid", "--quiet", "--threads", str(args.threads),
                *VARIANTS[name],
            ]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(done.stderr[-3000:], file=sys.stderr)
                return done.returncode
            report = json.loads(done.stdout)
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
    write_result(args.out, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
