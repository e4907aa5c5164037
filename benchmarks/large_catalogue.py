"""Large-catalogue training: the sampled softmax (logQ-corrected) against the full one.

    .venv/bin/python -m benchmarks.large_catalogue --data ../shared/data/ml-1m \\
        --format ml-1m-tsv --full runs/ml1m_pu/sasrec --sampled runs/ml1m_pu/sasrec_sampled

* Quality: test NDCG@10, history removed, of two SASRec checkpoints trained on ML-1M with the
  same seed and recipe, ``--loss full`` and ``--loss sampled`` (the commands are in
  docs/results.md). Target: sampled within 2 % of full.
* Cost per step: each loss trains ``--steps`` steps of the same recipe on the data's training
  windows in a child process: seconds per 10k training windows and the child's peak memory.
* 10⁶ items: the same, on a synthetic catalogue of 1,000,000 items (Zipf-popular, 20,000
  sequences of 50) with the sampled loss; for the full softmax only the size of its logit
  matrix per step is reported (not run).

Writes ``benchmarks/results/large_catalogue/large_catalogue.json``. ``--smoke``: the synthetic
data, 20,000 items, 5 steps, no checkpoints.
"""

from __future__ import annotations

import argparse
import multiprocessing
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
    write_result,
)
from benchmarks.lib.smoke import SmokeInputs

EXPERIMENT = "large_catalogue"
MODULE = "benchmarks.large_catalogue"
RECIPE = {"batch_size": 16, "lr": 0.007, "dropout": 0.2, "hidden_dim": 64, "max_len": 200}


def _sequences_of(data: str, fmt: str) -> tuple[list[np.ndarray], int]:
    from dpr_plugin.data.sources import load_split

    split = load_split(f"{fmt}:{data}", 0, 0)
    return split.train, split.dataset.num_items


def _synthetic(items: int, users: int, length: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    ranks = rng.zipf(1.2, size=(users, length))
    return [np.asarray((r - 1) % items + 1, np.int64) for r in ranks]


def _train_steps(job: tuple) -> dict[str, float]:
    """In a child: ``steps`` steps of one loss; seconds per 10k windows and peak memory."""
    source, loss, steps, threads = job
    import torch

    from dpr_plugin.models.backbone import BackboneConfig
    from dpr_plugin.models.factory import build_backbone
    from dpr_plugin.serving.index.edge import peak_rss_mb
    from dpr_plugin.training.backbone_trainer import TrainConfig, next_item_loss
    from dpr_plugin.training.batches import batches, training_windows

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if source[0] == "synthetic":
        sequences, num_items = _synthetic(*source[1:]), source[1]
    else:
        sequences, num_items = _sequences_of(*source[1:])
    model = build_backbone(
        BackboneConfig(
            kind="sasrec",
            num_items=num_items,
            hidden_dim=RECIPE["hidden_dim"],
            max_len=RECIPE["max_len"],
            dropout=RECIPE["dropout"],
        )
    )
    cfg = TrainConfig(loss=loss, batch_size=RECIPE["batch_size"], lr=RECIPE["lr"])
    windows = training_windows(sequences, RECIPE["max_len"], True)
    sampled = cfg.sampled_for(num_items)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    generator = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)
    done = 0
    started = time.perf_counter()
    for step, (inputs, targets) in enumerate(batches(windows, cfg.batch_size, rng)):
        if step == steps:
            break
        loss_value = next_item_loss(
            model, torch.from_numpy(inputs), torch.from_numpy(targets), cfg, generator, sampled
        )
        optimizer.zero_grad(set_to_none=True)
        loss_value.backward()
        optimizer.step()
        done += len(inputs)
    seconds = time.perf_counter() - started
    return {
        "items": num_items,
        "steps": min(steps, step),
        "s_per_10k_windows": round(seconds / max(done, 1) * 10_000, 2),
        "peak_rss_mb": round(peak_rss_mb()),
    }


def quality(data: str, fmt: str, checkpoint: Path) -> dict[str, float]:
    from dpr_plugin.data.sources import load_split
    from dpr_plugin.evaluation.full_ranking import evaluate_split
    from dpr_plugin.training.checkpoint import load_backbone

    model, _, _ = load_backbone(checkpoint)
    split = load_split(f"{fmt}:{data}", 0, 0)
    test = evaluate_split(model, split, "test", exclude_seen=True)
    return {"test_ndcg@10_seen_excluded": round(test["ndcg@10"], 4), "checkpoint": str(checkpoint)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None, help="dataset folder (ML-1M)")
    parser.add_argument("--format", default="ml-1m-tsv")
    parser.add_argument("--full", type=Path, default=None, help="checkpoint trained --loss full")
    parser.add_argument("--sampled", type=Path, default=None, help="... --loss sampled")
    parser.add_argument("--steps", type=int, default=300, help="timed steps per loss")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--result-name", default="large_catalogue")
    add_smoke_arguments(parser)
    args = parse_args(parser, argv)
    root = results_root(args)
    big = (1_000_000, 20_000, 50)
    if args.smoke:
        SmokeInputs(root).fill_data(args)
        args.steps, big = 5, (20_000, 500, 20)
    context = multiprocessing.get_context("spawn")
    body: dict[str, object] = {"recipe": RECIPE, "steps": args.steps}
    with context.Pool(1, maxtasksperchild=1) as pool:
        for loss in ("full", "sampled"):
            job = (("data", args.data, args.format), loss, args.steps, args.threads)
            body[f"{loss}_per_step"] = pool.map(_train_steps, [job])[0]
            print(f"{loss}: {body[f'{loss}_per_step']}", flush=True)
        big_job = (("synthetic", *big), "sampled", args.steps, args.threads)
        body["sampled_1e6_items"] = pool.map(_train_steps, [big_job])[0]
        print(f"sampled at {big[0]} items: {body['sampled_1e6_items']}", flush=True)
    positions = RECIPE["batch_size"] * (big[2] - 1)
    body["full_softmax_1e6_logits_gb"] = round(positions * big[0] * 4 / 1e9, 1)
    if args.full and args.sampled:
        full = quality(args.data, args.format, args.full)
        sampled = quality(args.data, args.format, args.sampled)
        ratio = sampled["test_ndcg@10_seen_excluded"] / full["test_ndcg@10_seen_excluded"]
        body["quality"] = {"full": full, "sampled": sampled, "sampled_over_full": round(ratio, 4)}
        body["target"] = {"sampled within 2 % of full": ratio >= 0.98}
    full_s = body["full_per_step"]["s_per_10k_windows"]  # type: ignore[index]
    sampled_s = body["sampled_per_step"]["s_per_10k_windows"]  # type: ignore[index]
    body["sampled_time_saved"] = round(1 - sampled_s / full_s, 3)
    out = result_path(EXPERIMENT, args.result_name, root)
    write_result(out, {**body, "command": command_line(MODULE), "git_sha": git_sha()})
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
