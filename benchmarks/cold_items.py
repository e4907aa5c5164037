"""Cold items on ML-1M (issue #26, item 4): items that arrive between retrains, indexed from
their tags alone, against the same items trained normally.

    .venv/bin/python -m benchmarks.cold_items --data ../shared/data/ml-1m --format ml-1m-tsv \\
        --reference runs/ml1m_pu/sasrec --reference-steering runs/ml1m_pu/steering \\
        --work runs/cold_items --threads 1

Protocol:

* The split is the reference's: chronological leave-one-out of the whole dataset (valid = the
  second-last interaction, test = the last).
* ``--fraction`` (10 %) of the items are drawn at random (``--seed``) as *cold*. The held-out
  backbone is trained on the catalogue without them, as if they did not exist yet: every
  user's interactions before the test position with a cold item are deleted and the cold
  items are dropped from the catalogue (renumbered away), so their rows are neither trained
  as targets nor pushed down as softmax negatives and their tags' vectors learn nothing from
  them. Validation (early stopping) uses each user's last remaining item before the test
  position: the reference's validation item when it is warm, else the last warm training item
  (which then is not a training target; ~10 % of users lose one of ~165 interactions).
  The same recipe as the reference (SASRec, ``--max-epochs 6 --batch-size 16 --lr 0.007
  --dropout 0.2 --patience 2 --tag-embeddings true``, full softmax, seed 0).
* Test: every user's real last interaction (cold or warm) after the real history, for the
  held-out model and the reference alike; history items are removed from the ranking. The
  held-out model is put back into the full catalogue: trained items keep their rows, cold items
  get ``dpr_plugin.models.cold_items`` vectors (own row + mean of their tags' vectors), which
  also read them when they occur in a history (``cold_in_history: "tag_vector"``); a second
  reading drops them from the histories (``"dropped"``, what a history encoder that does not
  know the new ids sees). Reported: NDCG@10 / Recall@10 overall, on users whose test item is
  cold, and the cold targets' contribution to the overall figures (their gains / all users);
  where cold targets rank; the cold items' share of the top 10. ``not_indexed`` is the
  held-out model without cold items in the index (what serving did before).
* Tag steering: a steering head trained on the held-out backbone (warm catalogue, the
  reference head's recipe: ``--max-samples 60000 --epochs 4``), applied after the cold items
  are indexed; every user asks for every tag ("more X" / "no X", first trained phrasing,
  strength 1, as ``tag_share@10`` of ``dpr train-steering``), and the top 10 of the steered
  vector over the whole catalogue is read: the tag's share of it, the cold items' share of
  it, and the tag's share among the cold items in it. The reference: its own head and
  trained vectors, on the same cold items.

Writes ``benchmarks/results/cold_items/cold_items.json``. ``--smoke``: the synthetic data, a
one-epoch backbone trained here as the reference, a few steering steps.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from benchmarks.common import (
    add_smoke_arguments,
    command_line,
    git_sha,
    parse_args,
    prompt_encoder,
    require,
    result_path,
    results_root,
    write_result,
)
from benchmarks.lib.smoke import SmokeInputs

if TYPE_CHECKING:
    import torch

    from dpr_plugin.data.split import LeaveOneOutSplit
    from dpr_plugin.models.backbone import BackboneConfig, SequentialBackbone
    from dpr_plugin.models.steering_head import SteeringHead

EXPERIMENT = "cold_items"
MODULE = "benchmarks.cold_items"
RECIPE = {
    "max_epochs": 6,
    "batch_size": 16,
    "lr": 0.007,
    "patience": 2,
    "loss": "full",
}
STEERING_RECIPE = {"max_samples": 60_000, "epochs": 4}
K = 10


def pick_cold(num_items: int, fraction: float, seed: int) -> np.ndarray:
    """Sorted internal ids (1-based) of ``round(fraction * num_items)`` items drawn at random."""
    rng = np.random.default_rng(seed)
    count = max(1, round(fraction * num_items))
    return np.sort(rng.choice(np.arange(1, num_items + 1), size=count, replace=False))


@dataclass(frozen=True)
class HeldOut:
    """The training data of the held-out backbone.

    Attributes:
        split: Leave-one-out split over the warm catalogue (ids renumbered 1..W); its test
            fields repeat validation and are never used (the test is the full split's).
        warm_ids: Full-catalogue id of warm item ``j`` at ``j - 1``.
        cold_ids: Full-catalogue ids of the cold items.
        users_dropped: Users left with fewer than 2 warm items before their test position.
        valid_moved: Users whose validation item was cold (their last warm training item
            became the validation item).
    """

    split: LeaveOneOutSplit
    warm_ids: np.ndarray
    cold_ids: np.ndarray
    users_dropped: int
    valid_moved: int


def heldout_split(full: LeaveOneOutSplit, cold_ids: np.ndarray) -> HeldOut:
    """Removes the cold items from the catalogue and from every interaction before the test
    position (see the module docstring)."""
    from dpr_plugin.data.dataset import SequenceDataset
    from dpr_plugin.data.split import LeaveOneOutSplit

    ds = full.dataset
    is_cold = np.zeros(ds.num_items + 1, dtype=bool)
    is_cold[cold_ids] = True
    warm_ids = np.flatnonzero(~is_cold[1:]) + 1
    remap = np.zeros(ds.num_items + 1, dtype=np.int64)
    remap[warm_ids] = np.arange(1, len(warm_ids) + 1)
    users, sequences, moved = [], [], 0
    for u, seq in enumerate(ds.sequences):
        before_test = seq[:-1]
        warm = remap[before_test[~is_cold[before_test]]]
        if len(warm) >= 2:
            users.append(u)
            sequences.append(warm)
            moved += bool(is_cold[seq[-2]])
    reduced = SequenceDataset(
        name=ds.name,
        item_ids=[ds.item_ids[i - 1] for i in warm_ids],
        item_titles=[ds.item_titles[i - 1] for i in warm_ids],
        item_tags=[ds.item_tags[i - 1] for i in warm_ids],
        user_ids=[ds.user_ids[u] for u in users],
        sequences=sequences,
        preprocessing=[
            *ds.preprocessing,
            f"cold_items: {len(cold_ids)} items held out (removed from the catalogue and from "
            "every interaction), test positions removed",
        ],
    )
    valid = np.array([s[-1] for s in sequences], dtype=np.int64)
    split = LeaveOneOutSplit(reduced, [s[:-1] for s in sequences], valid, valid.copy())
    return HeldOut(split, warm_ids, np.asarray(cold_ids), ds.num_users - len(users), moved)


def train_heldout(
    held: HeldOut,
    architecture: BackboneConfig,
    out: Path,
    seed: int,
    max_epochs: int,
    record: dict[str, object],
) -> SequentialBackbone:
    """Trains (or reloads from ``out`` when it holds the same cold items) the held-out
    backbone: the reference's ``architecture`` over the warm catalogue, ``RECIPE``'s
    optimisation."""
    import torch

    from dpr_plugin.models.factory import build_backbone
    from dpr_plugin.training.backbone_trainer import TrainConfig, train_backbone
    from dpr_plugin.training.checkpoint import Catalogue, load_backbone, save_backbone

    if (out / "weights.pt").is_file():
        model, _, config = load_backbone(out)
        same_items = config.get("cold_items", {}).get("cold_ids") == held.cold_ids.tolist()  # type: ignore[union-attr]
        if same_items and config.get("train", {}).get("seed") == seed:  # type: ignore[union-attr]
            print(f"held-out backbone: reusing {out}", flush=True)
            return model
    ds = held.split.dataset
    torch.manual_seed(seed)
    model = build_backbone(
        replace(
            architecture, num_items=ds.num_items, tag_embeddings=True, num_tags=len(ds.tag_names)
        )
    )
    model.set_item_tags(ds.tag_matrix())
    cfg = TrainConfig(
        max_epochs=max_epochs,
        batch_size=int(RECIPE["batch_size"]),
        lr=float(RECIPE["lr"]),
        patience=int(RECIPE["patience"]),
        loss=str(RECIPE["loss"]),
        seed=seed,
    )
    print(f"training the held-out backbone ({ds.num_items} items) into {out}", flush=True)
    result = train_backbone(model, held.split, cfg, progress=False)
    extra = {
        "dataset": {**record, **ds.stats()},
        "cold_items": {"cold_ids": held.cold_ids.tolist()},
        "train": asdict(cfg),
        "result": result.to_dict(),
    }
    save_backbone(out, model, Catalogue.of(ds), extra)
    print(f"held-out backbone: {result.epochs} epochs, {result.train_seconds:.0f}s", flush=True)
    return model


def in_full_catalogue(
    reduced: SequentialBackbone, held: HeldOut, full: LeaveOneOutSplit, cold_vectors: np.ndarray
) -> SequentialBackbone:
    """The held-out backbone over the full catalogue: warm items keep their trained rows, cold
    item ``held.cold_ids[r]`` scores (and is read in a history) as ``cold_vectors[r]``."""
    import torch

    from dpr_plugin.models.factory import build_backbone

    n = full.dataset.num_items
    model = build_backbone(replace(reduced.config, num_items=n))
    model.set_item_tags(full.dataset.tag_matrix())
    state = {k: v for k, v in reduced.state_dict().items() if k != "item_tags"}
    trained = state.pop("item_embedding.weight")
    table = torch.zeros(n + 1, trained.shape[1])
    table[torch.from_numpy(held.warm_ids)] = trained[1:]
    cold = torch.from_numpy(held.cold_ids)
    tag_part = model.item_tags[cold] @ state["tag_table"]
    table[cold] = torch.from_numpy(cold_vectors) - tag_part  # own row = vector - tag part
    state["item_embedding.weight"] = table
    state["item_tags"] = model.item_tags
    model.load_state_dict(state)
    with torch.no_grad():
        got = model.item_vectors()[cold].numpy()
    assert np.allclose(got, cold_vectors, atol=1e-5), "cold rows do not score as their vectors"
    return model.eval()


def _table(model: SequentialBackbone) -> torch.Tensor:
    import torch

    with torch.no_grad():
        return model.item_vectors()[1:].detach().float()


def _users(model: SequentialBackbone, histories: list[np.ndarray]) -> torch.Tensor:
    from dpr_plugin.evaluation.full_ranking import user_vectors

    return user_vectors(model, histories)


def ranking_report(
    users: torch.Tensor,
    table: torch.Tensor,
    full: LeaveOneOutSplit,
    is_cold: np.ndarray,
    indexed_cold: bool = True,
    batch: int = 512,
) -> dict[str, object]:
    """Test ranks (history removed) of every user's real last item, split by whether it is
    cold; ``is_cold`` is ``[N + 1]`` bool over internal ids."""
    from dpr_plugin.evaluation.metrics import ndcg_gains, summarize, target_ranks

    histories = full.history("test")
    targets = full.test_target
    ranks, cold_slots = [], []
    for start in range(0, len(users), batch):
        scores = (users[start : start + batch] @ table.T).numpy()
        for row, history in enumerate(histories[start : start + batch]):
            scores[row, history - 1] = -np.inf
        if not indexed_cold:
            scores[:, is_cold[1:]] = -np.inf
        ranks.append(target_ranks(scores, targets[start : start + len(scores)] - 1))
        top = np.argpartition(-scores, K - 1, axis=1)[:, :K] + 1
        cold_slots.append(is_cold[top].mean(axis=1))
    r = np.concatenate(ranks)
    cold_target = is_cold[targets]
    gains = ndcg_gains(r, K)
    cold_r = r[cold_target]
    finite = cold_r[cold_r < np.iinfo(np.int64).max]
    n = len(table)
    return {
        "all": _rounded(summarize(r, (K,))),
        "cold_targets": _rounded(summarize(cold_r, (K,))),
        "warm_targets": _rounded(summarize(r[~cold_target], (K,))),
        "cold_contribution": {
            "ndcg@10": round(float(gains[cold_target].sum() / len(r)), 4),
            "recall@10": round(float((cold_r <= K).sum() / len(r)), 4),
        },
        "cold_target_rank": {
            "median": float(np.median(finite)) if len(finite) else None,
            "top_percent_median": round(float(np.median(finite)) / n * 100, 2)
            if len(finite)
            else None,
            "in_top_100": round(float((cold_r <= 100).mean()), 4),
        },
        "cold_share_of_top10": round(float(np.concatenate(cold_slots).mean()), 4),
    }


def _rounded(d: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in d.items()}


def steering_share(
    head: SteeringHead,
    users: torch.Tensor,
    table: torch.Tensor,
    tag_matrix: np.ndarray,
    is_cold: np.ndarray,
    tag_names: list[str],
) -> dict[str, object]:
    """Every user asks "more X" and "no X" for every tag (first trained phrasing, strength 1):
    per polarity, the tag's share of the steered top 10, the cold items' share of it, and the
    tag's share among the cold items in it (pooled over users; a tag whose steered lists hold
    no cold item is left out of that mean); averaged over tags (``per_tag`` for "more").
    ``cold_tag_share_pooled``: the same share over every tag's cold slots together;
    ``max_cold_share``: the tag whose steered lists hold the most cold items."""
    import torch

    from dpr_plugin.training.steering_trainer import encode_prompts

    prompts = encode_prompts(prompt_encoder(), tag_names, False)
    carries_all = tag_matrix[1:].astype(bool)  # [N, T]
    cold = is_cold[1:]
    head.eval()
    with torch.no_grad():
        base_top = (users @ table.T).topk(K, dim=1).indices.numpy()
    rows: dict[str, dict[str, dict[str, float]]] = {"more": {}, "no": {}}
    strength = torch.ones(len(users), 1)
    for col, name in enumerate(tag_names):
        carries = carries_all[:, col]
        for label, negative in (("more", False), ("no", True)):
            z = prompts[(col, negative)].take(torch.zeros(len(users), dtype=torch.long))
            with torch.no_grad():
                steered = head(users, z, strength).steered
                top = (steered @ table.T).topk(K, dim=1).indices.numpy()
            in_cold = cold[top]
            rows[label][name] = {
                "unsteered_tag_share": float(carries[base_top].mean()),
                "tag_share": float(carries[top].mean()),
                "cold_share": float(in_cold.mean()),
                "cold_tag_share": float(carries[top][in_cold].mean()) if in_cold.any() else np.nan,
                "cold_with_tag_share": float((carries & cold)[top].mean()),
                "cold_catalogue_tag_share": float(carries[cold].mean()),
            }
    out: dict[str, object] = {"k": K, "users": len(users)}
    for label, per_tag in rows.items():
        keys = next(iter(per_tag.values())).keys()
        out[label] = {
            key: round(float(np.nanmean([r[key] for r in per_tag.values()])), 4) for key in keys
        }
    for label, per_tag in rows.items():
        slots = sum(r["cold_share"] for r in per_tag.values())
        tagged = sum(r["cold_with_tag_share"] for r in per_tag.values())
        busiest = max(per_tag, key=lambda tag: per_tag[tag]["cold_share"])
        out[label]["cold_tag_share_pooled"] = round(tagged / slots, 4) if slots else None  # type: ignore[index]
        out[label]["max_cold_share"] = {busiest: round(per_tag[busiest]["cold_share"], 4)}  # type: ignore[index]
    out["per_tag_more"] = {
        tag: {key: round(v, 4) for key, v in r.items()} for tag, r in rows["more"].items()
    }
    out["unsteered_cold_share"] = round(float(cold[base_top].mean()), 4)
    return out


def train_heldout_head(
    reduced: SequentialBackbone,
    held: HeldOut,
    reference_head_dir: Path,
    out: Path,
    max_samples: int,
    epochs: int,
    align_steps: int | None,
) -> SteeringHead:
    """The held-out backbone's steering head with the reference head's config (reloaded from
    ``out`` when present)."""
    import torch

    from dpr_plugin.models.steering_head import SteeringConfig, SteeringHead
    from dpr_plugin.training.checkpoint import load_steering, save_steering
    from dpr_plugin.training.steering_trainer import SteeringTrainConfig, train_steering_head

    if (out / "weights.pt").is_file():
        head, _, config = load_steering(out)
        if config.get("cold_ids") == held.cold_ids.tolist():
            print(f"held-out steering head: reusing {out}", flush=True)
            return head
    _, _, ref_config = load_steering(reference_head_dir)
    tags = held.split.dataset.tag_names
    extra = {} if align_steps is None else {"align_steps": align_steps}
    cfg = SteeringTrainConfig(max_samples=max_samples, epochs=epochs, seed=0, **extra)
    torch.manual_seed(cfg.seed)
    head = SteeringHead(SteeringConfig(**ref_config["steering"]))  # type: ignore[arg-type]
    print(f"training the held-out steering head into {out}", flush=True)
    result = train_steering_head(
        reduced,
        held.split.train,
        held.split.dataset.tag_matrix(),
        tags,
        prompt_encoder(),
        head,
        cfg,
        progress=False,
    )
    record = {
        "cold_ids": held.cold_ids.tolist(),
        "train": cfg.__dict__,
        "result": {"align_seconds": result.align_seconds, "steer_seconds": result.steer_seconds},
    }
    save_steering(out, head, list(tags), record)
    return head.eval()


def _at(
    heldout: dict[str, object], row: str, reading: str, part: str, metric: str = "ndcg@10"
) -> float:
    return float(heldout[row][reading][part][metric])  # type: ignore[index]


def summary(body: dict[str, object], best: str) -> dict[str, object]:
    """The headline comparison: the cold items trained normally (the reference) against
    indexed from their tags (every own row, cold items dropped from the histories), and not
    indexed at all."""
    from dpr_plugin.models.cold_items import OWN_ROWS

    ref = body["reference"]
    steering = body["steering"]

    def pick(report: dict) -> dict[str, object]:  # type: ignore[type-arg]
        return {
            "all_ndcg@10": report["all"]["ndcg@10"],
            "all_recall@10": report["all"]["recall@10"],
            "cold_targets_ndcg@10": report["cold_targets"]["ndcg@10"],
            "cold_targets_recall@10": report["cold_targets"]["recall@10"],
            "cold_contribution_ndcg@10": report["cold_contribution"]["ndcg@10"],
            "cold_contribution_recall@10": report["cold_contribution"]["recall@10"],
            "warm_targets_ndcg@10": report["warm_targets"]["ndcg@10"],
            "cold_target_median_rank": report["cold_target_rank"]["median"],
            "cold_share_of_top10": report["cold_share_of_top10"],
        }

    def steer(report: dict) -> dict[str, object]:  # type: ignore[type-arg]
        return {
            "more_tag_share": report["more"]["tag_share"],
            "more_cold_share": report["more"]["cold_share"],
            "more_cold_tag_share": report["more"]["cold_tag_share"],
            "more_cold_tag_share_pooled": report["more"]["cold_tag_share_pooled"],
            "more_max_cold_share": report["more"]["max_cold_share"],
            "no_tag_share": report["no"]["tag_share"],
            "no_cold_tag_share": report["no"]["cold_tag_share"],
        }

    out: dict[str, object] = {
        "trained_normally": {**pick(ref), **steer(steering["reference"])},  # type: ignore[index, arg-type]
    }
    for row in OWN_ROWS:
        report = body["heldout"][row]["dropped"]  # type: ignore[index]
        out[f"cold_from_tags_{row}"] = {**pick(report), **steer(steering[f"heldout_{row}"])}  # type: ignore[index]
    out["not_indexed"] = pick(body["not_indexed"])  # type: ignore[arg-type]
    out["best_own_row_here"] = best
    return out


def _smoke_reference(root: Path, split: LeaveOneOutSplit, seed: int) -> tuple[Path, Path]:
    """A one-epoch tag-embedding backbone and a few-step head on the synthetic data, as the
    reference of a smoke run."""
    import torch

    from dpr_plugin.models.backbone import BackboneConfig
    from dpr_plugin.models.steering_head import SteeringConfig, SteeringHead
    from dpr_plugin.training.backbone_trainer import TrainConfig
    from dpr_plugin.training.checkpoint import load_backbone, save_steering
    from dpr_plugin.training.run import train_and_save
    from dpr_plugin.training.steering_trainer import SteeringTrainConfig, train_steering_head

    backbone_dir, head_dir = root / "reference", root / "reference_steering"
    tags = split.dataset.tag_names
    if not (backbone_dir / "weights.pt").is_file():
        cfg = BackboneConfig(
            kind="sasrec",
            num_items=split.dataset.num_items,
            hidden_dim=16,
            max_len=20,
            tag_embeddings=True,
            num_tags=len(tags),
        )
        train_cfg = TrainConfig(max_epochs=1, batch_size=32, seed=seed, loss="full")
        train_and_save(split, cfg, train_cfg, backbone_dir, {"spec": "smoke"}, progress=False)
    if not (head_dir / "weights.pt").is_file():
        backbone, _, _ = load_backbone(backbone_dir)
        torch.manual_seed(0)
        head = SteeringHead(replace(SteeringConfig.for_contract(len(tags)), hidden_dim=16))
        cfg = SteeringTrainConfig(max_samples=200, epochs=1, align_steps=5)
        train_steering_head(
            backbone,
            split.train,
            split.dataset.tag_matrix(),
            tags,
            prompt_encoder(),
            head,
            cfg,
            progress=False,
        )
        save_steering(head_dir, head.eval(), list(tags), {"backbone_checkpoint": "smoke"})
    return backbone_dir, head_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None, help="dataset folder (ML-1M)")
    parser.add_argument("--format", default="ml-1m-tsv")
    parser.add_argument("--reference", type=Path, default=None, help="normally trained backbone")
    parser.add_argument("--reference-steering", type=Path, default=None, help="its steering head")
    parser.add_argument(
        "--work", type=Path, default=Path("runs/cold_items"), help="held-out checkpoints"
    )
    parser.add_argument("--fraction", type=float, default=0.1, help="share of items held out")
    parser.add_argument("--seed", type=int, default=0, help="draws the cold items")
    parser.add_argument(
        "--train-seed", type=int, default=0, help="of the held-out backbone (the reference's: 0)"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--result-name", default="cold_items")
    add_smoke_arguments(parser)
    args = parse_args(parser, argv)
    root = results_root(args)
    max_epochs, steering = int(RECIPE["max_epochs"]), dict(STEERING_RECIPE, align_steps=None)
    if args.smoke:
        SmokeInputs(root).fill_data(args)
        args.work = root / "_cold_items"
        max_epochs, steering = 1, {"max_samples": 200, "epochs": 1, "align_steps": 5}
    else:
        require(parser, args, "data", "reference", "reference_steering")

    import torch

    from dpr_plugin.data.sources import load_split
    from dpr_plugin.models.cold_items import OWN_ROWS, ColdItemTables, cold_item_vectors
    from dpr_plugin.training.checkpoint import Catalogue, load_backbone, load_steering

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    spec = f"{args.format}:{args.data}"
    full = load_split(spec)
    if args.smoke:
        args.reference, args.reference_steering = _smoke_reference(args.work, full, args.train_seed)
    reference, ref_catalogue, ref_config = load_backbone(args.reference)
    if ref_catalogue.item_ids != full.dataset.item_ids:
        raise SystemExit(f"--reference {args.reference}: not the catalogue of {spec}")
    ref_dataset = ref_config.get("dataset", {})
    n = full.dataset.num_items
    cold_ids = pick_cold(n, args.fraction, args.seed)
    is_cold = np.zeros(n + 1, dtype=bool)
    is_cold[cold_ids] = True
    held = heldout_split(full, cold_ids)
    if held.split.dataset.tag_names != full.dataset.tag_names:
        raise SystemExit("the warm catalogue lost a tag: draw another --seed")
    record = {"spec": spec, "cold_fraction": args.fraction, "cold_seed": args.seed}
    record["train_seed"] = args.train_seed
    if not reference.config.tag_embeddings:
        raise SystemExit(f"--reference {args.reference}: trained without tag embeddings")
    reduced = train_heldout(
        held, reference.config, args.work / "heldout_sasrec", args.train_seed, max_epochs, record
    )
    tables = ColdItemTables.of(
        reduced, held.split.dataset.item_tags, Catalogue.of(held.split.dataset).interactions
    )
    cold_tags = [full.dataset.item_tags[i - 1] for i in cold_ids]
    cold_names = [full.dataset.item_ids[i - 1] for i in cold_ids]
    test_histories = full.history("test")
    stripped = [h[~is_cold[h]] for h in test_histories]

    ref_users = _users(reference, test_histories)
    ref_table = _table(reference)
    body: dict[str, object] = {
        "protocol": {
            "dataset": spec,
            "reference": str(args.reference),
            "reference_split": {
                k: ref_dataset.get(k) for k in ("spec", "min_user", "min_item", "preprocessing")
            },
            "items": n,
            "cold_items": len(cold_ids),
            "cold_seed": args.seed,
            "train_seed": args.train_seed,
            "cold_interactions_share": round(
                float(is_cold[np.concatenate(full.dataset.sequences)].mean()), 4
            ),
            "users": full.dataset.num_users,
            "users_with_cold_test_item": int(is_cold[full.test_target].sum()),
            "heldout_users_dropped": held.users_dropped,
            "heldout_valid_moved": held.valid_moved,
            "architecture": reference.config.to_dict(),
            "recipe": {**RECIPE, "max_epochs": max_epochs},
            "history_removed_from_ranking": True,
        },
        "reference": ranking_report(ref_users, ref_table, full, is_cold),
    }
    print(f"reference: {json.dumps(body['reference'])}", flush=True)
    models: dict[str, SequentialBackbone] = {}
    heldout: dict[str, object] = {}
    for own_row in OWN_ROWS:
        vectors = cold_item_vectors(tables, cold_tags, own_row, cold_names)
        model = in_full_catalogue(reduced, held, full, vectors)
        models[own_row] = model
        table = _table(model)
        heldout[own_row] = {
            "tag_vector": ranking_report(_users(model, test_histories), table, full, is_cold),
            "dropped": ranking_report(_users(model, stripped), table, full, is_cold),
        }
        print(f"held-out, own row {own_row}: {json.dumps(heldout[own_row])}", flush=True)
    body["heldout"] = heldout
    # "not indexed": the cold items are not candidates (own row irrelevant; histories dropped)
    plain = models["zero"]
    body["not_indexed"] = ranking_report(
        _users(plain, stripped), _table(plain), full, is_cold, indexed_cold=False
    )
    # the own row that ranks cold test items best, histories read as serving would ("dropped":
    # the exported backbone does not know the new ids); the history reading by overall NDCG
    best = max(
        OWN_ROWS,
        key=lambda row: (
            _at(heldout, row, "dropped", "cold_targets"),
            _at(heldout, row, "dropped", "cold_targets", "recall@10"),
        ),
    )
    reading = max(("tag_vector", "dropped"), key=lambda r: _at(heldout, best, r, "all"))
    body["best_own_row"] = best
    body["best_history_reading"] = reading

    ref_head, ref_tags, _ = load_steering(args.reference_steering)
    if ref_tags != full.dataset.tag_names:
        raise SystemExit(f"--reference-steering {args.reference_steering}: other tags")
    head = train_heldout_head(
        reduced,
        held,
        args.reference_steering,
        args.work / "heldout_steering",
        int(steering["max_samples"]),  # type: ignore[arg-type]
        int(steering["epochs"]),  # type: ignore[arg-type]
        steering["align_steps"],  # type: ignore[arg-type]
    )
    tag_matrix = full.dataset.tag_matrix()
    tags = full.dataset.tag_names
    body["steering"] = {
        "reference": steering_share(ref_head, ref_users, ref_table, tag_matrix, is_cold, tags),
        "history_reading": "dropped",
        "head_recipe": steering,
    }
    heldout_users = _users(plain, stripped)  # the same for every own row: no cold item in it
    for own_row in OWN_ROWS:
        body["steering"][f"heldout_{own_row}"] = steering_share(  # type: ignore[index]
            head, heldout_users, _table(models[own_row]), tag_matrix, is_cold, tags
        )
    for name, report in body["steering"].items():  # type: ignore[union-attr]
        if isinstance(report, dict) and "more" in report:
            print(f"steering {name}: more {report['more']} no {report['no']}", flush=True)
    body["summary"] = summary(body, best)
    print(f"summary: {json.dumps(body['summary'], indent=2)}", flush=True)
    body["seconds"] = round(time.perf_counter() - started, 1)
    out = result_path(EXPERIMENT, args.result_name, root)
    write_result(out, {**body, "command": command_line(MODULE), "git_sha": git_sha()})
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
