"""Probe: how much of ML-1M's published backbone quality is the order inside timestamp ties?

    .venv/bin/python -m benchmarks.tie_order --data ../shared/data/ml-1m \\
        --row-order PATH/ratings.parquet

About half of ML-1M's consecutive ratings share a one-second timestamp. The shared
reconstruction's order inside those ties comes from an unstable sort, so it is arbitrary;
the official ``ratings.dat`` sorted stably (SASRec's preprocessing, most papers' files, our
``ml-1m`` loader) keeps the file's row order inside ties instead. ``--row-order`` gives that
row order: the official ``ratings.dat``, or a Parquet file with ``userID``/``movieID`` columns
in ``ratings.dat`` row order (needs ``pip install -e .[bench]``), e.g. the one at
bigdataguide/AuraSparkTraining @ 03ebfaf1fdd7a0abd40578aa2ab72bcac51f18db :
``data/ml-1m/ratings.parquet`` (git blob 3ba70760ee2ac81f20e67e1a3aac603290acb050).

The probe measures the ties and how predictable the row order is, writes the reconstruction
with each tie run put in row order (where the reconstruction knows the timestamps) under
``--out`` (git-ignored: derived from ML-1M), trains the committed backbone recipes on it, and
writes ``benchmarks/results/tie_order/tie_order_ml1m.json`` beside the figures of
``backbone_ml1m/backbone_ml1m.json`` (the same recipes on the reconstruction as it is).
``--smoke`` does all of it on the synthetic data of ``benchmarks.lib.synthetic`` (its
``ratings.dat`` is the row order), with the recipes shrunk as ``benchmarks.backbone_ml1m
--smoke`` shrinks them and the baseline checkpoints trained alike on the data as it is.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from benchmarks.backbone_ml1m import EXPERIMENT as BACKBONE_EXPERIMENT
from benchmarks.backbone_ml1m import recipe
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
from benchmarks.lib.tie_order import (
    order_predictability,
    reorder_ties,
    shuffled,
    tie_stats,
    tied_in_order,
)
from dpr_plugin.data.records import split_fields
from dpr_plugin.data.sources import load_split
from dpr_plugin.data.split import LeaveOneOutSplit
from dpr_plugin.data.tables import TableSpec, read_rows
from dpr_plugin.errors import DataFormatError
from dpr_plugin.evaluation.full_ranking import split_ranks
from dpr_plugin.evaluation.metrics import ndcg_at_k
from dpr_plugin.models.backbone import BackboneConfig
from dpr_plugin.training.backbone_trainer import TrainConfig
from dpr_plugin.training.checkpoint import load_backbone
from dpr_plugin.training.run import train_and_save

EXPERIMENT = "tie_order"
_HEADER = ["user_id", "movie_id", "rating", "timestamp"]
Pair = tuple[str, str]


def read_row_order(path: Path) -> list[Pair]:
    """(user, movie) pairs in the order of ``ratings.dat`` (the file itself, or a Parquet copy)."""
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise SystemExit(
                f"--row-order {path}: reading Parquet needs pyarrow (pip install -e .[bench])"
            ) from None
        table = pq.read_table(path, columns=["userID", "movieID"]).to_pydict()
        return [(str(u), str(m)) for u, m in zip(table["userID"], table["movieID"], strict=True)]
    return [(user, movie) for _, (user, movie, _, _) in split_fields(path, "latin-1", "::", 4)]


def read_reconstruction(path: Path) -> dict[str, list[list[str]]]:
    """The reconstruction's rows per user, in file (chronological) order."""
    rows: dict[str, list[list[str]]] = defaultdict(list)
    columns = ("user_id", "movie_id", "rating", "timestamp")
    for _, cells in read_rows(TableSpec(path), columns):
        rows[str(cells["user_id"])].append([str(cells[c]) for c in columns])
    return rows


def _stamps(rows: list[list[str]]) -> list[int | None]:
    return [int(r[3]) if r[3] else None for r in rows]


def reorder(
    rows: dict[str, list[list[str]]], position: dict[Pair, int], source: Path
) -> tuple[dict[str, list[list[str]]], dict[str, int], set[str]]:
    """Each user's tie runs put in row order (``position``: (user, movie) -> row number);
    returns the rows, what moved, and the users whose test target changed."""
    missing = next(
        ((r[0], r[1]) for seq in rows.values() for r in seq if (r[0], r[1]) not in position), None
    )
    if missing is not None:
        raise DataFormatError(source, None, f"no row for user {missing[0]}, movie {missing[1]}")
    out: dict[str, list[list[str]]] = {}
    changed: set[str] = set()
    moved = valid_changed = 0
    for user, seq in rows.items():
        new = reorder_ties(seq, _stamps(seq), lambda r: position[(r[0], r[1])])
        moved += sum(a is not b for a, b in zip(seq, new, strict=True))
        if new[-1] is not seq[-1]:
            changed.add(user)
        valid_changed += new[-2] is not seq[-2]
        out[user] = new
    counts = {
        "rows_moved": moved,
        "test_targets_changed": len(changed),
        "valid_targets_changed": valid_changed,
    }
    return out, counts, changed


