"""Side by side: the committed SASRec recipe with each layer's default initialisation vs
every weight drawn from N(0, 0.02) (what SASRec+ and RecBole use), on a short schedule.

    .venv/bin/python -m benchmarks.backbone_init --data ../shared/data/ml-1m --format ml-1m-tsv

Both runs use ``benchmarks.backbone_ml1m``'s SASRec recipe with ``--epochs`` epochs (the
cosine schedule ends there) and report validation and test NDCG@10 under both protocols
(history kept, DESIGN.md's; history removed, the papers'). Writes
``benchmarks/results/backbone_init.json``; checkpoints go under ``runs/init``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from benchmarks.backbone_ml1m import RECIPES
from benchmarks.common import command_line, git_sha, write_result
from dpr_plugin.data.sources import load_split
from dpr_plugin.evaluation.full_ranking import evaluate_split
from dpr_plugin.models.backbone import BackboneConfig
from dpr_plugin.training.backbone_trainer import TrainConfig
from dpr_plugin.training.run import train_and_save

RESULT = Path(__file__).parent / "results" / "backbone_init.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--format", default="ml-1m-tsv")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--init-std", type=float, nargs="+", default=[0.0, 0.02])
    parser.add_argument("--runs", type=Path, default=Path("runs/init"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    spec = f"{args.format}:{args.data}"
    split = load_split(spec)
    model_kw, train_kw = RECIPES["sasrec"]
    train_kw = {**train_kw, "max_epochs": args.epochs, "eval_every": 1, "patience": args.epochs}
    runs: dict[str, dict[str, object]] = {}
    for std in args.init_std:
        model_cfg = BackboneConfig(
            kind="sasrec", num_items=split.dataset.num_items, init_std=std, **model_kw
        )
        model, summary = train_and_save(
            split, model_cfg, TrainConfig(**train_kw), args.runs / f"std{std}", {"spec": spec}
        )
        valid_unseen = evaluate_split(model, split, "valid", exclude_seen=True)
        runs[f"init_std={std}"] = {
            "valid_ndcg@10": round(summary["valid"]["ndcg@10"], 4),
            "valid_ndcg@10_history_removed": round(valid_unseen["ndcg@10"], 4),
            "test_ndcg@10": round(summary["test"]["ndcg@10"], 4),
            "test_ndcg@10_history_removed": round(summary["test_exclude_seen"]["ndcg@10"], 4),
            "train_seconds": summary["train_seconds"],
            "epochs": summary["epochs"],
            "best_epoch": summary["best_epoch"],
        }
        print(json.dumps({f"init_std={std}": runs[f"init_std={std}"]}))
    body = {
        "recipe": {"model": model_kw, "train": train_kw},
        "runs": runs,
        "threads": args.threads,
        "command": command_line("benchmarks.backbone_init"),
        "git_sha": git_sha(),
    }
    write_result(RESULT, body)
    print(f"wrote {RESULT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
