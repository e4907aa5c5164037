"""Probe: how far can score-level baselines go on the positive task, and how much does the
case protocol decide the figure?

    .venv/bin/python -m benchmarks.positive_protocol_probe --data ../shared/data/ml-1m \\
        --format ml-1m-tsv --backbone runs/ml1m/sasrec

On the positive test cases of docs/evaluation.md's protocol (prompt = the target's rarest tag in the
recent window), from one backbone's scores, it reports NDCG@10 and tag-hit@10 of:

* the issue's two baselines (post-filter, full-catalogue filter);
* popularity inside the tag (all training events, and each user's last 20 only), and the
  filter blended with log popularity: is "a user who turns to a tag picks its hits" a signal
  the backbone lacks?
* the filter when the prompt would name *all* of the target's tags, or its exact tag set: what
  the figure becomes under a protocol whose prompt says more about the target;
* the filter blended with signals from the user's own history that a steering head reading
  only the final user vector cannot see: the centroid of the history items that carry the
  asked-for tag, item-to-item co-occurrence with those items (and with the whole history,
  to tell a better recommender from better steering), and the affinity of each item's other
  tags to the recent window's tag shares;
* the filter over the items that would themselves make the case: those whose rarest tag in
  the window is the asked-for one (an item carrying a still rarer tag would have been asked
  for by that tag). Given the backbone's scores, this is the most the case rule itself tells
  a model about the target, i.e. what a head that learns the rule can gain over the filter;
* the filter blended with each item's frequency as the target of a training position that is
  itself a positive case for the same tag ("what users who turn to g pick first"), the
  prior a steering head can add to every user alike.

Writes ``benchmarks/results/positive_protocol_probe/positive_protocol_probe.json``
(``--result-name`` another stem, for another backbone). ``--smoke`` probes an untrained SASRec
on the synthetic data (``benchmarks.lib.smoke``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
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
from dpr_plugin.evaluation.full_ranking import user_vectors
from dpr_plugin.evaluation.steering_cases import (
    positive_case_masks,
    select_cases,
    training_positions,
)
from dpr_plugin.evaluation.steering_metrics import (
    allowed_items,
    hard_filter,
    postfilter,
    task_report,
)
from dpr_plugin.training.checkpoint import load_backbone

EXPERIMENT = "positive_protocol_probe"
BLEND_WEIGHTS = (0.25, 0.5, 1.0)
HISTORY_WEIGHTS = (0.25, 0.5, 1.0, 2.0)


def item_counts(sequences: list[np.ndarray], num_items: int, last: int | None) -> np.ndarray:
    """Training events per item (column j = item j + 1), optionally each user's last ``last``."""
    counts = np.zeros(num_items)
    for seq in sequences:
        np.add.at(counts, (seq if last is None else seq[-last:]) - 1, 1)
    return counts


def shift_popularity(
    sequences: list[np.ndarray], tag_matrix: np.ndarray, num_tags: int
) -> np.ndarray:
    """``[T, N]`` how often each item is the target of a positive training case naming tag t."""
    counts = np.zeros((num_tags, tag_matrix.shape[0] - 1))
    for user, position, tag, negative in training_positions(sequences, tag_matrix):
        if not negative:
            counts[tag, sequences[user][position] - 1] += 1
    return counts


def zscore(scores: np.ndarray) -> np.ndarray:
    """Row-wise standardisation, so signals of different scales can be blended."""
    spread = scores.std(1, keepdims=True)
    return (scores - scores.mean(1, keepdims=True)) / np.where(spread > 0, spread, 1.0)


def cooccurrence(sequences: list[np.ndarray], num_items: int) -> np.ndarray:
    """Cosine item-item similarity ``[N, N]`` of the training user-item matrix, diagonal 0."""
    x = np.zeros((len(sequences), num_items), dtype=np.float32)
    for row, seq in enumerate(sequences):
        x[row, seq - 1] = 1.0
    sim = x.T @ x
    norm = np.sqrt(np.diag(sim)).clip(min=1.0)
    sim = sim / norm[:, None] / norm[None, :]
    np.fill_diagonal(sim, 0.0)
    return sim


