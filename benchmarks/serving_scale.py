"""Serving at catalogue scale: the real service (``dpr serve``) over the export's own catalogue
and over the same export grown to 10⁶ items, new prompts at concurrency 1 and 8.

    .venv/bin/python -m benchmarks.serving_scale --repository triton_models \\
        --history-url runs/main/history.sqlite

The grown export links the export's models and replaces its item table: the first N rows are
the trained table, the others jittered copies of random rows (``index_scale.catalogue``), each
with the copied item's tags and year, a title "Copy k of <title>" and a new id. Histories still
name only trained items, so the backbone is the export's. Its index is built by ``dpr index``
(HNSW above ``--exact-below``), timed. Each cell is ``--windows`` windows of ``--seconds``
after a warm-up, reported as ``serving.measure_cell`` (the median window's p50). Writes
``benchmarks/results/serving_scale/serving_scale.json``. Target (10⁶ items): new-prompt p50 at
concurrency 1 ≤ 15 ms. ``--smoke``: the tiny synthetic export grown to 3,000 items, in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import (
    add_smoke_arguments,
    parse_args,
    result_path,
    results_root,
    write_service_result,
)
from benchmarks.index_scale import catalogue
from benchmarks.serving import Service, Workload, load, measure_cell, service_inputs
from dpr_plugin.manifest import item_meta_path, item_table_path

EXPERIMENT = "serving_scale"
CASE = "steer_new_prompt"


def grow_export(repository: Path, size: int, out: Path, noise: float = 0.5) -> Path:
    """``repository`` with its item table grown to ``size`` rows, in ``out`` (models linked)."""
    for path in repository.rglob("*"):
        target = out / path.relative_to(repository)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path not in (item_table_path(repository), item_meta_path(repository)):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path.resolve())
    vectors, tags, _, picks = catalogue(repository, size, noise)
    meta = json.loads(item_meta_path(repository).read_text())
    n = len(meta["item_ids"])
    counts = meta.get("interactions") or [0] * n
    grown = {
        "item_ids": [
            str(meta["item_ids"][i]) if k < n else f"copy-{k}" for k, i in enumerate(picks)
        ],
        "titles": [
            meta["titles"][i] if k < n else f"Copy {k} of {meta['titles'][i]}"
            for k, i in enumerate(picks)
        ],
        "tags": tags,
        "interactions": [int(counts[i]) if k < n else 0 for k, i in enumerate(picks)],
    }
    item_meta_path(out).write_text(json.dumps(grown))
    np.save(item_table_path(out), vectors)
    return out


def build_index(repository: Path, index_dir: Path, smoke: bool) -> dict[str, float]:
    """``dpr index`` on ``repository``; its wall time and what it recorded."""
    started = time.perf_counter()
    command = [str(Path(sys.executable).with_name("dpr")), "index"]
    command += ["--repository", str(repository), "--index-dir", str(index_dir)]
    subprocess.run(command, check=True, capture_output=not smoke)
    meta = next(index_dir.glob("generations/*/meta.json"), None)
    recorded = json.loads(meta.read_text()) if meta else {}
    return {
        "build_wall_s": round(time.perf_counter() - started, 1),
        "index": recorded.get("index"),
        "peak_rss_mb": recorded.get("peak_rss_mb"),
    }


def measure(
    args: argparse.Namespace, repository: Path, workdir: Path, users: list[str], label: str
) -> dict[str, object]:
    """The service on ``repository`` (its index in ``workdir / index-service``): a
    ``measure_cell`` per concurrency."""
    flags = ("--in-process", "true") if args.smoke else ()
    service = Service(repository, args.history_url, workdir, label, flags)
    cells: dict[str, object] = {}
    try:
        workload = Workload(users)
        asyncio.run(load(service.target, workload, CASE, 4, args.warmup))
        for concurrency in (1, 8):
            cell = measure_cell(service.target, workload, CASE, concurrency, args)
            cells[f"c{concurrency}"] = cell
            print(f"{label} c{concurrency}: p50 {cell['windows_p50_ms']} ms", flush=True)
    finally:
        service.stop()
    return cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repository", type=Path, default=None, help="default triton_models")
    parser.add_argument("--history-url", default=None, help="the main job's histories")
    parser.add_argument("--size", type=int, default=1_000_000, help="grown catalogue size")
    parser.add_argument("--seconds", type=float, default=10.0, help="per window; default 10")
    parser.add_argument("--windows", type=int, default=3, help="per cell; default 3")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds; default 2")
    parser.add_argument("--result-name", default=EXPERIMENT, help="stem of the result JSON")
    add_smoke_arguments(parser)
    args = parse_args(parser, argv)
    root = results_root(args)
    if args.smoke:
        args.size, args.seconds, args.windows, args.warmup = 3000, 0.3, 1, 0.2
    users = service_inputs(args, root, EXPERIMENT)
    body: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="dpr-serving-scale-") as tmp:
        work = Path(tmp)
        sizes = {"export": args.repository}
        sizes[str(args.size)] = grow_export(args.repository, args.size, work / "grown")
        for label, repository in sizes.items():
            cell_dir = work / label
            cell_dir.mkdir(exist_ok=True)
            index = build_index(repository, cell_dir / "index-service", args.smoke)
            items = len(json.loads(item_meta_path(repository).read_text())["item_ids"])
            print(f"{label}: {items} items, index {index}", flush=True)
            body[label] = {
                "items": items,
                **index,
                **measure(args, repository, cell_dir, users, label),
            }
    out = result_path(EXPERIMENT, args.result_name, root)
    write_service_result(out, body, targets(body, str(args.size)), "benchmarks.serving_scale")
    return 0


def targets(body: dict[str, object], grown: str) -> dict[str, object]:
    cells = body.get(grown)
    if not isinstance(cells, dict):
        return {}
    p50 = cells["c1"]["p50_ms"]
    return {"new_prompt_p50_c1<=15ms": {"value": p50, "met": p50 <= 15.0}}


if __name__ == "__main__":
    sys.exit(main())
