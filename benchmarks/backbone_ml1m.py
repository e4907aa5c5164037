"""Benchmark: train SASRec and GRU4Rec on ML-1M, full-ranking test metrics + training time.

Run outside CI (each backbone takes tens of minutes on 2 CPU cores):

    .venv/bin/python -m benchmarks.backbone_ml1m --data ../shared/data/ml-1m --format ml-1m-tsv

Writes ``benchmarks/results/backbone_ml1m/backbone_ml1m.json`` (commit it) and the checkpoints
under ``runs/ml1m/<backbone>`` (not committed: derived from ML-1M, whose licence forbids it).
``--rescore`` adds, from the saved checkpoints, the figures with history items removed from
the ranking (the protocol most papers, and RecBole's full-sort evaluation, use) and how much
of the history-kept top 10 is history (``history_share@10``, ``last_item_first``).
``--tag-embeddings --runs runs/tag_embeddings --result-name backbone_ml1m_tag_embeddings``
trains the variant whose item vectors add their tags' learned vectors (what ``dpr train``
does by default); ``--seed 1 --runs runs/tag_embeddings_bb1`` retrains with another
initialisation and batch order. ``--smoke`` trains the same recipes shrunk (width 16, 20
positions, 2 epochs) on the synthetic data of ``benchmarks.lib.synthetic`` in a few seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

from benchmarks.common import (
    add_smoke_arguments,
    command_line,
    git_sha,
    parse_args,
    require,
    result_path,
    results_root,
    write_result,
)
from benchmarks.lib.smoke import SmokeInputs
from dpr_plugin.data.sources import load_split
from dpr_plugin.data.split import LeaveOneOutSplit
from dpr_plugin.evaluation.full_ranking import evaluate_split, history_in_top
from dpr_plugin.models.backbone import BackboneConfig
from dpr_plugin.training.backbone_trainer import TrainConfig
from dpr_plugin.training.checkpoint import load_backbone
from dpr_plugin.training.run import train_and_save

EXPERIMENT = "backbone_ml1m"
RESULT = result_path(EXPERIMENT, "backbone_ml1m")

# The recipes measured on ML-1M; see the "recipe" notes in the result file.
# Recipes chosen by short measured runs (valid NDCG@10 after ~200 s, SASRec, 2 cores):
#   batch 64, sampled softmax (1024 negatives), lr 2e-3, dropout 0.2 .... 0.031 at epoch 4 (193 s)
#   batch 16, full softmax, lr 2e-3, dropout 0.2 ........................ 0.072 at epoch 4 (227 s)
#   batch 16, sampled softmax (1024), lr 2e-3, dropout 0.2 .............. 0.073 at epoch 6 (223 s)
#   batch 16, full softmax, lr 5e-3, dropout 0.2 ........................ 0.080 at epoch 4 (194 s)
#   batch 16, full softmax, lr 2e-3, dropout 0.1 ........................ 0.076 at epoch 4 (172 s)
#   batch 16, full softmax, lr 1e-2, dropout 0.1 ........................ 0.070 at epoch 2 (92 s)
# i.e. many small steps and a high peak learning rate buy the most; bf16 autocast saves ~30 %.
_TRAIN = {
    "loss": "full",
    "bf16": True,
    "batch_size": 16,
    "lr": 7e-3,
    "warmup_steps": 300,
    "max_epochs": 30,
    "eval_every": 2,
    "patience": 3,
    "time_budget_s": 1680.0,
}
RECIPES: dict[str, tuple[dict[str, object], dict[str, object]]] = {
    "sasrec": (
        {"hidden_dim": 64, "max_len": 200, "num_layers": 2, "num_heads": 1, "dropout": 0.1},
        _TRAIN,
    ),
    "gru4rec": (
        {"hidden_dim": 64, "max_len": 200, "num_layers": 1, "dropout": 0.1},
        # The GRU's 200 sequential steps make small batches slow on CPU (~9 min per epoch at
        # batch 16 measured, ~1 min at batch 64), so it takes larger batches.
        {**_TRAIN, "batch_size": 64, "lr": 5e-3, "warmup_steps": 100},
    ),
}
# --smoke: the recipes above with these fields replaced, so a run takes a second or two.
SMOKE_MODEL: dict[str, object] = {"hidden_dim": 16, "max_len": 20}
SMOKE_TRAIN: dict[str, object] = {
    "max_epochs": 2,
    "batch_size": 64,
    "warmup_steps": 2,
    "eval_every": 1,
}


def recipe(kind: str, smoke: bool = False) -> tuple[dict[str, object], dict[str, object]]:
    """The model and training keyword arguments of ``kind``'s recipe (shrunk for smoke)."""
    model_kw, train_kw = RECIPES[kind]
    if smoke:
        return {**model_kw, **SMOKE_MODEL}, {**train_kw, **SMOKE_TRAIN}
    return model_kw, train_kw