def history_signals(
    histories: list[np.ndarray],
    tags: np.ndarray,
    item_tags: np.ndarray,
    items: np.ndarray,
    sim: np.ndarray,
    window: int,
) -> dict[str, np.ndarray]:
    """Per case ``[B, N]`` scores from the user's history (``histories`` aligned with ``tags``).

    ``tag_centroid``: dot product with the mean embedding of the history items carrying the
    asked-for tag (0 when there are none); ``tag_knn`` / ``all_knn``: summed co-occurrence
    with those items / with every history item; ``window_affinity``: sum over each item's tags
    of the log share of that tag in the last ``window`` history items.
    """
    out = {
        name: np.zeros((len(tags), len(items)))
        for name in ("tag_centroid", "tag_knn", "all_knn", "window_affinity")
    }
    for b, (history, tag) in enumerate(zip(histories, tags, strict=True)):
        cols = history - 1
        tagged = cols[item_tags[cols, tag]]
        if len(tagged):
            out["tag_centroid"][b] = items @ items[tagged].mean(0)
            out["tag_knn"][b] = sim[tagged].sum(0)
        out["all_knn"][b] = sim[cols].sum(0)
        shares = item_tags[cols[-window:]].mean(0)
        out["window_affinity"][b] = item_tags @ np.log(shares + 0.01)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="folder of the dataset files (required unless --smoke)")
    parser.add_argument("--format", default="ml-1m-tsv")
    parser.add_argument(
        "--backbone", type=Path, help="backbone checkpoint (required unless --smoke)"
    )
    parser.add_argument(
        "--result-name", default="positive_protocol_probe", help="stem of the result JSON"
    )
    add_smoke_arguments(parser)
    args = parse_args(parser, argv)
    root = results_root(args)
    if args.smoke:
        inputs = SmokeInputs(root)
        inputs.fill_data(args)
        if args.backbone is None:
            args.backbone = inputs.backbone("sasrec")
    require(parser, args, "data", "backbone")
    result = result_path(EXPERIMENT, args.result_name, root)
    split = load_split(f"{args.format}:{args.data}")
    backbone, catalogue, _ = load_backbone(args.backbone)
    if split.dataset.item_ids != catalogue.item_ids:
        parser.error(f"--backbone: {args.backbone} was trained on another catalogue")
    tag_matrix = split.dataset.tag_matrix()
    item_tags = tag_matrix[1:]
    histories, targets = split.history("test"), split.target("test")
    cases, _ = select_cases(histories, targets, tag_matrix)
    gold = targets[cases.rows] - 1
    with torch.no_grad():
        users = user_vectors(backbone, [histories[r] for r in cases.rows])
        base = (users @ backbone.item_vectors()[1:].T).numpy()  # [B, N]
    allowed = allowed_items(item_tags, cases.tags, False)
    gold_tags = item_tags[gold]  # [B, T]
    all_tags = np.stack([item_tags[:, row].all(1) for row in gold_tags])  # [B, N]
    exact_set = np.stack([(item_tags == row).all(1) for row in gold_tags])  # [B, N]

    def report(scores: np.ndarray) -> dict[str, float]:
        r = task_report(scores, gold, item_tags, cases.tags, False)
        return {"ndcg@10": round(r["ndcg@10"], 4), "tag_hit@10": round(r["tag_hit@10"], 4)}

    n = split.dataset.num_items
    popularity = {
        "all": np.log1p(item_counts(split.train, n, None)),
        "last20": np.log1p(item_counts(split.train, n, 20)),
    }
    z = (base - base.mean(1, keepdims=True)) / base.std(1, keepdims=True)
    methods: dict[str, dict[str, float]] = {
        "backbone": report(base),
        "postfilter": report(postfilter(base, allowed)),
        "filter": report(hard_filter(base, allowed)),
    }
    for name, pop in popularity.items():
        methods[f"tag_popularity_{name}"] = report(
            hard_filter(np.tile(pop, (len(gold), 1)), allowed)
        )
        for w in BLEND_WEIGHTS:
            methods[f"filter_plus_{w}_log_popularity_{name}"] = report(
                hard_filter(z + w * pop, allowed)
            )
    case_histories = [histories[r] for r in cases.rows]
    signals = history_signals(
        case_histories,
        cases.tags,
        item_tags,
        backbone.item_vectors()[1:].detach().numpy(),
        cooccurrence(split.train, n),
        window=50,
    )
    with_tag_history = float(
        np.mean(
            [item_tags[h - 1, t].any() for h, t in zip(case_histories, cases.tags, strict=True)]
        )
    )
    for name, signal in signals.items():
        for w in HISTORY_WEIGHTS:
            methods[f"filter_plus_{w}_{name}"] = report(
                hard_filter(z + w * zscore(signal), allowed)
            )
    shifts = np.log1p(shift_popularity(split.train, tag_matrix, item_tags.shape[1]))
    for w in HISTORY_WEIGHTS:
        methods[f"filter_plus_{w}_shift_popularity"] = report(
            hard_filter(z + w * zscore(shifts[cases.tags]), allowed)
        )
    consistent = positive_case_masks(case_histories, cases.tags, tag_matrix)
    if not consistent[np.arange(len(gold)), gold].all():
        raise SystemExit("case_consistent excludes a target: it disagrees with positive_tag")
    methods["filter_case_consistent"] = report(hard_filter(base, consistent))
    methods["postfilter_case_consistent"] = report(postfilter(base, consistent))
    methods["filter_all_target_tags"] = report(hard_filter(base, all_tags))
    methods["filter_exact_target_tag_set"] = report(hard_filter(base, exact_set))
    body = {
        "backbone": str(args.backbone),
        "cases": len(cases),
        "mean_candidates": {
            "one_tag": round(float(allowed.sum(1).mean()), 1),
            "case_consistent": round(float(consistent.sum(1).mean()), 1),
            "all_target_tags": round(float(all_tags.sum(1).mean()), 1),
            "exact_target_tag_set": round(float(exact_set.sum(1).mean()), 1),
        },
        "cases_with_the_tag_in_history": round(with_tag_history, 4),
        "methods": methods,
        "paper_positive_ndcg@10": 0.5748,
        "command": command_line("benchmarks.positive_protocol_probe"),
        "git_sha": git_sha(),
    }
    write_result(result, body)
    print(json.dumps({k: v["ndcg@10"] for k, v in methods.items()}, indent=2))
    print(f"wrote {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