def write_tsv(rows: dict[str, list[list[str]]], path: Path) -> None:
    """Writes the rows in the reconstruction's format, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8", newline="") as handle:
        handle.write("\t".join(_HEADER) + "\n")
        for user in sorted(rows, key=int):
            handle.writelines("\t".join(r) + "\n" for r in rows[user])
    partial.replace(path)


def _items(rows: dict[str, list[list[str]]]) -> list[list[str]]:
    return [[r[1] for r in seq] for seq in rows.values()]


def _by_user(order: list[Pair]) -> list[list[str]]:
    per: dict[str, list[str]] = defaultdict(list)
    for user, movie in order:
        per[user].append(movie)
    return list(per.values())


def train(
    kind: str, split: LeaveOneOutSplit, args: argparse.Namespace, root: Path
) -> dict[str, object]:
    """Trains ``kind`` with the committed recipe on the reordered data; its figures beside
    those of the same recipe on the reconstruction as it is (``backbone_ml1m.json`` under
    the results ``root``)."""
    model_kw, train_kw = recipe(kind, args.smoke)
    model_cfg = BackboneConfig(kind=kind, num_items=split.dataset.num_items, **model_kw)
    _, summary = train_and_save(
        split,
        model_cfg,
        TrainConfig(**train_kw),
        args.runs / kind,
        {"spec": f"ml-1m-tsv:{args.out}"},
        progress=not args.smoke,
    )
    backbone_result = result_path(BACKBONE_EXPERIMENT, "backbone_ml1m", root)
    committed = json.loads(backbone_result.read_text()) if backbone_result.is_file() else {}
    base = committed.get(kind, {})
    return {
        "ties_in_row_order": {
            "valid_ndcg@10": round(summary["valid"]["ndcg@10"], 4),
            "test_ndcg@10": round(summary["test"]["ndcg@10"], 4),
            "test_ndcg@10_history_removed": round(summary["test_exclude_seen"]["ndcg@10"], 4),
            "train_seconds": round(summary["train_seconds"]),
            "epochs": summary["epochs"],
            "best_epoch": summary["best_epoch"],
        },
        "reconstruction_as_is (backbone_ml1m.json)": {
            "valid_ndcg@10": base.get("valid_ndcg@10"),
            "test_ndcg@10": base.get("test_ndcg@10"),
            "test_ndcg@10_history_removed": base.get("test_ndcg@10_seen_excluded"),
        },
    }


def by_test_target(
    kind: str,
    splits: tuple[LeaveOneOutSplit, LeaveOneOutSplit],
    runs: tuple[Path, Path],
    changed: set[str],
) -> dict[str, object]:
    """Test NDCG@10 of each model on its own data, for the users whose test target the
    reordering changed and for the rest: where the difference comes from."""
    users = splits[1].dataset.user_ids
    if splits[0].dataset.user_ids != users:
        raise SystemExit("the reordered data must keep the reconstruction's users")
    mask = np.array([user in changed for user in users])
    models = [load_backbone(run / kind)[0] for run in runs]
    out: dict[str, object] = {}
    for protocol, exclude in (("history_kept", False), ("history_removed", True)):
        ranks = [
            split_ranks(m, s, "test", exclude_seen=exclude)
            for m, s in zip(models, splits, strict=True)
        ]
        out[protocol] = {
            group: {
                "users": int(rows.sum()),
                "as_is": round(ndcg_at_k(ranks[0][rows], 10), 4),
                "ties_in_row_order": round(ndcg_at_k(ranks[1][rows], 10), 4),
            }
            for group, rows in (("test_target_changed", mask), ("unchanged", ~mask))
        }
    return out


def prepare(data: Path, row_order: Path, out: Path) -> tuple[dict[str, object], set[str]]:
    """Measures the ties and the row order, writes the reordered copy under ``out``; returns
    the statistics and the users whose test target the reordering changed."""
    rows = read_reconstruction(data / "interactions.tsv")
    order = read_row_order(row_order)
    by_user = _by_user(order)
    stats: dict[str, object] = {
        "ties": tie_stats(_stamps(seq) for seq in rows.values()).to_dict(),
        "order_predictability": {
            "ratings.dat row order": round(order_predictability(by_user), 4),
            "row order shuffled per user (control)": round(
                order_predictability(shuffled(by_user)), 4
            ),
            "reconstruction (chronological)": round(order_predictability(_items(rows)), 4),
        },
    }
    position = {pair: i for i, pair in enumerate(order)}
    reordered, moved, changed = reorder(rows, position, row_order)
    stats["reordered"] = moved
    stats["tied_pairs_in_row_order"] = {
        name: round(
            tied_in_order(
                (_stamps(seq), [position[(r[0], r[1])] for r in seq]) for seq in version.values()
            ),
            4,
        )
        for name, version in (("reconstruction", rows), ("reordered", reordered))
    }
    print(json.dumps(stats, indent=2))
    write_tsv(reordered, out / "interactions.tsv")
    shutil.copyfile(data / "movies.dat", out / "movies.dat")
    return stats, changed


def smoke_baselines(data: Path, kinds: list[str], runs: Path) -> Path:
    """``--smoke``'s stand-in for ``benchmarks.backbone_ml1m``'s checkpoints: each of
    ``kinds`` trained with the shrunk recipe on the data as it is, under ``runs``."""
    split = load_split(f"ml-1m-tsv:{data}")
    for kind in kinds:
        if (runs / kind).is_dir():
            continue
        model_kw, train_kw = recipe(kind, smoke=True)
        model_cfg = BackboneConfig(kind=kind, num_items=split.dataset.num_items, **model_kw)
        spec = {"spec": f"ml-1m-tsv:{data}"}
        train_and_save(split, model_cfg, TrainConfig(**train_kw), runs / kind, spec, False)
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, help="the reconstruction's folder (required unless --smoke)"
    )
    parser.add_argument("--row-order", type=Path, help="required unless --smoke")
    parser.add_argument("--out", type=Path, default=None, help="default runs/tie_order/ml-1m")
    parser.add_argument("--backbones", default="sasrec")
    parser.add_argument("--runs", type=Path, default=None, help="default runs/tie_order")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--baseline-runs",
        type=Path,
        default=None,
        help="checkpoints of backbone_ml1m on the reconstruction as it is (default runs/ml1m)",
    )
    parser.add_argument("--result-name", default="tie_order_ml1m", help="stem of the result JSON")
    parser.add_argument(
        "--no-train", action="store_true", help="print the statistics, write the file; no result"
    )
    parser.add_argument(
        "--rescore", action="store_true", help="no training: evaluate the saved checkpoints"
    )
    add_smoke_arguments(parser)
    args = parse_args(parser, argv)
    root = results_root(args)
    if args.smoke:
        runs = root / "_runs" / EXPERIMENT
        if args.data is None:
            args.data = SmokeInputs(root).data()
            args.row_order = args.row_order or args.data / "ratings.dat"
        args.out = args.out or runs / "ml-1m"
        args.runs = args.runs or runs
        if args.baseline_runs is None:
            kinds = args.backbones.split(",")
            args.baseline_runs = smoke_baselines(args.data, kinds, runs / "as_is")
    require(parser, args, "data", "row_order")
    args.out = args.out or Path("runs/tie_order/ml-1m")
    args.runs = args.runs or Path("runs/tie_order")
    args.baseline_runs = args.baseline_runs or Path("runs/ml1m")
    result_file = result_path(EXPERIMENT, args.result_name, root)
    torch.set_num_threads(args.threads)
    stats, changed = prepare(args.data, args.row_order, args.out)
    if args.no_train:
        return 0
    gc.collect()  # free the million row lists before training
    result = json.loads(result_file.read_text()) if result_file.is_file() else {}
    result["statistics"] = stats
    split = load_split(f"ml-1m-tsv:{args.out}")
    as_is = load_split(f"ml-1m-tsv:{args.data}")
    for kind in args.backbones.split(","):
        if not args.rescore:
            result[kind] = train(kind, split, args, root)
        elif kind not in result:
            raise SystemExit(f"--rescore: {result_file} has no {kind} run; train it first")
        result[kind]["by_test_target"] = by_test_target(
            kind, (as_is, split), (args.baseline_runs, args.runs), changed
        )
        print(json.dumps({kind: result[kind]}, indent=2))
    done = "rescore_" if args.rescore else ""
    result[f"{done}command"] = command_line("benchmarks.tie_order")
    result[f"{done}git_sha"] = git_sha()
    write_result(result_file, result)
    print(f"wrote {result_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