def rescore(checkpoint: Path, split: LeaveOneOutSplit, entry: dict[str, object]) -> dict:
    """``entry`` (the result of training ``checkpoint``, or empty) with the history-removed
    figures and the history share of the top 10 added.

    Raises:
        SystemExit: ``entry`` records a test NDCG@10 that ``checkpoint`` does not give, i.e.
            the checkpoint was retrained since and the figures would mix two models.
    """
    model, _, _ = load_backbone(checkpoint)
    kept = round(evaluate_split(model, split, "test")["ndcg@10"], 4)
    if "test_ndcg@10" in entry and entry["test_ndcg@10"] != kept:
        raise SystemExit(
            f"{checkpoint}: test NDCG@10 {kept} is not the result file's "
            f"{entry['test_ndcg@10']}: retrained since; --result-name another file"
        )
    removed = evaluate_split(model, split, "test", exclude_seen=True)
    out = {**entry, "checkpoint": str(checkpoint), "test_ndcg@10": kept}
    out["test_ndcg@10_seen_excluded"] = round(removed["ndcg@10"], 4)
    out["test_recall@10_seen_excluded"] = round(removed["recall@10"], 4)
    for name, value in history_in_top(model, split, "test").items():
        out[f"test_{name}"] = round(value, 4)
    out["rescore_command"] = command_line("benchmarks.backbone_ml1m")
    return out


def main(argv: list[str] | None = None) -> int:
    """Trains the selected backbones and merges their figures into the result file."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--data", help="folder with the ML-1M files (required unless --smoke)")
    parser.add_argument("--format", default="ml-1m", choices=("ml-1m", "ml-1m-tsv"))
    parser.add_argument("--backbones", default="sasrec,gru4rec")
    parser.add_argument(
        "--runs",
        default=None,
        help="checkpoint folder (default runs/ml1m; smoke: under the results)",
    )
    parser.add_argument(
        "--tag-embeddings",
        action="store_true",
        help="BackboneConfig.tag_embeddings for every backbone (item = own row + its tags')",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="TrainConfig.seed (initialisation and batch order)"
    )
    parser.add_argument(
        "--result-name", default=RESULT.stem, help="stem of the result JSON in its folder"
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--rescore",
        action="store_true",
        help="no training: re-evaluate the saved checkpoints, adding the seen-excluded figures",
    )
    add_smoke_arguments(parser)
    args = parse_args(parser, argv)
    root = results_root(args)
    if args.smoke:
        SmokeInputs(root).fill_data(args)
        if args.runs is None:
            args.runs = str(root / "_runs" / EXPERIMENT)
    require(parser, args, "data")
    if args.runs is None:
        args.runs = "runs/ml1m"
    torch.set_num_threads(args.threads)
    spec = f"{args.format}:{args.data}"
    split = load_split(spec)
    path = result_path(EXPERIMENT, args.result_name, root)
    result = json.loads(path.read_text()) if path.is_file() else {}
    stats = split.dataset.stats()
    result["dataset"] = {
        "users": stats["users"],
        "items": stats["items"],
        "interactions": stats["interactions"],
        "preprocessing": stats["preprocessing"] + "; no k-core (every ML-1M user has >= 20)",
    }
    for kind in args.backbones.split(","):
        if args.rescore:
            result[kind] = rescore(Path(args.runs) / kind, split, result.get(kind, {}))
            result.setdefault("command", command_line("benchmarks.backbone_ml1m"))
            result.setdefault("git_sha", git_sha())
            write_result(path, result)
            print(kind, json.dumps(result[kind]))
            continue
        model_kw, train_kw = recipe(kind, args.smoke)
        if args.tag_embeddings:
            num_tags = len(split.dataset.tag_names)
            model_kw = {**model_kw, "tag_embeddings": True, "num_tags": num_tags}
        model_cfg = BackboneConfig(kind=kind, num_items=split.dataset.num_items, **model_kw)
        train_kw = {**train_kw, "seed": args.seed}
        train_cfg = TrainConfig(**train_kw)
        started = time.perf_counter()
        _, summary = train_and_save(
            split,
            model_cfg,
            train_cfg,
            Path(args.runs) / kind,
            {"spec": spec},
            progress=not args.smoke,
        )
        result[kind] = {
            "test_ndcg@10": round(summary["test"]["ndcg@10"], 4),
            "test_recall@10": round(summary["test"]["recall@10"], 4),
            "test_ndcg@20": round(summary["test"]["ndcg@20"], 4),
            "test_recall@20": round(summary["test"]["recall@20"], 4),
            "valid_ndcg@10": round(summary["valid"]["ndcg@10"], 4),
            "train_seconds": round(summary["train_seconds"]),
            "wall_seconds_with_eval": round(time.perf_counter() - started),
            "epochs": summary["epochs"],
            "best_epoch": summary["best_epoch"],
            "stopped_because": summary["stopped_because"],
            "model": model_cfg.to_dict(),
            "train": train_kw,
            "threads": args.threads,
            "command": command_line("benchmarks.backbone_ml1m"),
        }
        result["command"] = command_line("benchmarks.backbone_ml1m")
        result["git_sha"] = git_sha()
        write_result(path, result)
        print(json.dumps({kind: result[kind]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
